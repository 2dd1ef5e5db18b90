"""One source's bulk CSV export into raw-zone Parquet files and a quarantine, with DuckDB.

The export is read once, every value as text, the way RFC 4180 says (quote ``"``, a doubled
quote inside quotes, line breaks inside quoted values). Columns are picked by header name, so
their order does not matter; a header that lacks a column the original reads, or has one it
does not know, stops the source with one line naming both. Each column is then trimmed,
upper-cased, cast and parsed as the original's Spark job did (see `sources` and `javatime`).

Nothing is dropped silently. A record DuckDB cannot read (a wrong number of fields, an
unterminated quote, bytes that are not text) goes to the quarantine with its line and the
reason. A value that a cast turns into null (``1,234`` for a decimal, ``13/25/2022`` for a
date) stays null in the raw zone, as in the original, and is listed in the quarantine too.
Quarantine lines count records (the header is line 1), as DuckDB's reader does; they differ
from a text editor's line only after a record whose quoted value spans several lines.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from cauce.apps.contracting import javatime
from cauce.apps.contracting.errors import HeaderMismatch, SourceUnreadable
from cauce.apps.contracting.rawzone import partition_folder
from cauce.apps.contracting.sources import Column, Source

CHUNK = 16 << 20
QUARANTINE_COLUMNS = ("source", "file", "line", "column", "value", "reason")
_CAST_KINDS = ("decimal", "int", "int text", "date", "timestamp")


@dataclass
class EtlOutput:
    """What one source's ETL produced, before it is published to the buckets."""

    source: str
    rows: int
    encoding: str
    parts: list[tuple[str, Path]] = field(default_factory=list)  # (key under the partition, file)
    quarantine: Path | None = None
    rejected_rows: int = 0
    nulled_values: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "table": self.source,
            "rows": self.rows,
            "encoding": self.encoding,
            "quarantined_rows": self.rejected_rows,
            "quarantined_values": self.nulled_values,
            "reasons": dict(self.reasons.most_common()),
        }


# -- encodings ------------------------------------------------------------------------------------
def detect_encoding(path: Path) -> str:
    """``utf-8``, ``utf-16`` (with a byte-order mark) or ``cp1252`` (what Excel writes on
    Windows: Latin-1 plus the en dash, curly quotes and euro sign).

    A UTF-8 byte-order mark is ``utf-8`` (the reader skips it). The whole file is checked, a
    block at a time, so a Latin-1 byte deep in a large export is found.
    """
    with path.open("rb") as handle:
        head = handle.read(4)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        while block := handle.read(CHUNK):
            if (
                not np.any(np.frombuffer(block, dtype=np.uint8) >= 0x80)
                and not decoder.getstate()[0]
            ):
                continue
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return "cp1252"
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def as_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """``path`` itself when it is UTF-8, else a UTF-8 copy of it in ``workdir``."""
    if encoding == "utf-8":
        return path
    target = workdir / (path.name + ".utf-8")
    # cp1252 leaves five bytes undefined; they are read as Latin-1 rather than lost.
    errors = "strict" if encoding == "utf-16" else "latin1fallback"
    with path.open("rb") as raw, target.open("w", encoding="utf-8", newline="") as out:
        reader = codecs.getreader(encoding)(raw, errors=errors)
        while text := reader.read(CHUNK):
            out.write(text.lstrip("\ufeff") if out.tell() == 0 else text)
    return target


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("latin1fallback", _latin1_fallback)


# -- the header -----------------------------------------------------------------------------------
def read_header(path: Path) -> list[str]:
    """The first record's fields (a UTF-8 file; a byte-order mark is dropped)."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            first = next(csv.reader(io.StringIO(handle.read(1 << 20))), None)
    except (csv.Error, UnicodeDecodeError) as err:
        raise SourceUnreadable(f"{path.name}: the header cannot be read: {err}") from None
    if not first or first == [""]:
        raise SourceUnreadable(
            f"{path.name}: the file is empty (no header row)",
            hint="export the dataset again with its header row",
        )
    return first


def check_header(src: Source, found: list[str]) -> dict[str, int]:
    """Each header the ETL reads and its position; HeaderMismatch when one is missing or extra."""
    expected = src.headers
    missing = [h for h in expected if h not in found]
    unexpected = [h for h in found if h not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(map(repr, missing)))
        if unexpected:
            parts.append("unexpected " + ", ".join(map(repr, unexpected)))
        near = [
            (m, u)
            for m in missing
            for u in unexpected
            if m.strip().casefold() == u.strip().casefold()
        ]
        hint = (
            "the export spells "
            + "; ".join(f"{u!r} where the original reads {m!r}" for m, u in near)
            + " (spaces and case count)"
            if near
            else f"is this {src.file}? export it again from {src.dataset or src.url or 'PACO'}"
        )
        raise HeaderMismatch(f"{src.file}: {'; '.join(parts)}", hint=hint)
    positions = {}
    for index, header in enumerate(found):
        positions.setdefault(header, index)
    return positions


# -- the transform --------------------------------------------------------------------------------
def _text(column: Column, ref: str) -> str:
    return f"trim({ref}, ' ')" if column.trim else ref


def column_sql(column: Column, ref: str) -> str:
    """The raw-zone value of ``column`` from the export's text ``ref``, before the null rules."""
    value = _text(column, ref)
    if column.kind == "upper":
        return f"replace(upper({value}), 'ẞ', 'SS')"  # Java upper-cases ß to SS
    if column.kind == "decimal":
        if column.commas:
            value = f"replace({value}, ',', '')"
        return javatime.decimal(value, column.precision, column.scale)
    if column.kind == "int":
        return javatime.integer(value)
    if column.kind == "int text":
        return f"CAST({javatime.integer(value)} AS VARCHAR)"
    if column.kind in ("date", "timestamp"):
        return javatime.parse(value, column.pattern, timestamp=column.kind == "timestamp")
    if column.strip:
        value = f"regexp_replace({value}, {javatime.quote(column.strip)}, '', 'g')"
    return value


def rules_sql(column: Column, ref: str) -> str:
    """The original's null rules on an already transformed value."""
    if column.default is not None:
        return f"coalesce({ref}, {javatime.quote(column.default)})"
    if column.null_years_below is not None:
        return f"CASE WHEN year({ref}) < {column.null_years_below} THEN NULL ELSE {ref} END"
    if column.null_years:
        years = ", ".join(map(str, column.null_years))
        return f"CASE WHEN year({ref}) IN ({years}) THEN NULL ELSE {ref} END"
    return ref


def _reason(column: Column) -> str:
    if column.kind == "decimal":
        return f"not a number (decimal({column.precision},{column.scale})): null in the raw zone"
    if column.kind in ("int", "int text"):
        return "not an integer: null in the raw zone"
    return f"not a {column.kind} in {column.pattern}: null in the raw zone"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def transform(
    src: Source,
    path: Path,
    day: date,
    workdir: Path,
    *,
    run: str,
    threads: int | None = None,
    memory_limit: str = "4GB",
) -> EtlOutput:
    """Read ``path`` (the source's export) and write its raw-zone parts and quarantine into
    ``workdir``; raises HeaderMismatch or SourceUnreadable."""
    del day  # the partition is in the keys the caller publishes under
    encoding = detect_encoding(path)
    readable = as_utf8(path, encoding, workdir)
    header = read_header(readable)
    positions = check_header(src, header)
    con = duckdb.connect(config={"temp_directory": str(workdir / "duckdb.tmp")})
    try:
        con.execute(f"SET memory_limit = {javatime.quote(memory_limit)}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        return _run(con, src, readable, header, positions, workdir, run, encoding)
    finally:
        con.close()


def _run(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    path: Path,
    header: list[str],
    positions: dict[str, int],
    workdir: Path,
    run: str,
    encoding: str,
) -> EtlOutput:
    fields = {f"c{i}": "VARCHAR" for i in range(len(header))}
    reader = (
        f"read_csv({javatime.quote(str(path))}, columns={{"
        + ", ".join(f"{javatime.quote(k)}: 'VARCHAR'" for k in fields)
        + "}, header=true, delim=',', quote='\"', escape='\"', strict_mode=true, "
        "auto_detect=false, store_rejects=true, rejects_table='rejects', "
        "rejects_scan='scans', max_line_size=20000000)"
    )
    selects = ["row_number() OVER () AS __record"]
    casts: list[tuple[int, Column]] = []
    for index, column in enumerate(src.columns):
        ref = f"c{positions[column.header]}"
        selects.append(f"{column_sql(column, ref)} AS {_ident(column.name)}")
        if column.kind in _CAST_KINDS:
            casts.append((index, column))
            selects.append(f"{ref} AS __raw{index}")
    con.execute(f"CREATE TABLE t AS SELECT {', '.join(selects)} FROM {reader}")
    rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    output = EtlOutput(src.key, rows, encoding)
    final = ", ".join(rules_sql(c, _ident(c.name)) + f" AS {_ident(c.name)}" for c in src.columns)
    _write_parts(con, src, final, workdir, run, output)
    _write_quarantine(con, src, casts, workdir, run, output)
    return output


def _write_parts(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    final: str,
    workdir: Path,
    run: str,
    output: EtlOutput,
) -> None:
    folder = workdir / "parts"
    folder.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[str | None]] = {"": [None]}
    if src.partition is not None:
        groups = {}
        values = con.execute(
            f"SELECT DISTINCT {_ident(src.partition)} FROM t ORDER BY 1 NULLS FIRST"
        ).fetchall()
        for (value,) in values:
            groups.setdefault(partition_folder(src.partition, value), []).append(value)
        groups = groups or {partition_folder(src.partition, None): [None]}
    for number, (sub, values) in enumerate(sorted(groups.items())):
        where = ""
        if src.partition is not None:
            named = [v for v in values if v is not None]
            tests = [f"{_ident(src.partition)} IS NULL"] if None in values else []
            if named:
                tests.append(
                    f"{_ident(src.partition)} IN ({', '.join(map(javatime.quote, named))})"
                )
            where = " WHERE " + " OR ".join(tests)
        target = folder / f"part-{number}.parquet"
        con.execute(
            f"COPY (SELECT {final} FROM t{where} ORDER BY __record) TO "
            f"{javatime.quote(str(target))} (FORMAT parquet, COMPRESSION zstd)"
        )
        key = f"{sub}/part-{run}-{number}.parquet" if sub else f"part-{run}-{number}.parquet"
        output.parts.append((key, target))


def _write_quarantine(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    casts: list[tuple[int, Column]],
    workdir: Path,
    run: str,
    output: EtlOutput,
) -> None:
    file = javatime.quote(src.file)
    source = javatime.quote(src.key)
    rejected = (
        f"SELECT {source} AS source, {file} AS file, line, "
        "CAST(NULL AS VARCHAR) AS \"column\", left(trim(csv_line, e'\\r\\n'), 500) AS value, "
        "error_type || ': ' || error_message AS reason "
        "FROM (SELECT *, row_number() OVER (PARTITION BY line ORDER BY column_idx) AS k "
        "FROM rejects) WHERE k = 1"
    )
    values = [
        f"SELECT {source}, {file}, __record, {javatime.quote(column.header)}, "
        f"left(__raw{index}, 500), "
        f"{javatime.quote(_reason(column))} FROM t WHERE {_ident(column.name)} IS NULL "
        f"AND nullif(trim(__raw{index}, ' '), '') IS NOT NULL"
        for index, column in casts
    ]
    con.execute(f"CREATE TABLE q AS {rejected}")
    output.rejected_rows = con.execute("SELECT count(*) FROM q").fetchall()[0][0]
    if values:
        con.execute("CREATE TABLE v AS SELECT * FROM (" + " UNION ALL ".join(values) + ")")
        nulled = con.execute("SELECT count(*) FROM v").fetchall()[0][0]
        if nulled:
            _record_lines(con)
            con.execute("INSERT INTO q SELECT * FROM v")
        output.nulled_values = nulled
    counts = con.execute(
        "SELECT coalesce(\"column\" || ': ', '') || split_part(reason, ':', 1), count(*) "
        "FROM q GROUP BY 1"
    ).fetchall()
    output.reasons.update({reason: n for reason, n in counts})
    if output.rejected_rows or output.nulled_values:
        target = workdir / "quarantine.parquet"
        con.execute(
            f'COPY (SELECT * FROM q ORDER BY line, "column" NULLS FIRST) TO '
            f"{javatime.quote(str(target))} (FORMAT parquet)"
        )
        output.quarantine = target


def _record_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Turn the record numbers in ``v`` (1 = first record read) into lines (header = line 1),
    counting the records the reader rejected."""
    rejected = np.array(
        [r[0] for r in con.execute("SELECT DISTINCT line FROM q ORDER BY 1").fetchall()],
        dtype=np.int64,
    )
    if rejected.size == 0:
        con.execute("UPDATE v SET __record = __record + 1")
        return
    # the k-th record read is record k + j, j = the rejected records before it
    records = rejected - 1
    read_before = records - 1 - np.arange(records.size)  # records read before each rejected one
    wanted = np.array(
        [r[0] for r in con.execute("SELECT DISTINCT __record FROM v").fetchall()], dtype=np.int64
    )
    skipped = np.searchsorted(read_before, wanted, side="left")
    lines = pa.table({"record": wanted, "line": wanted + skipped + 1})
    con.register("lines", lines)
    con.execute("UPDATE v SET __record = lines.line FROM lines WHERE v.__record = lines.record")
    con.unregister("lines")
