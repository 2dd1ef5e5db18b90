"""Profile a CSV file: digest, size, rows, and every column's type, nulls, distinct values, range.

The work is one DuckDB scan. The file is read with every column as text; a sample of the first
rows proposes a type per column (integer, number, timestamp, boolean, else text), and the full
scan then counts, for each column, its non-null values, an approximate distinct count
(HyperLogLog), and — only for the proposed type — how many values parse, with their minimum and
maximum. Casting only where the sample says it may succeed keeps the scan above 100 MB/s
per core; a value that does not parse demotes the column to text and is counted as
non-conforming. Exact duplicate rows are counted by a 64-bit hash of the whole row.

A malformed file never raises: an empty or binary file, a header that cannot be read, ragged
rows (too many or too few fields), an unterminated quote, stray NUL bytes in the text, bytes
that are not UTF-8, UTF-16 text (with a byte-order mark or without, either byte order: read as
UTF-16 all the same) each become a line in ``Profile.problems``, and rows DuckDB could not parse
are counted in ``rejected_rows``. A carriage return inside an unquoted value (or lines ending CR
CR LF) stops DuckDB's reader for the whole file: the profile then has no rows and a problem
naming that line. So does a header that does not split as CSV (`"id";"nombre"`), after
which DuckDB skips every line without rejecting one.

A file that is not UTF-8 is cp1252 (Excel's "CSV" on Western-European Windows) when every byte
is one cp1252 defines, else Latin-1 (`cauce.textfiles`' rule, judged over the whole file in the
read that computes the digest). DuckDB has neither (its "latin-1" refuses the bytes 0x80-0x9F),
nor big-endian UTF-16, so such a file is transcoded to a temporary UTF-8 copy, which is scanned
and then removed; the digest, size and line numbers are the original file's. A file whose first
64 KiB look like UTF-8 but which has invalid bytes further on is found by DuckDB's UTF-8 scan
and read again that way, whole, so one file never reads two ways.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cauce import textfiles

if TYPE_CHECKING:
    import duckdb

SAMPLE_BYTES = 1 << 16
# the longest header read: 30,000 names of 33 characters
HEADER_BYTES = 1 << 20
SAMPLE_ROWS = 5_000
# columns profiled per query (see _groups)
COLUMNS_PER_QUERY = 250
BLOCK = 8 << 20
# Socrata's API writes floating timestamps (2019-11-14T00:00:00.000); its bulk exports write
# 11/14/2019 or 11/14/2019 12:00:00 AM.
SLASH_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")
NUMERIC = ("integer", "number")
_LINE_END = re.compile(r"\r\n?|\n")
# how problem lines name the encodings a file that is not UTF-8 is read in
SINGLE_BYTE = {textfiles.CP1252: "cp1252", textfiles.LATIN1: "Latin-1"}
BIG_ENDIAN = "utf-16-be"
# UTF-16 as cauce.textfiles names it -> as profiles name it (DuckDB's name for little-endian)
UTF16 = {"utf-16-le": "utf-16", BIG_ENDIAN: BIG_ENDIAN}
# the encodings DuckDB's reader decodes itself; the others are read from a UTF-8 copy
DUCKDB_READS = ("utf-8", "utf-16")


@dataclass(frozen=True)
class ColumnProfile:
    """One column: its inferred type and what its values look like."""

    name: str
    type: str  # integer | number | timestamp | boolean | text | empty
    nulls: int
    null_share: float
    distinct: int
    min: float | str | None = None
    max: float | str | None = None
    nonconforming: int = 0  # values that did not parse as the type the sample proposed


@dataclass(frozen=True)
class Profile:
    """What a CSV file holds, and what is wrong with it."""

    sha256: str
    size: int
    rows: int
    columns: tuple[ColumnProfile, ...] = ()
    duplicate_rows: int = 0
    rejected_rows: int = 0
    encoding: str = "utf-8"
    problems: tuple[str, ...] = ()

    @property
    def duplicate_share(self) -> float:
        return self.duplicate_rows / self.rows if self.rows else 0.0

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (for tables and messages)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        values = dict(data)
        values["columns"] = tuple(ColumnProfile(**c) for c in values.get("columns", ()))
        values["problems"] = tuple(values.get("problems", ()))
        return cls(**values)


@dataclass
class _Plan:
    """How each column is read: its name in the file and the type the sample proposes."""

    names: list[str]
    proposed: dict[str, str] = field(default_factory=dict)
    date_format: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Bytes:
    """What one read of the raw file tells: its digest and size, its NUL bytes, and its
    encoding should it not be UTF-8."""

    sha256: str
    size: int
    nuls: int
    first_nul_line: int  # 0: no NUL
    single_byte: str  # cp1252, or latin-1 when a byte cp1252 leaves undefined is in the file


def _read_bytes(path: Path) -> _Bytes:
    """The file read once in 8 MB blocks: its SHA-256, size, NUL bytes with the line (by line
    feeds) of the first, and cp1252 or Latin-1, all found in the same pass as the digest."""
    digest = hashlib.sha256()
    size = nuls = first = 0
    lines = 1
    single_byte = textfiles.CP1252
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
            size += len(block)
            at = block.find(b"\0")  # as fast as memchr; count only a block that has one
            if at >= 0:
                nuls += block.count(b"\0", at)
            if not first:
                first = lines + block.count(b"\n", 0, at) if at >= 0 else 0
                lines += block.count(b"\n")
            if single_byte == textfiles.CP1252:  # one undefined byte settles it
                single_byte = textfiles.single_byte_encoding(block)
    return _Bytes(digest.hexdigest(), size, nuls, first, single_byte)


def profile_csv(
    path: str | Path, *, threads: int | None = None, sample_rows: int = SAMPLE_ROWS
) -> Profile:
    """Profile the CSV at ``path``; problems are listed in the result, never raised."""
    path = Path(path)
    raw = _read_bytes(path)
    digest, size = raw.sha256, raw.size
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if size == 0:
        return Profile(digest, 0, 0, problems=("empty file: 0 bytes, no header",))
    detected = _detected(head, complete=size <= SAMPLE_BYTES)
    utf16 = UTF16.get(detected)
    if utf16 is None and _looks_binary(head):
        return Profile(digest, size, 0, problems=("binary content: this is not a CSV text file",))
    encoding = utf16 or ("utf-8" if detected == textfiles.UTF8 else raw.single_byte)
    first = _through_first_line(path, head)
    names, problems = _header(first, encoding)
    if utf16:
        order = " (big-endian)" if utf16 == BIG_ENDIAN else ""
        problems.insert(0, f"UTF-16 text{order}: read as UTF-16; convert to UTF-8 for other tools")
    elif raw.nuls:
        problems.append(f"NUL bytes: {raw.nuls:,} in the text (first at line "
                        f"{raw.first_nul_line:,}); other tools may cut the value there")
    if not names:
        return Profile(digest, size, 0, encoding=encoding, problems=(*problems, "no header row"))
    con = _connection()
    con.execute(f"SET threads = {int(threads)}" if threads is not None else "RESET threads")
    bad: tuple[int, int] | None = None
    try:
        result = _read(con, path, names, encoding, sample_rows)
        if encoding == "utf-8" and result.rejects.get("INVALID ENCODING"):
            bad = result.rejects["INVALID ENCODING"]
            encoding = raw.single_byte
            result = _read(con, path, names, encoding, sample_rows)
    except _csv_error() as err:  # DuckDB's reader gave up on the file as a whole
        problems.append(_unreadable(path, encoding, err))
        return Profile(digest, size, 0, encoding=encoding, problems=tuple(problems))
    if bad is not None:
        problems.append(
            f"not UTF-8: {bad[0]:,} line(s) with invalid bytes (first at line {bad[1]:,});"
            f" read as {SINGLE_BYTE[encoding]}"
        )
    elif encoding in SINGLE_BYTE:
        problems.append(f"not UTF-8: read as {SINGLE_BYTE[encoding]}")
    problems.extend(_describe_rejects(result.rejects))
    if not result.rows and not result.rejected and (skipped := _all_skipped(first, encoding)):
        problems.append(skipped)
    return Profile(
        sha256=digest,
        size=size,
        rows=result.rows,
        columns=tuple(result.columns),
        duplicate_rows=result.duplicates,
        rejected_rows=result.rejected,
        encoding=encoding,
        problems=tuple(problems),
    )


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection, opened once: opening one takes ~30 ms."""
    import duckdb  # here, not at the top: declaring the app's criteria needs no DuckDB

    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        _local.con = con
    return con


def _csv_error() -> type[Exception]:
    import duckdb

    return duckdb.InvalidInputException


def _unreadable(path: Path, encoding: str, err: Exception) -> str:
    """The problem line of a file DuckDB's reader stops at: where the stray carriage return
    is (the usual cause, which DuckDB does not locate), else DuckDB's reason."""
    line = textfiles.stray_carriage_return(path, encoding)
    if line is not None:
        return (
            f"not readable as CSV: line {line:,} has a carriage return (\\r) that ends no "
            "line, so the records cannot be told apart there"
        )
    reason = str(err).splitlines()[0].removeprefix("Invalid Input Error: ")
    return f"not readable as CSV: {reason}"


# -- reading the head -------------------------------------------------------------------------
def _looks_binary(head: bytes) -> bool:
    """More than 1 % control bytes (NUL included): a stray NUL in a value is still a CSV."""
    control = sum(head.count(bytes([b])) for b in (0, *range(1, 9), *range(14, 32)) if b != 27)
    return control > max(8, len(head) // 100)


def _detected(head: bytes, *, complete: bool) -> str | None:
    """The encoding `cauce.textfiles.detect_encoding` finds in the head (UTF-16 with or without
    a byte-order mark, UTF-8, else single-byte), None for a UTF-32 mark, which is not UTF-16's.
    A single-byte answer is the head's; the whole file's is `_Bytes.single_byte`."""
    if head.startswith(codecs.BOM_UTF32_LE):
        return None
    return textfiles.detect_encoding(head, complete=complete)


def _through_first_line(path: Path, head: bytes) -> bytes:
    """The head, read on to the end of the first line when it has none: the header of a dataset
    of thousands of columns is longer than the head, and its names cut there made every row
    ragged. At most `HEADER_BYTES`, so a file of one endless line is not read whole."""
    if len(head) < SAMPLE_BYTES or b"\n" in head or b"\r" in head:
        return head
    parts = [head]
    with path.open("rb") as handle:
        handle.seek(len(head))
        while len(parts) * SAMPLE_BYTES < HEADER_BYTES and (block := handle.read(SAMPLE_BYTES)):
            parts.append(block)
            if b"\n" in block or b"\r" in block:
                break
    return b"".join(parts)


def _header(head: bytes, encoding: str) -> tuple[list[str], list[str]]:
    text = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    try:
        row = next(csv.reader(io.StringIO(text, newline="")), [])  # a header may end in \r alone
    except csv.Error as err:
        return [], [f"header row cannot be read: {err}"]
    problems: list[str] = []
    names: list[str] = []
    seen: set[str] = set()
    blanks = 0
    for index, raw in enumerate(row):
        name = raw.strip() or f"column_{index + 1}"
        blanks += not raw.strip()
        base, n = name, 1
        while name.casefold() in seen:  # DuckDB's column names ignore case: "a" and "A" clash
            n += 1
            name = f"{base}_{n}"
        if n > 1:
            problems.append(f"duplicate column name {base!r} renamed {name!r}")
        seen.add(name.casefold())
        names.append(name)
    if blanks:
        problems.append(f"{blanks} column(s) without a name in the header")
    return names, problems


def _all_skipped(first: bytes, encoding: str) -> str | None:
    """The problem of a file that has lines after its header but no row read and none rejected:
    DuckDB's reader skips every line, silently, after a header whose quoted name is followed by
    another character than a comma (`"id";"nombre"`, as a Spanish Excel saves a CSV). None when
    nothing follows the header."""
    text = first.decode(encoding, errors="replace").removeprefix("\ufeff")
    line, *rest = _LINE_END.split(text, maxsplit=1)
    if not "".join(rest).strip():
        return None
    try:
        next(csv.reader([line], strict=True), None)
    except csv.Error as err:
        return (f"no row read: the header (line 1) does not split as CSV ({err}), and every "
                "line after it was skipped")
    return "no row read: every line after the header was skipped"


# -- the scan -------------------------------------------------------------------------------
@dataclass
class _Result:
    rows: int
    columns: list[ColumnProfile]
    duplicates: int
    rejected: int
    rejects: dict[str, tuple[int, int]]  # error type -> (lines, first line)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source(path: Path, names: list[str], encoding: str) -> str:
    columns = ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for n in names)
    location = str(path).replace("'", "''")
    return (
        f"read_csv('{location}', columns = {{{columns}}}, auto_detect = false, header = true, "
        f"delim = ',', quote = '\"', escape = '\"', encoding = '{encoding}', store_rejects = true)"
    )


def _read(
    con: duckdb.DuckDBPyConnection, path: Path, names: list[str], encoding: str, sample_rows: int
) -> _Result:
    """The scan of the file: itself when DuckDB decodes its encoding (UTF-8, little-endian
    UTF-16), else a UTF-8 copy of it."""
    if encoding in DUCKDB_READS:
        return _scan(con, path, names, encoding, sample_rows)
    with _utf8_copy(path, encoding) as copy:
        return _scan(con, copy, names, "utf-8", sample_rows)


@contextmanager
def _utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """A temporary UTF-8 copy of ``path`` (`cauce.textfiles.write_utf8_copy`; a byte the
    encoding does not define, in a file changed since it was judged, becomes U+FFFD rather
    than an error), removed when the block ends, however it ends."""
    handle, name = tempfile.mkstemp(prefix="cauce-profile-", suffix=".csv")
    os.close(handle)
    copy = Path(name)
    try:
        textfiles.write_utf8_copy(path, copy, encoding, errors="replace", block=BLOCK)
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _scan(
    con: duckdb.DuckDBPyConnection, path: Path, names: list[str], encoding: str, sample_rows: int
) -> _Result:
    source = _source(path, names, encoding)
    plan = _Plan(names)
    for group in _groups(names):
        _propose(con, source, group, sample_rows, plan)
    # the first group's scan also counts the rows and the distinct ones (all columns hashed)
    parts = ["count(*)", "count(DISTINCT hash(" + ", ".join(_quote(n) for n in names) + "))"]
    values: list[Any] = []
    for group in _groups(names):
        parts += [part for name in group for part in _aggregates(name, plan)]
        values += con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0]
        parts = []
    rows, distinct_rows = int(values[0]), int(values[1])
    columns = _columns(names, plan, iter(values[2:]), rows)
    # The rejects of the last scan (the full one), per error type and in all: one query.
    found = con.execute(
        "SELECT error_type, count(DISTINCT line), min(line) FROM reject_errors "
        "WHERE scan_id = (SELECT max(scan_id) FROM reject_scans) "
        "GROUP BY GROUPING SETS ((error_type), ())"
    ).fetchall()
    rejects = {kind: (int(lines), int(first)) for kind, lines, first in found if kind is not None}
    rejected = next((int(lines) for kind, lines, _ in found if kind is None), 0)
    if found:
        con.execute("DELETE FROM reject_errors; DELETE FROM reject_scans")
    return _Result(rows, columns, rows - distinct_rows, rejected, rejects)


def _groups(names: list[str]) -> Iterator[list[str]]:
    """``names`` in groups of at most `COLUMNS_PER_QUERY`: planning a query takes DuckDB more
    than proportionally longer as its expressions grow (a file of 2,000 columns took half a
    minute in one query), so a wide file is profiled in a few scans."""
    for start in range(0, len(names), COLUMNS_PER_QUERY):
        yield names[start:start + COLUMNS_PER_QUERY]


def _propose(
    con: duckdb.DuckDBPyConnection, source: str, names: list[str], sample_rows: int,
    plan: _Plan,
) -> None:
    """Guess the type of each of ``names`` from the first rows, in one query, into ``plan``.

    Cheap probes (a cast to a number, characters at fixed places for dates) run on every sampled
    value; dates are parsed only for values that look like one, as parsing text that is not a
    date is slow.
    """
    slash = ", ".join(f"'{fmt}'" for fmt in SLASH_FORMATS)
    probes: list[str] = []
    for name in names:
        v = _quote(name)
        probes += [
            f"count({v})",
            f"count(TRY_CAST({v} AS DOUBLE))",
            # not a whole number: 1.5, 1e3
            f"count_if(contains({v}, '.') OR contains({v}, 'e') OR contains({v}, 'E'))",
            # a code, not a number: 05
            f"count_if(starts_with({v}, '0') AND length({v}) > 1 AND NOT starts_with({v}, '0.'))",
            # 2019-11-14..., parsed only when it looks like one
            f"count(CASE WHEN substr({v}, 5, 1) = '-' THEN TRY_CAST({v} AS TIMESTAMP) END)",
            # 11/14/2019...
            f"count(CASE WHEN {v} LIKE '%/%/%' THEN try_strptime({v}, [{slash}]) END)",
            f"count_if(lower({v}) IN ('true', 'false'))",
        ]
    counts = con.execute(
        f"SELECT {', '.join(probes)} FROM (SELECT * FROM {source} LIMIT {int(sample_rows)})"
    ).fetchall()[0]
    for index, name in enumerate(names):
        present, as_float, fractional, padded, iso, slashed, as_bool = counts[
            index * 7 : (index + 1) * 7
        ]
        if present == 0:
            continue
        if as_float == present and padded == 0:
            plan.proposed[name] = "number" if fractional else "integer"
        elif iso == present or slashed == present:
            plan.proposed[name] = "timestamp"
            plan.date_format[name] = "iso" if iso == present else "slash"
        elif as_bool == present:
            plan.proposed[name] = "boolean"


def _parsed(name: str, plan: _Plan) -> str | None:
    v = _quote(name)
    kind = plan.proposed.get(name)
    if kind in NUMERIC:
        return f"TRY_CAST({v} AS DOUBLE)"
    if kind == "timestamp":
        if plan.date_format[name] == "slash":
            formats = ", ".join(f"'{fmt}'" for fmt in SLASH_FORMATS)
            return f"try_strptime({v}, [{formats}])"
        return f"TRY_CAST({v} AS TIMESTAMP)"
    if kind == "boolean":
        return f"TRY_CAST({v} AS BOOLEAN)"
    return None


def _aggregates(name: str, plan: _Plan) -> list[str]:
    v = _quote(name)
    parts = [f"count({v})", f"approx_count_distinct({v})"]
    parsed = _parsed(name, plan)
    if parsed is not None:
        parts += [f"count({parsed})", f"min({parsed})", f"max({parsed})"]
        if plan.proposed[name] == "integer":
            parts.append(f"count_if({parsed} = floor({parsed}))")
    return parts


def _columns(
    names: list[str], plan: _Plan, values: Iterable[Any], rows: int
) -> list[ColumnProfile]:
    out: list[ColumnProfile] = []
    it = iter(values)
    for name in names:
        present, distinct = int(next(it)), int(next(it))
        kind = plan.proposed.get(name, "text")
        low = high = None
        bad = 0
        if _parsed(name, plan) is not None:
            parsed, low, high = int(next(it)), next(it), next(it)
            if kind == "integer" and int(next(it)) < parsed:
                kind = "number"
            bad = present - parsed
            if bad:
                kind, low, high = "text", None, None
        if present == 0:
            kind = "empty"
        out.append(
            ColumnProfile(
                name=name,
                type=kind,
                nulls=rows - present,
                null_share=(rows - present) / rows if rows else 0.0,
                distinct=min(distinct, present),
                min=_plain(low),
                max=_plain(high),
                nonconforming=bad,
            )
        )
    return out


def _plain(value: Any) -> float | str | None:
    """Values as JSON can carry them: numbers as floats, moments as ISO text. A moment Python
    cannot hold (year 0, `0000-01-01`, is 1 BC to DuckDB) comes from DuckDB as its own text,
    which is kept."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return float(value)


def _describe_rejects(rejects: Mapping[str, tuple[int, int]]) -> list[str]:
    first = " (first at line {line:,})"
    words = {
        "TOO MANY COLUMNS": "ragged rows: {n:,} row(s) with more fields than the header" + first,
        "MISSING COLUMNS": "ragged rows: {n:,} row(s) with fewer fields than the header" + first,
        "UNQUOTED VALUE": "unterminated or stray quote: {n:,} row(s) cannot be split" + first,
        "INVALID ENCODING": "invalid bytes: {n:,} row(s)" + first,
        "LINE SIZE OVER MAXIMUM": "{n:,} line(s) too long to read" + first,
    }
    return [
        words.get(kind, kind.lower() + ": {n:,} row(s) rejected (first at line {line:,})").format(
            n=n, line=line
        )
        for kind, (n, line) in sorted(rejects.items())
    ]
