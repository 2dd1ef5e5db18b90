"""Every error cauce raises, under one root.

```
CauceError                     one line of what went wrong, plus a hint
├── DeclarationError           an app declares something invalid (bad cron, time zone, names)
├── ConfigError                settings missing or invalid (lists every one at once)
├── NotFound                   an unknown app, job, queue, bucket... (suggests the closest name)
├── NotAttached                a resource used outside a running runtime
├── PartitionError             a partition key outside the declared range or malformed
├── ResourceError              a resource operation failed
│   ├── InvalidKey             a bucket or table key that is not allowed
│   ├── ObjectNotFound         a bucket key that does not exist
│   ├── ConditionFailed        a conditional table write whose condition did not hold
│   └── NotSerializable        a message, item or record that is not JSON-serialisable
├── StateError                 the state database cannot be opened, is damaged, or stayed locked
│   └── StateUnavailable       it cannot be reached for now (a lost connection, a restart)
│       └── StateConflict      it ended a transaction to break a deadlock; run it again
├── WarehouseError             a warehouse statement, load or connection failed
│   └── CheckpointConflict     another loader moved the checkpoint first
├── CommandError               ctx.run_command: the program failed
│   ├── CommandFailed          it exited with a non-zero status
│   └── CommandTimeout         it ran past its timeout and was killed
└── RunCancelled               the run was cancelled while it ran
```

Errors raised by user handlers are never wrapped in these: they are recorded on the run
with their traceback, retried, and dead-lettered.
"""

from __future__ import annotations


class CauceError(Exception):
    """Base of every cauce error: a one-line message and an optional hint."""

    hint: str | None = None

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip().splitlines()[0])
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


def first_line(text: str) -> str:
    """``text`` up to its first line feed (a CR just before it dropped): the one line an error
    is shown as. Not ``str.splitlines``, which also ends a line at a lone CR, U+0085, U+2028 and
    other separators, and so hid the rest of a message that held one; those stay in the line,
    and terminal output shows the control characters among them as ``\\xNN``."""
    return text.split("\n", 1)[0].removesuffix("\r")


class DeclarationError(CauceError):
    """The app declares something invalid."""


class ConfigError(CauceError):
    """A setting is missing or invalid."""


class NotFound(CauceError):
    """No such app, job, queue or resource."""


class Conflict(CauceError):
    """The action no longer fits the thing it acts on: a run that already ended, the same work
    already under way."""


class NotAttached(CauceError):
    """This resource is not attached to a running runtime."""

    hint = "use it inside a handler or job, in `cauce run`, or in `cauce.testing.TestRuntime(app)`"


class PartitionError(CauceError):
    """The partition key is malformed or outside the declared range."""


class ResourceError(CauceError):
    """A resource operation failed."""


class InvalidKey(ResourceError):
    """The key is not allowed."""


class ObjectNotFound(ResourceError):
    """No object with that key."""


class ConditionFailed(ResourceError):
    """The conditional write's condition did not hold."""


class NotSerializable(ResourceError):
    """The value is not JSON-serialisable."""

    hint = "send dicts, lists, strings, numbers, booleans and None only"


class StateError(CauceError):
    """The state database could not be used."""


class StateUnavailable(StateError):
    """The state store cannot be reached for now (a connection lost, a server restarting):
    what the call wrote may or may not have been committed; a serving process waits for the
    store to come back instead of stopping."""


class StateConflict(StateUnavailable):
    """The state store ended a transaction to settle a conflict with another session (a
    deadlock, a serialization failure): nothing of it was committed, and running it again
    succeeds; a serving process does so at once."""


class WarehouseError(CauceError):
    """A warehouse operation failed."""


class CheckpointConflict(WarehouseError):
    """The checkpoint was moved by another loader; nothing was committed."""

    hint = "another run loaded this chunk first; read the checkpoint again and continue from it"


class CommandError(CauceError):
    """The external program failed."""


class CommandFailed(CommandError):
    """The external program exited with a non-zero status."""

    def __init__(self, message: str, *, returncode: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode


class CommandTimeout(CommandError):
    """The external program ran past its timeout and was killed."""


class RunCancelled(CauceError):
    """The run was cancelled."""
