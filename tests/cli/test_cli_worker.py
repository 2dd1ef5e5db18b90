"""`cauce worker`: more hands for an app's queues, without a scheduler."""

from __future__ import annotations

from pathlib import Path


def test_a_worker_handles_events_but_fires_no_schedule(cli, tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_text("id\n1\n2\n3\n")
    assert cli("put", "example", "inbox", "in/a.csv", str(local)).status == 0
    result = cli("worker", "example", "--for", "1s", "--threads", "2")
    assert result.status == 0, result.err
    assert "cauce worker example" in result.err
    names = sorted(r["name"] for r in cli("runs", "--json").json() if r["status"] == "succeeded")
    assert names == ["count_rows", "notify", "on_file"]
    [heartbeat] = cli("schedules", "example", "--json").json()
    assert (heartbeat["spec"], heartbeat["served"]) == ("every 5s", False), "never fired"
