"""Queues: durable, at-least-once, with visibility timeouts, delays, FIFO groups and a
dead-letter queue."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cauce import (
    App,
    CauceError,
    InvalidKey,
    Message,
    NotFound,
    NotSerializable,
    ResourceError,
)
from cauce.backends.state import StoredMessage
from cauce.resources.queue import message_from, messages_from
from cauce.testing import TestRuntime


@pytest.fixture
def queue():
    app = App("mail")
    work = app.queue("work", max_receives=3, visibility_timeout="30s")
    with TestRuntime(app, start="2024-01-01T00:00:00") as rt:
        yield work, rt


def test_send_receive_ack(queue) -> None:
    work, _ = queue
    message_id = work.send({"key": "in/a.csv"})
    (message,) = work.receive()
    assert isinstance(message, Message)
    assert message.id == message_id
    assert message.body == {"key": "in/a.csv"}
    assert message.receive_count == 1
    assert message.group is None
    assert message.sent_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert work.depth() == 1  # in flight until acked
    assert work.ack(message) == 1
    assert work.depth() == 0
    assert work.receive() == []


def test_send_batch_keeps_order(queue) -> None:
    work, _ = queue
    ids = work.send_batch([1, 2, 3, "four", None, [5]])
    received = work.receive(max=10)
    assert [m.id for m in received] == ids
    assert [m.body for m in received] == [1, 2, 3, "four", None, [5]]
    assert work.ack(received) == 6


@pytest.mark.parametrize("one", [{"n": 1, "m": 2}, "abc", b"ab"])
def test_send_batch_refuses_one_body_given_alone(queue, one) -> None:
    work, _ = queue
    with pytest.raises(ResourceError, match="send_batch takes a list of bodies"):
        work.send_batch(one)  # each key (or character) was sent as a message
    assert work.depth() == 0


def test_a_message_not_acked_is_delivered_again_after_the_visibility_timeout(queue) -> None:
    work, rt = queue
    work.send("job")
    (first,) = work.receive()
    rt.clock.advance(29)
    assert work.receive() == []
    rt.clock.advance(1)
    (again,) = work.receive()
    assert (again.id, again.event_id, again.receive_count) == (first.id, first.event_id, 2)
    assert work.ack(first) == 0  # the first lease expired: acking it does nothing
    assert work.ack(again) == 1


def test_receive_may_ask_for_a_longer_visibility_timeout(queue) -> None:
    work, rt = queue
    work.send("slow")
    work.receive(visibility_timeout="5m")
    rt.clock.advance(60)
    assert work.receive() == []


@pytest.mark.parametrize("count", [-1, 1.5, True, "2", 2**63])
def test_receive_refuses_a_max_that_is_no_count_and_leases_nothing(queue, count) -> None:
    # 2**63: "OverflowError: Python int too large to convert to SQLite INTEGER", and
    # PostgreSQL's "bigint out of range"
    work, _ = queue
    work.send_batch([1, 2, 3])
    with pytest.raises(ResourceError, match=r"max=.* is not a count"):
        work.receive(max=count)  # SQLite took -1 as no limit: every message leased
    assert len(work.receive(max=10)) == 3
    assert work.receive(max=0) == []


@pytest.mark.parametrize("timeout", [0, "0s"])
def test_receive_refuses_a_visibility_timeout_of_zero(queue, timeout) -> None:
    work, rt = queue
    work.send("once")
    with pytest.raises(ResourceError, match="must be positive"):
        work.receive(visibility_timeout=timeout)  # each receive counted, then dead-lettered
    (message,) = work.receive()
    assert message.receive_count == 1 and rt.dlq(work) == []


def test_nack_gives_a_message_back_now_or_later(queue) -> None:
    work, rt = queue
    work.send("retry me")
    (message,) = work.receive()
    assert work.nack(message) is True
    (message,) = work.receive()
    assert message.receive_count == 2
    work.nack(message, delay="10s")
    assert work.receive() == []
    rt.clock.advance(10)
    assert work.receive()[0].receive_count == 3


def test_nack_of_a_list_says_it_takes_one_message(queue) -> None:
    work, _ = queue
    work.send_batch(["a", "b"])
    received = work.receive(max=2)
    with pytest.raises(ResourceError, match="nack takes one received message, not a list"):
        work.nack(received)  # was an AttributeError of a list's receive_count
    assert work.ack(received) == 2


def test_a_nack_after_the_last_allowed_receive_dead_letters(queue) -> None:
    work, _ = queue
    work.send("poison")
    for _ in range(3):
        (message,) = work.receive()
        work.nack(message)
    assert work.receive() == []
    assert [m.body for m in work.dlq.messages()] == ["poison"]
    assert work.dlq.errors() == ["given back (nack) after the last allowed receive"]


def test_delayed_messages_become_visible_later(queue) -> None:
    work, rt = queue
    work.send("later", delay="1m")
    work.send("sooner", delay=5)
    work.send("now")

    def receive_and_ack() -> list[str]:
        messages = work.receive(max=10)
        work.ack(messages)
        return [m.body for m in messages]

    assert receive_and_ack() == ["now"]
    rt.clock.advance(4.9)
    assert receive_and_ack() == []
    rt.clock.advance(0.1)
    assert receive_and_ack() == ["sooner"]
    rt.clock.advance(55)
    assert receive_and_ack() == ["later"]


def _nested(depth: int) -> list:
    body: list = []
    for _ in range(depth):
        body = [body]
    return body


@pytest.mark.parametrize(("body", "error", "hint"), [
    (object(), "it holds a value of type object, which JSON has no form for",
     "write it as dicts, lists, strings, numbers, booleans and None (a dataclass: "
     "dataclasses.asdict(value))"),
    ({"rows": [{"when": datetime(2024, 1, 1)}]}, "it holds a value of type datetime (at "
     "rows[0].when), which JSON has no form for", "write it as text, value.isoformat(), and "
     "parse it where it is read"),
    ({"v": math.nan}, "it holds nan (at v), a float JSON has no number for",
     "write None for a missing value, or the text 'nan' if that is what is meant"),
    ({1, 2}, "it holds a value of type set, which JSON has no form for",
     "write it as a list, sorted(value)"),
    (b"bytes", "it holds a value of type bytes, which JSON has no form for",
     "put the bytes in a bucket and send the object's key, or write them as base64 text"),
    ({"price": Decimal("9.99")}, "it holds a value of type Decimal (at price), which JSON has "
     "no form for", "write it as text, str(value), to keep every digit (a float rounds it)"),
    ([10 ** 5000], "it holds a whole number of more than 4,300 digits (at [0]), more than "
     "Python writes", "write it as text, str(value), and convert it where it is read"),
    ({(2021, 1): 3}, "it has the key (2021, 1), which is no text",
     "write the key as text, or keep such pairs as a list"),
    (_nested(100_000), "it nests too deeply to be written",
     "send a flatter value (a few hundred levels deep at most)"),
], ids=["object", "datetime", "nan", "set", "bytes", "decimal", "long integer", "tuple key",
        "nested too deep"])
def test_a_body_that_is_not_json_is_rejected_at_send(queue, body, error: str, hint: str) -> None:
    # each said "...: Object of type datetime is not JSON serializable" (or "Out of range float
    # values are not JSON compliant"), where in the body unsaid, and the hint was "send dicts,
    # lists, strings, numbers, booleans and None only" whatever the value
    work, _ = queue
    with pytest.raises(NotSerializable) as info:
        work.send(body)
    assert (str(info.value), info.value.hint) == (
        f"a message for queue 'work' is not JSON-serialisable: {error}", hint)
    assert work.depth() == 0


def test_one_bad_body_rejects_the_whole_batch(queue) -> None:
    work, _ = queue
    with pytest.raises(NotSerializable):
        work.send_batch([{"ok": 1}, {"bad": object()}])
    assert work.depth() == 0


@pytest.mark.parametrize(("body", "key", "where"), [
    ({"by_year": {2021: 3}}, "2021", " (in by_year)"),
    ([{"ok": 1}, {"x": ({None: 1},)}], "None", " (in [1].x[0])"),
    ({"note": "{", "rows": [{"m": {1: "a"}}]}, "1", " (in rows[0].m)"),
    (OrderedDict([("a", 1), (2.5, "b")]), "2.5", ""),
    ({True: "yes"}, "True", "")])
def test_dict_keys_that_are_not_text_are_refused_not_turned_into_text(queue, body, key,
                                                                     where) -> None:
    """{1: "a"} was received as {"1": "a"}: JSON's keys are text."""
    work, _ = queue
    message = re.escape(f"a message for queue 'work' has the key {key}{where}, which is no "
                        "text: JSON's keys are text, so it would not read back as written")
    with pytest.raises(NotSerializable, match=message) as info:
        work.send(body)
    assert "write the key as text yourself" in (info.value.hint or "")
    with pytest.raises(NotSerializable, match=message):
        work.send_batch([{"ok": 1}, body])
    assert work.depth() == 0


def test_tuples_braces_and_text_keys_at_any_depth_are_sent(queue) -> None:
    """A tuple reads back as a list, and a "{" in a text is no dict: both take the slower
    check, which lets them pass."""
    work, _ = queue
    bodies = [{"n": 1, "note": "{"}, {"at": (1.5, 2), "rows": [{"tags": ("a",), "m": {"k": []}}]}]
    work.send_batch(bodies)
    assert [m.body for m in work.receive(max=2)] == [
        {"n": 1, "note": "{"}, {"at": [1.5, 2], "rows": [{"tags": ["a"], "m": {"k": []}}]}]


def test_fifo_groups_deliver_in_order_one_at_a_time() -> None:
    app = App("mail")
    orders = app.queue("orders", fifo=True)
    with TestRuntime(app):
        orders.send_batch(["a1", "a2", "a3"], group="alice")
        orders.send_batch(["b1", "b2"], group="bob")
        first = orders.receive(max=10)
        assert [(m.body, m.group) for m in first] == [("a1", "alice"), ("b1", "bob")]
        assert orders.receive(max=10) == []  # each group waits for its head to be acked
        orders.ack(first[0])
        assert [m.body for m in orders.receive(max=10)] == ["a2"]


def test_fifo_messages_without_a_group_share_one() -> None:
    app = App("mail")
    orders = app.queue("orders", fifo=True)
    with TestRuntime(app):
        orders.send("x")
        orders.send("y")
        (message,) = orders.receive(max=10)
        assert (message.body, message.group) == ("x", "default")


def test_groups_need_a_fifo_queue(queue) -> None:
    work, _ = queue
    with pytest.raises(ResourceError,
                       match="queue 'work' is not FIFO, so it has no message groups") as info:
        work.send("x", group="g")
    assert info.value.hint == "declare app.queue('work', fifo=True)"


def test_a_message_group_is_at_most_1024_bytes() -> None:
    app = App("shop")
    orders = app.queue("orders", fifo=True)
    with TestRuntime(app):
        orders.send("fits", group="ñ" * 512)
        with pytest.raises(InvalidKey, match="1,026 bytes is too long"):
            orders.send("x", group="ñ" * 513)  # PostgreSQL failed: no index entry holds it
        assert [m.body for m in orders.receive(max=10)] == ["fits"]


def test_a_failing_handler_dead_letters_after_max_receives_with_the_traceback() -> None:
    app = App("mail")
    work = app.queue("work", max_receives=3)
    attempts: list[tuple[int, str]] = []

    @app.on(work)
    def handle(message: Message, ctx) -> None:
        attempts.append((message.receive_count, ctx.event_id))
        raise ValueError(f"cannot parse {message.body['key']}")

    with TestRuntime(app) as rt:
        work.send({"key": "bad.csv"})
        rt.drain()
        assert [count for count, _ in attempts] == [1, 2, 3]
        assert len({event for _, event in attempts}) == 1
        assert [r.status.value for r in rt.runs("handle")] == ["failed", "failed", "dead-lettered"]
        (dead,) = rt.dlq(work)
        assert dead.body == {"key": "bad.csv"}
        (error,) = rt.dlq_errors(work)
        assert error.startswith("ValueError: cannot parse bad.csv\n"
                                "Traceback (most recent call last):")
        assert 'raise ValueError(f"cannot parse' in error
        assert work.depth() == 0
        assert work.dlq.depth() == 1


def test_dead_letters_are_replayed_to_a_fixed_handler() -> None:
    app = App("mail")
    work = app.queue("work", max_receives=2)
    broken = {"yes": True}
    done = []

    @app.on(work)
    def handle(message: Message, ctx) -> None:
        if broken["yes"]:
            raise RuntimeError("bug")
        done.append((message.body, message.receive_count))

    with TestRuntime(app) as rt:
        work.send_batch(["a", "b"])
        rt.drain()
        assert len(rt.dlq(work)) == 2
        broken["yes"] = False
        assert work.dlq.replay() == 2
        rt.drain()
        assert sorted(done) == [("a", 1), ("b", 1)]
        assert rt.dlq(work) == []


def test_a_message_is_acked_and_nacked_only_on_the_queue_it_came_from(queue) -> None:
    """Its id and lease alone deleted the other queue's message, or gave it back under this
    queue's max_receives and dead-letter queue."""
    work, rt = queue
    other = rt.app.queue("other")
    other.send("theirs")
    [message] = other.receive()
    for verb in ("ack", "nack"):
        with pytest.raises(ResourceError, match=rf"queue 'work': message {message.id} was "
                           rf"received from mail:other, not from this queue; nothing was "
                           rf"{verb}ed"):
            getattr(work, verb)(message)
    with pytest.raises(ResourceError, match="ack takes received messages, not a str"):
        work.ack(["1"])
    assert other.depth() == 1 and other.receive() == []  # still leased, not given back
    assert other.ack(message) == 1


def test_replay_of_chosen_messages(queue) -> None:
    work, _ = queue
    ids = work.send_batch(["a", "b"])
    for _ in range(3):
        for message in work.receive(max=10):
            work.nack(message)
    assert work.dlq.replay([ids[1]]) == 1
    assert [m.body for m in work.receive(max=10)] == ["b"]
    assert [m.body for m in work.dlq.messages()] == ["a"]


def _dead_letters(work, count: int) -> list[str]:
    ids = work.send_batch([f"m{n}" for n in range(count)])
    for _ in range(3):
        for message in work.receive(max=count):
            work.nack(message)
    return ids


def test_replay_of_one_id_given_alone_as_text(queue) -> None:
    work, _ = queue
    ids = _dead_letters(work, 12)
    assert work.dlq.replay(ids[11]) == 1  # "12" was taken as the ids 1 and 2
    assert [m.body for m in work.receive(max=20)] == ["m11"]
    assert work.dlq.replay(int(ids[10])) == 1


@pytest.mark.parametrize("wrong", [[1.9], [True], ["1.0"], [None]])
def test_replay_refuses_ids_that_are_no_whole_numbers(queue, wrong) -> None:
    work, _ = queue
    _dead_letters(work, 2)
    with pytest.raises(CauceError, match="positive whole numbers"):
        work.dlq.replay(wrong)  # 1.9 and True replayed message 1
    assert work.dlq.depth() == 2


def test_dead_letters_are_dropped_by_id_or_all_at_once(queue) -> None:
    work, _ = queue
    ids = _dead_letters(work, 5)
    assert work.dlq.drop(ids[0]) == 1
    assert work.dlq.drop([ids[1], int(ids[3])]) == 2
    assert [m.body for m in work.dlq.messages()] == ["m2", "m4"]
    assert work.dlq.drop() == 2
    assert work.dlq.depth() == 0 and work.depth() == 0


def test_dropping_an_id_not_in_the_dead_letter_queue_drops_none(queue) -> None:
    app = queue[1].app
    other = app.queue("other")
    work, _ = queue
    ids = _dead_letters(work, 2)
    [waiting] = [other.send("kept")]
    with pytest.raises(NotFound, match=f"message {waiting} is not in the dead-letter queue of "
                       "work; nothing was dropped"):
        work.dlq.drop([ids[0], waiting])
    assert work.dlq.depth() == 2 and other.depth() == 1


def test_dead_letter_listing_takes_a_count(queue) -> None:
    work, _ = queue
    _dead_letters(work, 3)
    assert [m.body for m in work.dlq.messages(2)] == ["m0", "m1"]
    assert work.dlq.messages(0) == []  # was every message
    with pytest.raises(ResourceError, match="limit=-1 is not a count"):
        work.dlq.messages(-1)
    with pytest.raises(ResourceError, match=f"limit={2**63} is not a count") as info:
        work.dlq.messages(2**63)
    assert info.value.hint == "a whole number, 0 to 9,223,372,036,854,775,807"


def test_a_batch_handler_gets_lists_of_messages() -> None:
    app = App("mail")
    work = app.queue("work")
    batches = []

    @app.on(work, batch_size=4)
    def handle(messages: list[Message], ctx) -> None:
        batches.append([m.body for m in messages])

    with TestRuntime(app) as rt:
        work.send_batch(list(range(10)))
        rt.drain()
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("bodies", [
    ['{"n": 1}', "null", '"a, b]"', "[1, [2]]", " 3 "],  # parsed together, as one by one
    ['"a', 'b"', "1"],  # texts that do not parse together: one by one (and the error)
])
def test_the_messages_of_a_claim_are_those_of_their_bodies_one_by_one(bodies) -> None:
    stored = [StoredMessage(id=n, queue="mail:work", body=body, event_id=f"e{n}", group=None,
                            sent_at=0.0, receive_count=1, lease="l")
              for n, body in enumerate(bodies)]
    try:
        one_by_one = [message_from(m) for m in stored]
    except ValueError:
        with pytest.raises(ValueError):
            messages_from(stored)
        return
    assert messages_from(stored) == one_by_one

@pytest.mark.parametrize("group", [5, b"alice", ("a",)])
def test_a_message_group_that_is_not_text_is_refused(group) -> None:
    app = App("mail")
    orders = app.queue("orders", fifo=True)
    with TestRuntime(app), pytest.raises(InvalidKey, match="a message group is text, not"):
        orders.send("a1", group=group)
