"""The read-only views people look through (the web UI): keyset pages of runs, counts, partition
grids, log tails and streams, workers, dead letters, items and stream shards."""

from __future__ import annotations

import logging

from cauce.backends.state import RunFilter, StateStore
from cauce.runs import RunRecord, RunStatus

BASE = 1_700_000_000_000


def _fill(state: StateStore, n: int) -> list[str]:
    rows = [RunRecord(id=f"{BASE + i * 1000:012x}{i:06x}", app="a" if i % 3 else "b", kind="job",
                      name="load" if i % 2 else "other",
                      status=RunStatus.FAILED if i % 7 == 0 else RunStatus.SUCCEEDED,
                      partition=f"2021-01-{1 + i % 28:02d}", queued_at=(BASE + i * 1000) / 1000,
                      started_at=(BASE + i * 1000) / 1000)
            for i in range(n)]
    state.runs.insert(rows)
    return [r.id for r in rows]


def test_keyset_pages_walk_every_run_once_newest_first(state: StateStore):
    ids = _fill(state, 230)
    seen, before = [], None
    while True:
        page = state.views.runs_page(RunFilter(), before=before, limit=50)
        if not page:
            break
        seen += [r.id for r in page]
        before = page[-1].id
    assert seen == sorted(ids, reverse=True)
    # and back: the page newer than the second page is the first page
    first = state.views.runs_page(RunFilter(), limit=50)
    second = state.views.runs_page(RunFilter(), before=first[-1].id, limit=50)
    assert state.views.runs_page(RunFilter(), after=second[0].id, limit=50) == first


def test_filters_time_ranges_counts_and_partition_grids(state: StateStore):
    _fill(state, 100)
    views = state.views
    failed_b = views.runs_page(RunFilter(["b"], status="failed"), limit=500)
    assert failed_b and all(r.app == "b" and r.status is RunStatus.FAILED for r in failed_b)
    since = BASE / 1000 + 90
    recent = views.runs_page(RunFilter(since=since), limit=500)
    assert len(recent) == 10 and all(r.queued_at.timestamp() >= since for r in recent)
    window = views.runs_page(RunFilter(since=BASE / 1000 + 10, until=BASE / 1000 + 20), limit=99)
    assert len(window) == 10
    counts = views.run_counts(RunFilter(["a", "b"], since=since))
    assert sum(counts.values()) == 10
    grid = views.latest_by_partition("a", "load", "2021-01-01", "2021-01-05")
    assert set(grid) <= {f"2021-01-0{d}" for d in range(1, 6)} and grid
    assert views.newest_partition("a", "load") == "2021-01-28"
    activity = views.run_activity("a", ["load"], BASE / 1000, 10.0)
    assert sum(activity["load"].values()) == sum(1 for i in range(100) if i % 3 and i % 2)


def test_log_tail_streams_and_workers(state: StateStore):
    state.logs.append([("a", "general" if i % 2 else "worker/x", 1000.0 + i, logging.INFO,
                        f"line {i}", None) for i in range(500)])
    tail = state.views.log_tail(app="a", stream="general", limit=5)
    assert [line.message for line in tail] == [f"line {i}" for i in range(491, 500, 2)]
    older = state.views.log_tail(app="a", stream="general", limit=2, before_id=tail[0].id)
    assert [line.message for line in older] == ["line 487", "line 489"]
    state.workers.register("x", app="a", pid=1, host="h", role="serve", now=1.0)
    assert state.views.log_streams("a") == ["general", "worker/x"]
    (worker,) = state.views.workers(["a"])
    assert (worker["id"], worker["role"], worker["stopped_at"]) == ("x", "serve", None)
    assert state.views.workers(["nobody"]) == []


def test_messages_items_and_shards(state: StateStore):
    sent = state.queues.send("app:q", ['{"n": 1}', '{"n": 2}', '{"n": 3}'], now=1.0)
    page = state.views.messages_page("app:q", after_id=sent[0], limit=5)
    assert [m.body for m in page] == ['{"n": 2}', '{"n": 3}']
    for key in ("k1", "k2", "x1"):
        state.tables.put("app:t", key, f'{{"id": "{key}"}}', indexes={}, now=2.0)
    assert [row[0] for row in state.views.items_page("app:t", prefix="k")] == ["k1", "k2"]
    assert [row[0] for row in state.views.items_page("app:t", after="k1")] == ["k2", "x1"]
    assert state.views.item_count("app:t") == 3
    state.streams.append("app:s", 1, [("p", '{"v": 1}'), ("p", '{"v": 2}')], now=3.0)
    shards = state.views.stream_shards("app:s", 2)
    assert [(s.shard, s.records, s.last_seq) for s in shards] == [(0, 0, 0), (1, 2, 2)]
    state.streams.consumers("app:s", "c", 2)
    state.streams.trim("app:s", older_than=0.0, keep=1)
    _, one = state.views.stream_shards("app:s", 2)
    assert (one.records, one.first_seq, one.last_seq, one.consumers, one.lag("c")) == (
        1, 2, 2, {"c": 0}, 2)
