"""A serving process with nothing to do polls less and less often, since a commit of new work
wakes it; delayed work still starts when due, and work committed elsewhere at once.

The tests watch the waits the serve loop asks for (`Runtime.wait`) rather than time: a wait
of a second or more lasts until something wakes the loop, as if it were endless, so work that
gets handled after one was handled because the loop was woken, not because the wait ran out.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cauce import App, Runtime
from cauce.backends.wakeup import WakeNotifier, supported
from cauce.clock import SimulatedClock
from cauce.runtime import serving
from waiting import wait_for

pytestmark = pytest.mark.skipif(not supported(), reason="no Unix sockets: no wake-ups, no backoff")

LONG = 1.0  # a serve loop's wait of at least this many seconds lasts until it is woken


@pytest.fixture
def home() -> Iterator[Path]:
    """A home with a short path: a wake-up socket's path must fit the OS's limit (about 100
    bytes), which a test folder under pytest-xdist can pass; without it no wait grows."""
    with tempfile.TemporaryDirectory(prefix="cq", dir="/tmp") as folder:
        yield Path(folder)


class Waits:
    """The waits serve loops asked for, in order; a `LONG` one ends only when woken."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.long = threading.Event()

    def __len__(self) -> int:
        return len(self.asked)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    waits = Waits()
    wait = Runtime.wait

    def watched(rt: Runtime, timeout: float) -> None:
        waits.asked.append(timeout)
        if timeout >= LONG:
            waits.long.set()
            timeout = None  # type: ignore[assignment]  # until woken
        wait(rt, timeout)

    monkeypatch.setattr(Runtime, "wait", watched)
    return waits


def _app(ran: list[int], waits: Waits) -> tuple[App, object]:
    """The app, and its queue; its handler notes how many waits the loop had asked for."""
    app = App("quiet")
    work = app.queue("work")

    @app.on(work)
    def handle(message, ctx):
        ran.append(len(waits))

    return app, work


def _serving(rt: Runtime) -> threading.Thread:
    thread = threading.Thread(target=rt.serve, kwargs={"timeout": "60s", "scheduler": False,
                                                       "grace": "1s"}, daemon=True)
    thread.start()
    return thread


def test_a_quiet_worker_polls_less_and_less_often(home: Path, waits: Waits) -> None:
    app, _ = _app([], waits)
    with Runtime(app, home=home) as rt:
        rt.serve(until=lambda: len(waits) >= 7, timeout="30s", scheduler=False, grace="1s")
    # doubling from the poll of 5 ms up to QUIET_POLL, where it stays
    assert waits.asked == [0.005, 0.01, 0.02, 0.04, serving.QUIET_POLL, serving.QUIET_POLL,
                           serving.QUIET_POLL]


def test_delayed_work_starts_when_due_however_long_the_quiet_wait(
        home: Path, waits: Waits, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "QUIET_POLL", 30.0)
    ran: list[int] = []
    app, work = _app(ran, waits)
    with Runtime(app, home=home) as rt:
        thread = _serving(rt)
        wait_for(waits.long.is_set, what="the quiet waits to grow past a second")
        sent = len(waits)  # the long wait in progress is the last: nothing else ends it
        work.send("later", delay="0.5s")
        wait_for(lambda: bool(ran), what="the delayed message to be handled")
        rt.stop()
        thread.join(30)
    # from the send to the run, the loop waited for the message to be due, no longer
    assert all(wait <= 0.5 for wait in waits.asked[sent:ran[0]])


def test_work_committed_by_another_process_wakes_a_quiet_worker(
        home: Path, waits: Waits, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "QUIET_POLL", 30.0)
    ran: list[int] = []
    app, _ = _app(ran, waits)
    producing, work = _app([], waits)  # the same app, as another process imports it
    with Runtime(app, home=home) as rt:
        thread = _serving(rt)
        wait_for(waits.long.is_set, what="the quiet waits to grow past a second")
        with Runtime(producing, home=home, role="producer"):
            work.send("now")
        wait_for(lambda: bool(ran), what="the message to be handled (only a wake-up ends the "
                                         "wait it came in)")
        rt.stop()
        thread.join(30)


def test_a_quiet_worker_not_woken_leaves_fresh_work_to_the_one_at_it(
        home: Path, waits: Waits, monkeypatch: pytest.MonkeyPatch) -> None:
    # Work whose wake-up went elsewhere (here: was lost) is another worker's until it has
    # waited JOIN_AFTER (by the runtimes' clock, moved by the test); then this one takes it:
    # nothing is left behind.
    monkeypatch.setattr(WakeNotifier, "notify", lambda self: None)
    clock = SimulatedClock(1_800_000_000.0)
    ran: list[int] = []
    app, _ = _app(ran, waits)
    producing, work = _app([], waits)
    with Runtime(app, home=home, clock=clock) as rt:
        thread = _serving(rt)
        wait_for(lambda: serving.QUIET_POLL in waits.asked, what="the worker to go quiet")
        with Runtime(producing, home=home, role="producer", clock=clock):
            work.send("now")
        sent = len(waits)
        wait_for(lambda: len(waits) >= sent + 10, what="ten more polls")
        assert not ran, "a quiet worker not woken took work younger than JOIN_AFTER"
        clock.advance(serving.JOIN_AFTER)
        wait_for(lambda: bool(ran), what="the message to be handled once it has waited")
        rt.stop()
        thread.join(30)
