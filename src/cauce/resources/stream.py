"""Stream: an append-only, sharded, ordered log; consumers keep their own checkpoints."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from ..durations import DurationLike, parse_duration
from ..errors import DeclarationError, InvalidKey
from .base import Resource, to_json

if TYPE_CHECKING:
    from ..app import App


class Stream(Resource):
    """Records go to a shard chosen by their partition key; order holds within a shard."""

    kind = "stream"

    def __init__(self, app: App, name: str, *, shards: int = 1,
                 retention: DurationLike = "7d") -> None:
        super().__init__(app, name)
        if not isinstance(shards, int) or shards < 1:
            raise DeclarationError(f"stream {name!r}: shards must be a positive integer")
        self.shards = shards
        self.retention = parse_duration(retention, what=f"stream {name!r} retention")

    def shard_for(self, partition_key: str) -> int:
        """The shard a partition key maps to (stable across processes and runs)."""
        return zlib.crc32(partition_key.encode("utf-8")) % self.shards

    def put(self, record: Any, partition_key: str) -> tuple[int, int]:
        """Append a record; returns (shard, sequence number)."""
        if not isinstance(partition_key, str) or not partition_key:
            raise InvalidKey(f"stream {self.name!r}: partition_key must be non-empty text, "
                             f"got {partition_key!r}",
                             hint="records with one partition key keep their order, "
                             "e.g. a station id")
        text = to_json(record, f"a record for stream {self.name!r}")
        shard = self.shard_for(partition_key)
        seq = self._runtime().append(self, shard, [(partition_key, text)])[0]
        return shard, seq
