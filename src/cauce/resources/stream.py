"""Stream: an append-only, sharded, ordered log; consumers keep their own checkpoints."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..durations import DurationLike, parse_duration
from ..errors import DeclarationError, InvalidKey, ResourceError
from .base import Resource, to_json_many, unstorable

if TYPE_CHECKING:
    from ..app import App


@dataclass(frozen=True)
class ConsumerPosition:
    """Where one consumer (a handler) stands in one shard."""

    checkpoint: int  # the last sequence number it finished
    lag: int  # records appended after its checkpoint
    behind_seconds: float  # age of the oldest record it has not read (0 when caught up)


@dataclass(frozen=True)
class ShardInfo:
    """One shard: the records kept, the newest sequence number, and each consumer there."""

    shard: int
    records: int
    first_seq: int
    last_seq: int
    oldest: datetime | None
    newest: datetime | None
    consumers: dict[str, ConsumerPosition]


@dataclass(frozen=True)
class StreamInfo:
    """What `Stream.describe` returns: shards, and each consumer's total lag."""

    stream: str
    retention: float
    max_records: int | None
    shards: list[ShardInfo]

    @property
    def lag(self) -> dict[str, int]:
        """Records each consumer has still to read, over every shard."""
        total: dict[str, int] = {}
        for shard in self.shards:
            for name, where in shard.consumers.items():
                total[name] = total.get(name, 0) + where.lag
        return total

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (times as ISO 8601 text)."""
        found = asdict(self)
        for shard in found["shards"]:
            for when in ("oldest", "newest"):
                shard[when] = shard[when].isoformat() if shard[when] else None
        found["lag"] = self.lag
        return found


class Stream(Resource):
    """Records go to a shard chosen by their partition key; order holds within a shard."""

    kind = "stream"

    def __init__(self, app: App, name: str, *, shards: int = 1,
                 retention: DurationLike = "7d", max_records: int | None = None) -> None:
        super().__init__(app, name)
        if not isinstance(shards, int) or shards < 1:
            raise DeclarationError(f"stream {name!r}: shards must be a positive integer",
                                   hint="1 or more: a partition key keeps its order in one")
        if max_records is not None and (not isinstance(max_records, int) or max_records < 1):
            raise DeclarationError(f"stream {name!r}: max_records must be a positive integer",
                                   hint="leave it out to keep records for the retention only")
        self.shards = shards
        self.retention = parse_duration(retention, what=f"stream {name!r} retention")
        if self.retention <= 0:
            raise DeclarationError(f"stream {name!r}: retention must be longer than zero",
                                   hint="records older than it are dropped, read or not: leave "
                                   "it out to keep them 7 days")
        self.max_records = max_records

    def shard_for(self, partition_key: str) -> int:
        """The shard a partition key maps to (stable across processes and runs)."""
        return _key_hash(partition_key) % self.shards

    def put(self, record: Any, partition_key: str) -> tuple[int, int]:
        """Append a record; returns (shard, sequence number)."""
        return self.put_many([(record, partition_key)])[0]

    def put_many(self, records: Iterable[tuple[Any, str]]) -> list[tuple[int, int]]:
        """Append ``(record, partition key)`` pairs in one transaction — all or none; returns
        each one's (shard, sequence number), in order. Records of one key keep their order."""
        values: list[Any] = []
        keys: list[str] = []
        for pair in records:
            if type(pair) is not tuple or len(pair) != 2:
                self._not_a_pair(pair)
            record, partition_key = pair
            if (type(partition_key) is not str or not partition_key
                    or not partition_key.isascii() or "\x00" in partition_key):
                self._checked_key(partition_key)
            values.append(record)
            keys.append(partition_key)
        if not values:
            return []
        by_shard: dict[int, list[tuple[str, str]]] = {}
        placed: list[tuple[int, int]] = []  # (shard, index within its shard's list)
        texts = to_json_many(values, f"a record for stream {self.name!r}")
        for partition_key, text in zip(keys, texts, strict=True):
            shard = _key_hash(partition_key) % self.shards
            items = by_shard.setdefault(shard, [])
            placed.append((shard, len(items)))
            items.append((partition_key, text))
        seqs = self._runtime().append(self, by_shard)
        return [(shard, seqs[shard][i]) for shard, i in placed]

    def _not_a_pair(self, pair: Any) -> None:
        """Refuse what is no ``(record, partition key)`` pair, unless a list of two: a dict
        or a text of two would unpack into its keys or its characters, stored as a record
        and its key without a word."""
        if isinstance(pair, list) and len(pair) == 2:
            return
        raise ResourceError(f"stream {self.name!r}: put_many takes (record, partition key) "
                            f"pairs, not {pair!r:.80}",
                            hint="put_many([(record, key), ...]), e.g. "
                            "[(r, r['station']) for r in rows]")

    def _checked_key(self, partition_key: Any) -> None:
        if not isinstance(partition_key, str) or not partition_key:
            raise InvalidKey(f"stream {self.name!r}: partition_key must be non-empty text, "
                             f"got {partition_key!r}",
                             hint="records with one partition key keep their order, "
                             "e.g. a station id")
        if (why := unstorable(partition_key)) is not None:
            raise InvalidKey(f"stream {self.name!r}: partition key {why}",
                             hint="use text without it, e.g. its escaped or hex form")

    def describe(self) -> StreamInfo:
        """Shards, records kept, and each consumer's checkpoint and lag (like Kinesis's
        DescribeStream and its consumers' iterator age)."""
        runtime = self._runtime()
        streams, now = runtime.state.streams, runtime.clock.time()
        names = [h.name for h in self.app.handlers_of(self)]
        shards = []
        for state in streams.shards(self.qualified, self.shards):
            consumers = {}
            for name in sorted(set(names) | set(state.consumers)):
                checkpoint = state.consumers.get(name, 0)
                unread = streams.read(self.qualified, state.shard, after=checkpoint, limit=1)
                consumers[name] = ConsumerPosition(
                    checkpoint, state.lag(name), max(0.0, now - unread[0].ts) if unread else 0.0)
            shards.append(ShardInfo(
                state.shard, state.records, state.first_seq, state.last_seq,
                _when(state.first_ts), _when(state.last_ts), consumers))
        return StreamInfo(self.name, self.retention, self.max_records, shards)


@lru_cache(maxsize=65536)
def _key_hash(partition_key: str) -> int:
    """CRC-32 of a partition key (keys repeat: a producer has a few, or a few thousand)."""
    return zlib.crc32(partition_key.encode("utf-8"))


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None
