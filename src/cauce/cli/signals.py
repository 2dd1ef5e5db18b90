"""SIGTERM stopping a command as Ctrl-C does, for the commands that clean up on Ctrl-C (a run,
a backfill, the web UI): a service manager's stop then ends them as gracefully. And a second
Ctrl-C ending the process at once, jobs still running in its threads or not."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from .home import GLOBALS


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


def exit_at_once(status: int) -> NoReturn:
    """End the process now, as a second Ctrl-C asks, once its last line is written: Python
    would otherwise join the threads still running a job at exit, for as long as the job runs
    (the command said it stopped, and went on). Their leases expire as after a crash. Run
    in-process (tests, `cauce.cli.main.main`), the command only returns ``status``."""
    if not GLOBALS.exiting:
        raise typer.Exit(status)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or full: nothing more can be said there
            continue
    os._exit(status)
