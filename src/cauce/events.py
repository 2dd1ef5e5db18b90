"""What handlers receive: a queue or topic `Message`, a bucket `ObjectRef`, stream `Record`s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .resources.bucket import Bucket


@dataclass(frozen=True)
class Message:
    """A message received from a queue or delivered from a topic."""

    id: str
    body: Any
    event_id: str
    receive_count: int
    group: str | None
    sent_at: datetime
    queue: str = field(default="", repr=False)
    lease: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ObjectRef:
    """An object in a bucket (what an object-created handler receives)."""

    bucket: Bucket = field(repr=False)
    key: str
    size: int
    created_at: datetime

    @property
    def bucket_name(self) -> str:
        return self.bucket.name

    def read(self) -> bytes:
        return self.bucket.get(self.key)

    def open(self, mode: str = "rb") -> IO[bytes]:
        return self.bucket.open(self.key, mode)

    @property
    def path(self) -> Path:
        """The object's file on local disk (embedded folder buckets)."""
        return self.bucket.path(self.key)


@dataclass(frozen=True)
class Record:
    """A stream record, in shard order."""

    data: Any
    partition_key: str
    shard: int
    seq: int
    ts: datetime


class BatchFailed(Exception):
    """Raised (or returned) by a batch handler to fail only some messages of its batch.

    The messages named — `Message` objects or their ids — are retried, and dead-lettered after
    their queue's ``max_receives``; the rest of the batch is acknowledged. Any other exception
    fails the whole batch, whose messages are then each retried in a batch of their own.
    """

    def __init__(self, failed: Iterable[Message | str], reason: str = "failed in its batch"
                 ) -> None:
        super().__init__(reason)
        self.failed = tuple(m.id if isinstance(m, Message) else str(m) for m in failed)
        self.reason = reason
