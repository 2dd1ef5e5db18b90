"""What a local SODA portal serves: datasets described as Socrata describes them, on the wire.

`Dataset` is one asset: its catalogue fields, its `columns[]` (`ColumnSpec`: API field name,
display name, `dataTypeName`) and its rows as a typed Polars frame. `wire_frame` renders rows as
the SODA API sends them: every value text, numbers without thousands separators, dates as
floating timestamps (`2019-11-14T00:00:00.000`), null as nothing at all.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl

Generator = Callable[[np.random.Generator, int], pl.Series]
FLOATING_TIMESTAMP = "%Y-%m-%dT%H:%M:%S%.3f"


@dataclass(frozen=True)
class ColumnSpec:
    """One column as Socrata describes it in `/api/views/{id}.json`."""

    field: str
    name: str
    type: str  # dataTypeName: text, number, calendar_date, url, checkbox
    generate: Generator | None = field(default=None, compare=False, repr=False)


@dataclass
class Dataset:
    """A synthetic asset as a portal serves it: its catalogue fields, columns and rows."""

    id: str
    name: str
    owner: str
    category: str
    email: str
    kind: str
    columns: list[ColumnSpec]
    frame: pl.DataFrame
    created_at: int
    rows_updated_at: int
    description: str = ""
    type: str = "dataset"
    audience: str = "public"
    # fresh rows for `PortalState.change`: ``regenerate(rows, seed=...)``; None: resample these
    regenerate: Callable[..., pl.DataFrame] | None = field(default=None, compare=False, repr=False)

    @property
    def rows(self) -> int:
        return self.frame.height


def wire_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as the text the SODA API sends: floating timestamps, plain numbers, nulls."""
    out = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype.is_temporal():
            text = column.dt.strftime(FLOATING_TIMESTAMP)
        elif dtype.is_float():
            whole = column == column.round(0)
            text = (
                pl.when(whole)
                .then(column.cast(pl.Int64).cast(pl.String))
                .otherwise(column.cast(pl.String))
            )
        elif dtype == pl.Boolean:
            text = pl.when(column).then(pl.lit("true")).otherwise(pl.lit("false"))
        else:
            text = column.cast(pl.String)
        out.append(text.alias(name))
    return frame.select(out)


def csv_bytes(frame: pl.DataFrame, *, header: bool = True) -> bytes:
    """The table as a SODA CSV: values quoted, nulls empty, `\\n` line ends."""
    return wire_frame(frame).write_csv(include_header=header, quote_style="non_numeric").encode()


_ID_ALPHABET = np.array(list(string.ascii_lowercase + string.digits))


def asset_id(rng: np.random.Generator) -> str:
    """A Socrata "4x4" id such as ``jbjy-vk9h``."""
    letters = "".join(rng.choice(_ID_ALPHABET, size=8))
    return f"{letters[:4]}-{letters[4:]}"


def email_for(owner: str) -> str:
    slug = "".join(c for c in owner.lower() if c.isalnum())[:18] or "contacto"
    return f"datos@{slug}.gov.co"


def iso(epoch: int) -> str:
    """A floating timestamp for an epoch second, as Socrata writes dates."""
    return (datetime(1970, 1, 1) + timedelta(seconds=epoch)).strftime("%Y-%m-%dT%H:%M:%S.000")
