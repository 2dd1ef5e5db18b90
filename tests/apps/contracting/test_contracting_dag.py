"""The weekly step graph: Ctrl-C reaches it while a step runs in a worker thread."""

from __future__ import annotations

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
