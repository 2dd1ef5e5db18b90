"""One ETL at a time per source and date: a second run is refused while the first holds the
partition's lease, a dead run's lease is taken over once expired, and renewals keep it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from cauce.apps.contracting import app, lease
from cauce.apps.contracting.errors import PartitionBusy
from cauce.testing import TestRuntime
from waiting import wait_for

DAY = date(2023, 4, 16)
TABLE = "t_seii_multasysanci_secopiimulsa"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def rt() -> Iterator[TestRuntime]:
    with TestRuntime(app) as runtime:
        yield runtime


def test_a_second_etl_of_the_same_source_and_date_is_refused_while_one_runs(
    rt: TestRuntime,
) -> None:
    assert rt.run("synth", scale="tiny", date=DAY.isoformat()).succeeded
    leases = rt.table("etl_leases")
    # another process's run holds the partition (its lease renewed a moment ago)
    other = lease.acquire(leases, TABLE, DAY, holder="01other", clock=now, ttl=timedelta(60))
    busy = rt.run("etl", partition=DAY.isoformat(), source=["multas", "pep"])
    assert not busy.succeeded
    assert "1 of 2 source(s) failed: multas:" in busy.error
    assert "another ETL run (01other) has been loading this partition" in busy.error
    assert busy.result is None
    leases.delete(other.key, if_version=other.version)  # it finished
    again = rt.run("etl", partition=DAY.isoformat(), source=["multas"])
    assert again.succeeded, again.error
    assert leases.get((TABLE, DAY.isoformat())) is None  # released at the end


def test_the_lease_of_a_killed_run_is_taken_over_once_expired(rt: TestRuntime) -> None:
    assert rt.run("synth", scale="tiny", date=DAY.isoformat()).succeeded
    leases = rt.table("etl_leases")
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    lease.acquire(leases, TABLE, DAY, holder="01killed", clock=lambda: long_ago,
                  ttl=timedelta(minutes=2))  # fmt: skip
    run = rt.run("etl", partition=DAY.isoformat(), source=["multas"])
    assert run.succeeded, run.error


def test_the_lease_of_a_killed_process_on_this_host_is_taken_over_at_once(
    rt: TestRuntime,
) -> None:
    assert rt.run("synth", scale="tiny", date=DAY.isoformat()).succeeded
    leases = rt.table("etl_leases")
    held = lease.acquire(leases, TABLE, DAY, holder="01killed", clock=now, ttl=timedelta(60))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = {**leases.get(held.key), "pid": int(gone.stdout)}  # a process that has exited
    leases.put(dead, if_version=held.version)
    assert not lease.holder_alive(dead)
    run = rt.run("etl", partition=DAY.isoformat(), source=["multas"])
    assert run.succeeded, run.error
    # a live holder elsewhere (another host) is still waited for until its lease expires
    assert lease.holder_alive({**dead, "host": "elsewhere"})


def test_of_racing_runs_exactly_one_takes_the_lease(rt: TestRuntime) -> None:
    leases = rt.table("etl_leases")
    start = threading.Barrier(6)
    won, refused = [], []

    def race(name: str) -> None:
        start.wait()
        try:
            won.append(lease.acquire(leases, TABLE, DAY, holder=name, clock=now,
                                     ttl=timedelta(minutes=2)))  # fmt: skip
        except PartitionBusy:
            refused.append(name)

    threads = [threading.Thread(target=race, args=(f"run{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 5


def test_a_lease_taken_over_between_the_reads_of_a_takeover_is_not_taken_again(
    rt: TestRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the expired lease was read, then its version: a run that took it over in between gave
    # its fresh version to the stale lease, and the takeover of that succeeded — two runs
    # loading one partition, each sweeping the other's parts
    leases = rt.table("etl_leases")
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    lease.acquire(leases, TABLE, DAY, holder="01killed", clock=lambda: long_ago,
                  ttl=timedelta(minutes=2))  # fmt: skip
    read = leases.get_with_version
    quick: list[str] = []

    def read_then_taken_over(key: tuple[str, str]) -> tuple[dict, int] | None:
        found = read(key)
        if not quick:  # once: the quick run's own reads go on as they are
            quick.append("01quick")
            lease.acquire(leases, TABLE, DAY, holder="01quick", clock=now,
                          ttl=timedelta(minutes=2))  # fmt: skip
        return found

    monkeypatch.setattr(leases, "get_with_version", read_then_taken_over)
    with pytest.raises(PartitionBusy, match=r"another ETL run \(01quick\)"):
        lease.acquire(leases, TABLE, DAY, holder="01slow", clock=now, ttl=timedelta(minutes=2))
    assert leases.get((TABLE, DAY.isoformat()))["holder"] == "01quick"


class MovedClock:
    """The leases' clock (`lease.Clock`), moved only by the test: whether a lease has expired
    is then what the test says, however late the renewing thread runs."""

    def __init__(self) -> None:
        self.now = now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def test_the_holder_renews_its_lease_and_notices_a_takeover(rt: TestRuntime) -> None:
    leases = rt.table("etl_leases")
    ttl = timedelta(seconds=0.3)  # renewed every 0.1 s
    clock = MovedClock()
    with lease.exclusive(leases, TABLE, DAY, holder="01mine", clock=clock, ttl=ttl) as held:
        first = held.version
        clock.advance(2 * ttl)  # longer than its time to live: renewals keep it
        wait_for(lambda: datetime.fromisoformat(leases.get(held.key)["expires"]) > clock(),
                 what="a renewal at the new time")
        assert held.version > first
        with pytest.raises(PartitionBusy, match="01mine"):
            lease.acquire(leases, TABLE, DAY, holder="01late", clock=clock, ttl=ttl)
        held.check()
        # a run that stalled: another takes the lease over under its feet
        current = leases.version(held.key)
        leases.put({**leases.get(held.key), "holder": "01thief"}, if_version=current)
        wait_for(held.lost.is_set, what="the renewal to find the lease taken over")
        with pytest.raises(PartitionBusy, match="taken over by run 01thief"):
            held.check()
    assert leases.get(held.key)["holder"] == "01thief"  # not released by the loser
