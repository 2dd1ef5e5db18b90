"""The state's waits for a lock held elsewhere, said on stderr while a command runs.

Imported when a command starts, and `logging` with it: `cauce --help` needs neither.
"""

from __future__ import annotations

import logging

from . import console


class SaidOnStderr(logging.Handler):
    """A warning line on stderr, whatever the command (the state's waits for locks)."""

    def emit(self, record: logging.LogRecord) -> None:
        console.err.print(f"warning: {record.getMessage()}", markup=False, soft_wrap=True)


def say_state_waits() -> None:
    """From now on, each wait of the state for a lock is one line on stderr (said once, here,
    however often this is called, and not again by a serving process's log)."""
    waits = logging.getLogger("cauce.state.waits")
    if not any(isinstance(h, SaidOnStderr) for h in waits.handlers):
        waits.addHandler(SaidOnStderr(logging.WARNING))
        waits.propagate = False
