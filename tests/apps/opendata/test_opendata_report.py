"""The catalogue report's summary line: counts of datasets and open alerts, in words that fit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cauce.apps.opendata.report import catalogue_sections

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def version(dataset_id: str) -> dict[str, Any]:
    return {"ID": dataset_id, "NAME": f"name {dataset_id}", "OWNER": "owner",
            "CATEGORY": "health", "STATUS": "ok", "CHANGE": "new", "ROWS": 10, "SIZE": 2_000_000,
            "ROWS_UPDATED_AT": int(NOW.timestamp()), "TIME": "2026-03-01T00:00:00", "HASH": "h"}


def alert(dataset_id: str, criterion: str) -> dict[str, Any]:
    return {"ID": dataset_id, "NAME": f"name {dataset_id}", "HASH": "h", "ALERT": criterion,
            "CRITERION": criterion, "SEVERITY": "warning", "MESSAGE": "stale"}


def summary(versions: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> str:
    sections = catalogue_sections(versions, alerts, now=NOW, stale_after=timedelta(days=90))
    return next(s.html for s in sections if s.title == "Summary")


def test_one_dataset_and_one_open_alert_are_counted_in_the_singular() -> None:
    text = summary([version("aaaa-0001")], [alert("aaaa-0001", "stale")])
    assert text.startswith("<p>1 dataset (1 served, ")
    assert "; 1 open alert (1 warning)." in text


def test_other_counts_are_counted_in_the_plural() -> None:
    versions = [version("aaaa-0001"), version("aaaa-0002")]
    text = summary(versions, [alert("aaaa-0001", "stale"), alert("aaaa-0002", "stale")])
    assert text.startswith("<p>2 datasets (2 served, ") and "; 2 open alerts (2 warning)." in text
    assert "; 0 open alerts (none)." in summary(versions, [])
