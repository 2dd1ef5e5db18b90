"""The SQL box on a DuckDB file that jobs write: it opens the file only in its turn among the
processes (and the threads of its own), as the warehouse does, and gives the turn back once the
file is closed.

DuckDB reads a file's header before it locks the file, so a look opened just as a job closed
the file could work from the header the job had replaced ("Could not read enough bytes from
file", or rows from before the job's last commit).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cauce.errors import CauceError
from cauce.warehouse import WarehouseBackend, connect
from cauce.warehouse.turns import ProcessTurn
from cauce.web import sqlbox
from duckdb_files import note_opens, refuse_lock_file
from loaders import send_go, start

LIMIT = 0.5  # seconds: the limit of looks meant to be stopped waiting


def being_written(path: Path, holder: int | None = None) -> tuple[str, str | None]:
    """The SQL box's line (message and hint) for a file it did not get its turn on in time."""
    pid = f" (PID {holder})" if holder else ""
    return (f"the DuckDB file {path.resolve()} is being written by another process{pid}",
            "it can be read once that process has closed it; try again in a moment")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[WarehouseBackend]:
    """A DuckDB warehouse file holding table t (one row)."""
    with connect(f"duckdb:///{tmp_path / 'w.duckdb'}") as backend:
        backend.load("t", [{"a": 1}])
        yield backend


def test_a_look_waits_for_a_writing_process_without_opening_the_file_then_answers(
        warehouse: WarehouseBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a job's process has its turn, a look neither opens the file nor fails; once the
    job has committed and let go, the look answers with the job's rows."""
    holder = start("hold", warehouse.url, go=False)  # its transaction has one row in "held"
    asked = threading.Event()  # the look has asked for its turn, or for the file itself
    opened = note_opens(monkeypatch, asked)
    take = ProcessTurn.take

    def asking(turn: ProcessTurn, deadline: float) -> bool:
        asked.set()
        return take(turn, deadline)

    monkeypatch.setattr(ProcessTurn, "take", asking)
    answers: list[Any] = []
    look = threading.Thread(target=lambda: answers.append(
        sqlbox.run(warehouse, "SELECT count(*) FROM held", limit=sqlbox.Limit(120))))
    try:
        look.start()
        assert asked.wait(60)
        opened_while_held = list(opened)
        send_go(holder)
        look.join(120)
    finally:
        holder.kill()  # after a failure above it still holds the file
        holder.communicate(timeout=30)
    assert opened_while_held == []
    assert [answer.rows for answer in answers] == [[(1,)]]


def test_a_look_that_does_not_get_its_turn_in_time_names_the_file_and_the_writer(
        warehouse: WarehouseBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = start("hold", warehouse.url, go=False)
    opened = note_opens(monkeypatch)
    try:
        with pytest.raises(CauceError) as refused:
            sqlbox.run(warehouse, "SELECT count(*) FROM t", limit=sqlbox.Limit(LIMIT))
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    assert (refused.value.message, refused.value.hint) == being_written(
        tmp_path / "w.duckdb", holder.pid)
    assert opened == []


def test_a_look_waits_for_a_thread_of_its_own_process_writing_the_file(
        warehouse: WarehouseBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job (or dashboard) writing the warehouse in the UI's own process has the turn: a look
    waits for it too, rather than open the file read-only beside it (DuckDB refuses a second
    configuration of an open file) or take the process's turn a second time."""
    with warehouse.transaction() as tx:
        tx.load("t", [{"a": 2}])
        opened = note_opens(monkeypatch)
        with pytest.raises(CauceError) as refused:
            sqlbox.run(warehouse, "SELECT count(*) FROM t", limit=sqlbox.Limit(LIMIT))
    assert (refused.value.message, refused.value.hint) == being_written(tmp_path / "w.duckdb")
    assert opened == []
    assert sqlbox.run(warehouse, "SELECT count(*) FROM t").rows == [(2,)]


def test_a_look_where_no_lock_file_can_be_made_still_answers(
        warehouse: WarehouseBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In a read-only folder, DuckDB's own lock alone orders the processes, as for the warehouse.
    lock_file = refuse_lock_file(tmp_path / "w.duckdb", monkeypatch)
    assert sqlbox.run(warehouse, "SELECT count(*) FROM t").rows == [(1,)]
    assert not lock_file.exists()
