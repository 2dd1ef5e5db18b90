"""`--executor`: a backfill on a local Dask cluster, and the one-line errors of a bad executor."""

from __future__ import annotations

import sys

import pytest

DAY = "2021-04-22"
BACKFILL = ("backfill", "transit", "adatrap", "--from", DAY, "--to", DAY)


def test_a_backfill_runs_on_a_local_dask_cluster(cli) -> None:
    pytest.importorskip("distributed", reason="Dask is not installed (cauce[dask])")
    assert cli("run", "transit", "synth", "--scale", "tiny", "--date", DAY).status == 0
    result = cli(*BACKFILL, "--executor", "dask")
    assert result.status == 0, result.err
    assert result.out.startswith("adatrap: 1 succeeded, 0 failed, 0 skipped")
    [run] = cli("runs", "--job", "adatrap", "--json").json()
    assert (run["partition"], run["status"]) == (DAY, "succeeded")
    assert "on Dask worker tcp://" in cli("logs", run["id"]).out


def test_an_unreachable_scheduler_is_one_error_before_anything_runs(cli, monkeypatch) -> None:
    pytest.importorskip("distributed", reason="Dask is not installed (cauce[dask])")
    # nothing listens on port 1: waiting the default 5 s for it would only slow the suite
    monkeypatch.setattr("cauce.runtime.dask_executor.CONNECT_TIMEOUT", "1s")
    result = cli(*BACKFILL, "--executor", "dask://127.0.0.1:1")
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1s",
        "hint: start one with `dask scheduler` and `dask worker tcp://127.0.0.1:1`, or use "
        "--executor dask for a cluster on this machine"]
    # nothing ran: the home the command created is gone again
    assert cli("runs", "--job", "adatrap", "--json").err.startswith("error: no cauce home at")


def test_an_unknown_executor_is_one_error(cli) -> None:
    for command in (BACKFILL, ("run", "transit", "adatrap", "-p", DAY),
                    ("worker", "transit", "--for", "1s")):
        result = cli(*command, "--executor", "ray")
        assert result.status == 1
        assert result.err.splitlines() == [
            "error: unknown executor 'ray'",
            "hint: use local, dask (a local Dask cluster) or dask://HOST:PORT (a Dask scheduler)"]


def test_without_dask_installed_the_error_says_which_extra_to_install(
        cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    result = cli("run", "transit", "adatrap", "-p", DAY, "--executor", "dask")
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: the executor 'dask' needs Dask, which is not installed",
        'hint: pip install "cauce[dask]"']
