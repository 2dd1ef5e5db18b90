"""Whether a signal reaches a thread that waits for work running in another thread.

The kernel hands a process's signal (Ctrl-C) to any of its threads. Python runs its handler in
the main thread, and only when that thread next runs: one blocked waiting for a worker without
a timeout handles Ctrl-C only when the worker ends, which for a download may take hours.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

LONG = 10.0  # seconds the work lasts if nothing stops it


class _Stop(Exception):
    """Raised in the waiting thread by the signal handler: the wait was interrupted."""


def handled_while_busy(run: Callable[[Callable[[], None]], Any]) -> bool:
    """Call ``run(task)``, which must wait for ``task()`` running in a worker thread, and send
    SIGALRM to that worker thread once the task started: True if the handler ran in the caller
    while the task was still running (it then ends the task at once)."""
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    worker: list[int] = []

    def task() -> None:
        worker.append(threading.get_ident())
        started.set()
        release.wait(LONG)
        finished.set()

    def on_alarm(signum: int, frame: object) -> None:
        busy = not finished.is_set()
        release.set()
        raise _Stop(busy)

    def poke() -> None:
        if started.wait(LONG):
            signal.pthread_kill(worker[0], signal.SIGALRM)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    poker = threading.Thread(target=poke)
    poker.start()
    try:
        run(task)
    except _Stop as stop:
        return bool(stop.args[0])
    finally:
        release.set()
        poker.join()
        signal.signal(signal.SIGALRM, previous)
    return False
