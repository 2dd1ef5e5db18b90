"""Where a buffered (sink) batch closes: by bytes, by the first record's age; counted once."""

from __future__ import annotations

from cauce.backends.state import StoredRecord
from cauce.runtime.buffering import Pending


class Log:
    """A shard's records, and how many each read returned (to see nothing is read twice)."""

    def __init__(self) -> None:
        self.records: list[StoredRecord] = []
        self.served = 0

    def add(self, data: str, ts: float) -> None:
        self.records.append(StoredRecord(0, len(self.records) + 1, "k", data, ts))

    def read(self, after: int, limit: int) -> list[StoredRecord]:
        found = [r for r in self.records if r.seq > after][:limit]
        self.served += len(found)
        return found


def test_a_batch_closes_at_the_record_that_reaches_the_size() -> None:
    log, pending = Log(), Pending(0, 0)
    for _ in range(2):
        log.add('"ñandú"', 0.0)  # 7 characters, 9 bytes, 10 with its newline
    assert pending.scan(log.read, max_bytes=25, max_seconds=60, now=1.0) == 60.0
    assert (pending.closed, pending.size) == (None, 20)
    log.add('"ñandú"', 0.0)
    log.add('"x"', 0.0)
    assert pending.scan(log.read, max_bytes=25, max_seconds=60, now=1.0) is None
    assert pending.closed == 3, "the third record took the buffer past 25 bytes"


def test_a_batch_closes_by_age_on_the_clock_or_at_a_later_record() -> None:
    log = Log()
    log.add("1", 100.0)
    log.add("2", 150.0)
    pending = Pending(0, 0)
    assert pending.scan(log.read, max_bytes=10**9, max_seconds=100, now=199.0) == 200.0
    log.add("3", 210.0)  # stamped after the first record's 100 s: the batch ends before it
    assert pending.scan(log.read, max_bytes=10**9, max_seconds=100, now=199.5) is None
    assert pending.closed == 2
    clock = Pending(0, 0)
    small = Log()
    small.add("1", 100.0)
    assert clock.scan(small.read, max_bytes=10**9, max_seconds=100, now=200.0) is None
    assert clock.closed == 1, "the clock reached the first record's 100 s"


def test_each_record_is_read_once_while_it_waits() -> None:
    log, pending = Log(), Pending(0, 0)
    for n in range(5):
        log.add(str(n), 0.0)
        pending.scan(log.read, max_bytes=10**9, max_seconds=60, now=1.0)
    assert (log.served, pending.counted, pending.size) == (5, 5, 10)
