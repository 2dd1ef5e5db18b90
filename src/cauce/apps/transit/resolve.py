"""Which object of each input bucket serves a processing day (the original's rules, section 1.4).

- service detail: `Diccionario-DetalleServicioZP_YYYYMMDD_YYYYMMDD.csv.gz`, the first file (sorted)
  whose inclusive date range contains the day; no fallback to the latest file.
- gps, 196, transactions: `YYYY-MM-DD.gps.gz`, `YYYY-MM-DD.196.gz`, `YYYY-MM-DD.trx.gz` by the
  day's exact name (the original matched any key containing the date; that defect is not copied).
- po: `YYYY-MM-DD.po.zip` with the latest date on or before the day; other keys are ignored (the
  original failed on any other object in that bucket).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from .errors import MissingInputs

SERVICE_DETAIL = "service_detail"
GPS = "gps"
RUNS = "196"
TRANSACTIONS = "trx"
PO = "po"

#: input kinds in the original's processing order
INPUT_KINDS = (SERVICE_DETAIL, GPS, RUNS, TRANSACTIONS, PO)

_PO_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})\.po\.zip$")
_DETAIL_KEY = re.compile(r"^Diccionario-DetalleServicioZP_(\d{8})_(\d{8})\.csv\.gz$")


def daily_key(day: date, kind: str) -> str:
    """The object name of a per-day input: `2021-04-22.gps.gz`."""
    return f"{day.isoformat()}.{kind}.gz"


def po_key(day: date) -> str:
    return f"{day.isoformat()}.po.zip"


def service_detail_key(start: date, end: date) -> str:
    return f"Diccionario-DetalleServicioZP_{start:%Y%m%d}_{end:%Y%m%d}.csv.gz"


def _parse_day(text: str, fmt: str) -> date | None:
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def resolve_po(keys: list[str], day: date) -> str | None:
    """The po.zip with the latest date on or before `day`, or None."""
    best: tuple[date, str] | None = None
    for key in keys:
        match = _PO_KEY.match(key)
        po_day = _parse_day(match.group(1), "%Y-%m-%d") if match else None
        if po_day is not None and po_day <= day and (best is None or po_day > best[0]):
            best = (po_day, key)
    return best[1] if best else None


def po_date_of(key: str) -> date:
    """The validity start date in a po key (`2020-06-27.po.zip`)."""
    match = _PO_KEY.match(key)
    if not match:
        raise ValueError(f"not a po key: {key}")
    return date.fromisoformat(match.group(1))


def resolve_service_detail(keys: list[str], day: date) -> str | None:
    """The first service-detail file (sorted by name) whose inclusive range holds `day`."""
    for key in sorted(keys):
        match = _DETAIL_KEY.match(key)
        if not match:
            continue
        start = _parse_day(match.group(1), "%Y%m%d")
        end = _parse_day(match.group(2), "%Y%m%d")
        if start is not None and end is not None and start <= day <= end:
            return key
    return None


def resolve_daily(keys: list[str], day: date, kind: str) -> str | None:
    """The per-day file of `kind` named exactly after the day."""
    wanted = daily_key(day, kind)
    return wanted if wanted in keys else None


@dataclass(frozen=True)
class ResolvedInputs:
    """The object key chosen in each input bucket for one day."""

    day: date
    keys: dict[str, str]

    @property
    def po_date(self) -> date:
        return po_date_of(self.keys[PO])


def resolve_inputs(listings: dict[str, tuple[str, list[str]]], day: date) -> ResolvedInputs:
    """Choose every input of `day`; listings maps kind -> (bucket name, keys in that bucket).

    Raises MissingInputs naming every missing input and its bucket, before any work is done.
    """
    chosen: dict[str, str] = {}
    missing: list[str] = []
    for kind in INPUT_KINDS:
        bucket, keys = listings[kind]
        if kind == PO:
            key = resolve_po(keys, day)
            wanted = f"a YYYY-MM-DD.po.zip dated on or before {day.isoformat()}"
        elif kind == SERVICE_DETAIL:
            key = resolve_service_detail(keys, day)
            wanted = f"a Diccionario-DetalleServicioZP_*_*.csv.gz whose range holds {day:%Y%m%d}"
        else:
            key = resolve_daily(keys, day, kind)
            wanted = daily_key(day, kind)
        if key is None:
            missing.append(f"{kind} ({wanted}) in bucket '{bucket}'")
        else:
            chosen[kind] = key
    if missing:
        raise MissingInputs(
            f"no input for {day.isoformat()}: " + "; ".join(missing),
            hint="upload the files, or generate a day with `cauce run transit synth`")
    return ResolvedInputs(day, chosen)
