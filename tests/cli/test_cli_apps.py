"""`cauce apps` and `cauce schedules`: what the bundled apps contain and when their jobs fire."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from cauce.backends.state import open_state


def test_apps_describes_every_bundled_app(cli) -> None:
    described = {item["name"]: item for item in cli("apps", "--json").json()}
    assert {"example", "census", "transit", "opendata"} <= set(described)
    example = described["example"]
    assert example["reference"] == "cauce.apps.example:app"
    assert example["description"].startswith("bucket → queue → table → topic chain")
    assert (example["buckets"], example["queues"], example["tables"], example["topics"],
            example["streams"], example["warehouses"]) == (["inbox"], ["work"], ["files"],
                                                            ["events"], [], ["summaries"])
    assert {job["name"]: job["trigger"] for job in example["jobs"]} == {
        "heartbeat": "(every 5s)",
        "daily-summary": "(daily from 2024-01-01)",
        "publish-summary": "(daily from 2024-01-01; after daily-summary)",
        "seed": "(by hand)",
    }
    assert example["handlers"] == ["on_file ← bucket inbox", "count_rows ← queue work",
                                   "notify ← topic events"]
    assert example["settings"] == ["greeting"]


def test_apps_as_text(cli) -> None:
    result = cli("apps")
    assert result.status == 0
    assert "example" in result.out
    assert "job daily-summary (daily from 2024-01-01)" in result.out
    assert "handler notify ← topic events" in result.out


def test_schedules_after_serving(cli, example_home) -> None:
    (heartbeat,) = cli("--home", str(example_home), "schedules", "example", "--json").json()
    assert (heartbeat["job"], heartbeat["spec"], heartbeat["paused"]) == ("heartbeat", "every 5s",
                                                                          None)
    assert datetime.fromisoformat(heartbeat["next"]).second % 5 == 0
    text = cli("--home", str(example_home), "schedules", "example")
    assert text.out.startswith("heartbeat: every 5s  next ")


def test_schedules_before_serving(cli) -> None:
    cli("run", "example", "seed", "--files", "0")
    result = cli("schedules", "example")
    assert result.status == 0
    assert result.out.startswith("heartbeat: every 5s  next ")
    assert result.out.rstrip().endswith("(once `cauce serve` runs)")


PAUSING = """
from cauce import App

app = App("poller")


@app.job(every="100ms")
def poll(ctx):
    ctx.pause_schedule("the portal is down for maintenance")
"""


def test_a_paused_schedule_is_shown_and_resumed(cli, app_file) -> None:
    ref = app_file(PAUSING)
    served = cli("serve", ref, "--for", "1s")
    assert served.status == 0
    assert "poll: schedule paused: the portal is down for maintenance" in served.err
    assert len(cli("runs", "--job", "poll", "--json").json()) == 1
    (state,) = cli("schedules", ref, "--json").json()
    assert state["paused"] == "the portal is down for maintenance"
    assert "paused: the portal is down for maintenance" in cli("schedules", ref).out
    resumed = cli("schedules", ref, "--resume", "poll")
    assert resumed.status == 0
    assert resumed.out.startswith("resumed poll")
    assert cli("schedules", ref, "--json").json()[0]["paused"] is None
    unknown = cli("schedules", ref, "--resume", "pol")
    assert unknown.err.splitlines() == ["error: app 'poller' has no job 'pol'",
                                        "hint: did you mean 'poll'?"]


MIDNIGHT_IN_SANTIAGO = """
from cauce import App

app = App("nightly", timezone="America/Santiago")


@app.job(schedule="0 0 * * *")
def close_day(ctx) -> str:
    return "closed"
"""


def test_schedules_show_the_next_fire_time_in_the_apps_time_zone(cli, app_file) -> None:
    # it was shown in the machine's zone, unnamed: `cron 0 0 * * * America/Santiago  next
    # 2026-12-08 03:00:00` on a machine in UTC, read as 03:00 in Santiago
    out = cli("schedules", app_file(MIDNIGHT_IN_SANTIAGO)).out
    assert re.fullmatch(r"close-day: cron 0 0 \* \* \* America/Santiago  next "
                        r"\d{4}-\d\d-\d\d 00:00:00-0[34]:00 America/Santiago "
                        r"\(once `cauce serve` runs\)\n", out), out


def test_schedules_tell_an_overdue_fire_and_a_changed_schedule(cli, app_file,
                                                               tmp_path: Path) -> None:
    ref = app_file(MIDNIGHT_IN_SANTIAGO)
    state = open_state(f"sqlite:///{tmp_path / '.cauce' / 'state.db'}")
    try:
        state.schedules.set("nightly", "close-day", spec="cron 0 0 * * * America/Santiago",
                            next_at=datetime(2024, 3, 5, 3, tzinfo=UTC).timestamp())
        # as left by a serve that stopped on 4 March: its next fire is long past
        assert cli("schedules", ref).out == (
            "close-day: cron 0 0 * * * America/Santiago  next 2024-03-05 00:00:00-03:00 "
            "America/Santiago (overdue: nothing served then; `cauce serve` fires it when it "
            "starts)\n")
        # served at 23:00 before; the app now says midnight: the old next time was shown
        state.schedules.set("nightly", "close-day", spec="cron 0 23 * * * America/Santiago",
                            next_at=datetime(2999, 1, 1, tzinfo=UTC).timestamp())
        assert " 00:00:00-0" in cli("schedules", ref).out
    finally:
        state.close()
