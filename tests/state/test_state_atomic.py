"""Transactions: one per call, or one per `atomic()` block across every concept, savepoints
when nested, nothing visible to others before the commit."""

from __future__ import annotations

import json

import pytest

from cauce.backends.state import StateStore
from cauce.runs import RunRecord, RunStatus


def _run(run_id: str) -> RunRecord:
    return RunRecord(id=run_id, app="app", kind="job", name="j", status=RunStatus.QUEUED)


def test_a_block_commits_everything_together(state: StateStore, other: StateStore) -> None:
    with state.atomic():
        state.queues.send("app:q", ["1"], now=0.0)
        state.tables.put("app:t", "k", "{}", indexes={}, now=0.0)
        state.runs.insert([_run("r1")])
        assert len(state.queues.listing("app:q")) == 1, "a block reads its own writes"
        assert other.queues.listing("app:q") == [], "others see nothing before the commit"
        assert other.runs.get("r1") is None
    assert len(other.queues.listing("app:q")) == 1
    assert other.tables.get("app:t", "k") == ("{}", 1)
    assert other.runs.get("r1") is not None


def test_a_block_that_raises_writes_nothing(state: StateStore) -> None:
    with pytest.raises(RuntimeError), state.atomic():
        state.queues.send("app:q", ["1"], now=0.0)
        state.tables.put("app:t", "k", "{}", indexes={}, now=0.0)
        state.runs.insert([_run("r1")])
        state.streams.append("app:s", 0, [("p", "1")], now=0.0)
        raise RuntimeError("abandon")
    assert state.queues.listing("app:q") == []
    assert state.tables.get("app:t", "k") is None
    assert state.runs.get("r1") is None
    assert state.streams.read("app:s", 0, after=0, limit=10) == []


def test_a_nested_block_is_a_savepoint(state: StateStore) -> None:
    with state.atomic():
        state.queues.send("app:q", ["kept"], now=0.0)
        with pytest.raises(ValueError), state.atomic():
            state.queues.send("app:q", ["undone"], now=0.0)
            raise ValueError("inner")
        with state.atomic():
            state.queues.send("app:q", ["kept too"], now=0.0)
    assert [m.body for m in state.queues.listing("app:q")] == ["kept", "kept too"]


def test_a_failed_conditional_write_inside_a_block_leaves_the_rest(state: StateStore) -> None:
    state.tables.put("app:t", "k", '{"v":1}', indexes={}, now=0.0)
    with state.atomic():
        assert state.tables.put("app:t", "k", '{"v":2}', indexes={}, now=0.0,
                                if_absent=True) is None
        state.queues.send("app:q", ["1"], now=0.0)
    text, version = state.tables.get("app:t", "k") or ("null", 0)
    assert (json.loads(text), version) == ({"v": 1}, 1), "the same JSON (its text may differ)"
    assert len(state.queues.listing("app:q")) == 1


def test_a_block_that_need_not_be_durable_is_a_transaction_like_any(state: StateStore,
                                                                   other: StateStore) -> None:
    state.queues.send("app:q", ["1", "2"], now=0.0)
    with state.atomic(durable=False):
        got = state.queues.receive("app:q", now=0.0, limit=1, visibility=10.0)
        with state.atomic():
            state.runs.insert([_run("claimed")])
    assert [m.body for m in got] == ["1"]
    assert other.runs.get("claimed") is not None
    assert [m.body for m in other.queues.receive("app:q", now=0.0, limit=5,
                                                 visibility=10.0)] == ["2"]
    with pytest.raises(RuntimeError), state.atomic(durable=False):
        state.runs.insert([_run("undone")])
        raise RuntimeError("abandon")
    assert other.runs.get("undone") is None
