"""SIGTERM stopping a command as Ctrl-C does, for the commands that clean up on Ctrl-C (a run,
a backfill, the web UI): a service manager's stop then ends them as gracefully."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopping a command as Ctrl-C does."""


@contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM raises `Terminated` in the main thread while the block runs, so that a command
    stopped by it cleans up as on Ctrl-C instead of dying with its runs marked running."""
    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped_by(stop: KeyboardInterrupt) -> tuple[str, int]:
    """The signal that stopped a command and the exit status that says so, as shells give it
    (128 + the signal's number): ``("SIGTERM", 143)`` or ``("SIGINT", 130)``."""
    signum = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
    return signum.name, 128 + signum.value
