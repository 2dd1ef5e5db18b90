"""One source's bulk CSV export into raw-zone Parquet files and a quarantine, with DuckDB.

The export is read the way RFC 4180 says (quote ``"``, a doubled quote inside quotes, line
breaks inside quoted values), every value as text. Columns are picked by header name, so their
order does not matter; a header that lacks a column the original reads, or has one it does not
know, stops the source with one line naming both. Each column is then trimmed, upper-cased,
cast and parsed as the original's Spark job did (see `sources` and `javatime`).

Two parallel passes over the file, none of them sorting or numbering rows one at a time:

1. the export straight into Parquet (one ``COPY``, one folder per value of the second
   partition column), with the records DuckDB cannot read (a wrong number of fields, an
   unterminated quote, bytes that are not text in the file's encoding) kept aside;
2. only the columns that are cast, into a table holding, for each record, the values a cast
   turned into null (nearly always none). A table keeps the order records were read in, so a
   row's position is its record number, and with the rejected ones, its line.

Nothing is dropped silently. Unreadable records go to the quarantine with their line and the
reason, which counts the lines a quoted value took into the record (an unclosed quote takes the
rest of the file, or the lines up to a later quote where reading resumes; past the 10,000 bytes
of a record DuckDB keeps, they are counted in the file, only then). Records ending in CR CR LF,
or some in LF and others in CRLF, stop DuckDB's reader: they are read from a copy whose records
all end in LF, as the original's Spark reader read them; a carriage return inside an unquoted
value still stops the reader for the whole file, and the source fails with that line named. A
value that a cast turns into null (``1,234`` for a decimal, ``13/25/2022`` for a date) stays
null in the raw zone, as in the original, and is listed in the quarantine too.
Quarantine lines count records (the header is line 1), as DuckDB's reader does; they differ
from a text editor's line only after a record whose quoted value spans several lines.

The encoding is `cauce.textfiles`'s: a byte-order mark names it, NUL bytes on every other byte of
the head make it UTF-16 without a mark, UTF-8 is UTF-8 to the last
byte (DuckDB checks it while reading; a file that is not is read again as cp1252, or Latin-1
when it has a byte cp1252 leaves undefined), unless its mark or its head's characters show it
is UTF-8: then the records holding bytes that are not go to the quarantine. UTF-8 and
little-endian UTF-16 are read by DuckDB itself; cp1252, Latin-1 and big-endian UTF-16 are
transcoded to UTF-8 first.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import shutil
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from cauce import textfiles
from cauce.apps.contracting import javatime
from cauce.apps.contracting.errors import HeaderMismatch, SettingInvalid, SourceUnreadable
from cauce.apps.contracting.rawzone import partition_folder
from cauce.apps.contracting.sources import Column, Source

CHUNK = 16 << 20
HEAD = 1 << 20  # bytes read for the header and the first guess of the encoding
QUARANTINE_COLUMNS = ("source", "file", "line", "column", "value", "reason")
_CAST_KINDS = ("decimal", "int", "int text", "date", "timestamp")
# the encodings DuckDB's reader decodes itself, by their cauce.textfiles names (its "latin-1"
# refuses the C1 control bytes Latin-1 has)
_DUCKDB_ENCODINGS = {textfiles.UTF8: "utf-8", "utf-16-le": "utf-16"}
_BAD_BYTES = "INVALID ENCODING"  # DuckDB's reject for bytes that are not UTF-8
_NULLED = ": null in the raw zone"  # the end of a quarantined value's reason


# a record DuckDB could not read: its error type and message, and the lines after its first that
# a quoted value took in (a quote that never closes takes the rest of the file, or runs to a later
# quote, where DuckDB starts reading again), which are not loaded either. DuckDB keeps 10,000
# bytes of a record: a longer one's lines are counted in the file itself (`_Load._long_records`)
_RECORD_TEXT = "regexp_replace(trim(csv_line, e'\\r\\n'), '\\r\\n?', e'\\n', 'g')"
_TAKEN_IN = f"length({_RECORD_TEXT}) - length(replace({_RECORD_TEXT}, e'\\n', ''))"
_KEPT = 10_000  # the bytes of a rejected record DuckDB keeps
_REJECT_REASON = (
    "error_type || CASE WHEN taken > 0 THEN ' (and the ' || taken || "
    "' line(s) after it, inside a quoted value, not loaded either)' ELSE '' END"
    " || ': ' || error_message"
)


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
    ignored_columns: list[str] = field(default_factory=list)
    nul_characters: int = 0  # removed from its text values

    def summary(self) -> dict[str, Any]:
        return {
            "table": self.source,
            "rows": self.rows,
            "encoding": self.encoding,
            "ignored_columns": self.ignored_columns,
            "nul_characters_removed": self.nul_characters,
            "quarantined_rows": self.rejected_rows,
            "quarantined_values": self.nulled_values,
            "reasons": dict(self.reasons.most_common()),
        }


# -- encodings ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Readable:
    """The file DuckDB reads for an export, in an encoding it decodes."""

    path: Path
    duckdb_encoding: str
    encoding: str  # the export's own, as cauce.textfiles names it
    # UTF-8 by its mark or the characters of its head (`textfiles.mostly_utf8`): bytes that
    # are not UTF-8 are damage, quarantined with their records, not a reason to read it all as
    # cp1252
    utf8_known: bool = False


# the first bytes of files users save under an export's name instead of its CSV
PACKED = {
    b"PK\x03\x04": ("a ZIP file (an Excel .xlsx workbook?)", "open it and save it as CSV"),
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": (
        "an Excel 97-2003 (.xls) workbook", "open it and save it as CSV"
    ),
    b"\x1f\x8b": ("gzip-compressed", "decompress it first (gunzip)"),
}


def check_not_packed(path: Path) -> None:
    """SourceUnreadable naming what ``path`` is when it starts as a workbook or a compressed
    file does (a renamed .xlsx would otherwise be read as text and miss every column)."""
    with path.open("rb") as handle:
        head = handle.read(8)
    for magic, (what, hint) in PACKED.items():
        if head.startswith(magic):
            raise SourceUnreadable(f"{path.name}: is {what}, not CSV", hint=hint)


def readable(path: Path, workdir: Path, encoding: str | None = None) -> Readable:
    """The export as DuckDB can read it: itself, or a UTF-8 copy in ``workdir``.

    Without ``encoding``, the first megabyte tells (`cauce.textfiles.detect_encoding`).
    """
    if encoding is None:
        with path.open("rb") as handle:
            head = handle.read(HEAD + 1)
        encoding = textfiles.detect_encoding(head[:HEAD], complete=len(head) <= HEAD)
        guessed = (textfiles.UTF8, textfiles.CP1252, textfiles.LATIN1)
        marked = head.startswith(codecs.BOM_UTF8)
        if encoding in guessed and (marked or textfiles.mostly_utf8(head)):
            return Readable(path, "utf-8", textfiles.UTF8, utf8_known=True)
    if encoding in _DUCKDB_ENCODINGS:
        return Readable(path, _DUCKDB_ENCODINGS[encoding], encoding)
    if encoding == textfiles.CP1252:
        try:
            return Readable(_as_utf8(path, encoding, workdir), "utf-8", encoding)
        except UnicodeDecodeError:  # a byte cp1252 leaves undefined: the file is Latin-1
            return readable(path, workdir, textfiles.LATIN1)
    return Readable(_as_utf8(path, encoding, workdir), "utf-8", encoding)


def nul_characters(file: Readable) -> int:
    """How many NUL characters ``file``'s text holds (one pass, a block at a time)."""
    decoder = codecs.getincrementaldecoder(file.encoding)("replace")  # UTF-16 of one order
    count = 0
    with file.path.open("rb") as handle:
        while block := handle.read(CHUNK):
            if file.duckdb_encoding == "utf-8":  # no other UTF-8 character has a NUL byte
                count += block.count(b"\x00")
            else:
                count += decoder.decode(block).count("\x00")
    return count


def single_byte(path: Path, workdir: Path) -> Readable:
    """An export that turned out not to be UTF-8 after its first megabyte: cp1252, or Latin-1
    when it has a byte cp1252 leaves undefined (`cauce.textfiles`' rule for the whole file)."""
    return readable(path, workdir, textfiles.CP1252)


def _as_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy of ``path`` in ``workdir``, without a byte-order mark, under the same
    name (messages about the file it reads name the export)."""
    target = workdir / "utf-8" / path.name
    target.parent.mkdir(exist_ok=True)
    textfiles.write_utf8_copy(path, target, encoding, block=CHUNK)
    return target


def one_line_end(file: Readable, workdir: Path) -> Readable | None:
    """A UTF-8 copy of ``file`` whose records all end in LF, or None when they do already.

    DuckDB's reader stops at records ending in CR CR LF (a CRLF file written again by a tool
    that turns LF into CRLF, as Python's csv module does on Windows) and at files mixing LF
    and CRLF (two exports joined); the original's Spark reader read both, and a carriage return
    before a record's end only ends its last value, which is trimmed. A line break inside a
    quoted value (after an odd number of quotes) is the value's and is kept as it is."""
    target = workdir / "one-line-end" / file.path.name
    target.parent.mkdir(exist_ok=True)
    changed, quotes = False, 0
    with (file.path.open(encoding=file.duckdb_encoding, errors="surrogateescape",
                         newline="\n") as source,
          target.open("w", encoding="utf-8", errors="surrogateescape", newline="") as out):
        for piece in source:  # newline="\n": each piece ends in LF, CRs before it kept
            quotes += piece.count('"')
            if piece.endswith("\r\n") and quotes % 2 == 0:
                piece, changed = piece.rstrip("\n").rstrip("\r") + "\n", True
            out.write(piece)
    if not changed:
        target.unlink()
        return None
    return Readable(target, "utf-8", file.encoding, utf8_known=file.utf8_known)


def _lines_in(path: Path, start: int, end: int | None) -> int:
    """The lines of ``path`` from the one holding byte ``start`` to the one holding byte
    ``end`` (excluded; None: to the file's end, included), a block at a time: the line feeds
    between, which DuckDB's positions one byte into a line do not change."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        handle.seek(start)
        left = end - start if end is not None else None
        while left is None or left > 0:
            block = handle.read(CHUNK if left is None else min(CHUNK, left))
            if not block:
                break
            count += block.count(b"\n")
            last = block[-1:]
            if left is not None:
                left -= len(block)
    return count + (end is None and last != b"\n")


# -- the header -----------------------------------------------------------------------------------
def read_header(file: Readable, delimiter: str = ",") -> list[str]:
    """The first record's fields (a byte-order mark is dropped), in Unicode's composed form
    (NFC): macOS and some editors write an accent as a letter and a combining mark, which
    looks the same and compares different."""
    with file.path.open("rb") as handle:
        head = handle.read(HEAD)
    text = textfiles.decode(head, file.duckdb_encoding, errors="replace")  # the end may be cut
    try:
        # newline="": a record may end in \r alone (Excel's "CSV (Macintosh)"), as DuckDB reads
        first = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), None)
    except csv.Error as err:
        raise SourceUnreadable(f"{file.path.name}: the header cannot be read: {err}") from None
    if not first or first == [""]:
        raise SourceUnreadable(
            f"{file.path.name}: the file is empty (no header row)",
            hint="export the dataset again with its header row",
        )
    if any("\x00" in name for name in first):
        raise SourceUnreadable(
            f"{file.path.name}: its first line has NUL bytes: it is not CSV text (a binary file, "
            "or text in UTF-32?)",
            hint="export the dataset again as CSV (UTF-8, or Excel's CSV)",
        )
    return [unicodedata.normalize("NFC", name) for name in first]


def check_header(src: Source, found: list[str]) -> dict[str, int]:
    """Each header the ETL reads and its position; HeaderMismatch when one is missing.

    Columns the original does not read are ignored, as its Spark ``select`` ignored them (a
    portal adds columns now and then); `unexpected_headers` names them for the log.
    """
    expected = src.headers
    missing = [h for h in expected if h not in found]
    if missing:
        unexpected = unexpected_headers(src, found)
        parts = ["missing " + ", ".join(map(repr, missing))]
        if unexpected:
            parts.append("unexpected " + ", ".join(map(repr, unexpected)))
        hint = _header_hint(src, missing, unexpected)
        raise HeaderMismatch(f"{src.file}: {'; '.join(parts)}", hint=hint)
    positions = {}
    for index, header in enumerate(found):
        positions.setdefault(header, index)
    return positions


def _api_field_name(header: str) -> str:
    """The field name Socrata's API makes of a display name: lower case, every character that
    is not an ASCII letter or digit (accents too) an underscore (``Descripción del Proceso`` is
    ``descripci_n_del_proceso``); long names are cut short besides."""
    return re.sub(r"[^a-z0-9]", "_", header.strip().lower())


def _is_field_of(name: str, header: str) -> bool:
    """Whether ``name`` is ``header``'s API field name, whole or cut short."""
    field = _api_field_name(header)
    return name == field or (len(name) >= 10 and field.startswith(name))


def _folded(header: str) -> str:
    """``header`` without its outer spaces, case and accents, to tell near misses."""
    letters = unicodedata.normalize("NFD", header.strip().casefold())
    return "".join(c for c in letters if not unicodedata.combining(c))


def _header_hint(src: Source, missing: list[str], unexpected: list[str]) -> str:
    """What to do about a header that lacks ``missing``: the API's field names were written
    instead of the export's (a CSV from /resource/<id>.csv), a name differs in spaces or case
    only, or else perhaps another file."""
    fields = [m for m in missing if any(_is_field_of(u, m) for u in unexpected)]
    if src.dataset and len(fields) * 2 > len(missing):
        example = next((m for m in fields if " " in m.strip()), fields[0])
        return (
            f"its header has the SODA API's field names ({_api_field_name(example)!r} for "
            f"{example!r}), not the bulk export's: get it with `cauce run contracting download` "
            f"(which writes the export's names and date formats) or with Export > CSV on "
            f"datos.gov.co ({src.dataset})"
        )
    near = [(m, u) for m in missing for u in unexpected if _folded(m) == _folded(u)]
    if near:
        spelled = "; ".join(f"{u!r} where the original reads {m!r}" for m, u in near)
        return f"the export spells {spelled} (spaces, case and accents count)"
    return f"is this {src.file}? export it again from {src.dataset or src.url or 'PACO'}"


OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def check_separator(src: Source, file: Readable) -> None:
    """HeaderMismatch naming the separator when the header, split by one other than the comma,
    has every column the source reads (Excel saves "CSV" with semicolons where the decimal mark
    is a comma, as in Colombia); the ETL reads commas only, as the original did."""
    for delimiter, name in OTHER_SEPARATORS.items():
        if set(src.headers) <= set(read_header(file, delimiter)):
            raise HeaderMismatch(
                f"{src.file}: its fields are separated by {name}",
                hint="save it again as CSV with commas between fields (Excel uses the list "
                "separator of the region's settings), or export it again from "
                f"{src.dataset or src.url or 'PACO'}",
            )


def unexpected_headers(src: Source, found: list[str]) -> list[str]:
    """The export's headers the source does not read."""
    expected = set(src.headers)
    return [h for h in found if h not in expected]


# -- the transform --------------------------------------------------------------------------------
def text_sql(column: Column, ref: str, *, nul: bool = False) -> str:
    """The export's text as the original read it: trimmed of ASCII spaces unless it was not;
    with ``nul``, NUL characters removed first (no text holds one: a stray byte of a broken
    export, which PostgreSQL refuses and which makes an id match nothing).

    Most values have no space to trim; testing both ends first spares copying them.
    """
    if nul:
        ref = f"replace({ref}, chr(0), '')"
    if not column.trim:
        return ref
    spaced = f"starts_with({ref}, ' ') OR ends_with({ref}, ' ')"
    return f"CASE WHEN {spaced} THEN trim({ref}, ' ') ELSE {ref} END"


def convert_sql(column: Column, value: str) -> str:
    """The raw-zone value of ``column`` from its (trimmed) text, before the null rules."""
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
    """The original's null rules on an already converted value."""
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
        return f"not a number (decimal({column.precision},{column.scale})){_NULLED}"
    if column.kind in ("int", "int text"):
        return f"not an integer{_NULLED}"
    return f"not a {column.kind} in {column.pattern}{_NULLED}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_memory_limit(value: str) -> str:
    """``value`` if DuckDB takes it as a memory limit (4GB, 500MiB, 80%); SettingInvalid if not."""
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = {javatime.quote(value)}")
    except duckdb.Error:
        raise SettingInvalid(
            f"etl_memory {value!r} is not a memory size",
            hint="write it as DuckDB does, e.g. 4GB or 500MB (setting etl_memory)",
        ) from None
    finally:
        con.close()
    return value


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
    check_not_packed(path)
    file = readable(path, workdir)
    header = read_header(file)
    try:
        positions = check_header(src, header)
    except HeaderMismatch:
        check_separator(src, file)
        raise
    con = duckdb.connect(config={"temp_directory": str(workdir / "duckdb.tmp")})
    try:
        con.execute(f"SET memory_limit = {javatime.quote(memory_limit)}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        load = _Load(con, src, positions, len(header), workdir, run)
        output = load.read(file)
        if output is None:  # bytes that are not UTF-8 past the first megabyte
            output = load.read(single_byte(path, workdir))
        assert output is not None, "a single-byte file always decodes"
        output.ignored_columns = unexpected_headers(src, header)
        return output
    except duckdb.OutOfMemoryException:
        raise SettingInvalid(
            f"{src.file}: DuckDB ran out of memory within etl_memory {memory_limit!r}",
            hint="raise the setting etl_memory (e.g. --etl-memory 4GB), or free memory",
        ) from None
    finally:
        con.close()


class _Load:
    """The passes over one export, on one DuckDB connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        src: Source,
        positions: dict[str, int],
        width: int,
        workdir: Path,
        run: str,
    ) -> None:
        """``width``: the header's fields, every one (a name may repeat; its first counts)."""
        self.con, self.src, self.workdir, self.run_id = con, src, workdir, run
        self.refs = {column.header: f"c{positions[column.header]}" for column in src.columns}
        self.width = width
        self.casts = [(i, c) for i, c in enumerate(src.columns) if c.kind in _CAST_KINDS]
        self.nuls = 0  # NUL characters in the file read: removed from its values

    def reader(self, file: Readable, rejects: str) -> str:
        """DuckDB's strict RFC 4180 reader over the whole file, every field as text."""
        columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.width))
        return (
            f"read_csv({javatime.quote(str(file.path))}, columns={{{columns}}}, header=true, "
            f"delim=',', quote='\"', escape='\"', strict_mode=true, auto_detect=false, "
            f"encoding={javatime.quote(file.duckdb_encoding)}, store_rejects=true, "
            f"rejects_table='{rejects}', rejects_scan='{rejects}_scan', "
            "max_line_size=20000000)"
        )

    def read(self, file: Readable) -> EtlOutput | None:
        """`run`, with a file DuckDB's reader gives up on without a line (a carriage return
        inside an unquoted value, records ending both in LF and in CRLF) as SourceUnreadable
        naming the line."""
        try:
            return self.run(file)
        except duckdb.InvalidInputException as err:
            evened = one_line_end(file, self.workdir)
            if evened is not None:  # CR CR LF, or LF and CRLF in one file: read as Spark does
                with contextlib.suppress(duckdb.InvalidInputException):  # said below
                    return self.run(evened)
            line = textfiles.stray_carriage_return(file.path, file.duckdb_encoding)
            if line is not None:
                raise SourceUnreadable(
                    f"{self.src.file}: line {line:,} has a carriage return (\\r) that ends no "
                    "line: the records cannot be told apart there",
                    hint="quote the value that holds it, or save the file again with one line "
                    "end per record (LF or CRLF, not CR CR LF)",
                ) from None
            line = textfiles.mixed_line_ends(file.path, file.duckdb_encoding)
            if line is not None:
                raise SourceUnreadable(
                    f"{self.src.file}: line {line:,} ends otherwise than line 1 (one in LF, the "
                    "other in CRLF): the records cannot be told apart",
                    hint="save it again with one kind of line end (an editor's line-ending "
                    "setting, or dos2unix)",
                ) from None
            reason = str(err).splitlines()[0].removeprefix("Invalid Input Error: ")
            raise SourceUnreadable(
                f"{self.src.file}: cannot be read as CSV: {reason}",
                hint="export the dataset again; RFC 4180 CSV, one record per line",
            ) from None

    def run(self, file: Readable) -> EtlOutput | None:
        """Both passes; None when DuckDB found bytes that are not text in ``file``'s encoding."""
        for table in ("rejects", "rejects_scan", "nulled", "rejects2", "rejects2_scan"):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        folder = self.workdir / "parts"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.nuls = nul_characters(file)
        rows = self._write_parts(file, folder)
        bad_bytes = self.con.execute(
            f"SELECT count(*) FROM rejects WHERE error_type = '{_BAD_BYTES}'"
        ).fetchall()[0][0]
        if bad_bytes and file.encoding == textfiles.UTF8 and not file.utf8_known:
            return None
        output = EtlOutput(self.src.key, rows, file.encoding, nul_characters=self.nuls)
        output.parts = self._parts(folder)
        self._write_quarantine(file, output)
        return output

    def converted(self, reader: str) -> str:
        """``reader``'s rows as the export's raw fields (``c<position>``) and each column
        converted (``v<index>``), in three projections: the trimmed text once, then its
        conversion once. Nested into one expression, a date's text appeared 8 to 14 times in
        its parse and DuckDB spent most of a small export's time planning the copies."""
        raw = ", ".join(sorted(set(self.refs.values())))
        texts = ", ".join(f"{text_sql(c, self.refs[c.header], nul=self.nuls > 0)} AS t{i}"
                          for i, c in enumerate(self.src.columns))
        values = ", ".join(f"{convert_sql(c, f't{i}')} AS v{i}"
                           for i, c in enumerate(self.src.columns))
        return f"(SELECT {raw}, {values} FROM (SELECT {raw}, {texts} FROM {reader}))"

    # -- pass 1: the parts
    def _final_sql(self) -> str:
        """Every raw-zone column from the converted values, in the source's order."""
        return ", ".join(rules_sql(c, f"v{i}") + f" AS {_ident(c.name)}"
                         for i, c in enumerate(self.src.columns))

    def _write_parts(self, file: Readable, folder: Path) -> int:
        reader = self.converted(self.reader(file, "rejects"))
        select = f"SELECT {self._final_sql()} FROM {reader}"
        if self.src.partition is None:
            target, options = folder / f"part-{self.run_id}-0.parquet", ""
        else:
            # one folder per value, by a hash of it (any text is a safe folder name); the
            # folders are named as Spark names them afterwards, from the value inside
            key = f"hash(coalesce({_ident(self.src.partition)}, ''))"
            select = f"SELECT *, {key} AS __value FROM ({select})"
            target = folder
            options = f", PARTITION_BY (__value), FILENAME_PATTERN 'part-{self.run_id}-{{i}}'"
        written = self.con.execute(
            f"COPY ({select}) TO {javatime.quote(str(target))} "
            f"(FORMAT parquet, COMPRESSION zstd{options})"
        ).fetchall()
        rows = int(written[0][0])
        if self.src.partition is not None and rows == 0:  # still a (default) partition
            empty = folder / "__value=0" / f"part-{self.run_id}-0.parquet"
            empty.parent.mkdir()
            self.con.execute(
                f"COPY (SELECT {self._final_sql()} FROM {reader} LIMIT 0) TO "
                f"{javatime.quote(str(empty))} (FORMAT parquet)"
            )
        return rows

    def _parts(self, folder: Path) -> list[tuple[str, Path]]:
        """(key under the date's partition, file) for each part written."""
        if self.src.partition is None:
            return [(path.name, path) for path in sorted(folder.glob("*.parquet"))]
        parts = []
        for sub in sorted(folder.iterdir()):
            files = sorted(sub.glob("*.parquet"))
            values = self.con.execute(
                f"SELECT {_ident(self.src.partition)} FROM read_parquet("
                f"{javatime.quote(str(files[0]))}) LIMIT 1"
            ).fetchall()
            name = partition_folder(self.src.partition, values[0][0] if values else None)
            parts += [(f"{name}/{path.name}", path) for path in files]
        return parts

    # -- pass 2: the values casts turned into null, and the quarantine
    def _find_nulled(self, file: Readable) -> int:
        """Table ``nulled``: (record, column header, raw value) of each value a cast nulled."""
        failures = []
        for index, column in self.casts:
            raw = self.refs[column.header]
            failures.append(
                (
                    f"v{index} IS NULL AND nullif(trim({raw}, ' '), '') IS NOT NULL",
                    f"{{'i': {index}, 'v': left({raw}, 500)}}",
                )
            )
        if not failures:
            return 0
        # rows nothing failed on (nearly all) hold a null; a list only where a test failed
        tests = " OR ".join(f"({test})" for test, _ in failures)
        values = ", ".join(f"CASE WHEN {test} THEN {value} END" for test, value in failures)
        self.con.execute(
            f"CREATE TABLE nulled_rows AS SELECT CASE WHEN {tests} THEN [{values}] END AS bad "
            f"FROM {self.converted(self.reader(file, 'rejects2'))}"
        )
        # a table's rows keep the order they were read in: rowid + 1 is the record's number
        headers = ", ".join(
            f"({i}, {javatime.quote(c.header)}, {javatime.quote(_reason(c))})"
            for i, c in self.casts
        )
        self.con.execute(
            "CREATE TABLE nulled AS SELECT record, h.header, b.v AS value, h.reason FROM ("
            "SELECT rowid + 1 AS record, unnest(bad) AS b FROM nulled_rows WHERE bad IS NOT NULL"
            f") JOIN (VALUES {headers}) h(i, header, reason) ON b.i = h.i"
        )
        self.con.execute("DROP TABLE nulled_rows")
        return self.con.execute("SELECT count(*) FROM nulled").fetchall()[0][0]

    def _write_quarantine(self, file: Readable, output: EtlOutput) -> None:
        file_name = javatime.quote(self.src.file)
        source = javatime.quote(self.src.key)
        self.con.execute("CREATE TABLE taken_in (line BIGINT, taken BIGINT)")
        long_records = self._long_records(file, output.rows)
        if long_records:
            self.con.executemany("INSERT INTO taken_in VALUES (?, ?)", long_records)
        self.con.execute(
            f"CREATE TABLE q AS SELECT {source} AS source, {file_name} AS file, line, "
            "CAST(NULL AS VARCHAR) AS \"column\", left(trim(csv_line, e'\\r\\n'), 500) AS value, "
            f"{_REJECT_REASON} AS reason "
            f"FROM (SELECT r.*, coalesce(t.taken, {_TAKEN_IN}) AS taken, row_number() OVER "
            "(PARTITION BY r.line ORDER BY r.column_idx) AS k "
            "FROM rejects r LEFT JOIN taken_in t ON r.line = t.line) WHERE k = 1"
        )
        self.con.execute("DROP TABLE taken_in")
        output.rejected_rows = self.con.execute("SELECT count(*) FROM q").fetchall()[0][0]
        output.nulled_values = self._find_nulled(file)
        if output.nulled_values:
            self._record_lines()
            self.con.execute(
                f"INSERT INTO q SELECT {source}, {file_name}, line, header, value, reason "
                "FROM nulled"
            )
        # a record's reason is DuckDB's error type (its details differ per line); a value's is
        # the cast's, whose date pattern may hold colons (MM/dd/yyyy HH:mm:ss)
        counts = self.con.execute(
            "SELECT CASE WHEN \"column\" IS NULL THEN split_part(reason, ':', 1) ELSE "
            f"\"column\" || ': ' || regexp_replace(reason, '{_NULLED}$', '') END, count(*) "
            "FROM q GROUP BY 1"
        ).fetchall()
        output.reasons.update({reason: n for reason, n in counts})
        if output.rejected_rows or output.nulled_values:
            target = self.workdir / "quarantine.parquet"
            self.con.execute(
                f'COPY (SELECT * FROM q ORDER BY line, "column" NULLS FIRST) TO '
                f"{javatime.quote(str(target))} (FORMAT parquet)"
            )
            output.quarantine = target
        self.con.execute("DROP TABLE q")
        self.con.execute("DROP TABLE IF EXISTS nulled")

    def _long_records(self, file: Readable, rows: int) -> list[tuple[int, int]]:
        """(line, lines after its first not loaded) of each rejected record longer than the
        10,000 bytes DuckDB keeps of it, counted in the file.

        A quote that never closes runs to the end of the file, or to a later quote where DuckDB
        starts reading again: the record goes on to where the next record read or rejected
        starts. The lines from its start (``line_byte_position``) to the next rejected record's
        (or the file's end) hold it and the records loaded between, each one line plus the line
        breaks inside its values (counted in one more read of the file, only then). DuckDB's
        positions are at times one byte into a line: counting line feeds between them, that
        does not change the count."""
        con = self.con
        rejected = con.execute(
            "SELECT line, min(line_byte_position), max(strlen(csv_line)) >= "
            f"{_KEPT} FROM rejects GROUP BY line ORDER BY line"
        ).fetchall()
        if not any(long for _, _, long in rejected):
            return []
        breaks = " + ".join(
            f"coalesce(strlen(c{i}) - strlen(replace(c{i}, e'\\n', '')), 0)"
            for i in range(self.width)
        )
        con.execute(
            f"CREATE TABLE record_breaks AS SELECT {breaks} AS n "
            f"FROM {self.reader(file, 'rejects3')}"
        )
        found = con.execute(
            "SELECT rowid + 1, n FROM record_breaks WHERE n > 0 ORDER BY 1"
        ).fetchall()
        for table in ("record_breaks", "rejects3", "rejects3_scan"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        records = np.array([r for r, _ in found], dtype=np.int64)  # read order, from 1
        inside = np.concatenate(([0], np.cumsum([n for _, n in found], dtype=np.int64)))
        # DuckDB's positions are in the text it decoded: UTF-16 is counted in a UTF-8 copy
        path = (file.path if file.duckdb_encoding == "utf-8"
                else _as_utf8(file.path, file.encoding, self.workdir))
        counts = []
        for index, (line, start, long) in enumerate(rejected):
            if not long:
                continue
            read_before = line - 2 - index  # records (header = line 1) loaded before it
            if index + 1 < len(rejected):
                end, between = rejected[index + 1][1], rejected[index + 1][0] - line - 1
            else:
                end, between = None, rows - read_before
            if start is None or (end is None and index + 1 < len(rejected)):
                continue  # no position from DuckDB: the lines of the text it kept are said
            first, last = np.searchsorted(records, [read_before + 1, read_before + between + 1])
            lines = _lines_in(path, start, end)
            counts.append((line, lines - 1 - between - int(inside[last] - inside[first])))
        return counts

    def _record_lines(self) -> None:
        """Add ``line`` to ``nulled``: record numbers (1 = first record read) become lines
        (header = line 1), counting the records the reader rejected before each."""
        con = self.con
        rejected = np.array(
            [r[0] for r in con.execute("SELECT DISTINCT line FROM q ORDER BY 1").fetchall()],
            dtype=np.int64,
        )
        con.execute("ALTER TABLE nulled ADD COLUMN line BIGINT")
        if rejected.size == 0:
            con.execute("UPDATE nulled SET line = record + 1")
            return
        # the k-th record read is record k + j, j = the rejected records before it
        records = rejected - 1
        read_before = records - 1 - np.arange(records.size)  # records read before each rejected
        wanted = np.array(
            [r[0] for r in con.execute("SELECT DISTINCT record FROM nulled").fetchall()],
            dtype=np.int64,
        )
        skipped = np.searchsorted(read_before, wanted, side="left")
        lines = pa.table({"record": wanted, "line": wanted + skipped + 1})
        con.register("lines", lines)
        con.execute(
            "UPDATE nulled SET line = lines.line FROM lines WHERE nulled.record = lines.record"
        )
        con.unregister("lines")
