"""Topics: publish once; every subscriber — handler or queue — gets its own copy, retried alone."""

from __future__ import annotations

import re

import pytest

from cauce import App, Message, NotSerializable
from cauce.testing import TestRuntime


def test_every_subscriber_gets_every_message() -> None:
    app = App("news")
    archive = app.queue("archive")
    events = app.topic("events", subscribers=[archive])
    seen: dict[str, list] = {"email": [], "sms": []}

    @app.on(events)
    def email(msg: Message, ctx) -> None:
        seen["email"].append((msg.body, msg.event_id, ctx.event_id))

    @app.on(events)
    def sms(msg: Message, ctx) -> None:
        seen["sms"].append(msg.body)

    with TestRuntime(app) as rt:
        first = events.publish({"n": 1})
        second = events.publish({"n": 2})
        rt.drain()
        archived = archive.receive(max=10)
    assert seen["email"] == [({"n": 1}, first, first), ({"n": 2}, second, second)]
    assert seen["sms"] == [{"n": 1}, {"n": 2}]
    assert [(m.body, m.event_id) for m in archived] == [({"n": 1}, first), ({"n": 2}, second)]


def test_queues_can_subscribe_after_declaration() -> None:
    app = App("news")
    events = app.topic("events")
    late = app.queue("late")
    events.subscribe(late)
    events.subscribe(late)  # once is enough
    with TestRuntime(app):
        events.publish("x")
        assert [m.body for m in late.receive(max=10)] == ["x"]


def test_publishing_with_no_subscribers_is_fine() -> None:
    app = App("news")
    events = app.topic("events")
    with TestRuntime(app) as rt:
        assert events.publish("into the void")
        assert rt.drain() == 0


def test_one_failing_subscriber_is_retried_and_dead_lettered_alone() -> None:
    app = App("news")
    events = app.topic("events")
    delivered = []

    @app.on(events, max_attempts=3, retry_delay="2s")
    def flaky(msg: Message, ctx) -> None:
        raise ConnectionError("SMTP server down")

    @app.on(events)
    def steady(msg: Message, ctx) -> None:
        delivered.append(msg.body)

    with TestRuntime(app) as rt:
        events.publish({"n": 1})
        rt.drain()
        assert delivered == [{"n": 1}]
        assert [r.status.value for r in rt.runs("steady")] == ["succeeded"]
        assert [(r.attempt, r.status.value) for r in rt.runs("flaky")] == [
            (1, "failed"), (2, "failed"), (3, "dead-lettered")]
        assert [m.body for m in rt.dlq("flaky")] == [{"n": 1}]
        assert rt.dlq_errors("flaky")[0].startswith("ConnectionError: SMTP server down")
        assert rt.dlq("steady") == []


def test_the_dead_lettered_copy_is_replayed_only_to_its_subscriber() -> None:
    app = App("news")
    events = app.topic("events")
    calls = {"flaky": 0, "steady": 0}
    broken = {"yes": True}

    @app.on(events, max_attempts=1)
    def flaky(msg: Message, ctx) -> None:
        calls["flaky"] += 1
        if broken["yes"]:
            raise RuntimeError("down")

    @app.on(events)
    def steady(msg: Message, ctx) -> None:
        calls["steady"] += 1

    with TestRuntime(app) as rt:
        events.publish("hello")
        rt.drain()
        broken["yes"] = False
        assert rt.replay("flaky") == 1
        rt.drain()
    assert calls == {"flaky": 2, "steady": 1}


def test_a_message_that_is_not_json_is_rejected_at_publish() -> None:
    app = App("news")
    events = app.topic("events")
    with TestRuntime(app), pytest.raises(NotSerializable, match="a message for topic 'events'"):
        events.publish({"callback": print})


def test_a_dict_key_that_is_not_text_is_refused_at_publish() -> None:
    """{1: "a"} was delivered as {"1": "a"}: JSON's keys are text."""
    app = App("news")
    archive = app.queue("archive")
    events = app.topic("events", subscribers=[archive])
    with TestRuntime(app), pytest.raises(NotSerializable, match=re.escape(
            "a message for topic 'events' has the key 7 (in scores), which is no text")):
        try:
            events.publish({"scores": {7: "a"}})
        finally:
            assert archive.depth() == 0


def test_a_fifo_queue_subscribed_keeps_the_topic_in_order() -> None:
    app = App("news")
    ordered = app.queue("ordered", fifo=True)
    events = app.topic("events", subscribers=[ordered])
    with TestRuntime(app):
        first = events.publish({"n": 1})
        events.publish({"n": 2})
        ordered.send({"n": 3})
        (head,) = ordered.receive(max=10)  # all three came at once: the copies had no group
        assert (head.body, head.group, head.event_id) == ({"n": 1}, "default", first)
        ordered.ack(head)
        assert [m.body for m in ordered.receive(max=10)] == [{"n": 2}]
