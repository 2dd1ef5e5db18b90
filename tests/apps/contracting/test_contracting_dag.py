"""The weekly step graph: Ctrl-C reaches it while a step runs in a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cauce.apps.contracting.dag import Graph
from worker_signal import handled_while_busy


def test_ctrl_c_reaches_the_week_while_a_step_runs() -> None:
    """A download step waiting to retry (Retry-After) must not hold up Ctrl-C until it ends."""

    def week_with(task: Callable[[], None]) -> None:
        graph = Graph()
        graph.add("download-procesos", task)
        graph.run(workers=2)

    assert handled_while_busy(week_with)


def test_a_step_waiting_for_a_held_lock_leaves_its_worker_to_a_ready_step() -> None:
    """Two indicator steps share the engine's lock; while one runs, an ETL step that is ready
    gets the second worker instead of the other indicator, which would only wait there."""
    lock, etl_started = threading.Lock(), threading.Event()
    saw: list[bool] = []
    graph = Graph()
    graph.add("I01", lambda: saw.append(etl_started.wait(timeout=10)), lock=lock)
    graph.add("I02", lambda: None, lock=lock)
    graph.add("etl-obras", etl_started.set)
    ended = graph.run(workers=2)
    assert saw == [True]
    assert {done.status for done in ended.values()} == {"ok"}
