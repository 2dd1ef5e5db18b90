"""Run an external program and stream its output, line by line, into the run's log stream.

The program gets its own process group, so a timeout or a cancellation stops it and anything it
started (a launcher such as ``wine`` and the program it runs).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import CommandFailed, CommandTimeout, RunCancelled

KEEP_LINES = 10_000


@dataclass(frozen=True)
class CommandResult:
    """How the program ended, and the last lines it wrote (up to 10,000 of each)."""

    argv: tuple[str, ...]
    returncode: int
    stdout_lines: list[str]
    stderr_lines: list[str]
    seconds: float


def _pump(stream: IO[bytes], sink: deque[str], log: Callable[[str], None]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        sink.append(line)
        log(line)
    stream.close()


def _stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the program's process group, then SIGKILL whatever is left after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_command(
    argv: Sequence[str | os.PathLike[str]],
    *,
    log: logging.Logger,
    cancelled: Callable[[], bool],
    timeout: float | None = None,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> CommandResult:
    """Run ``argv``; stdout lines are logged at INFO, stderr lines at WARNING, as they arrive."""
    args = tuple(os.fspath(a) for a in argv)
    if not args:
        raise CommandFailed("run_command needs a program to run", returncode=-1)
    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            args, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    except OSError as err:
        raise CommandFailed(f"cannot start {args[0]}: {err.strerror or err}", returncode=-1,
                            hint="check the program path and that it is executable") from None
    log.info("$ %s", " ".join(args))
    out: deque[str] = deque(maxlen=KEEP_LINES)
    err_lines: deque[str] = deque(maxlen=KEEP_LINES)
    assert process.stdout is not None and process.stderr is not None
    # Each pump runs in a copy of this thread's context, so its lines reach the run's log stream.
    pumps = [
        threading.Thread(target=contextvars.copy_context().run,
                         args=(_pump, process.stdout, out, lambda s: log.info("%s", s)),
                         daemon=True),
        threading.Thread(target=contextvars.copy_context().run,
                         args=(_pump, process.stderr, err_lines, lambda s: log.warning("%s", s)),
                         daemon=True),
    ]
    for pump in pumps:
        pump.start()
    outcome = None
    while process.poll() is None:
        if timeout is not None and time.monotonic() - started > timeout:
            outcome = "timeout"
        elif cancelled():
            outcome = "cancelled"
        if outcome:
            _stop(process)
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
    for pump in pumps:
        pump.join(timeout=5)
    seconds = time.monotonic() - started
    result = CommandResult(args, process.returncode, list(out), list(err_lines), seconds)
    if outcome == "timeout":
        raise CommandTimeout(f"{Path(args[0]).name} did not finish within {timeout:g} s "
                             "and was stopped",
                             hint="raise the timeout or look at the run's log "
                             "for where it stalled")
    if outcome == "cancelled":
        raise RunCancelled(f"{args[0]} was stopped because the run was cancelled")
    log.info("%s exited with status %d after %.1f s", Path(args[0]).name, process.returncode,
             seconds)
    if check and process.returncode != 0:
        last = err_lines[-1] if err_lines else (out[-1] if out else "")
        raise CommandFailed(f"{Path(args[0]).name} exited with status {process.returncode}",
                            returncode=process.returncode,
                            hint=f"its last line: {last}" if last else None)
    return result
