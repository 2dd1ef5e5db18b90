"""A home of long history: the list of log streams from counts kept as lines are written,
following a stream by the lines written since (not its whole history), and filtered run lists
that walk an index of their filter newest first instead of sorting every run they match. The
query plans are checked on SQLite, whose planner keeps no statistics here (PostgreSQL's depend
on the data; docs/benchmarks.md has its plans on a year of history)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cauce.backends.state import RunFilter, StateStore, open_state, sqlite_url
from cauce.runs import RunRecord, RunStatus

BASE = 1_700_000_000.0


def test_stream_counts_follow_appends_prunes_and_copies(state: StateStore, tmp_path) -> None:
    state.logs.append([("app", "general", 1.0, 20, "a", None),
                       ("app", "load/r1", 2.0, 20, "b", "r1"),
                       ("other", "general", 5.0, 20, "c", None)])
    state.logs.append([("app", "general", 4.0, 20, "d", None),
                       ("app", "general", 3.0, 20, "e", None)])
    state.logs.append([])
    assert state.logs.streams() == [("other", "general", 5.0, 1), ("app", "general", 4.0, 3),
                                    ("app", "load/r1", 2.0, 1)]
    assert state.logs.prune(before=3.5, app="app") == 3
    assert state.logs.streams("app") == [("app", "general", 4.0, 1)], "load/r1 is gone"
    assert state.logs.prune(before=10.0) == 2
    assert state.logs.streams() == []
    state.logs.append([("app", "año nuevo 2027", 6.0, 20, "f", None)])
    assert state.logs.streams() == [("app", "año nuevo 2027", 6.0, 1)]

    from cauce.backends.copy import copy_state

    target = open_state(sqlite_url(tmp_path / "copy.db"))
    try:
        copy_state(state, target, page=1)
        assert target.logs.streams() == [("app", "año nuevo 2027", 6.0, 1)]
    finally:
        target.close()


def test_newer_gives_each_line_written_since_once(state: StateStore) -> None:
    state.logs.append([("app", "general", 10.0, 20, "old", None)])
    mark = state.logs.newest_id()
    assert state.logs.newer(after_id=mark, app="app", stream="general") == ([], mark)
    # two writers: the second batch is stamped earlier than the first
    state.logs.append([("app", "general", 12.0, 20, "late clock", None),
                       ("app", "worker/x", 12.0, 20, "elsewhere", None)])
    state.logs.append([("app", "general", 11.0, 20, "early clock", None)])
    lines, top = state.logs.newer(after_id=mark, app="app", stream="general")
    assert [line.message for line in lines] == ["early clock", "late clock"]
    assert top == state.logs.newest_id() > mark
    assert state.logs.newer(after_id=top, app="app", stream="general") == ([], top)
    run_lines, _ = state.logs.newer(after_id=mark, run_id="r9")
    assert run_lines == []
    assert [line.message for line in state.logs.read(app="app", stream="general",
                                                     upto_id=mark)] == ["old"]


def test_newer_after_every_line_was_pruned_finds_the_new_ones(tmp_path) -> None:
    """SQLite numbers a line after the newest one kept: once all were pruned, ids below the
    last mark come again, and are still new."""
    state = open_state(sqlite_url(tmp_path / "state.db"))
    try:
        state.logs.append([("app", "general", 1.0, 20, f"l{i}", None) for i in range(5)])
        mark = state.logs.newest_id()
        state.logs.prune(before=2.0)
        _, mark = state.logs.newer(after_id=mark, app="app", stream="general")
        state.logs.append([("app", "general", 3.0, 20, "after the prune", None)])
        lines, _ = state.logs.newer(after_id=mark, app="app", stream="general")
        assert [line.message for line in lines] == ["after the prune"]
    finally:
        state.close()


def _fill(state: StateStore, n: int = 400) -> list[RunRecord]:
    rows = [RunRecord(id=f"{int((BASE + i) * 1000):012x}{i:012x}", app="a" if i % 4 else "b",
                      kind="job", name="rare" if i % 100 == 5 else f"job{i % 7}",
                      status=RunStatus.FAILED if i % 9 == 0 else RunStatus.SUCCEEDED,
                      partition=f"2021-01-{1 + i % 28:02d}", queued_at=BASE + i,
                      # started in the reverse order of their ids: time order is not id order
                      started_at=BASE + 2 * n - i)
            for i in range(n)]
    state.runs.insert(rows)
    return rows


FILTERS: list[dict[str, Any]] = [
    {}, {"app": "b"}, {"name": "rare"}, {"name": "job3", "app": "a"}, {"status": "failed"},
    {"status": "succeeded"}, {"status": "failed", "app": "b"}, {"status": "succeeded", "app": "b"},
    {"app": "a", "name": "job2", "partition": "2021-01-03"}, {"partition": "2021-01-03"},
    {"name": "job1", "status": "failed", "kind": "job"}, {"name": "nosuch"},
]


def _matches(run: RunRecord, f: dict[str, Any]) -> bool:
    return all(getattr(run, k) == (RunStatus(v) if k == "status" else v) for k, v in f.items())


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: "+".join(f) or "none")
def test_filtered_run_lists_are_the_newest_matching(state: StateStore, f: dict[str, Any]) -> None:
    rows = _fill(state)
    matching = [r for r in rows if _matches(r, f)]
    by_start = sorted(matching, key=lambda r: (r.started_at, r.id), reverse=True)
    assert [r.id for r in state.runs.query(limit=7, **f)] == [r.id for r in by_start[:7]]
    assert [r.id for r in state.runs.query(limit=7, newest_first=False, **f)] == [
        r.id for r in by_start[::-1][:7]]
    by_id = sorted(matching, key=lambda r: r.id, reverse=True)
    view = RunFilter([f["app"]] if "app" in f else ["a", "b"], f.get("name"), f.get("status"),
                     f.get("partition"), f.get("kind"))
    page = state.views.runs_page(view, limit=7)
    assert [r.id for r in page] == [r.id for r in by_id[:7]]
    if page:
        older = state.views.runs_page(view, before=page[-1].id, limit=7)
        assert [r.id for r in older] == [r.id for r in by_id[7:14]]


@contextmanager
def _statements(state: StateStore) -> Iterator[list[str]]:
    """The SQL the store runs in this thread meanwhile, its values written in."""
    con: sqlite3.Connection = state.runs.db.connection()  # type: ignore[attr-defined]
    seen: list[str] = []
    con.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        con.set_trace_callback(None)


def _plans(state: StateStore, call: Callable[[], object], table: str) -> list[str]:
    with _statements(state) as seen:
        call()
    con: sqlite3.Connection = state.runs.db.connection()  # type: ignore[attr-defined]
    plans = []
    for sql in seen:
        if sql.lstrip().upper().startswith("SELECT") and f"FROM {table}" in sql:
            plans.append("; ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql)))
    assert plans, f"no query of {table} seen"
    return plans


@pytest.fixture
def sqlite_state(tmp_path) -> Iterator[StateStore]:
    state = open_state(sqlite_url(tmp_path / "state.db"))
    yield state
    state.close()


CLI_PLANS = [({"app": "b"}, "runs_by_app_time"), ({"name": "rare"}, "runs_by_job_time"),
             ({"name": "job3", "app": "a", "status": "failed"}, "runs_by_job_time"),
             ({"status": "failed"}, "runs_by_status_time"),
             ({"status": "failed", "app": "b"}, "runs_by_status_time"),
             ({"status": "succeeded", "app": "b"}, "runs_by_app_time"),
             ({}, "runs_by_time")]


@pytest.mark.parametrize(("f", "index"), CLI_PLANS, ids=lambda v: str(v))
def test_cauce_runs_filters_walk_an_index_without_sorting(sqlite_state: StateStore,
                                                          f: dict[str, Any], index: str) -> None:
    _fill(sqlite_state, 50)
    [plan] = _plans(sqlite_state, lambda: sqlite_state.runs.query(limit=20, **f), "runs")
    assert f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan


UI_PLANS = [(RunFilter(["b"]), "runs_by_app_id"), (RunFilter(["a", "b"], "rare"), "runs_by_job_id"),
            (RunFilter(["a", "b"], status="failed", since=BASE), "runs_by_status_id"),
            (RunFilter(["b"], status="failed"), "runs_by_status_id")]


@pytest.mark.parametrize(("f", "index"), UI_PLANS, ids=lambda v: str(v))
def test_the_runs_page_filters_walk_an_index_without_sorting(sqlite_state: StateStore,
                                                             f: RunFilter, index: str) -> None:
    _fill(sqlite_state, 50)
    [plan] = _plans(sqlite_state, lambda: sqlite_state.views.runs_page(f, limit=51), "runs")
    assert f"INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan


def test_following_a_stream_reads_the_lines_since_not_the_stream(
        sqlite_state: StateStore) -> None:
    sqlite_state.logs.append([("app", "general", float(i), 20, "x", None) for i in range(50)])
    mark = sqlite_state.logs.newest_id()
    plans = _plans(sqlite_state, lambda: sqlite_state.logs.newer(
        after_id=mark, app="app", stream="general"), "logs")
    assert all("logs_by_stream" not in p for p in plans), plans
    assert any("INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in p for p in plans), plans


def test_the_list_of_streams_reads_no_line(sqlite_state: StateStore) -> None:
    sqlite_state.logs.append([("app", f"s{i}", float(i), 20, "x", None) for i in range(50)])
    for app in (None, "app"):
        plans = _plans(sqlite_state, lambda a=app: sqlite_state.logs.streams(a), "log_streams")
        assert all("TEMP B-TREE" not in p for p in plans), plans


def _steps(state: StateStore, call: Callable[[], object]) -> int:
    """SQLite's virtual machine steps (in hundreds) a call takes: what it reads, not its time."""
    con: sqlite3.Connection = state.runs.db.connection()  # type: ignore[attr-defined]
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    con.set_progress_handler(count, 100)
    try:
        call()
    finally:
        con.set_progress_handler(None, 0)
    return steps[0]


@pytest.mark.parametrize("since", [None, 0.0, 500.0])
def test_a_page_deep_in_a_stream_starts_at_its_line(sqlite_state: StateStore,
                                                     since: float | None) -> None:
    """A page after a line began at the start of the stream (or at --since) and read every
    line before it again: a year's stream took 90 s to print, most of it reading the same
    lines over. It starts at the line now: a page costs the same deep in the stream."""
    sqlite_state.logs.append([("app", "general", float(i // 3), 20, f"l{i}", None)
                              for i in range(12_000)])
    lines = sqlite_state.logs.read(app="app", stream="general", since=since)
    near, deep = lines[1_600], lines[-1_100]

    def page(after: int) -> Callable[[], object]:
        return lambda: sqlite_state.logs.read(app="app", stream="general", since=since,
                                              after_line=after, limit=1000)

    assert [line.id for line in page(deep.id)()] == [line.id for line in lines[-1_099:-99]]
    assert _steps(sqlite_state, page(deep.id)) < 2 * _steps(sqlite_state, page(near.id))


def test_older_pages_of_a_stream_follow_its_order_and_start_where_the_last_ended(
        state: StateStore) -> None:
    """The UI's older page of a stream asked for the lines of smaller ids: a line written late
    (stamped earlier than lines before it) was never shown, and every newer line of the stream
    was read again (a page deep in a year's stream: 0.38 s on SQLite, 9,800 buffers on
    PostgreSQL)."""
    state.logs.append([("app", "general", float(t), 20, f"t{t}", None) for t in (1, 2, 3, 4, 5)])
    state.logs.append([("app", "general", 2.5, 20, "t2.5 written late", None)])
    newest = state.views.log_tail(app="app", stream="general", limit=2)
    assert [line.message for line in newest] == ["t4", "t5"]
    older = state.views.log_tail(app="app", stream="general", limit=2, before_id=newest[0].id)
    assert [line.message for line in older] == ["t2.5 written late", "t3"]
    oldest = state.views.log_tail(app="app", stream="general", limit=2, before_id=older[0].id)
    assert [line.message for line in oldest] == ["t1", "t2"]


def test_an_older_page_deep_in_a_stream_reads_only_its_lines(sqlite_state: StateStore) -> None:
    sqlite_state.logs.append([("app", "general", float(i // 3), 20, f"l{i}", None)
                              for i in range(12_000)])
    lines = sqlite_state.logs.read(app="app", stream="general")
    near, deep = lines[-300], lines[1_000]

    def page(before: int) -> Callable[[], object]:
        return lambda: sqlite_state.views.log_tail(app="app", stream="general", limit=200,
                                                   before_id=before)

    assert _steps(sqlite_state, page(deep.id)) < 2 * _steps(sqlite_state, page(near.id))
