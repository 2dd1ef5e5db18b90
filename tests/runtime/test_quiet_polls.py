"""A serving process with nothing to do polls less and less often, since a commit of new work
wakes it; delayed work still starts when due, and work committed elsewhere at once."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cauce import App, Runtime
from cauce.backends.wakeup import WakeNotifier, supported
from cauce.runtime import serving
from cauce.runtime.dispatcher import Dispatcher

pytestmark = pytest.mark.skipif(not supported(), reason="no Unix sockets: no wake-ups, no backoff")


@pytest.fixture
def home() -> Iterator[Path]:
    """A home with a short path: a wake-up socket's path must fit the OS's limit (about 100
    bytes), which a test folder under pytest-xdist can pass; without it no wait grows."""
    with tempfile.TemporaryDirectory(prefix="cq", dir="/tmp") as folder:
        yield Path(folder)


def _app(ran: list[float]) -> tuple[App, object]:
    app = App("quiet")
    work = app.queue("work")

    @app.on(work)
    def handle(message, ctx):
        ran.append(time.monotonic())

    return app, work


def _serving(rt: Runtime) -> threading.Thread:
    thread = threading.Thread(target=rt.serve, kwargs={"timeout": "30s", "scheduler": False,
                                                       "grace": "1s"}, daemon=True)
    thread.start()
    return thread


def test_a_quiet_worker_polls_less_and_less_often(home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pumps = []
    pump = Dispatcher.pump
    monkeypatch.setattr(Dispatcher, "pump", lambda self: pumps.append(1) or pump(self))
    app, _ = _app([])
    with Runtime(app, home=home) as rt:
        rt.serve(timeout="1s", scheduler=False, grace="1s")
    # every 5 ms this was about 200 a second; doubling up to 50 ms it is about 25
    assert len(pumps) < 60


def test_delayed_work_starts_when_due_however_long_the_quiet_wait(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "QUIET_POLL", 30.0)
    ran: list[float] = []
    app, work = _app(ran)
    with Runtime(app, home=home) as rt:
        thread = _serving(rt)
        time.sleep(1.5)  # quiet long enough for the waits to grow past a second
        due = time.monotonic() + 0.5
        work.send("later", delay="0.5s")
        while not ran and time.monotonic() < due + 20:
            time.sleep(0.01)
        rt.stop()
        thread.join(30)
    assert ran and ran[0] - due < 1  # not at the end of a wait of seconds


def test_work_committed_by_another_process_wakes_a_quiet_worker(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "QUIET_POLL", 30.0)
    assert _handled_after(home, quiet_for=1.0) < 5


def _handled_after(home: Path, quiet_for: float) -> float:
    """Seconds from a send by another runtime (as another process would send) to the start
    of its handling by a serving runtime that had been quiet for ``quiet_for`` seconds."""
    ran: list[float] = []
    app, _ = _app(ran)
    producing, work = _app([])  # the same app, as another process imports it
    with Runtime(app, home=home) as rt:
        thread = _serving(rt)
        time.sleep(quiet_for)
        with Runtime(producing, home=home, role="producer"):
            sent = time.monotonic()
            work.send("now")
        while not ran and time.monotonic() < sent + 20:
            time.sleep(0.01)
        rt.stop()
        thread.join(30)
    assert ran, "the message was never handled"
    return ran[0] - sent


def test_a_quiet_worker_not_woken_leaves_fresh_work_to_the_one_at_it(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Work whose wake-up went elsewhere (here: was lost) is another worker's until it has
    # waited JOIN_AFTER; then this one takes it: nothing is left behind.
    monkeypatch.setattr(serving, "JOIN_AFTER", 1.0)
    monkeypatch.setattr(WakeNotifier, "notify", lambda self: None)
    assert 1.0 <= _handled_after(home, quiet_for=0.5) < 5
