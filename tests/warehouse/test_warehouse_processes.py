"""Several processes on one warehouse: SIGKILLed loaders, racing loaders, DuckDB's file lock."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cauce.errors import WarehouseError
from cauce.warehouse import connect
from duckdb_files import note_opens, refuse_lock_file
from loaders import finish, ready, send_go, spawn, start

CHUNKS, ROWS = 30, 500


def _assert_every_row_once(url: str, chunks: int = CHUNKS, rows: int = ROWS) -> None:
    with connect(url) as warehouse:
        summary = warehouse.query(
            "SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high "
            "FROM events"
        ).to_pylist()[0]
        assert summary == {
            "n": chunks * rows,
            "ids": chunks * rows,
            "low": 0,
            "high": chunks * rows - 1,
        }
        assert warehouse.checkpoint("events-chunk") == chunks - 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_a_sigkilled_loader_resumes_without_duplicates(
    kind: str, make_url: Callable[[str], str]
) -> None:
    url = make_url(kind)
    seed = random.randrange(2**32)
    chance = random.Random(seed)
    killed_mid_run = 0
    args = ("chunks", url, str(CHUNKS), str(ROWS))
    upcoming = spawn(*args)  # each loader starts while the one before it loads
    try:
        for _ in range(5):
            process, upcoming = ready(upcoming), spawn(*args)
            assert process.stdout is not None
            # Let it commit a few chunks, then kill it somewhere inside the next one.
            for _ in range(chance.randint(1, 3)):
                process.stdout.readline()
            time.sleep(chance.uniform(0, 0.015))
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                killed_mid_run += 1
            process.communicate(timeout=60)
        result = finish(ready(upcoming))
    finally:
        upcoming.kill()  # a failure above leaves it waiting
        upcoming.communicate(timeout=60)
    assert killed_mid_run >= 3, f"too few kills landed mid-run (seed {seed})"
    assert result["conflicts"] == 0
    _assert_every_row_once(url)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_two_racing_loader_processes_load_each_chunk_once(
    kind: str, make_url: Callable[[str], str]
) -> None:
    url = make_url(kind)
    first = start("chunks", url, str(CHUNKS), str(ROWS), go=False)
    second = start("chunks", url, str(CHUNKS), str(ROWS), go=False)
    send_go(first)
    send_go(second)
    results = [finish(first), finish(second)]
    assert sum(result["loaded"] for result in results) == CHUNKS
    _assert_every_row_once(url)


def test_duckdb_loaders_taking_turns_each_start_from_the_last_commit(tmp_path: Path) -> None:
    # Short turns among three processes, each opening the file just as another closes it:
    # DuckDB reads a file's header before it locks the file, and a loader whose open raced
    # another's close worked from the header that close replaced (it read blocks past the
    # file's end, or committed over the other's chunk). Each loader also gets its turns while
    # the others take one after another.
    url = f"duckdb:///{tmp_path / 'turns.duckdb'}"
    chunks, rows = 8, 50
    args = ("chunks", url, str(chunks), str(rows))
    loaders = [ready(process, go=False) for process in [spawn(*args) for _ in range(3)]]
    for loader in loaders:
        send_go(loader)
    results = [finish(loader) for loader in loaders]
    assert sum(result["loaded"] for result in results) == chunks
    _assert_every_row_once(url, chunks, rows)


def test_duckdb_waits_for_another_process_then_writes(tmp_path: Path) -> None:
    """A load meeting a file another process holds is still waiting while the holder holds on,
    and writes once it lets go, after the holder's own rows (the holder holds until told)."""
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    holder = start("hold", url, go=False)
    done: list[int] = []

    def load() -> None:
        with connect(url) as warehouse:
            done.append(warehouse.load("mine", [{"id": 2}]))
            done.append(warehouse.query("SELECT count(*) AS n FROM held").column(0)[0].as_py())

    loader = threading.Thread(target=load)
    loader.start()
    loader.join(0.5)  # a busy machine only makes the load later: it cannot have written yet
    waited = loader.is_alive()
    send_go(holder)
    loader.join(30)
    holder.communicate(timeout=30)
    assert waited, "the load should have waited for the holding process"
    assert done == [1, 1] and holder.returncode == 0


def test_duckdb_waits_for_another_process_without_opening_the_file_then_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB reads a file's header before it locks the file, so an open tried while another
    # process has the file may read the header that process's close is about to replace, and
    # then work from it if the lock comes free in between. The file is opened only once the
    # other process has closed it; past lock_timeout the error names the file and the holder.
    path = tmp_path / "busy.duckdb"
    holder = start("hold", f"duckdb:///{path}", go=False)
    opened = note_opens(monkeypatch)
    try:
        with (
            connect(f"duckdb:///{path}", lock_timeout=0.3) as warehouse,
            pytest.raises(WarehouseError, match=f"{path} is locked by another process") as raised,
        ):
            warehouse.query("SELECT 1 AS one")
        assert f"PID {holder.pid}" in str(raised.value)
        assert "lock_timeout" in (raised.value.hint or "")
        assert opened == []
    finally:
        holder.kill()
        holder.communicate(timeout=30)


def test_a_duckdb_file_where_no_lock_file_can_be_made_is_still_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a read-only folder, DuckDB's own lock alone orders the processes.
    path = tmp_path / "shelved.duckdb"
    with connect(f"duckdb:///{path}") as warehouse:
        warehouse.load("t", [{"id": 1}])
    assert path.with_name("shelved.duckdb.lock").is_file()
    lock_file = refuse_lock_file(path, monkeypatch)
    with connect(f"duckdb:///{path}") as warehouse:
        assert warehouse.query("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 1}]
    assert not lock_file.exists()
