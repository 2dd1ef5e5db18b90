"""Many threads on one warehouse, and the connection pool that makes that safe."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from cauce.errors import WarehouseError
from cauce.warehouse import WarehouseBackend
from cauce.warehouse import pool as pool_module
from cauce.warehouse.pool import ConnectionPool
from cauce.warehouse.turns import ProcessTurn

# prints whether a process other than the test's can take the turn on the file, without waiting
TAKE_ELSEWHERE = ("import sys, time, pathlib; from cauce.warehouse.turns import ProcessTurn; "
                  "print(ProcessTurn(pathlib.Path(sys.argv[1])).take(time.monotonic()))")


def test_concurrent_writers_and_readers_all_succeed(warehouse: WarehouseBackend) -> None:
    """Four threads load and query at once: every write lands, nobody sees "database is locked"."""
    warehouse.execute("CREATE TABLE hits (worker INTEGER, n INTEGER)")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(8):
                warehouse.load("hits", pa.table({"worker": [worker], "n": [n]}))
                warehouse.query("SELECT count(*) AS c FROM hits")
        except BaseException as error:  # collected so the assertion shows it
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert warehouse.query("SELECT count(*) AS c FROM hits").column(0)[0].as_py() == 32


def test_a_turn_on_a_file_is_had_by_one_thread_of_a_process_at_a_time(tmp_path: Path) -> None:
    """While one ProcessTurn of this process has the turn on a file, another (the web UI's SQL
    box beside a job's warehouse, or two SQL box requests) does not get it, and looking for the
    holder leaves the turn to the first: a POSIX lock does not exclude the threads of the
    process holding it, and closing any descriptor of the lock file ends it."""
    path = tmp_path / "shared.duckdb"
    first, second = ProcessTurn(path), ProcessTurn(path)
    assert first.take(time.monotonic() + 30)
    try:
        assert not second.take(time.monotonic())
        assert second.holder() is None
        elsewhere = subprocess.run([sys.executable, "-c", TAKE_ELSEWHERE, str(path)],
                                   capture_output=True, text=True, timeout=60, check=True)
        assert elsewhere.stdout.strip() == "False"
    finally:
        first.give_back()
    assert second.take(time.monotonic())
    second.give_back()


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False
        self.healthy = True


def _pool(max_idle: int = 2) -> tuple[ConnectionPool[FakeConnection], list[FakeConnection]]:
    opened: list[FakeConnection] = []

    def open_connection() -> FakeConnection:
        opened.append(FakeConnection())
        return opened[-1]

    def close(connection: FakeConnection) -> None:
        connection.closed = True

    pool = ConnectionPool(
        open_connection, close, lambda c: c.healthy, name="fake://", max_idle=max_idle
    )
    return pool, opened


def test_the_pool_reuses_idle_connections_and_bounds_them() -> None:
    pool, opened = _pool(max_idle=2)
    with pool.acquire() as first:
        pass
    with pool.acquire() as again:
        assert again is first
    with pool.acquire(), pool.acquire(), pool.acquire():
        pass
    assert len(opened) == 3
    assert sum(connection.closed for connection in opened) == 1  # only two are kept idle


def test_the_pool_drops_connections_that_are_not_reusable() -> None:
    pool, _ = _pool()
    with pool.acquire() as connection:
        connection.healthy = False
    assert connection.closed
    with pool.acquire() as fresh:
        assert fresh is not connection


def test_after_fork_the_parents_connections_are_neither_used_nor_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool, _ = _pool()
    with pool.acquire() as parents:
        pass
    monkeypatch.setattr(pool_module.os, "getpid", lambda: -1)  # as seen from a forked child
    with pool.acquire() as childs:
        assert childs is not parents
    assert not parents.closed


def test_a_closed_pool_refuses_and_closes_what_comes_back() -> None:
    pool, _ = _pool()
    with pool.acquire() as in_use:
        pool.close()
    assert in_use.closed
    with pytest.raises(WarehouseError, match="is closed"), pool.acquire():
        pass
