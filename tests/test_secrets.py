"""Secret settings are masked wherever text leaves cauce and never written to the state database."""

from __future__ import annotations

import logging

from cauce import App
from cauce.testing import TestRuntime

SECRET = "tok-5ecr3t-value"


def make_app() -> App:
    app = App("secrets")
    app.setting("token", str, secret=True, help="API token")
    app.setting("db", str, default="sqlite:///public.db")
    return app


def state_bytes(rt: TestRuntime) -> bytes:
    """Everything the state store holds on disk: the file, its WAL, its start logs."""
    rt.runtime.sink.flush()
    files = [p for p in rt.home.glob("state.db*") if p.is_file()]
    files += list(rt.home.glob("state.db-starts/*"))
    return b"".join(path.read_bytes() for path in sorted(files))


def test_a_secret_logged_by_a_job_is_masked_in_its_log_stream() -> None:
    app = make_app()

    @app.job
    def call_api(ctx, page: int = 1) -> dict:
        ctx.log.info("calling with token %s", ctx.settings.token)
        logging.getLogger("some.library").warning("Authorization: Bearer %s", ctx.settings.token)
        return {"page": page}

    with TestRuntime(app, settings={"token": SECRET}) as rt:
        run = rt.run(call_api, page=2)
        messages = [line.message for line in rt.logs(run.id)]
        stored = state_bytes(rt)
    assert "calling with token ********" in messages
    assert "Authorization: Bearer ********" in messages
    assert not any(SECRET in m for m in messages)
    assert run.params == {"page": 2}
    assert SECRET.encode() not in stored


def test_a_secret_logged_by_a_handler_is_masked() -> None:
    app = make_app()
    events = app.topic("events")

    @app.on(events)
    def notify(msg, ctx) -> None:
        ctx.log.info("%s sent with %s", msg.body, ctx.settings.token)

    with TestRuntime(app, settings={"token": SECRET}) as rt:
        events.publish("hello")
        rt.drain()
        (run,) = rt.runs("notify")
        assert [line.message for line in rt.logs(run.id)] == ["hello sent with ********"]
        assert SECRET.encode() not in state_bytes(rt)


def test_public_settings_are_not_masked() -> None:
    app = make_app()

    @app.job
    def show(ctx) -> None:
        ctx.log.info("db is %s", ctx.settings.db)

    with TestRuntime(app, settings={"token": SECRET}) as rt:
        run = rt.run(show)
        assert "db is sqlite:///public.db" in [line.message for line in rt.logs(run.id)]


def test_a_secret_in_an_error_message_is_masked_on_the_run_and_in_the_dead_letter_queue() -> None:
    app = make_app()
    work = app.queue("work", max_receives=1)

    @app.on(work)
    def handle(msg, ctx) -> None:
        raise PermissionError(f"token {ctx.settings.token} was refused")

    with TestRuntime(app, settings={"token": SECRET}) as rt:
        work.send({"n": 1})
        rt.drain()
        (run,) = rt.runs("handle")
        assert run.error == "PermissionError: token ******** was refused"
        assert SECRET not in (rt.dlq_errors(work)[0] or "")
        assert SECRET.encode() not in state_bytes(rt)
