"""`cauce backfill`: a partitioned job over a range, in parallel, resumable; --force reruns."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from cauce.runtime.runtime import Runtime

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
BACKFILL = ("backfill", "example", "daily-summary", "--from", "2024-01-01", "--to", "2024-01-05")


def succeeded(cli, job: str) -> Counter:
    runs = cli("runs", "--job", job, "--json", "--limit", "100").json()
    return Counter(r["partition"] for r in runs if r["status"] == "succeeded")


def test_backfill_runs_each_partition_and_the_jobs_after_it(cli) -> None:
    result = cli(*BACKFILL, "--parallel", "2")
    assert result.status == 0, result.err
    assert result.out.startswith("daily-summary: 5 succeeded, 0 failed, 0 skipped")
    assert succeeded(cli, "daily-summary") == Counter(DAYS)
    assert succeeded(cli, "publish-summary") == Counter(DAYS)
    runs = cli("runs", "--job", "daily-summary", "--json").json()
    results = {r["partition"]: r["result"] for r in runs}
    assert results["2024-01-03"] == {"day": "2024-01-03", "files": 0}


def test_running_it_again_skips_what_succeeded_and_force_reruns(cli) -> None:
    assert cli(*BACKFILL, "--parallel", "2").status == 0
    again = cli(*BACKFILL, "--parallel", "2")
    assert again.status == 0
    assert again.out.startswith("daily-summary: 0 succeeded, 0 failed, 5 skipped")
    assert succeeded(cli, "daily-summary") == Counter(DAYS)
    forced = cli(*BACKFILL, "--force")
    assert forced.out.startswith("daily-summary: 5 succeeded, 0 failed, 0 skipped")
    assert succeeded(cli, "daily-summary") == Counter(DAYS * 2)


def test_a_range_outside_the_partitions_fails_before_running(cli) -> None:
    result = cli("backfill", "example", "daily-summary", "--from", "2023-12-30",
                 "--to", "2024-01-02")
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: partition 2023-12-30 is before the first one (2024-01-01)",
        "hint: partitions start at 2024-01-01"]
    backwards = cli("backfill", "example", "daily-summary", "--from", "2024-01-05",
                    "--to", "2024-01-01")
    assert backwards.err.startswith("error: range 2024-01-05..2024-01-01 is empty")


def test_a_job_without_partitions_cannot_be_backfilled(cli) -> None:
    result = cli("backfill", "example", "seed", "--from", "2024-01-01", "--to", "2024-01-02")
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: job 'seed' is not partitioned, so it cannot be backfilled",
        "hint: backfill runs a range of partitions; run it once with `cauce run example seed`",
    ]
    # refused before its --from and --to are asked for
    bare = cli("backfill", "example", "seed")
    assert (bare.status, bare.err.splitlines()[0]) == (
        1, "error: job 'seed' is not partitioned, so it cannot be backfilled")


def test_backfill_with_an_app_but_no_job_lists_the_jobs_it_can_backfill(cli) -> None:
    result = cli("backfill", "example")
    assert result.status == 0, result.err
    listed = [line.split()[0] for line in result.out.splitlines()[1:] if line.startswith("  ")]
    assert listed == ["daily-summary", "publish-summary"]  # partitioned; not heartbeat or seed
    assert result.out.splitlines()[0] == "example partitioned jobs:"
    assert result.out.splitlines()[-1] == (
        "backfill one: cauce backfill example JOB --from FIRST [--to LAST] [OPTIONS]   "
        "(cauce backfill example JOB --help)")
    assert "cauce run" not in result.out


def test_backfill_of_an_app_without_partitioned_jobs(cli) -> None:
    result = cli("backfill", "census")
    assert (result.status, result.out) == (1, "")
    assert result.err.splitlines() == [
        "error: app 'census' has no partitioned job to backfill",
        "hint: backfill runs a job over a range of partitions; `cauce run census` lists the "
        "jobs to run once",
    ]


FAILING = """
from cauce import App, daily

app = App("flaky")


@app.job(partitions=daily(start="2024-01-01"), retries=0)
def load(ctx):
    if ctx.partition == "2024-01-02":
        raise ValueError("the source file for this day is corrupt")
"""


def test_failed_partitions_are_listed_and_the_exit_status_is_1(cli, app_file) -> None:
    ref = app_file(FAILING)
    result = cli("backfill", ref, "load", "--from", "2024-01-01", "--to", "2024-01-03")
    assert result.status == 1
    assert result.out.startswith("load: 2 succeeded, 1 failed, 0 skipped")
    assert "2024-01-02: ValueError: the source file for this day is corrupt" in result.err
    assert "run the same command again to retry the failed partitions" in result.err


def test_backfill_without_to_runs_up_to_the_newest_partition_that_has_ended(
        cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--from` alone, as one types "from then on": before, `Missing option '--to'`."""
    monkeypatch.setattr(Runtime, "today", lambda self: date(2024, 1, 4))
    result = cli("backfill", "example", "daily-summary", "--from", "2024-01-01")
    assert result.status == 0, result.err
    assert result.out.startswith("daily-summary: 3 succeeded, 0 failed, 0 skipped")
    assert succeeded(cli, "daily-summary") == Counter(DAYS[:3])
