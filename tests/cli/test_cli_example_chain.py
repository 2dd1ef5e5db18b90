"""The example app end to end: `cauce run example seed`, then `cauce serve example` runs the chain
bucket → queue → table → topic, each step a run with its own log."""

from __future__ import annotations

import re
from collections import Counter

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\w+): (.*)$")


def test_seed_writes_the_files_and_prints_its_result(cli, tmp_path) -> None:
    result = cli("run", "example", "seed", "--files", "2")
    assert result.status == 0, result.err
    assert result.json() == ["in/sample-000.csv", "in/sample-001.csv"]
    assert "example.seed succeeded" in result.err
    inbox = tmp_path / ".cauce" / "buckets" / "example" / "inbox" / "in"
    assert (inbox / "sample-001.csv").read_text() == "id,value\n0,0\n1,1\n2,2\n"
    assert sorted(p.name for p in inbox.iterdir()) == ["sample-000.csv", "sample-001.csv"]


def test_serve_runs_the_whole_chain(cli, example_home) -> None:
    runs = cli("--home", str(example_home), "runs", "--app", "example", "--json").json()
    counts = Counter(r["name"] for r in runs if r["status"] == "succeeded")
    assert counts["seed"] == 1
    assert counts["on_file"] == 2
    assert counts["count_rows"] >= 1  # one batch, or two if the second file arrived late
    assert counts["notify"] == 2
    assert all(r["status"] == "succeeded" for r in runs)


def test_each_step_has_its_log(cli, example_home) -> None:
    notify = cli("--home", str(example_home), "runs", "--job", "notify", "--json").json()
    lines = []
    for run in notify:
        result = cli("--home", str(example_home), "logs", run["id"], "--utc")
        assert result.status == 0, result.err
        lines += [LINE.match(line).groups() for line in result.out.splitlines()]
    assert sorted(lines) == [("INFO", "hola: in/sample-000.csv has 2 rows"),
                             ("INFO", "hola: in/sample-001.csv has 3 rows")]


def test_after_the_chain_every_queue_is_empty(cli, example_home) -> None:
    rows = cli("--home", str(example_home), "queues", "example", "--json").json()
    assert {r["queue"] for r in rows} >= {"work", "bucket inbox → on_file",
                                          "topic events → notify", "job seed"}
    assert all((r["visible"], r["dlq"]) == (0, 0) for r in rows)
    table = cli("--home", str(example_home), "queues", "example").out
    assert "dead letters" in table
    assert "topic events → notify" in table
