"""A step graph run inside one job: each step starts when the steps it needs have succeeded,
and is skipped (with the reason) when one of them did not; independent steps run in parallel.

cauce's jobs chain with ``after=`` only when every upstream run succeeded, and `cauce run`
executes only the job named; the weekly run needs a fan-out where a failing source stops only
the indicators that read it, in one foreground run, so the graph lives here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
WAKE = 0.5  # seconds the calling thread waits for a step at most before looking again


class Skip(Exception):
    """Raised by a step that found nothing to run on: it ends as skipped, with the reason."""


@dataclass
class Step:
    """A unit of work: ``func()`` after ``needs``; ``always`` steps run whatever became of
    their needs (they read what the others left), ``lock`` serialises steps sharing it."""

    name: str
    func: Callable[[], Any]
    needs: tuple[str, ...] = ()
    always: bool = False
    lock: threading.Lock | None = None


@dataclass
class Done:
    name: str
    status: str
    seconds: float = 0.0
    error: str = ""
    result: Any = None


@dataclass
class Graph:
    steps: dict[str, Step] = field(default_factory=dict)

    def add(self, name: str, func: Callable[[], Any], needs: tuple[str, ...] | list[str] = (),
            *, always: bool = False, lock: threading.Lock | None = None) -> None:
        unknown = [n for n in needs if n not in self.steps]
        if unknown or name in self.steps:
            raise ValueError(f"step {name!r}: unknown needs {unknown} or a duplicate name")
        self.steps[name] = Step(name, func, tuple(needs), always, lock)

    def run(self, *, workers: int = 2, on_done: Callable[[Done], None] | None = None,
            cancelled: Callable[[], bool] = lambda: False) -> dict[str, Done]:
        """Run every step; returns how each ended, in the order they were added."""
        done: dict[str, Done] = {}
        running: dict[Future[Any], tuple[str, float]] = {}

        def finish(result: Done) -> None:
            done[result.name] = result
            if on_done is not None:
                on_done(result)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            while len(done) < len(self.steps):
                started = {name for name, _ in running.values()}
                held = {self.steps[name].lock for name in started} - {None}
                for step in self.steps.values():
                    if step.name in done or step.name in started:
                        continue
                    if any(n not in done for n in step.needs):
                        continue
                    blocked = [n for n in step.needs if done[n].status != OK]
                    if blocked and not step.always:
                        finish(Done(step.name, SKIPPED, error="needs " + ", ".join(
                            f"{n} ({done[n].status})" for n in blocked)))
                        continue
                    if cancelled():
                        finish(Done(step.name, SKIPPED, error="the run was cancelled"))
                        continue
                    if step.lock is not None:
                        # waiting for a lock a running step holds would take a worker that
                        # another ready step can use: submitted once the lock is free
                        if step.lock in held:
                            continue
                        held.add(step.lock)
                    running[pool.submit(_call, step)] = (step.name, time.perf_counter())
                if not running:
                    continue
                # with a timeout: a signal (Ctrl-C) is handled in this thread only when it wakes
                finished, _ = wait(list(running), timeout=WAKE, return_when=FIRST_COMPLETED)
                for future in finished:
                    name, began = running.pop(future)
                    seconds = time.perf_counter() - began
                    try:
                        value = future.result()
                    except Skip as why:
                        finish(Done(name, SKIPPED, seconds, str(why)))
                    except Exception as err:  # a failing step fails alone
                        first = str(err).splitlines()[0] if str(err) else ""
                        message = getattr(err, "message", None) or first
                        finish(Done(name, FAILED, seconds, f"{type(err).__name__}: {message}"))
                    else:
                        finish(Done(name, OK, seconds, result=value))
        return {name: done[name] for name in self.steps}


def _call(step: Step) -> Any:
    if step.lock is None:
        return step.func()
    with step.lock:
        return step.func()
