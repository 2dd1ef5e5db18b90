"""The criteria: pure functions over a dataset's current and previous harvested versions.

Each takes the two `Snapshot`s (the previous one is None for a dataset seen for the first time),
the `Limits` and the time, and returns `Finding`s; it reads no files and writes nothing, so it
is tested with plain values. The app runs each as a subscriber of topic `dataset-events` and
stores what it finds in table `alerts`.

- `changed_content`: the bytes changed since the previous version (and whether the portal's
  `rowsUpdatedAt` moved with them).
- `stale_data`: `rowsUpdatedAt` older than `Limits.stale_after`.
- `schema_drift`: columns added, removed, or of another type (the portal's declared type when
  both versions have it, else the inferred one; numbers and integers count as one family, and an
  all-null column matches any type).
- `quality`: an empty or malformed file, mostly-null columns, too many duplicate rows, values
  that do not fit their column's type.
- `availability`: the dataset answered 404 (gone) or 403 (forbidden), or is back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cauce.apps.opendata.profile import Profile

SEVERITIES = ("info", "warning", "error")
_FAMILY = {
    "integer": "number",
    "number": "number",
    "timestamp": "timestamp",
    "boolean": "boolean",
    "text": "text",
    "url": "text",
    "calendar_date": "timestamp",
    "checkbox": "boolean",
}


@dataclass(frozen=True)
class Snapshot:
    """One harvested version of a dataset: its profile and what the portal said about it."""

    dataset: str
    version: str  # the harvest's time, ISO 8601 UTC
    status: str = "ok"  # ok | gone | forbidden
    profile: Profile | None = None
    rows_updated_at: int | None = None  # epoch seconds, from /api/views/{id}.json
    declared: Mapping[str, str] = field(default_factory=dict)  # fieldName -> dataTypeName

    @property
    def hash(self) -> str | None:
        return self.profile.sha256 if self.profile else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "status": self.status,
            "profile": self.profile.to_dict() if self.profile else None,
            "rows_updated_at": self.rows_updated_at,
            "declared": dict(self.declared),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        profile = data.get("profile")
        return cls(
            dataset=data["dataset"],
            version=data["version"],
            status=data.get("status", "ok"),
            profile=Profile.from_dict(profile) if profile else None,
            rows_updated_at=data.get("rows_updated_at"),
            declared=dict(data.get("declared") or {}),
        )


@dataclass(frozen=True)
class Limits:
    """Thresholds of the criteria (app settings)."""

    stale_after: timedelta = timedelta(days=365)
    mostly_null: float = 0.95
    duplicate_share: float = 0.05


@dataclass(frozen=True)
class Finding:
    """Something a criterion noticed. ``code`` is unique within the criterion for one version."""

    code: str
    severity: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")


def changed_content(
    current: Snapshot, previous: Snapshot | None, limits: Limits, now: datetime
) -> list[Finding]:
    """The content changed since the previous harvest."""
    if (
        previous is None
        or current.profile is None
        or previous.profile is None
        or current.hash == previous.hash
    ):
        return []
    before, after = previous.profile, current.profile
    details = {
        "previous_hash": before.sha256,
        "hash": after.sha256,
        "rows": [before.rows, after.rows],
        "size": [before.size, after.size],
    }
    delta = after.rows - before.rows
    message = (
        f"content changed: {before.rows:,} → {after.rows:,} rows ({delta:+,}), "
        f"{before.size:,} → {after.size:,} bytes"
    )
    if current.rows_updated_at is not None and current.rows_updated_at == previous.rows_updated_at:
        return [
            Finding(
                "changed-silently",
                "warning",
                message + ", but the portal's rowsUpdatedAt did not move",
                details,
            )
        ]
    return [Finding("changed", "info", message, details)]


def stale_data(
    current: Snapshot, previous: Snapshot | None, limits: Limits, now: datetime
) -> list[Finding]:
    """The portal says the rows were last updated longer ago than allowed."""
    if current.status != "ok" or current.rows_updated_at is None:
        return []
    updated = datetime.fromtimestamp(current.rows_updated_at, UTC)
    age = now - updated
    if age <= limits.stale_after:
        return []
    return [
        Finding(
            "stale",
            "warning",
            f"data last updated {age.days:,} days ago ({updated:%Y-%m-%d}); the limit is "
            f"{limits.stale_after.days:,} days",
            {
                "rows_updated_at": updated.isoformat(),
                "age_days": age.days,
                "limit_days": limits.stale_after.days,
            },
        )
    ]


def schema_drift(
    current: Snapshot, previous: Snapshot | None, limits: Limits, now: datetime
) -> list[Finding]:
    """Columns added, removed or retyped since the previous version."""
    if previous is None or current.profile is None or previous.profile is None:
        return []
    old = {c.name: c for c in previous.profile.columns}
    new = {c.name: c for c in current.profile.columns}
    findings = [
        Finding(f"column-added:{name}", "info", f"column {name!r} was added", {"column": name})
        for name in new
        if name not in old
    ]
    findings += [
        Finding(
            f"column-removed:{name}", "warning", f"column {name!r} was removed", {"column": name}
        )
        for name in old
        if name not in new
    ]
    for name in (n for n in new if n in old):
        before, after = previous.declared.get(name), current.declared.get(name)
        inferred = (old[name].type, new[name].type)
        if before and after and before != after:
            findings.append(
                Finding(
                    f"type-changed:{name}",
                    "warning",
                    f"column {name!r} changed type: {before} → {after} (declared by the portal)",
                    {"column": name, "from": before, "to": after, "source": "portal"},
                )
            )
        elif "empty" not in inferred and _FAMILY[inferred[0]] != _FAMILY[inferred[1]]:
            findings.append(
                Finding(
                    f"values-changed-type:{name}",
                    "warning",
                    f"column {name!r} now holds {inferred[1]} values, not {inferred[0]}",
                    {"column": name, "from": inferred[0], "to": inferred[1], "source": "inferred"},
                )
            )
    return findings


def quality(
    current: Snapshot, previous: Snapshot | None, limits: Limits, now: datetime
) -> list[Finding]:
    """Empty or malformed files, mostly-null columns, duplicate rows, values off their type."""
    profile = current.profile
    if profile is None:
        return []
    findings = [
        Finding(f"malformed:{index}", "error", f"malformed CSV: {problem}", {"problem": problem})
        for index, problem in enumerate(profile.problems)
    ]
    if profile.rows == 0:
        findings.append(
            Finding("empty", "error", "the dataset has no rows", {"size": profile.size})
        )
        return findings
    nullish = [c.name for c in profile.columns if c.null_share >= limits.mostly_null]
    if nullish:
        findings.append(
            Finding(
                "mostly-null",
                "warning",
                f"{len(nullish)} of {len(profile.columns)} column(s) at least "
                f"{limits.mostly_null:.0%} null: "
                + ", ".join(nullish[:10])
                + (" …" if len(nullish) > 10 else ""),
                {"columns": nullish, "limit": limits.mostly_null},
            )
        )
    if profile.duplicate_share > limits.duplicate_share:
        findings.append(
            Finding(
                "duplicates",
                "warning",
                f"{profile.duplicate_rows:,} duplicate row(s): {profile.duplicate_share:.1%} "
                f"of {profile.rows:,} (limit {limits.duplicate_share:.0%})",
                {"duplicate_rows": profile.duplicate_rows, "share": profile.duplicate_share},
            )
        )
    for column in profile.columns:
        declared = current.declared.get(column.name)
        if (
            declared
            and _FAMILY.get(declared) == "number"
            and column.type not in ("integer", "number", "empty")
        ):
            findings.append(
                Finding(
                    f"off-type:{column.name}",
                    "warning",
                    f"column {column.name!r} is declared {declared} but holds {column.type} values",
                    {"column": column.name, "declared": declared, "inferred": column.type},
                )
            )
    return findings


def availability(
    current: Snapshot, previous: Snapshot | None, limits: Limits, now: datetime
) -> list[Finding]:
    """The portal no longer serves the dataset (404/403), or serves it again."""
    if current.status == "gone":
        return [
            Finding("gone", "error", "the portal answers 404: the dataset is gone", {"status": 404})
        ]
    if current.status == "forbidden":
        return [
            Finding(
                "forbidden",
                "error",
                "the portal answers 403: the dataset is withdrawn or restricted",
                {"status": 403},
            )
        ]
    if previous is not None and previous.status != "ok":
        return [
            Finding(
                "back", "info", f"the dataset is available again (it was {previous.status})", {}
            )
        ]
    return []
