"""What a job or handler knows about its run: `ctx`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cauce import App, Context, daily, monthly
from cauce.testing import TestRuntime


def test_a_jobs_context() -> None:
    app = App("ctx", timezone="America/Santiago")
    app.setting("chunk_size", int, default=10)
    seen: dict = {}

    @app.job
    def inspect_ctx(ctx: Context, limit: int = 5) -> None:
        seen.update(app=ctx.app, run_id=ctx.run_id, attempt=ctx.attempt, event_id=ctx.event_id,
                    partition=ctx.partition, partition_date=ctx.partition_date, params=ctx.params,
                    chunk_size=ctx.settings.chunk_size, now=ctx.now(), local_now=ctx.local_now(),
                    home=ctx.home, cancelled=ctx.cancelled)

    with TestRuntime(app, start="2024-06-01T09:30:00", settings={"chunk_size": "20"}) as rt:
        run = rt.run(inspect_ctx, limit=7)
    assert seen["app"] is app
    assert seen["run_id"] == run.id
    assert (seen["attempt"], seen["partition"], seen["partition_date"]) == (1, None, None)
    assert seen["params"] == {"limit": 7}
    assert seen["chunk_size"] == 20
    assert seen["now"] == datetime(2024, 6, 1, 13, 30, tzinfo=UTC)  # 09:30 in Santiago (UTC-4)
    assert seen["local_now"].isoformat() == "2024-06-01T09:30:00-04:00"
    assert seen["home"] == rt.home
    assert seen["cancelled"] is False


@pytest.mark.parametrize(
    ("partitions", "key", "day"),
    [(daily(start="2024-01-01"), "2024-02-29", date(2024, 2, 29)),
     (monthly(start="2024-01"), "2024-02", date(2024, 2, 1))],
)
def test_partition_and_partition_date(partitions, key: str, day: date) -> None:
    app = App("ctx")
    seen = []
    app.job(partitions=partitions, name="per-period")(
        lambda ctx: seen.append((ctx.partition, ctx.partition_date)))
    with TestRuntime(app, start="2024-06-01T00:00:00") as rt:
        run = rt.run("per-period", partition=key)
    assert seen == [(key, day)]
    assert run.partition == key


def test_event_id_is_stable_across_redeliveries_and_attempt_counts_up() -> None:
    app = App("ctx")
    work = app.queue("work", max_receives=3)
    seen = []

    @app.on(work)
    def handle(msg, ctx) -> None:
        seen.append((ctx.attempt, ctx.event_id, ctx.run_id))
        if ctx.attempt < 3:
            raise RuntimeError("not yet")

    with TestRuntime(app) as rt:
        work.send("x")
        rt.drain()
        runs = rt.runs("handle")
    assert [attempt for attempt, _, _ in seen] == [1, 2, 3]
    assert len({event for _, event, _ in seen}) == 1
    assert [run_id for _, _, run_id in seen] == [r.id for r in runs]  # a run per attempt
    assert {r.event_id for r in runs} == {seen[0][1]}


def test_the_workdir_is_a_scratch_folder_removed_when_the_run_ends() -> None:
    app = App("ctx")
    kept: list[Path] = []

    @app.job
    def scratch(ctx) -> str:
        (ctx.workdir / "tmp.txt").write_text("x")
        kept.append(ctx.workdir)
        return ctx.workdir.name

    with TestRuntime(app) as rt:
        run = rt.run(scratch)
        assert run.result == run.id
        assert kept[0].is_relative_to(rt.home)
        assert not kept[0].exists()


def test_the_return_value_is_stored_on_the_run() -> None:
    app = App("ctx")
    app.job(name="counts")(lambda ctx: {"rows": 3, "files": ["a", "b"]})
    app.job(name="opaque")(lambda ctx: object())
    with TestRuntime(app) as rt:
        assert rt.run("counts").result == {"rows": 3, "files": ["a", "b"]}
        assert rt.runs("counts")[0].result == {"rows": 3, "files": ["a", "b"]}
        opaque = rt.run("opaque")
    assert opaque.succeeded
    assert isinstance(opaque.result, str)  # not JSON: stored as its text


def test_submit_queues_a_run_for_a_partition_with_options() -> None:
    app = App("ctx")

    @app.job(partitions=daily(start="2024-01-01"))
    def per_day(ctx, note: str = "") -> str:
        return f"{ctx.partition} {note}"

    @app.job
    def fan_out(ctx) -> list[str]:
        return [ctx.submit(per_day, partition=day, note="from fan-out")
                for day in ("2024-01-01", "2024-01-02")]

    with TestRuntime(app, start="2024-01-05T00:00:00") as rt:
        parent = rt.run(fan_out)
        queued = rt.runs(per_day)
        assert [r.status.value for r in queued] == ["queued", "queued"]
        rt.drain()
        done = rt.runs(per_day)
    assert [r.id for r in done] == parent.result
    assert [r.result for r in done] == ["2024-01-01 from fan-out", "2024-01-02 from fan-out"]
    assert {r.trigger for r in done} == {f"submitted by {parent.id}"}
