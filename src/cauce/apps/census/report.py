"""The census report: income share per breakdown, the class-distribution check, the load.

Figures come from the warehouse views (one bar chart per breakdown) and from the rows
themselves for the check against the Description's "Class Distribution": the share of the
first label (>50K) over all loaded rows and over the rows with no unknown value, rounded as the
Description rounds them (two decimals).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cauce import Warehouse
from cauce.apps.census.description import Description
from cauce.apps.census.schema import BREAKDOWNS, Breakdown, high_income_label, literal, view_name
from cauce.apps.census.schema import rejected_table as rejected_name
from cauce.reports import Section, bar_chart, write_report

if TYPE_CHECKING:  # the loader imports Polars; the report only reads its state
    from cauce.apps.census.loader import LoadState

QUARANTINE_SHOWN = 20


@dataclass(frozen=True)
class ShareCheck:
    """One of the Description's figures next to the measured one."""

    label: str
    rows: int
    matching: int
    stated: float  # percent, as written in the Description

    @property
    def measured(self) -> float | None:
        """The share in percent; None without a row to measure it on (a load whose every
        record went to quarantine holds no share, not 0 %)."""
        return 100 * self.matching / self.rows if self.rows else None

    @property
    def matches(self) -> bool:
        return self.measured is not None and round(self.measured, 2) == self.stated

    def sentence(self) -> str:
        stated = f"the Description says {self.stated:.2f} %"
        if self.measured is None:
            return f"{self.label}: no row to measure it on; {stated}"
        difference = self.measured - self.stated
        verdict = "matches" if self.matches else f"differs by {difference:+.2f} points"
        return (
            f"{self.label}: {self.measured:.2f} % ({self.matching:,} of {self.rows:,} rows); "
            f"{stated}, {verdict}"
        )


def class_checks(warehouse: Warehouse, description: Description, table: str) -> list[ShareCheck]:
    """The >50K share on all rows and on rows without unknowns, against the Description."""
    quote = warehouse.quote
    label = high_income_label(description)
    high = f"{quote(description.class_column)} = {literal(label)}"
    known = " AND ".join(f"{quote(name)} IS NOT NULL" for name in description.names)
    counts = warehouse.query(
        f"SELECT CAST(COUNT(*) AS BIGINT) AS all_rows,"
        f" CAST(SUM(CASE WHEN {high} THEN 1 ELSE 0 END) AS BIGINT) AS all_high,"
        f" CAST(SUM(CASE WHEN {known} THEN 1 ELSE 0 END) AS BIGINT) AS known_rows,"
        f" CAST(SUM(CASE WHEN {known} AND {high} THEN 1 ELSE 0 END) AS BIGINT) AS known_high"
        f" FROM {quote(table)}"
    ).to_pylist()[0]
    share = description.share(label)
    return [
        ShareCheck(f"{label} on all rows", counts["all_rows"], counts["all_high"] or 0,
                   share.all_rows),
        ShareCheck(f"{label} without unknowns", counts["known_rows"] or 0,
                   counts["known_high"] or 0, share.without_unknowns),
    ]


def breakdown_rows(warehouse: Warehouse, table: str, breakdown: Breakdown) -> list[dict[str, Any]]:
    """The rows of one income-share view, in band order or by falling share."""
    rows = warehouse.query(f"SELECT * FROM {warehouse.quote(view_name(table, breakdown.name))}")
    rows = rows.to_pylist()
    if breakdown.bands:
        order = {band.label: index for index, band in enumerate(breakdown.bands)}
        return sorted(rows, key=lambda row: order.get(row[breakdown.name], len(order)))
    return sorted(rows, key=lambda row: -row["share_over_50k"])


def write_census_report(
    folder: str | Path,
    warehouse: Warehouse,
    description: Description,
    table: str,
    state: LoadState,
) -> list[ShareCheck]:
    """Write `index.html` and one SVG per breakdown into `folder`; return the class checks."""
    checks = class_checks(warehouse, description, table)
    breakdowns, quarantine = warehouse_sections(warehouse, table)
    sections = [
        Section("Class distribution", html=_checks_html(checks)),
        *breakdowns,
        _load_section(state),
        quarantine,
    ]
    write_report(folder, f"Census: share of incomes above 50K in {table}", sections,
                 subtitle="the Adult files loaded by the cauce census app")
    return checks


def warehouse_sections(warehouse: Warehouse, table: str) -> tuple[list[Section], Section]:
    """What the warehouse alone shows (the report's and the live dashboard's): one chart per
    breakdown, and the quarantine."""
    return ([_breakdown_section(warehouse, table, breakdown) for breakdown in BREAKDOWNS],
            _quarantine_section(warehouse, table))


def _breakdown_section(warehouse: Warehouse, table: str, breakdown: Breakdown) -> Section:
    rows = breakdown_rows(warehouse, table, breakdown)
    labels = [row[breakdown.name] if row[breakdown.name] is not None else "unknown" for row in rows]
    shares = [100 * row["share_over_50k"] for row in rows]
    title = f"Share above 50K by {breakdown.name.replace('_', ' ')}"
    chart = bar_chart(title, labels, shares, value_title="share above 50K (%)",
                      number_format=".1f", suffix=" %")
    note = (
        f"<p class=meta>From the view <code>{html.escape(view_name(table, breakdown.name))}</code>"
        f" over {sum(row['rows'] for row in rows):,} rows.</p>"
    )
    return Section(title, html=note, charts={f"by_{breakdown.name}.svg": chart})


def _checks_html(checks: list[ShareCheck]) -> str:
    items = "".join(
        f"<li>{'&#10003;' if check.matches else '&#10007;'} {html.escape(check.sentence())}</li>"
        for check in checks
    )
    return f"<ul>{items}</ul>"


def _load_section(state: LoadState) -> Section:
    totals = state.totals
    if state.done:
        status = "complete"
    elif state.cursor is not None:
        status = f"in progress, up to {state.cursor.source} line {state.cursor.line:,}"
    else:
        status = "not started"
    reasons = "".join(
        f"<li>{html.escape(reason)}: {count:,}</li>" for reason, count in totals.reasons.items()
    )
    summary = (
        f"<p>Load {html.escape(status)}: {totals.read:,} records read, {totals.loaded:,} loaded "
        f"({totals.duplicates:,} flagged as exact duplicates), {totals.quarantined:,} "
        f"quarantined.</p>" + (f"<ul>{reasons}</ul>" if reasons else "")
    )
    files = [
        {"file": name, "read": counts["read"], "loaded": counts["loaded"],
         "quarantined": counts["quarantined"]}
        for name, counts in totals.files.items()
    ]
    return Section("Load", html=summary, table=files)


def _quarantine_section(warehouse: Warehouse, table: str) -> Section:
    quote = warehouse.quote
    name = rejected_name(table)
    found = warehouse.query(
        f"SELECT {quote('_source')} AS file, {quote('_line')} AS line, {quote('reason')} AS reason"
        f" FROM {quote(name)} ORDER BY 1, 2 LIMIT {QUARANTINE_SHOWN}"
    ).to_pylist()
    rows = [{**row, "line": str(row["line"])} for row in found]  # a line number, not a count
    note = (
        f"<p class=meta>The first {QUARANTINE_SHOWN} rows of <code>{html.escape(name)}</code>, "
        f"which also keeps each raw line.</p>"
        if rows else "<p>No record was quarantined.</p>"
    )
    return Section("Quarantine", html=note, table=rows or None)
