"""A job's typed keyword parameters are its options: validated, converted and recorded on the
run."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Literal

import pytest
from annotated_types import Ge, Interval
from pydantic import Field

from cauce import App, ConfigError, Context
from cauce.testing import TestRuntime


def make_app() -> tuple[App, object]:
    app = App("params")

    @app.job
    def load(
        ctx: Context,
        source: Annotated[list[str], "files to read"] = [],  # noqa: B006
        chunk_size: int = 1000,
        all: bool = False,
        mode: Literal["append", "replace"] = "append",
        target: Path | None = None,
    ) -> dict:
        return {"source": source, "chunk_size": chunk_size, "all": all, "mode": mode,
                "target": str(target)}

    return app, load


def test_parameters_after_ctx_become_options() -> None:
    _, load = make_app()
    assert list(load.params) == ["source", "chunk_size", "all", "mode", "target"]
    chunk = load.params["chunk_size"]
    assert (chunk.option, chunk.annotation, chunk.default, chunk.required) == ("--chunk-size", int,
                                                                               1000, False)
    assert load.params["source"].help == "files to read"
    assert load.params["source"].annotation == list[str]


def test_a_parameter_without_default_is_required() -> None:
    app = App("params")

    @app.job
    def load(ctx, day: str) -> None: ...

    assert load.params["day"].required


def test_defaults_fill_in_what_is_not_given() -> None:
    app, load = make_app()
    with TestRuntime(app) as rt:
        run = rt.run(load)
    assert run.succeeded
    assert run.result == {"source": [], "chunk_size": 1000, "all": False, "mode": "append",
                          "target": "None"}


def test_values_are_converted_to_the_declared_types_and_recorded_on_the_run() -> None:
    app, load = make_app()
    with TestRuntime(app) as rt:
        run = rt.run(load, source=("a.csv", "b.csv"), chunk_size="250", all=True, mode="replace")
    assert run.result == {"source": ["a.csv", "b.csv"], "chunk_size": 250, "all": True,
                          "mode": "replace", "target": "None"}
    assert run.params == {"source": ["a.csv", "b.csv"], "chunk_size": 250, "all": True,
                          "mode": "replace", "target": None}


def test_path_and_date_options_are_passed_typed_and_recorded_as_text() -> None:
    app = App("params")

    @app.job
    def export(ctx, target: Path, day: date) -> list[str]:
        return [type(target).__name__, type(day).__name__]

    with TestRuntime(app) as rt:
        run = rt.run(export, target="out/a.csv", day="2024-01-02")
        rt.submit(export, target="out/b.csv", day="2024-01-03")
        rt.drain()
        queued = rt.runs(export)[-1]
    assert run.result == ["PosixPath", "date"]
    assert run.params == {"target": "out/a.csv", "day": "2024-01-02"}
    assert queued.result == ["PosixPath", "date"]


def test_every_problem_is_reported_at_once_before_the_job_runs() -> None:
    app, load = make_app()
    with TestRuntime(app) as rt:
        with pytest.raises(ConfigError) as info:
            rt.run(load, chunk_size="big", mode="upsert", sources=["a"])
        assert rt.runs() == []
    message = info.value.message
    assert "job 'load' has no option 'sources' (did you mean 'source'?)" in message
    assert "--chunk-size: 'big' is invalid" in message
    assert "--mode: 'upsert' is invalid" in message
    assert info.value.hint == "see `cauce run params load --help`"


def test_a_missing_required_option() -> None:
    app = App("params")

    @app.job
    def load(ctx, day: str) -> str:
        return day

    with TestRuntime(app) as rt:
        with pytest.raises(ConfigError, match="--day is required"):
            rt.run(load)
        assert rt.run(load, day="2024-01-01").result == "2024-01-01"


def test_submitted_runs_are_validated_when_submitted() -> None:
    app, load = make_app()
    with TestRuntime(app) as rt:
        with pytest.raises(ConfigError, match="--chunk-size: 'x' is invalid"):
            rt.submit(load, chunk_size="x")
        run_id = rt.submit(load, chunk_size="5")
        rt.drain()
        (run,) = rt.runs(load)
    assert run.id == run_id
    assert run.result["chunk_size"] == 5
    assert run.params["chunk_size"] == 5


def bounded_app() -> tuple[App, object]:
    app = App("params")

    @app.job
    def sample(
        ctx: Context,
        rows: Annotated[int, "records to write", Ge(0)] = 10,
        rate: Annotated[float, Interval(gt=0, le=100)] = 1.0,
        seed: Annotated[int, Field(ge=0, description="random seed")] = 0,
    ) -> dict:
        return {"rows": rows, "rate": rate, "seed": seed}

    return app, sample


def test_a_parameter_can_state_its_bounds_and_they_show_as_a_range() -> None:
    _, sample = bounded_app()
    rows, rate, seed = sample.params.values()
    assert (rows.annotation, rows.help, rows.bounds) == (int, "records to write", "x>=0")
    assert (rate.annotation, rate.bounds) == (float, "0<x<=100")
    assert (seed.help, seed.bounds) == ("random seed", "x>=0")


def test_values_outside_the_bounds_are_refused_before_the_job_runs() -> None:
    app, sample = bounded_app()
    with TestRuntime(app) as rt:
        with pytest.raises(ConfigError) as info:
            rt.run(sample, rows=-5, rate=0, seed="-1")
        with pytest.raises(ConfigError, match="--rate: nan is invalid"):
            rt.submit(sample, rate=float("nan"))
        assert rt.runs() == []
        assert rt.run(sample, rows="0", rate="100", seed=7).result == {"rows": 0, "rate": 100.0,
                                                                       "seed": 7}
    message = info.value.message
    assert "--rows: -5 is invalid (Input should be greater than or equal to 0)" in message
    assert "--rate: 0 is invalid (Input should be greater than 0)" in message
    assert "--seed: '-1' is invalid" in message


def test_nan_and_infinities_are_no_options_and_no_kept_results() -> None:
    """A run's options and result are stored as JSON, which has no NaN or infinity (SQLite kept
    them, so `--json` printed invalid JSON; PostgreSQL's jsonb refused them, failing the run's
    last write)."""
    app = App("params")

    @app.job
    def measure(ctx, ratio: float = 1.0) -> dict:
        return {"ratio": ratio, "spread": float("nan")}

    with TestRuntime(app) as rt:
        for bad in (float("nan"), float("inf"), "-inf"):
            with pytest.raises(ConfigError, match=r"--ratio: .* \(NaN and infinities are no JSON"):
                rt.run(measure, ratio=bad)
        run = rt.run(measure, ratio=0.5)
    assert (run.status.value, run.params, run.result) == ("succeeded", {"ratio": 0.5}, None)


def test_a_date_option_written_otherwise_is_told_how_to_write_it() -> None:
    """pydantic's words ("invalid character in year") did not say how a date is written, and
    a date with spaces around it (a quoted shell variable) was refused."""
    app = App("params")

    @app.job
    def export(ctx, day: date, at: datetime | None = None, by: time | None = None) -> str:
        return day.isoformat()

    with TestRuntime(app) as rt:
        assert rt.run(export, day=" 2024-01-02 ").result == "2024-01-02"
        with pytest.raises(ConfigError) as info:
            rt.run(export, day="01/02/2024", at="tomorrow", by="noon")
    message = info.value.message
    assert "--day: '01/02/2024' is invalid (" in message and "; write it YYYY-MM-DD)" in message
    assert "--at: 'tomorrow' is invalid (" in message
    assert "; write it YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM])" in message
    assert "--by: 'noon' is invalid (" in message and "; write it HH:MM[:SS])" in message
