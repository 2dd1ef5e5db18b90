"""A process claims ahead of its threads only the work it knows to be short: a backlog of long
deliveries is left in the queue for the other processes serving the app, instead of waiting
in the first one's hands while the others have nothing to do."""

from __future__ import annotations

import threading
import time

from cauce import App
from cauce.runtime.dispatcher import Dispatcher
from cauce.settings import ConfigSources
from cauce.testing import TestRuntime


def _app(release: threading.Event | None) -> tuple[App, object]:
    app = App("ahead")
    work = app.queue("work", visibility_timeout="30s")

    @app.on(work)
    def handle(message, ctx):
        if release is not None:
            release.wait(10)

    return app, work


def _visible(rt: TestRuntime, work: object) -> int:
    queue = work.qualified
    return rt.runtime.state.queues.stats([queue], now=rt.clock.time()).get(queue, (0,))[0]


def _wait_done(dispatcher: Dispatcher, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(dispatcher._done) < count and time.monotonic() < deadline:
        time.sleep(0.001)


def test_long_deliveries_are_claimed_only_for_idle_threads(config: ConfigSources) -> None:
    release = threading.Event()
    app, work = _app(release)
    with TestRuntime(app, config=config) as rt:
        work.send_batch(list(range(10)))
        dispatcher = Dispatcher(rt.runtime, threads=2, processes=1)
        try:
            dispatcher.pump()  # not timed yet: as long as it may be
            assert (len(dispatcher.inflight), _visible(rt, work)) == (2, 8)
            dispatcher.SHORT = 0.0  # what the first two take, from now on, is long
            release.set()
            _wait_done(dispatcher, 2)
            dispatcher.pump()
            assert (len(dispatcher.inflight), _visible(rt, work)) == (2, 6), \
                "two threads free: two more claimed, the rest left for other processes"
        finally:
            release.set()
            dispatcher.shutdown(grace=5)


def test_short_deliveries_are_claimed_ahead(config: ConfigSources) -> None:
    app, work = _app(None)
    with TestRuntime(app, config=config) as rt:
        work.send_batch(list(range(40)))
        dispatcher = Dispatcher(rt.runtime, threads=2, processes=1)
        try:
            dispatcher.pump()
            _wait_done(dispatcher, 2)
            dispatcher.pump()  # timed short: up to PREFETCH per thread
            assert _visible(rt, work) == 40 - 2 * Dispatcher.PREFETCH
        finally:
            dispatcher.shutdown(grace=5)
