"""Schedules, named leases, the worker registry and watched-bucket state; opening a store by
URL and examining it."""

from __future__ import annotations

import pytest

from cauce.backends.state import (
    ScheduleState,
    SeenObject,
    StateStore,
    WorkerRecord,
    engine,
    open_state,
)
from cauce.errors import ConfigError


def test_schedules(state: StateStore) -> None:
    store = state.schedules
    store.set("app", "b", spec="every 5s", next_at=5.0)
    store.set("app", "a", spec="0 3 * * *", next_at=100.0)
    store.advance("app", "b", next_at=10.0)
    store.pause("app", "b", "source down")
    store.pause("app", "c", "never started")
    assert store.states("app") == [ScheduleState("a", "0 3 * * *", 100.0, None),
                                   ScheduleState("b", "every 5s", 10.0, "source down"),
                                   ScheduleState("c", "", 0.0, "never started")]
    store.set("app", "b", spec="every 6s", next_at=12.0)
    assert store.states("app")[1].paused == "source down", "a new spec keeps the pause"
    assert store.resume("app", "b") and not store.resume("app", "zzz")
    assert store.states("app")[1] == ScheduleState("b", "", 12.0, None)
    assert store.states("other") == []


def test_named_leases(state: StateStore, other: StateStore) -> None:
    assert state.leases.acquire("scheduler:app", "p1", now=0.0, until=15.0)
    assert not other.leases.acquire("scheduler:app", "p2", now=5.0, until=20.0)
    assert state.leases.acquire("scheduler:app", "p1", now=10.0, until=25.0), "renewed"
    assert not other.leases.acquire("scheduler:app", "p2", now=20.0, until=35.0)
    assert other.leases.acquire("scheduler:app", "p2", now=25.0, until=40.0), "expired"
    assert other.leases.acquire("scheduler:other", "p2", now=25.0, until=40.0)


def test_a_lease_is_held_until_it_expires_or_its_owner_releases_it(state: StateStore,
                                                                   other: StateStore) -> None:
    assert state.leases.holder("scheduler:app", now=0.0) is None
    assert state.leases.acquire("scheduler:app", "p1", now=0.0, until=15.0)
    assert other.leases.holder("scheduler:app", now=14.0) == "p1"
    assert other.leases.holder("scheduler:app", now=15.0) is None, "expired"
    other.leases.release("scheduler:app", "p2")  # not its lease: nothing changes
    assert not other.leases.acquire("scheduler:app", "p2", now=1.0, until=16.0)
    state.leases.release("scheduler:app", "p1")
    assert other.leases.holder("scheduler:app", now=1.0) is None
    assert other.leases.acquire("scheduler:app", "p2", now=1.0, until=16.0), "taken at once"


def test_worker_registry(state: StateStore) -> None:
    state.workers.register("w1", app="app", pid=1, host="h", role="worker", now=1.0)
    state.workers.register("s1", app="app", pid=2, host="h", role="serve", now=2.0)
    assert state.workers.running() == ["w1", "s1"]
    assert state.workers.running("worker") == ["w1"]
    state.workers.stopped("w1", now=3.0)
    assert state.workers.running() == ["s1"]


def test_worker_heartbeats_and_listing(state: StateStore, other: StateStore) -> None:
    state.workers.register("w1", app="app", pid=1, host="h", role="worker", now=1.0)
    state.workers.register("f1", app="app", pid=2, host="h", role="foreground", now=2.0)
    other.workers.beat("w1", now=7.5)
    other.workers.beat("gone", now=8.0)  # not registered: nothing to refresh
    assert state.workers.listing() == [
        WorkerRecord("w1", "app", 1, "h", "worker", 1.0, 7.5, None),
        WorkerRecord("f1", "app", 2, "h", "foreground", 2.0, 2.0, None)]
    state.workers.stopped("f1", now=9.0)
    assert [w.id for w in state.workers.listing()] == ["w1"]
    assert state.workers.listing(stopped=True)[1].stopped_at == 9.0


def test_watched_bucket_state(state: StateStore) -> None:
    watches = state.watches
    watches.remember("app", "inbox", [("a.csv", 10, 100.0, None), ("b.csv", 20, 200.0, "e1")],
                      now=5.0)
    watches.remember("app", "inbox", [("a.csv", 11, 101.0, "e2")], now=6.0)
    watches.remember("app", "outbox", [("c.csv", 1, 1.0, None)], now=6.0)
    assert watches.seen("app", "inbox") == {"a.csv": SeenObject("a.csv", 11, 101.0, 6.0, "e2"),
                                            "b.csv": SeenObject("b.csv", 20, 200.0, 5.0, "e1")}
    assert watches.seen("app", "inbox", key="b.csv") == {
        "b.csv": SeenObject("b.csv", 20, 200.0, 5.0, "e1")}
    assert watches.seen("app", "outbox", key="a.csv") == {}
    watches.forget("app", "inbox", ["b.csv", "missing"])
    assert list(watches.seen("app", "inbox")) == ["a.csv"]


def test_a_store_opened_again_by_url_sees_the_same_state(state: StateStore, url: str) -> None:
    state.queues.send("app:q", ["1"], now=0.0)
    again = open_state(url)
    try:
        assert len(again.queues.listing("app:q")) == 1
        assert again.url == state.url
    finally:
        again.close()
    assert engine(url).exists(url)
    verdict = engine(url).examine(url)
    assert verdict.sound and verdict.counts["messages"] == 1


@pytest.mark.parametrize("bad_url", ["mysql://x/y", "nonsense", "sqlite:///",
                                     "sqlite:///:memory:"])
def test_urls_no_engine_serves_are_one_config_error(bad_url: str) -> None:
    with pytest.raises(ConfigError, match="state URL"):
        open_state(bad_url)
