"""One ETL at a time per raw partition: a lease in a cauce table, renewed while the run works.

Two runs loading the same table and date at once would sweep each other's parts (`rawzone.publish`
deletes every part its commit does not list). So the ETL of a source takes the partition's lease
first: a conditional put that only one writer wins, even across processes sharing the cauce
home. A second run fails at once with one line naming the run that holds it. The holder renews
the lease from a thread every third of its time to live; a run that is killed (even by SIGKILL)
stops renewing, and once the lease has expired the next run takes it over. The lease names its
holder's host and process too: a run on the same host whose holder process is gone takes it over
at once, so re-running a killed run needs no wait. A run that could not renew in time (another
run took the lease over) stops before it publishes anything.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cauce import ConditionFailed, Table
from cauce.apps.contracting.errors import PartitionBusy

Clock = Callable[[], datetime]


@dataclass
class Lease:
    """A held lease: its key, holder and version, and whether a renewal failed."""

    table: Table
    key: tuple[str, str]
    holder: str
    since: datetime
    version: int
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise PartitionBusy when another run has taken the lease over."""
        if self.lost.is_set():
            current = self.table.get(self.key) or {}
            raise PartitionBusy(
                f"{self.key[0]} {self.key[1]}: the lease was taken over by run "
                f"{current.get('holder', '?')} while this run held it; nothing was published",
                hint="this run stalled longer than the etl_lease setting; run the ETL again",
            )


@contextmanager
def exclusive(
    table: Table, raw_table: str, day: date, *, holder: str, clock: Clock, ttl: timedelta
) -> Iterator[Lease]:
    """Hold partition ``day`` of ``raw_table`` for run ``holder`` while the block runs."""
    lease = acquire(table, raw_table, day, holder=holder, clock=clock, ttl=ttl)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(lease, stop, clock, ttl), name=f"lease-{raw_table}", daemon=True
    )
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join()
        if not lease.lost.is_set():
            table.delete(lease.key, if_version=lease.version)


def acquire(
    table: Table, raw_table: str, day: date, *, holder: str, clock: Clock, ttl: timedelta
) -> Lease:
    """The lease, taken now or from a holder whose lease has expired; PartitionBusy if held."""
    key = (raw_table, day.isoformat())
    for _ in range(3):  # the holder may release or renew between our reads
        now = clock()
        item = _item(key, holder, now, ttl, since=now)
        try:
            return Lease(table, key, holder, now, table.put(item, if_absent=True))
        except ConditionFailed:
            pass
        found = table.get_with_version(key)  # together: a takeover between two reads is lost
        if found is None:
            continue  # released meanwhile
        current, version = found
        if datetime.fromisoformat(current["expires"]) > now and holder_alive(current):
            raise PartitionBusy(
                f"{raw_table} {key[1]}: another ETL run ({current['holder']}) has been loading "
                f"this partition since {current['since']}",
                hint=f"wait for it, or stop it: cauce runs cancel {current['holder']}",
            )
        try:  # an expired lease, or its holder died: take it over
            return Lease(table, key, holder, now, table.put(item, if_version=version))
        except ConditionFailed:
            continue
    raise PartitionBusy(
        f"{raw_table} {key[1]}: the partition's lease changed hands three times while taken",
        hint="another ETL of the same source and date keeps starting; run it once",
    )


def holder_alive(item: dict[str, object]) -> bool:
    """False only when the lease's holder ran on this host and its process is gone; a holder
    on another host (or a lease without host and pid) counts as alive until it expires."""
    pid = item.get("pid")
    if item.get("host") != socket.gethostname() or not isinstance(pid, int):
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that id
        return True
    return True


def _item(
    key: tuple[str, str], holder: str, now: datetime, ttl: timedelta, *, since: datetime
) -> dict[str, object]:
    return {
        "table": key[0],
        "day": key[1],
        "holder": holder,
        "since": since.isoformat(timespec="seconds"),
        "expires": (now + ttl).isoformat(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def _renew(lease: Lease, stop: threading.Event, clock: Clock, ttl: timedelta) -> None:
    while not stop.wait(ttl.total_seconds() / 3):
        item = _item(lease.key, lease.holder, clock(), ttl, since=lease.since)
        try:
            lease.version = lease.table.put(item, if_version=lease.version)
        except ConditionFailed:
            lease.lost.set()
            return
