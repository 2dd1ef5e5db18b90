"""The raw zone: each source's Parquet files per partition date, replaced whole, atomically.

Layout in bucket ``raw`` (as the original's ``s3://…-raw-zone/<table>/``)::

    <table>/fecha_corte_datos=<YYYY-MM-DD>/[<column>=<value>/]part-<run>-<n>.parquet
    <table>/fecha_corte_datos=<YYYY-MM-DD>/_SUCCESS

Sources the original partitions by a second column get one folder per value (escaped as Spark
escapes partition values; null and empty in ``__HIVE_DEFAULT_PARTITION__``); the column is also
kept inside the files. ``fecha_corte_datos`` is only in the path: `read` adds it.

A partition is what its ``_SUCCESS`` says. Publishing writes every part under names no earlier
run used, then the quarantine, then ``_SUCCESS`` (one atomic object write: the swap), and only
then deletes the parts and quarantine files of earlier runs. Readers that follow ``_SUCCESS``
see the old partition or the new one, never a mix; a run killed before its swap leaves the old
partition as it was, and the next run deletes what the killed one wrote. So a date re-run, or
killed and re-run, never duplicates a row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cauce import Bucket, ObjectNotFound
from cauce.apps.contracting.errors import PartitionDamaged, SourceMissing

if TYPE_CHECKING:
    import duckdb

    from cauce.apps.contracting.etl import EtlOutput

PARTITION = "fecha_corte_datos"
SUCCESS = "_SUCCESS"
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
MAX_FOLDER = 255  # bytes in one folder name, as file systems and bucket keys allow
# the characters Spark escapes in partition folder names (ExternalCatalogUtils.escapePathName)
_ESCAPED = frozenset(chr(c) for c in range(0x20)) | frozenset("\"#%'*/:=?\\\x7f{[]^")


def escape_path_name(value: str) -> str:
    """A partition value as Spark writes it in a folder name: ``/`` is ``%2F`` and so on."""
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in value)


def partition_folder(column: str, value: str | None) -> str:
    """``column=value`` as a folder name; null and empty values go to the default partition.

    A name over `MAX_FOLDER` bytes (a free-text value in a partition column) is cut and ends
    in a hash of the whole value, so two values never share a folder; the value itself is in
    the files, where readers take it from."""
    name = f"{column}={escape_path_name(value) if value else DEFAULT_PARTITION}"
    if len(name.encode()) <= MAX_FOLDER or not value:
        return name
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    cut = name.encode()[: MAX_FOLDER - len(digest) - 1].decode(errors="ignore")
    return f"{cut}-{digest}"


def partition_prefix(table: str, day: date) -> str:
    return f"{table}/{PARTITION}={day.isoformat()}/"


@dataclass(frozen=True)
class Commit:
    """A published partition: what its ``_SUCCESS`` object says."""

    table: str
    fecha_corte_datos: str
    run: str
    rows: int
    parts: list[str]  # keys in bucket raw
    quarantine: str | None  # key in bucket quarantine
    quarantined: int
    committed_at: str

    @property
    def day(self) -> date:
        return date.fromisoformat(self.fecha_corte_datos)


def committed(raw: Bucket, table: str, day: date) -> Commit | None:
    """The partition's commit, or None when no complete run wrote it."""
    key = partition_prefix(table, day) + SUCCESS
    if not raw.exists(key):
        return None
    return Commit(**json.loads(raw.get(key)))


def publish(
    raw: Bucket, quarantine: Bucket, table: str, day: date, run: str, output: EtlOutput
) -> Commit:
    """Store ``output``'s files as partition ``day`` of ``table``, replacing the previous one."""
    prefix = partition_prefix(table, day)
    parts = []
    for key, path in output.parts:
        raw.put_file(prefix + key, path, move=True)
        parts.append(prefix + key)
    quarantine_key = None
    if output.quarantine is not None:
        quarantine_key = f"{prefix}quarantine-{run}.parquet"
        quarantine.put_file(quarantine_key, output.quarantine, move=True)
    commit = Commit(
        table,
        day.isoformat(),
        run,
        output.rows,
        parts,
        quarantine_key,
        output.rejected_rows + output.nulled_values,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    raw.put(prefix + SUCCESS, json.dumps(asdict(commit), ensure_ascii=False, indent=1))
    sweep(raw, quarantine, table, day)
    return commit


def sweep(raw: Bucket, quarantine: Bucket, table: str, day: date) -> int:
    """Delete the objects of partition ``day`` that its commit does not list; how many."""
    commit = committed(raw, table, day)
    prefix = partition_prefix(table, day)
    keep = {prefix + SUCCESS, *(commit.parts if commit else ())}
    deleted = sum(raw.delete(obj.key) for obj in raw.list(prefix) if obj.key not in keep)
    kept = commit.quarantine if commit else None
    return deleted + sum(
        quarantine.delete(obj.key) for obj in quarantine.list(prefix) if obj.key != kept
    )


def local_paths(raw: Bucket, table: str, day: date) -> list[Path]:
    """The committed Parquet files of a partition, as local files; SourceMissing when none, or
    when a part its commit lists is gone or is not Parquet (the partition was damaged after
    it was written): the ETL of that source and date makes it whole again."""
    commit = committed(raw, table, day)
    if commit is None:
        raise SourceMissing(
            f"{table}: no committed partition {PARTITION}={day.isoformat()} in bucket raw",
            hint=f"run `cauce run contracting etl --partition {day.isoformat()}` first",
        )
    paths = []
    for key in commit.parts:
        try:
            path = raw.path(key)
        except ObjectNotFound:
            path = None
        if path is None or not _parquet(path):
            raise PartitionDamaged(
                f"{table}: part {key} of partition {PARTITION}={day.isoformat()} is missing or "
                "not Parquet",
                hint=f"run `cauce run contracting etl --partition {day.isoformat()} --source "
                f"{table}` again",
            )
        paths.append(path)
    return paths


def _parquet(path: Path) -> bool:
    """Whether ``path`` is there and starts and ends as a Parquet file does (``PAR1``)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(-4, 2)
            return head == handle.read(4) == b"PAR1"
    except OSError:  # gone, a folder, or shorter than the two marks
        return False


def read(con: duckdb.DuckDBPyConnection, raw: Bucket, table: str, day: date) -> Any:
    """The partition as a DuckDB relation, with ``fecha_corte_datos`` as a DATE column."""
    files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in local_paths(raw, table, day))
    return con.sql(
        f"SELECT *, DATE '{day.isoformat()}' AS {PARTITION} "
        f"FROM read_parquet([{files}], hive_partitioning = false)"
    )


def quarantine_rows(quarantine: Bucket, raw: Bucket, table: str, day: date) -> Path | None:
    """The committed quarantine file of a partition, if it has one."""
    commit = committed(raw, table, day)
    if commit is None or commit.quarantine is None:
        return None
    return quarantine.path(commit.quarantine)
