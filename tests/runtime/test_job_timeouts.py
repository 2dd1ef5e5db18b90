"""A job's ``timeout=`` holds for runs in worker threads too (`cauce serve`, `cauce worker`,
`cauce backfill`): its cancel flag is set once the timeout passes, a job that ignores it is
interrupted, and the run fails "timed out" (retried like any failure), not "cancelled"."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from cauce.runtime import interrupts
from cauce.runtime.execute import Outcome


class _Sink:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, app: str, stream: str, level: int, line: str, run_id: str) -> None:
        self.lines.append(line)


def _spec(timeout: float | None) -> SimpleNamespace:
    target = SimpleNamespace(timeout=timeout, app=SimpleNamespace(name="app"))
    return SimpleNamespace(run_id="r1", target=target, stream_name="job/r1")


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> interrupts.ThreadRuns:
    monkeypatch.setattr(interrupts, "CHECK_EVERY", 0.02)
    monkeypatch.setattr(interrupts, "GRACE", 0.1)
    return interrupts.ThreadRuns(SimpleNamespace(sink=_Sink()))


def _in_worker_thread(runs: interrupts.ThreadRuns, timeout: float | None, job) -> Outcome:
    cancel = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(runs.run, _spec(timeout), cancel, lambda: job(cancel)).result(30)


RUNS_ON = 60.0  # seconds the jobs below go on unless stopped: far past any deadline here


def _polite(ended: list[str]):
    def job(cancel: threading.Event) -> Outcome:
        ended.append("asked to stop" if cancel.wait(RUNS_ON) else "ran to its end")
        return Outcome(ok=False, error="cancelled", cancelled=True)
    return job


def _stubborn(ended: list[str]):
    def job(cancel: threading.Event) -> Outcome:
        try:
            end = time.monotonic() + RUNS_ON
            while time.monotonic() < end:  # never looks at its cancel flag
                time.sleep(0.01)
        except BaseException:
            ended.append("interrupted")
            raise
        ended.append("ran to its end")
        return Outcome(ok=True, result="too late")
    return job


def test_a_job_that_checks_is_asked_to_stop_and_fails_timed_out(runs) -> None:
    """The flag is set at the timeout, while the job would still go on for a minute."""
    ended: list[str] = []
    outcome = _in_worker_thread(runs, 0.05, _polite(ended))
    assert ended == ["asked to stop"]
    assert not outcome.ok and not outcome.cancelled
    assert outcome.error == "timed out after 0.05 s; the job was asked to stop"
    assert runs.runtime.sink.lines == ["run timed out after 0.05 s: asked to stop"]


def test_a_job_that_never_checks_is_interrupted_and_fails_timed_out(runs) -> None:
    """The job is interrupted in its loop, which would go on for a minute."""
    ended: list[str] = []
    outcome = _in_worker_thread(runs, 0.05, _stubborn(ended))
    assert ended == ["interrupted"]
    assert not outcome.ok and not outcome.cancelled
    assert outcome.error == "timed out after 0.05 s; the job was interrupted"


def test_a_job_within_its_timeout_or_without_one_is_left_alone(runs) -> None:
    quick = _in_worker_thread(runs, 5.0, lambda cancel: Outcome(ok=True, result=1))
    assert quick.ok and quick.result == 1
    cancel = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(runs.run, _spec(None), cancel,
                           lambda: (time.sleep(0.2), Outcome(ok=not cancel.is_set()))[1])
        assert slow.result(10).ok
    assert runs.runtime.sink.lines == []
