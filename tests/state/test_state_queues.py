"""QueueStore: sends, leases, settlement, dead letters, fan-out — the contract's promises."""

from __future__ import annotations

import json
import threading

from cauce.backends.state import OWN_BATCH, OWN_PROCESS, StateStore

Q = "app:work"


def test_send_returns_increasing_ids_and_keeps_bodies(state: StateStore) -> None:
    first = state.queues.send(Q, ['{"n":1}', '{"n":2}'], now=100.0)
    second = state.queues.send(Q, ['"x"'], now=100.0, event_ids=["evt-1"], group=None,
                               attrs={"k": [1, 2]}, error="earlier")
    assert first[0] < first[1] < second[0]
    listed = state.queues.listing(Q)
    assert [m.body for m in listed] == ['{"n":1}', '{"n":2}', '"x"']
    assert listed[2].event_id == "evt-1" and listed[2].attrs == {"k": [1, 2]}
    assert listed[2].last_error == "earlier"
    assert listed[0].event_id != listed[1].event_id
    assert all(m.receive_count == 0 and m.lease is None and m.sent_at == 100.0 for m in listed)


def test_receive_leases_the_oldest_visible_messages(state: StateStore) -> None:
    state.queues.send(Q, ["1", "2", "3"], now=10.0)
    state.queues.send(Q, ["later"], now=10.0, delay=5.0)
    got = state.queues.receive(Q, now=10.0, limit=2, visibility=30.0, worker="w1")
    assert [m.body for m in got] == ["1", "2"]
    assert {m.lease for m in got} == {got[0].lease} and got[0].lease
    assert all(m.receive_count == 1 and m.worker == "w1" for m in got)
    assert all(m.visible_at == 40.0 for m in got)
    rest = state.queues.receive(Q, now=10.0, limit=10, visibility=30.0)
    assert [m.body for m in rest] == ["3"], "leased and delayed messages are not received"
    assert [m.body for m in state.queues.receive(Q, now=15.0, limit=10, visibility=1.0)] == [
        "later"]


def test_an_expired_lease_is_found_not_received(state: StateStore) -> None:
    [sent] = state.queues.send(Q, ["1"], now=0.0)
    [held] = state.queues.receive(Q, now=0.0, limit=1, visibility=30.0, worker="w")
    assert state.queues.expired(Q, now=29.0) == []
    assert state.queues.receive(Q, now=31.0, limit=1, visibility=30.0) == []
    [expired] = state.queues.expired(Q, now=31.0)
    assert (expired.id, expired.lease, expired.worker) == (sent, held.lease, "w")
    assert state.queues.unclaim(expired, now=31.0)
    [again] = state.queues.receive(Q, now=31.0, limit=1, visibility=30.0)
    assert again.receive_count == 1, "a claim that never started is not counted"


def test_held_by_names_only_the_unexpired_leases_of_the_workers_asked(
        state: StateStore) -> None:
    other = "app:other"
    state.queues.send(Q, ["given back", "dead 1", "dead 2", "alive", "expired", "waiting"],
                      now=0.0)
    state.queues.send(other, ["dead 3"], now=0.0)
    state.queues.send("app:not-asked", ["dead 4"], now=0.0)
    [back] = state.queues.receive(Q, now=0.0, limit=1, visibility=30.0, worker="dead")
    assert state.queues.release(back.id, back.lease or "", visible_at=50.0)  # held no more
    dead = state.queues.receive(Q, now=0.0, limit=2, visibility=30.0, worker="dead")
    state.queues.receive(Q, now=0.0, limit=1, visibility=30.0, worker="alive")
    state.queues.receive(Q, now=0.0, limit=1, visibility=5.0, worker="dead")  # runs out at 5
    [elsewhere] = state.queues.receive(other, now=0.0, limit=1, visibility=30.0, worker="dead")
    state.queues.receive("app:not-asked", now=0.0, limit=1, visibility=30.0, worker="dead")
    assert state.queues.held_by([Q, other, "app:none"], ["dead", "gone"], now=10.0) == {
        Q: [(m.id, m.lease) for m in dead], other: [(elsewhere.id, elsewhere.lease)]}
    assert state.queues.held_by([Q], ["nobody"], now=10.0) == {}
    assert state.queues.held_by([], ["dead"], now=10.0) == {}
    assert state.queues.held_by([Q], [], now=10.0) == {}


def test_a_message_group_delivers_its_oldest_first(state: StateStore) -> None:
    state.queues.send(Q, ["a1", "a2"], now=0.0, group="a")
    state.queues.send(Q, ["b1"], now=0.0, group="b")
    got = state.queues.receive(Q, now=0.0, limit=10, visibility=30.0)
    assert [m.body for m in got] == ["a1", "b1"]
    state.queues.ack([(m.id, m.lease or "") for m in got])
    assert [m.body for m in state.queues.receive(Q, now=0.0, limit=10, visibility=30.0)] == [
        "a2"]


def test_ack_needs_the_lease_still_held(state: StateStore) -> None:
    state.queues.send(Q, ["1"], now=0.0)
    [first] = state.queues.receive(Q, now=0.0, limit=1, visibility=10.0)
    [expired] = state.queues.expired(Q, now=11.0)
    state.queues.release(expired.id, expired.lease or "", visible_at=11.0)
    [second] = state.queues.receive(Q, now=11.0, limit=1, visibility=10.0)
    assert state.queues.ack([(first.id, first.lease or "")]) == 0
    assert state.queues.ack([(second.id, second.lease or "")]) == 1
    assert state.queues.listing(Q) == []


def test_release_keeps_the_error_raises_isolation_and_counts_losses(state: StateStore) -> None:
    state.queues.send(Q, ["1"], now=0.0)
    [m] = state.queues.receive(Q, now=0.0, limit=1, visibility=10.0)
    assert state.queues.release(m.id, m.lease or "", visible_at=5.0, error="boom",
                                isolation=OWN_PROCESS, lost=True)
    assert not state.queues.release(m.id, m.lease or "", visible_at=5.0), "the lease is gone"
    assert state.queues.receive(Q, now=4.0, limit=1, visibility=10.0, alone=None) == []
    [m] = state.queues.receive(Q, now=5.0, limit=1, visibility=10.0, alone=True)
    assert (m.last_error, m.isolation, m.lost, m.receive_count) == ("boom", OWN_PROCESS, 1, 2)
    state.queues.release(m.id, m.lease or "", visible_at=5.0, isolation=OWN_BATCH)
    [m] = state.queues.listing(Q)
    assert (m.isolation, m.last_error) == (OWN_PROCESS, "boom"), "isolation never lowers"


def test_messages_kept_apart_are_received_only_when_asked_for(state: StateStore) -> None:
    state.queues.send(Q, ["plain", "apart"], now=0.0)
    got = state.queues.receive(Q, now=0.0, limit=2, visibility=10.0)
    state.queues.release(got[1].id, got[1].lease or "", visible_at=0.0, isolation=OWN_PROCESS)
    state.queues.release(got[0].id, got[0].lease or "", visible_at=0.0)
    assert state.queues.alone_ready([Q, "app:other"], now=0.0) == [Q]
    assert [m.body for m in state.queues.receive(Q, now=0.0, limit=5, visibility=10.0)] == [
        "plain"]
    assert [m.body for m in state.queues.receive(Q, now=0.0, limit=5, visibility=10.0,
                                                 alone=True)] == ["apart"]


def test_alone_ready_also_names_queues_with_expired_leases(state: StateStore) -> None:
    state.queues.send(Q, ["1"], now=0.0)
    state.queues.receive(Q, now=0.0, limit=1, visibility=10.0)
    assert state.queues.alone_ready([Q], now=5.0) == []
    assert state.queues.alone_ready([Q], now=10.0) == [Q]


def test_ready_answers_next_visible_and_alone_ready_together(state: StateStore) -> None:
    state.queues.send(Q, ["1", "2"], now=0.0)
    state.queues.send("app:later", ["x"], now=0.0, delay=50.0)
    assert state.queues.ready([Q, "app:later", "app:none"], now=0.0) == {
        Q: (0.0, False), "app:later": (50.0, False)}
    got = state.queues.receive(Q, now=0.0, limit=2, visibility=10.0)
    state.queues.release(got[0].id, got[0].lease or "", visible_at=5.0, isolation=OWN_PROCESS)
    assert state.queues.ready([Q], now=4.0) == {Q: (5.0, False)}, "nothing apart is ready yet"
    assert state.queues.ready([Q], now=5.0) == {Q: (5.0, True)}, "kept apart, ready now"
    state.queues.ack([(got[0].id, got[0].lease or "")])  # the lease it was released from
    state.queues.drop_unclaimed(got[0].id)
    assert state.queues.ready([Q], now=9.0) == {Q: (10.0, False)}
    assert state.queues.ready([Q], now=10.0) == {Q: (10.0, True)}, "an expired lease"
    assert state.queues.ready([Q, "app:later"], now=60.0) == {
        Q: (10.0, True), "app:later": (50.0, False)}


def test_join_batches_marks_the_head_of_each_batch(state: StateStore) -> None:
    state.queues.send(Q, ["1", "2", "3"], now=0.0)
    got = state.queues.receive(Q, now=0.0, limit=3, visibility=10.0)
    state.queues.join_batches([got[:2], got[2:]])
    assert [m.head for m in got] == [got[0].id, got[0].id, got[2].id]
    assert [m.head for m in state.queues.expired(Q, now=10.0)] == [got[0].id, got[0].id,
                                                                   got[2].id]


def test_dead_letter_and_replay(state: StateStore) -> None:
    state.queues.send(Q, ["1", "2"], now=0.0)
    got = state.queues.receive(Q, now=0.0, limit=2, visibility=10.0)
    for m in got:
        assert state.queues.dead_letter(m.id, m.lease or "", dlq=Q + ".dlq", now=1.0, error="bad")
    assert state.queues.listing(Q) == []
    dead = state.queues.listing(Q + ".dlq")
    assert [(m.attrs["source_queue"], m.last_error, m.lease) for m in dead] == [
        (Q, "bad", None), (Q, "bad", None)]
    moved = state.queues.replay(Q + ".dlq", now=2.0, ids=[dead[0].id])
    assert [(m.id, m.queue) for m in moved] == [(dead[0].id, Q)]
    [back] = state.queues.listing(Q)
    assert (back.receive_count, back.attrs, back.visible_at) == (0, {"replayed": 1}, 2.0)
    assert len(state.queues.replay(Q + ".dlq", now=2.0)) == 1


def test_extend_drop_unclaimed_holds_stats_and_purge(state: StateStore) -> None:
    ids = state.queues.send(Q, [json.dumps({"partition": "2024-01-01"}),
                                json.dumps({"partition": None})], now=0.0)
    assert state.queues.holds(Q, "partition", "2024-01-01")
    assert state.queues.holds(Q, "partition", None)
    assert not state.queues.holds(Q, "partition", "2024-01-02")
    state.queues.send("app:other", [json.dumps({"partition": 7}), json.dumps({"other": "x"}),
                                    json.dumps({"partition": "2024-01-03"})], now=0.0)
    assert state.queues.text_values(Q, "partition") == {"2024-01-01"}
    assert state.queues.text_values("app:other", "partition") == {"2024-01-03"}
    assert state.queues.text_values("app:none", "partition") == set()
    [m] = state.queues.receive(Q, now=0.0, limit=1, visibility=10.0)
    assert state.queues.extend([(m.id, m.lease or "")], until=50.0) == 1
    assert state.queues.expired(Q, now=20.0) == []
    assert not state.queues.drop_unclaimed(m.id), "a leased message is not dropped"
    assert state.queues.stats([Q, "app:none"], now=30.0) == {Q: (1, 1, 30)}
    assert state.queues.next_visible([Q, "app:none"]) == {Q: 0.0}
    assert state.queues.drop_unclaimed(ids[1])
    assert state.queues.purge(Q) == 1
    assert state.queues.next_visible([Q]) == {}


def test_purge_of_chosen_ids_deletes_only_those_of_the_queue(state: StateStore) -> None:
    dead = state.queues.send(Q + ".dlq", ["1", "2", "3"], now=0.0)
    [elsewhere] = state.queues.send("app:other.dlq", ["4"], now=0.0)
    assert state.queues.purge(Q + ".dlq", [dead[0], dead[2], elsewhere, 999_999]) == 2
    assert [m.id for m in state.queues.listing(Q + ".dlq")] == [dead[1]]
    assert [m.id for m in state.queues.listing("app:other.dlq")] == [elsewhere]
    assert state.queues.purge(Q + ".dlq", []) == 0
    assert state.queues.purge(Q + ".dlq") == 1


def test_publish_stores_one_copy_per_subscriber_with_one_event_id(state: StateStore) -> None:
    state.queues.publish(["app:a", "app:b"], '{"k":1}', now=3.0, event_id="e1")
    copies = state.queues.listing("app:a") + state.queues.listing("app:b")
    assert [(m.queue, m.body, m.event_id) for m in copies] == [
        ("app:a", '{"k":1}', "e1"), ("app:b", '{"k":1}', "e1")]


def test_two_processes_never_lease_the_same_message(state: StateStore,
                                                    other: StateStore) -> None:
    state.queues.send(Q, [str(n) for n in range(400)], now=0.0)
    taken: list[list[int]] = [[], []]

    def drain(store: StateStore, into: list[int]) -> None:
        while got := store.queues.receive(Q, now=0.0, limit=7, visibility=60.0):
            into.extend(m.id for m in got)

    threads = [threading.Thread(target=drain, args=(s, t))
               for s, t in ((state, taken[0]), (other, taken[1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken[0]) + len(taken[1]) == 400
    assert not set(taken[0]) & set(taken[1])


def test_two_processes_never_hold_two_messages_of_one_group(state: StateStore,
                                                            other: StateStore) -> None:
    for group in ("a", "b", "c"):
        state.queues.send(Q, [f"{group}{n}" for n in range(20)], now=0.0, group=group)
    order: list[str] = []
    lock = threading.Lock()

    def drain(store: StateStore) -> None:
        while got := store.queues.receive(Q, now=0.0, limit=5, visibility=60.0):
            groups = [m.group for m in got]
            assert len(groups) == len(set(groups)), "one message per group at a time"
            with lock:
                order.extend(m.body for m in got)
            assert store.queues.ack([(m.id, m.lease or "") for m in got]) == len(got)

    threads = [threading.Thread(target=drain, args=(s,)) for s in (state, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for group in ("a", "b", "c"):
        assert [b for b in order if b[0] == group] == [f"{group}{n}" for n in range(20)]
