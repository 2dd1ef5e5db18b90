"""Execute one run of a job or handler: build its context, route its logs, catch its errors.

This is the single boundary where user code is called. Whatever it raises is recorded — the
one-line error on the run, the full traceback in the run's log stream — and turned into an
`Outcome`; the dispatcher then decides between retry and dead-letter.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import causes
from ..app import Handler, Job
from ..backends.objects import holding_copies
from ..context import Context
from ..errors import CauceError, RunCancelled, first_line
from ..events import BatchFailed, Message
from ..logs import LogScope, scoped
from .foreground import Interrupted

if TYPE_CHECKING:
    from .runtime import Runtime


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``failed`` names the messages a batch handler failed (the rest of its
    batch succeeded); ``lost`` says the process running it died."""

    ok: bool
    error: str | None = None
    result: Any = None
    cancelled: bool = False
    traceback: str | None = None
    failed: frozenset[str] | None = None
    lost: bool = False


SUCCEEDED = Outcome(ok=True)  # the common end, shared: an outcome is never changed


@dataclass(frozen=True)
class Position:
    """Where a stream delivery leaves its consumer: the checkpoint ``ctx.atomic()`` commits
    with the handler's own writes, under the delivery's shard lease."""

    stream: str
    consumer: str
    shard: int
    lease: str
    seq: int


@dataclass
class RunSpec:
    """Everything needed to execute one run, and to find it again afterwards."""

    run_id: str
    target: Handler | Job
    attempt: int = 1
    event_id: str | None = None
    partition: str | None = None
    params: dict[str, Any] | None = None
    payload: Any = None
    window: tuple[datetime, datetime] | None = None
    shard: int | None = None
    position: Position | None = None

    @property
    def is_job(self) -> bool:
        return isinstance(self.target, Job)

    @property
    def stream_name(self) -> str:
        return f"{self.target.name}/{self.run_id}"


def execute(runtime: Runtime, spec: RunSpec, cancel: threading.Event | None = None) -> Outcome:
    """Run ``spec`` in this thread and report how it ended. Never raises for user errors."""
    target = spec.target
    partition_date = None
    if isinstance(target, Job) and target.partitions is not None and spec.partition is not None:
        partition_date = target.partitions.parse(spec.partition)
    ctx = Context(
        runtime, app=target.app, name=target.name, run_id=spec.run_id, attempt=spec.attempt,
        event_id=spec.event_id, partition=spec.partition, partition_date=partition_date,
        params=spec.params, cancel=cancel, window=spec.window, shard=spec.shard,
        position=spec.position,
    )
    scope = LogScope(runtime.sink, target.app.name, spec.stream_name, spec.run_id)
    with scoped(scope), holding_copies():  # the local copies of objects it reads, kept
        if spec.is_job:
            where = f" for partition {spec.partition}" if spec.partition else ""
            ctx.log.info("run %s of %s started%s (attempt %d)", spec.run_id, target.name, where,
                         spec.attempt)
        redact = runtime.sink.redact
        try:
            if isinstance(target, Job):
                # options queued as JSON come back as text: give the job its declared types again
                params = runtime.check_params(target, spec.params or {})
                result = target.func(ctx, **params)
            else:
                result = target.func(spec.payload, ctx)
            if isinstance(result, BatchFailed):  # returned rather than raised: the same
                raise result
        except SystemExit as err:
            # sys.exit() in code written as a script: it ends the run, not the process serving
            # it (a `cauce run` died without recording the run). 0 or None is a success.
            if err.code not in (0, None):
                return _failed(ctx, spec, err, redact, hint=EXIT_HINT)
            result = None
        except RunCancelled as err:
            ctx.log.warning("run cancelled: %s", err)
            return Outcome(ok=False, error=redact(f"cancelled: {err}"), cancelled=True)
        except BatchFailed as err:
            partial = _partial(err, spec, redact)
            if partial is not None:
                ctx.log.warning("attempt %d: %s", spec.attempt, partial.error)
                return partial
            return _failed(ctx, spec, err, redact)
        except (KeyboardInterrupt, Interrupted):
            raise  # Ctrl-C, SIGTERM or a stop asked of the run: the caller's to handle
        except BaseException as err:  # an Exception, or one of the code's own BaseExceptions
            if ctx.cancelled:
                ctx.log.warning("run cancelled (%s: %s)", type(err).__name__, err)
                return Outcome(ok=False, error="cancelled", cancelled=True)
            return _failed(ctx, spec, err, redact)
        finally:
            ctx._cleanup()
            mend_std_streams()
        if ctx.cancelled:
            ctx.log.warning("run cancelled: it returned after cancellation was asked")
            return Outcome(ok=False, error="cancelled", cancelled=True)
        if spec.is_job:
            ctx.log.info("run %s succeeded", spec.run_id)
        return SUCCEEDED if result is None else Outcome(ok=True, result=_kept(ctx, result, redact))


def mend_std_streams() -> None:
    """Open again the standard output and error that the code just run closed: they are the
    process's, and what is written after it (its run's end, the next runs, cauce's own report)
    would fail, or, once a file took a closed descriptor's number, land in that file. A closed
    descriptor is pointed at the null device, a closed ``sys.stdout``/``sys.stderr`` made anew."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        _mend_descriptor(fd)
        stream = getattr(sys, name)
        if stream is not None and stream.closed:
            reopened = open(fd, "w", closefd=False, encoding=stream.encoding,  # noqa: SIM115
                            errors=stream.errors, buffering=1)  # it stays open, as sys's own
            setattr(sys, name, reopened)


def _mend_descriptor(fd: int) -> None:
    try:
        os.fstat(fd)
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)  # the lowest free number: ``fd`` itself
        if null != fd:
            os.dup2(null, fd)
            os.close(null)


EXIT_HINT = "return from the job or handler, or raise an exception, instead of calling sys.exit()"
FAILURE_LINE = re.compile(r"attempt \d+ failed: ")


def is_failure_line(level: str, message: str) -> bool:
    """Whether a stored log line is a run's failure line (its first line the one-line error,
    the rest its traceback), as `_failed` writes it."""
    return level == "ERROR" and FAILURE_LINE.match(message) is not None


def _failed(ctx: Context, spec: RunSpec, err: BaseException, redact: Callable[[str], str], *,
            hint: str | None = None) -> Outcome:
    """The outcome of a run that raised: its one-line error, its traceback in its log."""
    one_line = first_line(f"{type(err).__name__}: {err}") if str(err) else type(err).__name__
    hint = hint or (err.hint if isinstance(err, CauceError) else None)
    if hint is None and (cause := causes.of(err)) is not None:
        hint = str(cause)  # a full disk, no memory, too many open files: the machine's limit
    if hint:
        one_line += f" (hint: {' '.join(hint.split())})"  # one line, as the error is
    trace = traceback.format_exc().rstrip()
    # The stored line carries the traceback; a terminal shows it only with --debug.
    ctx.log.error("attempt %d failed: %s", spec.attempt, one_line,
                  extra={"traceback": trace, "run_failure": True})
    return Outcome(ok=False, error=redact(one_line), traceback=redact(trace))


def _partial(failure: BatchFailed, spec: RunSpec, redact: Callable[[str], str]) -> Outcome | None:
    """The outcome of a batch handler that named the messages it failed; None when the run was
    not a batch of messages (then BatchFailed is an ordinary error)."""
    batch = spec.payload
    if not isinstance(batch, list) or not all(isinstance(m, Message) for m in batch):
        return None
    if not failure.failed:
        return Outcome(ok=True)
    unknown = sorted(set(failure.failed) - {m.id for m in batch})
    if unknown:
        return Outcome(ok=False, error="BatchFailed names message(s) not in the batch: "
                       + ", ".join(unknown))
    return Outcome(ok=False, error=redact(failure.reason), failed=frozenset(failure.failed))


MAX_RESULT = 1_000_000


def storable(result: Any, redact: Callable[[str], str]) -> Any:
    """What is kept of a run's return value: its JSON form (other values as text), secrets
    masked; None when it is not serialisable or longer than a megabyte."""
    if result is None:
        return None
    try:
        # NaN and infinities are no JSON (PostgreSQL's jsonb refuses them): not kept either
        text = redact(json.dumps(result, default=str, allow_nan=False))
    except (TypeError, ValueError):
        return None
    return json.loads(text) if len(text) <= MAX_RESULT else None


def _kept(ctx: Context, result: Any, redact: Callable[[str], str]) -> Any:
    """``result`` as stored on the run; its log says so when it is not kept."""
    kept = storable(result, redact)
    if kept is None:
        ctx.log.warning("its return value (%s) is not kept on the run: it has no JSON form "
                        "(NaN or an infinity) or its JSON is over %d bytes",
                        type(result).__name__, MAX_RESULT)
    return kept


def log_general(runtime: Runtime, app_name: str, level: int, message: str, *args: Any) -> None:
    """A line in the app's general stream (run start/end, schedules, workers)."""
    runtime.sink.write(app_name, "general", level, message % args if args else message)
    logging.getLogger(f"cauce.general.{app_name}").log(level, message, *args)
