"""RunStore and LogStore: run records and their queries, started deliveries found again after
their worker is gone, cancellation marks; log lines and streams."""

from __future__ import annotations

from dataclasses import replace

from cauce.backends.state import OWN_PROCESS, Start, StateStore, StoredMessage
from cauce.runs import RunRecord, RunStatus


def _run(run_id: str, **fields: object) -> RunRecord:
    values: dict[str, object] = {"app": "app", "kind": "job", "name": "load",
                                 "status": RunStatus.QUEUED, "queued_at": 10.0}
    values.update(fields)
    return RunRecord(id=run_id, **values)  # type: ignore[arg-type]


def test_insert_get_and_upsert_keep_how_a_run_was_queued(state: StateStore) -> None:
    state.runs.insert([_run("r1", partition="2024-01-01", params={"all": True}, message_id=7,
                            trigger="schedule")])
    assert state.runs.queued_for(7) == "r1"
    state.runs.upsert([_run("r1", status=RunStatus.SUCCEEDED, attempt=2, started_at=11.0,
                            ended_at=12.5, worker="w", queued_at=99.0, trigger="other",
                            result={"rows": 3})])
    run = state.runs.get("r1")
    assert run is not None
    assert (run.status, run.attempt, run.worker, run.duration, run.result) == (
        RunStatus.SUCCEEDED, 2, "w", 1.5, {"rows": 3})
    assert (run.queued_at.timestamp(), run.trigger, run.params) == (
        10.0, "schedule", {"all": True})
    assert state.runs.queued_for(7) is None
    state.runs.upsert([_run("r2", status=RunStatus.FAILED, error="boom")])
    assert state.runs.get("r2").error == "boom"  # type: ignore[union-attr]


def test_finish_and_queries(state: StateStore) -> None:
    state.runs.insert([_run("a1", started_at=1.0, partition="p1"),
                       _run("a2", started_at=2.0, partition="p2", name="other"),
                       _run("a3", started_at=3.0, partition="p1")])
    state.runs.finish("a1", RunStatus.SUCCEEDED, now=5.0, result=[1])
    state.runs.finish("a3", RunStatus.FAILED, now=6.0, error="x")
    assert [r.id for r in state.runs.query(app="app")] == ["a3", "a2", "a1"]
    assert [r.id for r in state.runs.query(name="load", newest_first=False)] == ["a1", "a3"]
    assert [r.id for r in state.runs.query(status="failed")] == ["a3"]
    assert [r.id for r in state.runs.query(partition="p1", limit=1)] == ["a3"]
    assert state.runs.succeeded_partitions("app", "load") == {"p1"}
    assert state.runs.partition_succeeded("app", "load", "p1")
    assert not state.runs.partition_succeeded("app", "load", "p2")
    assert [r.id for r in state.runs.find_by_prefix("a")] == ["a1", "a2", "a3"]
    assert state.runs.get("a1").result == [1]  # type: ignore[union-attr]


def test_cancellation_marks(state: StateStore) -> None:
    state.runs.insert([_run("q", message_id=1), _run("done", status=RunStatus.SUCCEEDED)])
    state.runs.request_cancel("q")
    state.runs.request_cancel("done")
    assert state.runs.cancel_requested(["q", "done", "nope"]) == {"q"}
    assert state.runs.queued_cancelled() == [("q", 1)]


def test_a_noted_start_is_found_by_another_process(state: StateStore,
                                                   other: StateStore) -> None:
    run = _run("h1", kind="handler", name="h", status=RunStatus.RUNNING, started_at=3.0,
               worker="worker-a", message_id=42)
    state.runs.note_started(Start("lease-1", "42", run.as_dict()))
    found = other.runs.started(worker="worker-a", lease="lease-1", head="42", message_id=42)
    assert found == run
    assert other.runs.started(worker="worker-a", lease="lease-2", head="42") is None
    assert other.runs.started(worker="worker-b", lease="lease-1", head="42") is None
    assert other.runs.get("h1") is None, "noted, not yet recorded"
    state.runs.record_running([run])
    assert other.runs.get("h1").status is RunStatus.RUNNING  # type: ignore[union-attr]
    assert other.runs.started(worker=None, lease=None, head="42", message_id=42) == run
    state.runs.upsert([replace(run, status=RunStatus.SUCCEEDED, ended_at=4.0)])
    assert other.runs.started(worker=None, lease=None, head="42", message_id=42) is None


def test_a_start_in_a_child_process_is_found_as_such_and_given_back_uncounted(
        state: StateStore, other: StateStore) -> None:
    state.queues.send("app:work", ["1", "2"], now=0.0)
    child, thread = state.queues.receive("app:work", now=0.0, limit=2, visibility=10.0,
                                         worker="worker-a")
    runs = [_run(f"h{m.id}", kind="handler", status=RunStatus.RUNNING, started_at=1.0,
                 worker="worker-a", message_id=m.id, in_child=m is child)
            for m in (child, thread)]
    for m, run in zip((child, thread), runs, strict=True):
        state.runs.note_started(Start(m.lease or "", str(m.id), run.as_dict()))

    def started(m: StoredMessage) -> RunRecord | None:
        return other.runs.started(worker="worker-a", lease=m.lease, head=str(m.id),
                                  message_id=m.id)

    assert [started(m) for m in (child, thread)] == runs, "by the noted start"
    assert [r.in_child for r in runs] == [True, False]
    state.runs.record_running(runs)
    assert [started(m) for m in (child, thread)] == runs, "by the row"
    assert other.queues.release(child.id, child.lease or "", visible_at=2.0, error="killed",
                                isolation=OWN_PROCESS, counted=False)
    assert other.queues.release(thread.id, thread.lease or "", visible_at=2.0, lost=True)
    again = {m.body: m for m in state.queues.listing("app:work")}
    assert (again["1"].receive_count, again["1"].lost, again["1"].isolation,
            again["1"].last_error) == (0, 0, OWN_PROCESS, "killed"), "not counted"
    assert (again["2"].receive_count, again["2"].lost) == (1, 1)


def test_log_lines_and_streams(state: StateStore) -> None:
    state.logs.append([("app", "general", 1.0, 20, "started", None),
                       ("app", "load/r1", 2.0, 20, "reading", "r1"),
                       ("app", "load/r1", 3.0, 40, "failed", "r1"),
                       ("other", "general", 4.0, 30, "elsewhere", None)])
    lines = state.logs.read(run_id="r1")
    assert [(line.message, line.level, line.stream) for line in lines] == [
        ("reading", "INFO", "load/r1"), ("failed", "ERROR", "load/r1")]
    assert [line.message for line in state.logs.read(app="app", stream="general")] == [
        "started"]
    assert [line.message for line in state.logs.read(since=2.0, until=4.0)] == [
        "reading", "failed"]
    assert [line.message for line in state.logs.read(after_id=lines[0].id)] == [
        "failed", "elsewhere"]
    assert [line.message for line in state.logs.read(limit=1)] == ["started"]
    assert state.logs.streams("app") == [("app", "load/r1", 3.0, 2), ("app", "general", 1.0, 1)]
    assert len(state.logs.streams(limit=2)) == 2


def test_log_lines_are_read_a_page_after_another(state: StateStore) -> None:
    """After a line in the reading order (time, then id), even one written late."""
    state.logs.append([("app", "general", t, 20, m, None)
                       for t, m in ((2.0, "b"), (1.0, "a"), (2.0, "c"), (3.0, "d"))])
    first = state.logs.read(app="app", limit=2)
    assert [line.message for line in first] == ["a", "b"]
    rest = state.logs.read(app="app", after_line=first[-1].id, limit=2)
    assert [line.message for line in rest] == ["c", "d"]
    assert state.logs.read(app="app", after_line=rest[-1].id) == []


def test_runs_are_listed_a_page_after_another(state: StateStore) -> None:
    """Pages of the newest-first listing, each one query starting after the last run of the
    page before: ties in time (told apart by id), untimed runs last, a limit, a filter; a run
    added meanwhile, newer than the first page, is not listed again nor skipped."""
    state.runs.insert([
        *(_run(f"t{i:02}", started_at=float(i // 3), queued_at=0.5) for i in range(20)),
        *(_run(f"n{i}", queued_at=None, name="untimed") for i in range(4)),
        *(_run(f"o{i}", started_at=7.5, app="other") for i in range(3)),
    ])
    every = [r.id for r in state.runs.query(limit=None)]
    asked: list[object] = []
    page_of = state.runs.keyed_page

    def counted(**query: object) -> object:
        asked.append(query["after"])
        return page_of(**query)  # type: ignore[arg-type]

    state.runs.keyed_page = counted  # type: ignore[method-assign]
    for size in (1, 2, 3, 4, 26, 27, 100):
        asked.clear()
        pages = list(state.runs.pages(size=size))
        assert [r.id for page in pages for r in page] == every, size
        assert all(0 < len(page) <= size for page in pages)
        # a query a page, and at most two that find none: the end of the timed runs, the end
        assert len(pages) <= len(asked) <= len(pages) + 2
    for limit in (1, 5, 23, 25, 40):
        listed = [r.id for page in state.runs.pages(size=4, limit=limit) for r in page]
        assert listed == every[:limit]
    assert [r.id for page in state.runs.pages(app="other", size=2) for r in page] == [
        r.id for r in state.runs.query(app="other")]
    assert [r.id for page in state.runs.pages(name="untimed", size=3) for r in page] == [
        "n3", "n2", "n1", "n0"]
    pages = state.runs.pages(size=5)
    first = next(pages)
    state.runs.insert([_run("late", started_at=100.0)])
    assert [r.id for r in first] + [r.id for page in pages for r in page] == every


def test_an_upsert_naming_a_run_twice_keeps_the_last(state: StateStore) -> None:
    state.runs.upsert([_run("u1", status=RunStatus.RUNNING, started_at=1.0),
                       _run("u1", status=RunStatus.SUCCEEDED, started_at=1.0, ended_at=2.0)])
    assert state.runs.get("u1").status is RunStatus.SUCCEEDED  # type: ignore[union-attr]


def test_acknowledge_deletes_the_leased_messages_and_writes_the_runs(state: StateStore) -> None:
    state.queues.send("app:q", ["1", "2", "3"], now=0.0)
    got = state.queues.receive("app:q", now=0.0, limit=3, visibility=10.0)
    leases = [(m.id, m.lease or "") for m in got[:2]] + [(got[2].id, "another lease")]
    state.runs.insert([_run("a1"), _run("a2")])
    state.acknowledge(leases, [_run("a1", status=RunStatus.SUCCEEDED, ended_at=3.0),
                               _run("a2", status=RunStatus.RUNNING),
                               _run("a2", status=RunStatus.SUCCEEDED, ended_at=4.0)])
    assert [m.body for m in state.queues.listing("app:q")] == ["3"], "a stale lease acks none"
    assert [state.runs.get(r).status for r in ("a1", "a2")] == [  # type: ignore[union-attr]
        RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]
    state.acknowledge([], [_run("a3", status=RunStatus.SUCCEEDED)])
    assert state.runs.get("a3") is not None


def test_free_text_with_a_nul_character_is_kept_readable(state: StateStore) -> None:
    state.logs.append([("app", "general", 1.0, 20, "binary\x00output", None)])
    [line] = state.logs.read(app="app")
    assert line.message.startswith("binary") and line.message.endswith("output")
    state.runs.insert([_run("n1")])
    state.runs.finish("n1", RunStatus.FAILED, now=2.0, error="bad\x00byte")
    assert state.runs.get("n1").error.startswith("bad")  # type: ignore[union-attr]


def test_prune_deletes_finished_runs_and_old_lines_only(state: StateStore) -> None:
    state.runs.insert([
        _run("old", status=RunStatus.SUCCEEDED, started_at=10.0, ended_at=20.0),
        _run("old-other-app", app="other", status=RunStatus.FAILED, started_at=10.0,
             ended_at=20.0),
        _run("new", status=RunStatus.FAILED, started_at=10.0, ended_at=200.0),
        _run("waiting", queued_at=5.0),
        _run("going", status=RunStatus.RUNNING, started_at=6.0)])
    assert state.runs.prune(ended_before=100.0, app="app") == 1
    assert state.runs.get("old") is None and state.runs.get("old-other-app") is not None
    assert state.runs.prune(ended_before=100.0) == 1
    assert sorted(r.id for r in state.runs.query()) == ["going", "new", "waiting"]
    state.logs.append([("app", "load/old", 15.0, 20, "old line", "old"),
                       ("app", "general", 150.0, 20, "new line", None),
                       ("other", "general", 15.0, 20, "other app", None)])
    assert state.logs.prune(before=100.0, app="app") == 1
    assert [line.message for line in state.logs.read()] == ["other app", "new line"]
    assert state.logs.prune(before=100.0) == 1
