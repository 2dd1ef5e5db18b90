"""Positional reading and writing of the `;`/`|`-separated text files ADATRAP uses.

The parameter file names columns by 1-based position, so readers take a mapping field -> column
and return a frame of strings with one column per field. The separator is detected from the
first line; a header line is detected (and skipped) when the probe column of the first row is
not a value of the expected shape. Fields wrapped in double quotes in the first lines make the
file a quoted one, read without its quotes.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl

from cauce.textfiles import cr_line_ends, decode, utf16_without_bom

from ..errors import InputFileError

SEPARATORS = (";", "|", "\t", ",")
#: what separates the fields of the outputs, so never kept inside a value read (it becomes /)
OUTPUT_SEPARATOR = "|"
#: lines read to find a file's width (and the first for its separator and header)
HEAD_LINES = 16
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}:\d{2}")
QUOTE = '"'
LONE_CR = re.compile(rb"\r(?!\r?\n)")
NUL = b"\x00"
#: the reason a last line cut short is left out for
CUT_LAST_LINE = "last line cut short (fewer fields than the others)"

log = logging.getLogger(__name__)


def sniff_separator(first_line: str) -> str:
    """The separator that splits the first line into the most fields."""
    return max(SEPARATORS, key=first_line.count)


def utf8_bytes(data: bytes, encoding: str | None, name: str) -> bytes:
    """`data` as UTF-8 without a byte-order mark, the only text the CSV reader takes.

    The usual case costs one pass: ASCII (after a UTF-8 mark, if any) is returned as is. A
    file whose lines end in CR alone (no LF at all) gets LF line ends, the only ones the CSV
    reader splits at."""
    if encoding is None:
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        if data.isascii() and not utf16_without_bom(data):
            return _lf_line_ends(data)
    return _lf_line_ends(decode(data, encoding, name=name).encode("utf-8"))


def _cut_at(data: bytes, separator: str, width: int, last_wanted: int) -> int | None:
    """Where the last line starts when it is cut short before a wanted column ends: no line
    end after it, fewer fields than the file's width, and a wanted column (1-based, at most
    `last_wanted`) among the missing ones or the last one, cut too, as a copy or an export that
    stopped mid-line leaves it (a `C` of the 1.96 read as none, a stop name shortened)."""
    if data.endswith(b"\n"):
        return None
    start = data.rfind(b"\n") + 1
    fields = data.count(separator.encode(), start) + 1
    if start == 0 or fields >= width or fields > last_wanted:
        return None
    return start


def _without_nul(data: bytes, name: str) -> bytes:
    """`data` without its NUL bytes, saying how many in the log. A NUL is no character of a
    text value: inside a stop code, a plate or a card it made another one that matched nothing,
    and a row of the day went missing without a word."""
    if NUL not in data:
        return data
    log.warning("%s: %d NUL bytes removed (the file is damaged)", name, data.count(NUL))
    return data.replace(NUL, b"")


def _lf_line_ends(data: bytes) -> bytes:
    return data.replace(b"\r", b"\n") if cr_line_ends(data) else data


def _head_lines(data: bytes, count: int = HEAD_LINES) -> list[str]:
    """The first `count` lines, without their line ends."""
    lines: list[str] = []
    start = 0
    while len(lines) < count and start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        lines.append(data[start:end].decode("latin-1").rstrip("\r"))
        start = end + 1
    return lines


def _first_row_of_width(data: bytes, skip: int, separator: str, width: int,
                        quoted: bool = False) -> bytes:
    """`data` with its first row (after `skip` lines) given exactly `width` fields, the last
    column read: empty ones added when it is short, those past `width` left out when longer.

    The CSV reader takes a file's width from its first row: a short one (a truncated record)
    would cut every row after it to its width, and one of millions of separators (a damaged
    line) made every row that wide, until memory ran out. Only that row is touched; in a quoted
    file, not when its line ends inside quotes (a value holding a line break), and never cut
    (a separator may be inside quotes)."""
    start = 0
    for _ in range(skip):
        start = data.find(b"\n", start) + 1
        if start == 0:  # no line after the header
            return data
    if start >= len(data):  # nothing but the header
        return data
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    if end > start and data[end - 1:end] == b"\r":
        end -= 1
    if quoted and data.count(QUOTE.encode(), start, end) % 2:
        return data
    mark = separator.encode()
    missing = width - 1 - data.count(mark, start, end)
    if missing > 0:
        return data[:end] + mark * missing + data[end:]
    if missing == 0 or quoted:
        return data
    at = start
    for _ in range(width):
        at = data.index(mark, at, end) + 1
    return data[:at - 1] + data[end:]


def read_positional(
    source: Path | bytes,
    fields: dict[str, int | None],
    *,
    name: str,
    is_value: Callable[[str], bool] | None = None,
    probe: str | None = None,
    encoding: str | None = None,
    strip: bool = True,
    rejects: dict[str, int] | None = None,
    label: str = "",
    headers: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Read `fields` (1-based columns; None = absent) as strings.

    `probe` names the field whose first-row value decides whether the first line is a header:
    when `is_value(value)` is false, the line is a header. Absent fields become null columns.
    `encoding` None detects it (a byte-order mark, UTF-8, else the spreadsheet's single-byte
    encoding; see `cauce.textfiles`); CRLF line ends are read as LF. A last line cut short
    (see `_cut_at`) is left out: counted in `rejects` as `{label}: CUT_LAST_LINE` when given,
    else said in the log. `headers` (field -> the name a header gives it) makes a header that
    names another field's column where a field is read fail: columns saved in another order.
    """
    data = source.read_bytes() if isinstance(source, Path) else source
    data = _without_nul(utf8_bytes(data, encoding, name), name)
    # big inputs are not stripped of spaces (see `strip`), dictionaries are
    if not data.strip():
        return pl.DataFrame({field: pl.Series([], dtype=pl.String) for field in fields})
    head = _head_lines(data)
    separator = sniff_separator(head[0])
    quoted = _is_quoted(head, separator)
    head_rows = _split_lines(head, separator, quoted)
    cells = head_rows[0]
    has_header = False
    if probe is not None and is_value is not None:
        column = fields[probe]
        has_header = column is not None and (
            column > len(cells) or not is_value(cells[column - 1].strip()))
    wanted = {f: c for f, c in fields.items() if c is not None}
    if has_header and headers:
        _check_header(name, cells, wanted, headers)
    # the widest of the first lines: one short record among them does not narrow the file
    width = max(len(row) for row in head_rows)
    _check_width(name, width, separator, wanted)
    cut = _cut_at(data, separator, width, max(wanted.values()))
    if cut is not None:
        data = data[:cut]
        if rejects is None:
            log.warning("%s: %s, left out", name, CUT_LAST_LINE)
        else:
            reason = f"{label}: {CUT_LAST_LINE}"
            rejects[reason] = rejects.get(reason, 0) + 1
    data = _first_row_of_width(data, 1 if has_header else 0, separator,
                               max(wanted.values()), quoted)
    frame = _read_rows(data, separator, 1 if has_header else 0, quoted, name)
    if frame.height == 0:
        return pl.DataFrame({field: pl.Series([], dtype=pl.String) for field in fields})
    raw_names = frame.columns
    frame = frame.select([(pl.col(raw_names[c - 1]).str.strip_chars() if strip
                           else pl.col(raw_names[c - 1])).alias(f) for f, c in wanted.items()])
    last = next((f for f, c in wanted.items() if c == len(raw_names)), None)
    if not strip and last is not None and _ends_in_cr_cr_lf(data):
        # the reader takes one CR with the LF; the other stays on the last column's values
        frame = frame.with_columns(pl.col(last).str.strip_suffix("\r"))
    if _has_lone_cr(data):
        # a CR inside a value would end an output row for the readers that take CR as a line end
        frame = frame.with_columns(pl.all().str.replace_all("\r", " ", literal=True))
    if separator != OUTPUT_SEPARATOR and OUTPUT_SEPARATOR.encode() in data:
        # the outputs are `|`-separated without quoting: a `|` in a value would add a column
        frame = frame.with_columns(pl.all().str.replace_all(OUTPUT_SEPARATOR, "/", literal=True))
    for field, column in fields.items():
        if column is None:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(field))
    return frame.select(list(fields))


def _is_quoted(head: list[str], separator: str) -> bool:
    """Whether the first lines hold a field wrapped in double quotes, as spreadsheets, R's
    `write.csv2` and pandas' `QUOTE_ALL` write them (a stray quote wraps no field)."""
    return any(len(cell) >= 2 and cell.startswith(QUOTE) and cell.endswith(QUOTE)
               for line in head for cell in line.split(separator))


def _split_lines(lines: list[str], separator: str, quoted: bool) -> list[list[str]]:
    """The fields of `lines`, a quoted field taken whole (separator inside it included)."""
    if not quoted:
        return [line.split(separator) for line in lines]
    return [next(csv.reader([line], delimiter=separator), [""]) for line in lines]


def _read_rows(data: bytes, separator: str, skip: int, quoted: bool, name: str) -> pl.DataFrame:
    """Every row of `data` as string columns; quoted fields unquoted.

    A quoted file whose quotes do not pair up (a truncated or hand-edited line) is read again
    field by field at the separators, each field then stripped of its wrapping quotes: one bad
    line costs that line, not the file."""
    if quoted:
        try:
            frame = _read_csv(data, separator, skip, QUOTE)
        except pl.exceptions.PolarsError:
            return _read_csv(data, separator, skip, None).with_columns(_unquoted(pl.all()))
        # a line break inside quotes would end an output row in the middle
        return frame.with_columns(pl.all().str.replace_all(r"\r?\n|\r", " "))
    try:
        return _read_csv(data, separator, skip, None)
    except pl.exceptions.PolarsError as error:
        raise InputFileError(f"{name}: cannot be read as {separator!r}-separated text: "
                             f"{str(error).splitlines()[0]}") from None


def _read_csv(data: bytes, separator: str, skip: int, quote: str | None) -> pl.DataFrame:
    return pl.read_csv(
        io.BytesIO(data), separator=separator, has_header=False, infer_schema=False,
        quote_char=quote, truncate_ragged_lines=True, skip_rows=skip, raise_if_empty=False,
    )


def _unquoted(column: pl.Expr) -> pl.Expr:
    """A value wrapped in double quotes without them, doubled quotes inside made single."""
    inner = column.str.slice(1, column.str.len_chars() - 2).str.replace_all('""', QUOTE,
                                                                             literal=True)
    wrapped = (column.str.len_chars() >= 2) & column.str.starts_with(QUOTE) & \
        column.str.ends_with(QUOTE)
    return pl.when(wrapped).then(inner).otherwise(column)


def _ends_in_cr_cr_lf(data: bytes) -> bool:
    """Whether the first line ends in CR CR LF (a CRLF file converted to CRLF once more)."""
    end = data.find(b"\n")
    return end >= 2 and data[end - 2:end] == b"\r\r"


def _has_lone_cr(data: bytes) -> bool:
    """Whether `data` has a CR that ends no line (one not before LF, nor before CR LF as in a
    CRLF file converted once more)."""
    return b"\r" in data and LONE_CR.search(data) is not None


def _check_header(name: str, cells: list[str], wanted: dict[str, int],
                  headers: dict[str, str]) -> None:
    """A header naming another field at a wanted column (`longitud` where the latitude is
    read) means the columns were saved in another order: every row would be read wrong, or
    set aside for a reason that hides why."""
    field_of = {header.lower(): field for field, header in headers.items()}
    for field, column in wanted.items():
        found = cells[column - 1].strip() if column <= len(cells) else ""
        other = field_of.get(found.lower())
        if other is not None and other != field:
            raise InputFileError(
                f"{name}: its header names column {column} {found!r}, where the parameter file "
                f"reads {headers.get(field, field)!r}",
                hint="save the columns in the order of the app README, or change the column "
                     "numbers in the parameter file")


def _check_width(name: str, width: int, separator: str, wanted: dict[str, int]) -> None:
    """Every wanted column (1-based) must be among the `width` columns the file has."""
    too_far = {f: c for f, c in wanted.items() if c > width}
    if too_far:
        described = ", ".join(f"{f} (column {c})" for f, c in too_far.items())
        raise InputFileError(
            f"{name}: has {width} columns separated by {separator!r}, but the parameter file "
            f"expects {described}", hint="check the input layout flag and column numbers")


def positional_frame(frame: pl.DataFrame, positions: dict[str, int | None], *,
                     headers: dict[str, str]) -> pl.DataFrame:
    """Lay out `frame`'s columns at their 1-based positions, named by `headers`; other
    positions are empty columns named `C<n>`. Write it with `write_csv(separator=...)`."""
    placed = {c: f for f, c in positions.items() if c is not None}
    columns = []
    for position in range(1, max(placed) + 1):
        field = placed.get(position)
        if field is None:
            columns.append(pl.lit("").alias(f"C{position}"))
        else:
            columns.append(pl.col(field).cast(pl.String).fill_null("")
                           .alias(headers.get(field, field)))
    return frame.select(columns)


def decimal(column: str) -> pl.Expr:
    """A number column as Float64, null where unreadable. A decimal comma (`-33,45`, as a
    Spanish-locale spreadsheet saves a `;`-separated file) is read as the point."""
    return pl.col(column).str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)


def is_datetime_text(value: str) -> bool:
    return bool(DATETIME_RE.match(value))


def is_number_text(value: str) -> bool:
    """Whether `value` reads as a number, as `decimal` reads it (a decimal comma too)."""
    try:
        float(value.replace(",", ".", 1))
    except ValueError:
        return False
    return True
