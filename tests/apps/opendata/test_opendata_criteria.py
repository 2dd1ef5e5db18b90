"""The criteria as pure functions over two snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cauce.apps.opendata.criteria import (
    Finding,
    Limits,
    Snapshot,
    availability,
    changed_content,
    quality,
    schema_drift,
    stale_data,
)
from cauce.apps.opendata.profile import ColumnProfile, Profile

NOW = datetime(2026, 3, 2, tzinfo=UTC)
LIMITS = Limits(stale_after=timedelta(days=365), mostly_null=0.9, duplicate_share=0.05)


def column(name: str, kind: str = "text", null_share: float = 0.0) -> ColumnProfile:
    return ColumnProfile(name, kind, int(null_share * 100), null_share, 10)


def snapshot(
    digest: str = "a" * 64,
    *,
    rows: int = 100,
    columns: tuple[ColumnProfile, ...] = (),
    updated: datetime | None = NOW - timedelta(days=3),
    declared: dict[str, str] | None = None,
    duplicates: int = 0,
    problems: tuple[str, ...] = (),
    status: str = "ok",
) -> Snapshot:
    profile = Profile(
        digest,
        1_000 + rows,
        rows,
        columns or (column("id", "integer"), column("name")),
        duplicate_rows=duplicates,
        problems=problems,
    )
    return Snapshot(
        "abcd-1234",
        "2026-03-02T05:00:00.000000Z",
        status,
        profile if status == "ok" else None,
        int(updated.timestamp()) if updated else None,
        declared or {},
    )


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_changed_content() -> None:
    before = snapshot("a" * 64, rows=100, updated=NOW - timedelta(days=10))
    assert changed_content(before, None, LIMITS, NOW) == []
    assert changed_content(before, before, LIMITS, NOW) == []
    after = snapshot("b" * 64, rows=105, updated=NOW - timedelta(days=1))
    (found,) = changed_content(after, before, LIMITS, NOW)
    assert (found.code, found.severity) == (
        "changed",
        "info",
    ) and "100 → 105 rows (+5)" in found.message
    silent = snapshot("c" * 64, rows=100, updated=NOW - timedelta(days=10))
    assert codes(changed_content(silent, before, LIMITS, NOW)) == ["changed-silently"]


def test_stale_data_with_a_configurable_age() -> None:
    assert stale_data(snapshot(updated=NOW - timedelta(days=365)), None, LIMITS, NOW) == []
    (found,) = stale_data(snapshot(updated=NOW - timedelta(days=800)), None, LIMITS, NOW)
    assert (
        found.code == "stale"
        and found.details["age_days"] == 800
        and "800 days ago" in found.message
    )
    tighter = Limits(stale_after=timedelta(days=2))
    assert codes(stale_data(snapshot(updated=NOW - timedelta(days=3)), None, tighter, NOW)) == [
        "stale"
    ]
    assert stale_data(snapshot(updated=None), None, LIMITS, NOW) == []
    assert stale_data(snapshot(status="gone"), None, LIMITS, NOW) == []


def test_schema_drift_added_removed_and_retyped_columns() -> None:
    before = snapshot(
        columns=(
            column("id", "integer"),
            column("valor", "integer"),
            column("old"),
            column("fecha", "timestamp"),
            column("blank", "empty"),
        ),
        declared={"id": "number", "valor": "number", "old": "text", "fecha": "calendar_date"},
    )
    after = snapshot(
        "b" * 64,
        columns=(
            column("id", "number"),
            column("valor", "text"),
            column("new"),
            column("fecha", "text"),
            column("blank", "integer"),
        ),
        declared={"id": "number", "valor": "text", "new": "text", "fecha": "calendar_date"},
    )
    found = schema_drift(after, before, LIMITS, NOW)
    assert codes(found) == [
        "column-added:new",
        "column-removed:old",
        "type-changed:valor",
        "values-changed-type:fecha",
    ]
    assert found[2].details == {
        "column": "valor",
        "from": "number",
        "to": "text",
        "source": "portal",
    }
    assert (
        schema_drift(after, None, LIMITS, NOW) == []
        and schema_drift(before, before, LIMITS, NOW) == []
    )


def test_quality_empty_malformed_nulls_duplicates_and_off_type_values() -> None:
    assert codes(quality(snapshot(rows=0), None, LIMITS, NOW)) == ["empty"]
    broken = snapshot(
        rows=10,
        problems=("ragged rows: 2 row(s) with more fields than the header (first at line 3)",),
    )
    assert codes(quality(broken, None, LIMITS, NOW)) == ["malformed:0"]
    noisy = snapshot(
        rows=100,
        duplicates=6,
        columns=(column("id", "integer"), column("x", "text", 0.95), column("valor", "text")),
        declared={"valor": "number"},
    )
    found = quality(noisy, None, LIMITS, NOW)
    assert codes(found) == ["mostly-null", "duplicates", "off-type:valor"]
    assert found[0].details["columns"] == ["x"] and "6 duplicate row(s): 6.0%" in found[1].message
    assert quality(snapshot(duplicates=5), None, LIMITS, NOW) == []


def test_availability() -> None:
    assert codes(availability(snapshot(status="gone"), None, LIMITS, NOW)) == ["gone"]
    assert codes(availability(snapshot(status="forbidden"), None, LIMITS, NOW)) == ["forbidden"]
    assert codes(availability(snapshot(), snapshot(status="gone"), LIMITS, NOW)) == ["back"]
    assert availability(snapshot(), snapshot(), LIMITS, NOW) == []


def test_snapshots_round_trip_and_findings_check_their_severity() -> None:
    original = snapshot(declared={"id": "number"})
    assert Snapshot.from_dict(original.to_dict()) == original
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", "no such severity")
