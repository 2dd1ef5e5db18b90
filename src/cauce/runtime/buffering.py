"""Buffered stream batches, as a sink reads them: a batch closes once its records reach a size
in bytes (as uncompressed JSON lines, as Firehose counts its buffer) or its first record has
waited a number of seconds on the runtime's clock.

Where a batch closes depends only on the records: the size cut is the first record at which
the bytes reach the limit, the time cut is the last record stamped before ``first.ts +
max_seconds``; when the clock passes that moment with no later record yet, every record read so
far goes. The batch claimed is then written down with the shard's lease (``upto``), so a batch
delivered again after a crash is the same batch.

Records are counted once each while they wait (`Pending` remembers how far it got), so asking
"is a batch ready?" on every poll costs only the records appended since the last poll.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..backends.state import StoredRecord

PAGE = 2000

Reader = Callable[[int, int], list[StoredRecord]]  # (after, limit) -> records in order


@dataclass
class Pending:
    """What one shard holds after a checkpoint: bytes counted, and where its batch closes."""

    checkpoint: int
    counted: int  # the last sequence number counted
    size: int = 0
    first_ts: float | None = None
    closed: int | None = None  # the batch's last sequence number, once it closed

    def scan(self, read: Reader, *, max_bytes: int, max_seconds: float, now: float) -> float | None:
        """Count records appended since the last scan; returns when the batch closes by time
        if it has not closed (None when there is no record yet, or it closed)."""
        while self.closed is None:
            page = read(self.counted, PAGE)
            for record in page:
                if self.first_ts is None:
                    self.first_ts = record.ts
                elif record.ts >= self.first_ts + max_seconds:
                    self.closed = self.counted
                    break
                self.size += len(record.data.encode("utf-8")) + 1  # a JSON line
                self.counted = record.seq
                if self.size >= max_bytes:
                    self.closed = record.seq
                    break
            if len(page) < PAGE:
                break
        if self.closed is not None or self.first_ts is None:
            return None
        due = self.first_ts + max_seconds
        if now >= due:
            self.closed = self.counted
            return None
        return due
