"""The read-only views the UI pages use: keyset pages of runs, log tails, partition grids."""

from __future__ import annotations

import logging
from pathlib import Path

from cauce import runs
from cauce.backends.local import views
from cauce.backends.local.sqlite import StateDB
from cauce.backends.local.views import RunFilter
from cauce.runs import NewRun, RunStatus


def _fill(db: StateDB, n: int) -> list[str]:
    base = 1_700_000_000_000
    rows = [NewRun(id=f"{base + i * 1000:012x}{i:06x}", app="a" if i % 3 else "b", kind="job",
                   name="load" if i % 2 else "other", status=RunStatus.FAILED if i % 7 == 0
                   else RunStatus.SUCCEEDED, partition=f"2021-01-{1 + i % 28:02d}",
                   queued_at=(base + i * 1000) / 1000) for i in range(n)]
    with db.write() as con:
        runs.insert(con, rows)
    return [r.id for r in rows]


def test_keyset_pages_walk_every_run_once_newest_first(tmp_path: Path):
    db = StateDB(tmp_path / "state.db")
    ids = _fill(db, 230)
    seen, before = [], None
    while True:
        page = views.runs_page(db.read(), RunFilter(), before=before, limit=50)
        if not page:
            break
        seen += [r.id for r in page]
        before = page[-1].id
    assert seen == sorted(ids, reverse=True)
    # and back: the page newer than the second page is the first page
    first = views.runs_page(db.read(), RunFilter(), limit=50)
    second = views.runs_page(db.read(), RunFilter(), before=first[-1].id, limit=50)
    assert views.runs_page(db.read(), RunFilter(), after=second[0].id, limit=50) == first
    db.close()


def test_filters_and_time_ranges(tmp_path: Path):
    db = StateDB(tmp_path / "state.db")
    _fill(db, 100)
    con = db.read()
    failed_b = views.runs_page(con, RunFilter(["b"], status="failed"), limit=500)
    assert failed_b and all(r.app == "b" and r.status is RunStatus.FAILED for r in failed_b)
    since = 1_700_000_000 + 90
    recent = views.runs_page(con, RunFilter(since=since), limit=500)
    assert len(recent) == 10 and all(r.queued_at.timestamp() >= since for r in recent)
    window = views.runs_page(con, RunFilter(since=1_700_000_010, until=1_700_000_020), limit=99)
    assert len(window) == 10
    counts = views.run_counts(con, RunFilter(["a", "b"], since=since))
    assert sum(counts.values()) == 10
    grid = views.latest_by_partition(con, "a", "load", "2021-01-01", "2021-01-05")
    assert set(grid) <= {f"2021-01-0{d}" for d in range(1, 6)} and grid
    assert views.newest_partition(con, "a", "load") == "2021-01-28"
    db.close()


def test_log_tail_reads_the_newest_lines_of_a_stream(tmp_path: Path):
    db = StateDB(tmp_path / "state.db")
    with db.write() as con:
        con.executemany("INSERT INTO logs (app, stream, ts, level, message, run_id) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [("a", "general" if i % 2 else "worker/x", 1000.0 + i, logging.INFO,
                          f"line {i}", None) for i in range(500)])
    tail = views.log_tail(db.read(), app="a", stream="general", limit=5)
    assert [line.message for line in tail] == [f"line {i}" for i in range(491, 500, 2)]
    older = views.log_tail(db.read(), app="a", stream="general", limit=2, before_id=tail[0].id)
    assert [line.message for line in older] == ["line 487", "line 489"]
    with db.write() as con:
        con.execute("INSERT INTO workers (id, app, pid, host, role, started_at, heartbeat_at) "
                    "VALUES ('x', 'a', 1, 'h', 'serve', 1, 1)")
    assert views.log_streams(db.read(), "a") == ["general", "worker/x"]
    db.close()
