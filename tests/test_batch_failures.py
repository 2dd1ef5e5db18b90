"""A batch handler that fails: by default each message of the batch is retried alone; a handler
can also fail only some messages of its batch (raise or return `BatchFailed`)."""

from __future__ import annotations

import pytest

from cauce import App, BatchFailed
from cauce.testing import TestRuntime


def _app(handle) -> tuple[App, object, object]:
    app = App("batches")
    work = app.queue("work", max_receives=3)
    done = app.table("done", key="n")
    app.on(work, batch_size=10, retry_delay="1s", name="handle")(
        lambda messages, ctx: handle(messages, ctx, done))
    return app, work, done


def test_one_poison_message_no_longer_dead_letters_its_whole_batch() -> None:
    def handle(messages, ctx, done) -> None:
        for m in messages:
            if m.body == 4:
                raise ValueError("cannot handle 4")
        for m in messages:
            done.put({"n": m.body})

    app, work, done = _app(handle)
    with TestRuntime(app) as rt:
        work.send_batch(list(range(10)))
        rt.drain()
        assert sorted(item["n"] for item in done.scan()) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
        assert [m.body for m in rt.dlq("work")] == [4]
        assert rt.dlq_errors("work")[0].startswith("ValueError: cannot handle 4")
        runs = rt.runs("handle")
    # one batch of ten failed; each message was then retried in a batch of its own
    assert [r.status.value for r in runs].count("succeeded") == 9
    assert [r.status.value for r in runs][-1] == "dead-lettered"


@pytest.mark.parametrize("how", ["raise", "return"])
def test_a_handler_fails_only_the_messages_it_names(how: str) -> None:
    seen: list[list[int]] = []

    def handle(messages, ctx, done):
        seen.append([m.body for m in messages])
        bad = [m for m in messages if m.body % 4 == 0]
        for m in messages:
            if m not in bad:
                done.put({"n": m.body})
        if bad:
            failure = BatchFailed(bad, "multiples of four are refused")
            if how == "raise":
                raise failure
            return failure
        return None

    app, work, done = _app(handle)
    with TestRuntime(app) as rt:
        work.send_batch(list(range(1, 11)))
        rt.drain()
        assert sorted(item["n"] for item in done.scan()) == [1, 2, 3, 5, 6, 7, 9, 10]
        assert sorted(m.body for m in rt.dlq("work")) == [4, 8]
        assert rt.dlq_errors("work") == ["multiples of four are refused"] * 2
        runs = rt.runs("handle")
    assert seen[0] == list(range(1, 11))
    assert seen[1:] == [[4, 8], [4, 8]], "only the failed messages come back"
    assert [(r.status.value, r.error) for r in runs] == [
        ("failed", "2 of 10 message(s) failed: multiples of four are refused"),
        ("failed", "2 of 2 message(s) failed: multiples of four are refused"),
        ("dead-lettered", "2 of 2 message(s) failed: multiples of four are refused"),
    ]


def test_failed_ids_may_be_given_as_text() -> None:
    def handle(messages, ctx, done):
        for m in messages:
            done.put({"n": m.body})
        raise BatchFailed([messages[0].id], "the first is wrong")

    app, work, _ = _app(handle)
    with TestRuntime(app) as rt:
        work.send_batch([1, 2])
        rt.drain()
        assert [m.body for m in rt.dlq("work")] == [1]


def test_naming_a_message_outside_the_batch_fails_the_whole_batch() -> None:
    def handle(messages, ctx, done):
        raise BatchFailed(["999999"], "oops")

    app, work, _ = _app(handle)
    with TestRuntime(app) as rt:
        work.send_batch([1, 2])
        rt.drain()
        assert sorted(m.body for m in rt.dlq("work")) == [1, 2]
        error = rt.dlq_errors("work")[0]
    assert "BatchFailed names message(s) not in the batch: 999999" in error


def test_batch_failed_outside_a_batch_handler_is_an_ordinary_failure() -> None:
    app = App("single")
    events = app.topic("events")

    @app.on(events, max_attempts=1)
    def handle(message, ctx):
        raise BatchFailed([message], "no batch here")

    with TestRuntime(app) as rt:
        events.publish({"n": 1})
        rt.drain()
        assert rt.dlq_errors("handle")[0].startswith("BatchFailed: no batch here")
