"""The catalogue report: what the last harvest of each dataset found, as an HTML page with charts.

Built from table items (each dataset's latest version, and the alerts) with `cauce.reports`.
An alert is *open* while the dataset's latest version is the content it was raised on (the same
hash, or the same unavailability); a newer harvest with other content closes it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cauce.reports import Section, bar_chart, write_report

SEVERITY_ORDER = ("error", "warning", "info")
FRESHNESS = (
    (30, "under 30 days"),
    (90, "30–90 days"),
    (365, "90 days – 1 year"),
    (730, "1–2 years"),
)


def latest_versions(versions: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Each dataset's most recent version."""
    latest: dict[str, Mapping[str, Any]] = {}
    for item in versions:
        if item["ID"] not in latest or item["TIME"] > latest[item["ID"]]["TIME"]:
            latest[item["ID"]] = item
    return latest


def open_alerts(
    alerts: Iterable[Mapping[str, Any]], latest: Mapping[str, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Alerts raised on the content each dataset has now."""
    found = [
        a
        for a in alerts
        if a["ID"] in latest
        and a.get("HASH") == latest[a["ID"]].get("HASH")
        and (a.get("HASH") is not None or latest[a["ID"]]["STATUS"] != "ok")
    ]
    return sorted(
        found,
        key=lambda a: (SEVERITY_ORDER.index(a["SEVERITY"]), a["ID"], a["ALERT"]),
    )


def freshness(rows_updated_at: int | None, now: datetime) -> str:
    if rows_updated_at is None:
        return "unknown"
    days = (now - datetime.fromtimestamp(rows_updated_at, UTC)).days
    return next((label for limit, label in FRESHNESS if days < limit), "over 2 years")


def write_catalogue_report(
    folder: str | Path,
    versions: Iterable[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    stale_after: timedelta,
) -> Path:
    """Write the report into ``folder``; returns the path of its index.html."""
    sections = catalogue_sections(versions, alerts, now=now, stale_after=stale_after)
    subtitle = f"Generated {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC from tables versions and alerts"
    return write_report(folder, "Open data catalogue", sections, subtitle=subtitle)


def catalogue_sections(
    versions: Iterable[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    stale_after: timedelta,
) -> list[Section]:
    """The report's sections (also the app's live dashboard): summary, charts, alerts,
    catalogue."""
    latest = latest_versions(versions)
    current = open_alerts(alerts, latest)
    per_dataset = Counter(a["ID"] for a in current)
    items = sorted(latest.values(), key=lambda v: (v["CATEGORY"], v["NAME"]))
    by_category = Counter(v["CATEGORY"] or "(none)" for v in items)
    by_owner = Counter(v["OWNER"] or "(none)" for v in items)
    size_by_category: defaultdict[str, float] = defaultdict(float)
    for v in items:
        size_by_category[v["CATEGORY"] or "(none)"] += (v.get("SIZE") or 0) / 1e6
    fresh = Counter(freshness(v.get("ROWS_UPDATED_AT"), now) for v in items if v["STATUS"] == "ok")
    fresh_order = [label for _, label in FRESHNESS] + ["over 2 years", "unknown"]
    statuses = Counter(v["STATUS"] for v in items)
    severities = Counter(a["SEVERITY"] for a in current)
    by_criterion = Counter(a["CRITERION"] for a in current)

    def chart(
        title: str,
        counts: Mapping[str, float],
        *,
        order: list[str] | None = None,
        top: int = 15,
        number_format: str = ",.0f",
    ) -> Any:
        keys = (
            [k for k in order if k in counts]
            if order
            else [k for k, _ in Counter(counts).most_common(top)]
        )
        return bar_chart(title, keys, [counts[k] for k in keys], number_format=number_format)

    rows = sum(v.get("ROWS") or 0 for v in items)
    megabytes = sum(v.get("SIZE") or 0 for v in items) / 1e6
    by_severity = ", ".join(f"{n} {s}" for s, n in sorted(severities.items())) or "none"
    summary = (
        f"<p>{_counted(len(items), 'dataset')} ({statuses.get('ok', 0):,} served, "
        f"{statuses.get('gone', 0):,} gone, {statuses.get('forbidden', 0):,} forbidden); "
        f"{rows:,} rows, {megabytes:,.1f} MB; "
        f"{_counted(len(current), 'open alert')} ({by_severity}). "
        f"Stale means data older than {stale_after.days:,} days.</p>"
    )
    catalogue_rows = [
        {
            "id": v["ID"],
            "name": v["NAME"],
            "owner": v["OWNER"],
            "category": v["CATEGORY"],
            "status": v["STATUS"],
            "change": v["CHANGE"],
            "rows": v.get("ROWS"),
            "MB": round((v.get("SIZE") or 0) / 1e6, 2),
            "data updated": _date(v.get("ROWS_UPDATED_AT")),
            "harvested": v["TIME"][:19].replace("T", " "),
            "open alerts": per_dataset.get(v["ID"], 0),
        }
        for v in items
    ]
    alert_rows = [
        {
            "id": a["ID"],
            "dataset": a.get("NAME", ""),
            "criterion": a["CRITERION"],
            "severity": a["SEVERITY"],
            "message": a["MESSAGE"],
        }
        for a in current
    ]
    return [
        Section("Summary", html=summary),
        Section(
            "Datasets by category",
            charts={
                "by-category": chart("Datasets by category", by_category),
                "size-by-category": chart(
                    "Size by category (MB)", size_by_category, number_format=",.1f"
                ),
            },
        ),
        Section(
            "Datasets by owner", charts={"by-owner": chart("Datasets by owner (top 15)", by_owner)}
        ),
        Section(
            "Freshness",
            html="<p class=meta>Time since the portal's rowsUpdatedAt.</p>",
            charts={"freshness": chart("Datasets by age of their data", fresh, order=fresh_order)},
        ),
        Section(
            "Open alerts",
            charts={"alerts": chart("Open alerts by criterion", by_criterion)} if current else {},
            table=alert_rows,
        ),
        Section("Catalogue", table=catalogue_rows),
    ]


def _counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, the noun in the plural unless there is exactly one."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _date(epoch: int | None) -> str:
    return "" if epoch is None else f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d}"
