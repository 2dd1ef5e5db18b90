"""ADATRAP output files: a vectorised writer in the exact layouts, and a reader.

All outputs are `|`-separated text with a header line, `-` for a value that is missing or that
the engine cannot compute (NaN included), each column in the text form its layout gives
(layouts.py). The writer takes typed frames (integers, floats, date-times, text) and turns each
column into what Polars' CSV writer prints fastest, in native code and in parallel: fixed
decimals become Decimals of that scale, date-times text gathered from a table of every second
they span, and the `%.10g`-style columns text printed by DuckDB's `printf` (C semantics).
The same reader opens our files and the real samples (it drops the empty name a trailing `|`
leaves and tolerates CRLF line ends).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import duckdb
import polars as pl

from .layouts import DATETIME, DATETIME_FORMAT, DECIMALS, INT, LAYOUTS, NULL, SIGNIFICANT, Layout
from .zipping import DeflatingFile

#: values nearer zero than this print as 0 in the `g` forms (sums that cancel leave ~1e-16)
G_ZERO = 1e-9

Frames = pl.DataFrame | pl.LazyFrame | Iterable[pl.DataFrame | pl.LazyFrame]


def write_output(frame: Frames, kind: str, path: Path, *, deflate_to: Path | None = None) -> int:
    """Write `frame` in the layout of `kind`; absent columns and nulls become `-`.

    `frame` may be an iterable of parts (e.g. one per group of cards): each is collected,
    written and dropped in turn, so a whole day's text never sits in memory at once. With
    `deflate_to`, the text is also deflated as it is written (in a thread), ready to be stored
    in the day's zip without compressing it again. Returns the number of data rows."""
    layout = LAYOUTS[kind]
    parts = [frame] if isinstance(frame, pl.DataFrame | pl.LazyFrame) else frame
    out: BinaryIO = DeflatingFile(path, deflate_to) if deflate_to else path.open("wb")
    rows = 0
    with out:
        out.write(("|".join(layout.header) + "\n").encode("utf-8"))
        for part in parts:
            laid = lay_out(part, layout)
            laid.write_csv(out, separator="|", include_header=False, quote_style="never",
                           null_value=NULL, datetime_format=DATETIME_FORMAT)
            rows += laid.height
    return rows


def lay_out(frame: pl.DataFrame | pl.LazyFrame, layout: Layout) -> pl.DataFrame:
    """`frame`'s columns in the layout's order, in the types the writer prints fastest: fixed
    decimals as Decimal, date-times and `g` forms already as text (text stays text)."""
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    columns = []
    for i, (name, form) in enumerate(layout.columns):
        dtype = schema.get(name)
        if dtype is None:
            columns.append(pl.lit(None, pl.String).alias(f"c{i}"))
        elif dtype.is_numeric() and form in DECIMALS:
            # rounded as Polars rounds, then a Decimal of that scale: printed with exactly its
            # decimals, ~15 times faster than the writer's float_precision; -0 and NaN are not
            # written (0 and `-`)
            rounded = pl.col(name).cast(pl.Float64).fill_nan(None).round(DECIMALS[form])
            columns.append(pl.when(rounded == 0).then(0.0).otherwise(rounded).cast(
                pl.Decimal(38, DECIMALS[form])).alias(f"c{i}"))
        elif dtype.is_numeric() and form in SIGNIFICANT:
            value = pl.col(name).cast(pl.Float64).fill_nan(None)
            columns.append(pl.when(value.abs() < G_ZERO).then(0.0).otherwise(value)
                           .alias(f"c{i}"))
        elif dtype.is_float() and form == INT:
            columns.append(pl.col(name).fill_nan(None).round(0).cast(pl.Int64).alias(f"c{i}"))
        elif form == DATETIME and dtype == pl.Date:
            columns.append(pl.col(name).cast(pl.Datetime("ms")).alias(f"c{i}"))
        else:
            columns.append(pl.col(name).alias(f"c{i}"))
    if layout.trailing:
        columns.append(pl.lit("").alias("trail"))
    laid = lazy.select(columns).collect()
    return _print_significant(_print_datetimes(laid), layout)


#: date-times spanning at most this many seconds are printed from a table of every second
_DATETIME_TABLE_SPAN = 4 * 86400


def _print_datetimes(laid: pl.DataFrame) -> pl.DataFrame:
    """Date-time columns as `YYYY-MM-DD HH:MM:SS` text, gathered from a table of every second
    they span (a few days): the writer copies text several times faster than it formats
    date-times. Beyond that span they stay date-times for the writer to format."""
    chosen = [c for c, dtype in laid.schema.items() if isinstance(dtype, pl.Datetime)]
    if not chosen or laid.is_empty():
        return laid
    seconds = laid.select(pl.col(chosen).dt.epoch("ms") // 1000)
    low = seconds.select(pl.min_horizontal(pl.all().min())).item()
    high = seconds.select(pl.max_horizontal(pl.all().max())).item()
    if low is None or high - low >= _DATETIME_TABLE_SPAN:
        return laid
    table = pl.select(pl.datetime_range(pl.from_epoch(pl.lit(low), "s"),
                                        pl.from_epoch(pl.lit(high), "s"), "1s")
                      .dt.strftime(DATETIME_FORMAT)).to_series()
    return laid.with_columns(pl.lit(table).gather(seconds[c] - low).alias(c) for c in chosen)


def _print_significant(laid: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Float columns of the `g` forms as text, as C's `printf("%.<n>g")` prints them."""
    chosen = {f"c{i}": SIGNIFICANT[form] for i, (_, form) in enumerate(layout.columns)
              if form in SIGNIFICANT and laid.schema[f"c{i}"].is_float()}
    if not chosen or laid.is_empty():
        return laid.with_columns(pl.col(c).cast(pl.String) for c in chosen)
    # a column equal to one printed already (the profile's corrected counts repeat the expanded
    # ones) is copied, not printed again: printf is most of the cost
    same: dict[str, str] = {}
    for column, digits in chosen.items():
        same[column] = next((c for c in same if same[c] == c and chosen[c] == digits
                             and laid[c].equals(laid[column])), column)
    select = ", ".join(f"printf('%.{chosen[c]}g', {c}) AS {c}" for c in same if same[c] == c)
    with duckdb.connect() as con:
        con.register("floats", laid.select([c for c in same if same[c] == c]))
        printed = con.sql(f"SELECT {select} FROM floats").pl()
    return laid.with_columns(printed).with_columns(
        pl.col(original).alias(copy) for copy, original in same.items() if copy != original)


def read_output(source: Path | bytes) -> pl.DataFrame:
    """Any `|`-separated ADATRAP output (ours or a real sample) as strings with its header."""
    data = source.read_bytes() if isinstance(source, Path) else source
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    lines = text.split("\n", 1)
    header = lines[0].split("|")
    if header and header[-1] == "":
        header = header[:-1]
    body = lines[1] if len(lines) > 1 else ""
    if not body.strip():
        return pl.DataFrame({name: pl.Series([], dtype=pl.String) for name in header})
    frame = pl.read_csv(io.BytesIO(body.encode("utf-8")), separator="|", has_header=False,
                        infer_schema=False, quote_char=None, truncate_ragged_lines=True)
    frame = frame.select(frame.columns[: len(header)])
    names = [name if name else f"_{i}" for i, name in enumerate(header[: frame.width])]
    return frame.rename(dict(zip(frame.columns, _dedupe(names), strict=True)))


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        out.append(name if count == 0 else f"{name}_{count}")
        seen[name] = count + 1
    return out
