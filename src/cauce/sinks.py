"""Sinks: a stream's records delivered to a bucket in files, as Firehose delivers them.

A sink is a stream handler whose batches close by size or age (`cauce.runtime.buffering`):
its records are grouped by ``partition_by`` (a folder, such as the event date) and each group is
written as one object, once, atomically (the bucket writes a temporary file and renames it, or
makes one PUT). An object's name comes from the batch alone — the shard and the first and last
sequence numbers — and a batch delivered again is the same batch, so a crash after writing but
before the checkpoint moved rewrites the same objects with the same bytes: every record ends up
in exactly one object.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .durations import DurationLike, parse_duration
from .errors import ConfigError, DeclarationError
from .events import Record
from .settings import Setting

if TYPE_CHECKING:
    from .context import Context
    from .resources.bucket import Bucket
    from .resources.stream import Stream

SinkFormat = Literal["jsonl.gz", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl.gz", "parquet")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_size(value: int | str, *, what: str = "size") -> int:
    """Bytes in ``value``: a number of bytes, or text such as ``"128MB"`` (units of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    found = _SIZE.match(value) if isinstance(value, str) else None
    if found is None or float(found.group(1)) <= 0:
        raise DeclarationError(
            f"{what}: {value!r} is not a size", hint='write a number of bytes or e.g. "128MB"'
        )
    return int(float(found.group(1)) * _UNITS[(found.group(2) or "b").lower()])


@dataclass(frozen=True)
class FlushLimits:
    """When a buffered batch closes: at ``max_bytes`` of records or once its first record is
    ``max_seconds`` old. Either may be a `Setting`, read when the runtime starts."""

    max_bytes: int | str | Setting
    max_seconds: DurationLike | Setting

    def limits(self, settings: Mapping[str, Any]) -> tuple[int, float]:
        """The limits as numbers, settings resolved."""
        size, age = self.max_bytes, self.max_seconds
        if isinstance(size, Setting):
            size = settings[size.name]
        if isinstance(age, Setting):
            age = settings[age.name]
        try:
            return (
                parse_size(size, what="sink max_bytes"),
                parse_duration(age, what="sink max_seconds"),
            )
        except DeclarationError as error:
            raise ConfigError(str(error), hint=error.hint) from None


class Sink:
    """Writes a stream's records to ``bucket`` under ``prefix``: one object per batch and
    folder, named ``<prefix><folder>/<stream>-<shard>-<first>-<last>.<format>``."""

    def __init__(
        self,
        name: str,
        stream: Stream,
        bucket: Bucket,
        *,
        prefix: str = "",
        partition_by: Callable[[Record], str] | None = None,
        max_bytes: int | str | Setting = "128MB",
        max_seconds: DurationLike | Setting = "100s",
        format: SinkFormat = "jsonl.gz",
    ) -> None:
        if format not in FORMATS:
            raise DeclarationError(
                f"sink {name!r}: format {format!r} is not one cauce writes",
                hint="use " + " or ".join(repr(f) for f in FORMATS),
            )
        if not isinstance(max_bytes, Setting):
            parse_size(max_bytes, what=f"sink {name!r} max_bytes")
        if not isinstance(max_seconds, Setting):
            parse_duration(max_seconds, what=f"sink {name!r} max_seconds")
        self.name = name
        self.stream = stream
        self.bucket = bucket
        self.prefix = prefix
        self.partition_by = partition_by
        self.format = format
        self.limits = FlushLimits(max_bytes, max_seconds)

    def key(self, folder: str | None, shard: int, first: int, last: int) -> str:
        """The object key of one batch's records in one folder."""
        where = f"{folder.strip('/')}/" if folder else ""
        return (
            f"{self.prefix}{where}{self.stream.name}-{shard:04d}-{first:012d}-{last:012d}."
            f"{self.format}"
        )

    def write(self, records: list[Record], ctx: Context) -> list[str]:
        """The handler: group the batch by folder and write one object per folder."""
        first, last = records[0].seq, records[-1].seq
        groups: dict[str | None, list[Record]] = {}
        for record in records:
            folder = self.partition_by(record) if self.partition_by else None
            groups.setdefault(folder, []).append(record)
        keys = []
        for folder, group in groups.items():
            key = self.key(folder, records[0].shard, first, last)
            self.bucket.put(key, encode(group, self.format))
            keys.append(key)
        ctx.log.info(
            "%s: records %d-%d of shard %d in %d object(s)",
            self.name,
            first,
            last,
            records[0].shard,
            len(keys),
        )
        return keys


def encode(records: list[Record], format: str) -> bytes:
    """The bytes of one object: the same records always give the same bytes."""
    if format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [
            r.data if isinstance(r.data, dict) else {"data": json.dumps(r.data)} for r in records
        ]
        out = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), out, compression="zstd")
        return out.getvalue()
    return gzip.compress(b"".join(_json_line(r.data) for r in records), mtime=0)


def _json_line(data: Any) -> bytes:
    """One record as a JSON line in UTF-8; a record holding a lone surrogate (half a pair,
    which has no UTF-8 form) is written in ASCII, with JSON escapes that read back as it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(data, separators=(",", ":")) + "\n").encode("ascii")
