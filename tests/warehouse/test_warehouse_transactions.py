"""Transactions and checkpoints: rows and checkpoint moves commit together or not at all."""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path

import pyarrow as pa
import pytest

from cauce.errors import CheckpointConflict, WarehouseError
from cauce.warehouse import Checkpoint, WarehouseBackend
from waiting import wait_for


def _chunk(start: int, size: int = 3) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + size), pa.int64())})


# Where a loader's thread waits for another's open transaction, by backend: its innermost
# frame (file, function), and the function of cauce's below it that the wait belongs to — a
# lock of this process (in-memory databases), SQLite's BEGIN IMMEDIATE (driver or SQLAlchemy),
# DuckDB's write lock, a PostgreSQL statement of the checkpoint move waiting on a lock.
WAITS = {
    ("pool.py", "acquire"): "transaction",
    ("sqlite.py", "execute"): "begin",
    ("duckdb.py", "_session"): "transaction",
    ("default.py", "do_execute"): "_begin",
    ("connection.py", "wait"): "_move_checkpoint",
}


def _waiting(thread: threading.Thread) -> bool:
    """Whether ``thread`` is in one of the waits of `WAITS` (its stack, looked at now)."""
    frame = sys._current_frames().get(thread.ident or 0)
    if frame is None:
        return False
    stack = [(Path(f.filename).name, f.name) for f in traceback.extract_stack(frame)]
    below = WAITS.get(stack[-1])
    return below is not None and any(name == below for _, name in stack[:-1])


def _count(warehouse: WarehouseBackend, table: str = "rows") -> int:
    if not warehouse.table_exists(table):
        return 0
    return warehouse.query(f"SELECT count(*) AS n FROM {table}").column(0)[0].as_py()


def test_a_checkpoint_is_none_until_set(warehouse: WarehouseBackend) -> None:
    assert warehouse.checkpoint("census") is None
    warehouse.load("rows", _chunk(0), checkpoint=Checkpoint("census", {"chunk": 0}))
    assert warehouse.checkpoint("census") == {"chunk": 0}
    assert warehouse.checkpoint("other") is None


def test_moving_a_checkpoint_needs_its_current_value(warehouse: WarehouseBackend) -> None:
    warehouse.load("rows", _chunk(0), checkpoint=Checkpoint("c", 0))
    warehouse.load("rows", _chunk(3), checkpoint=Checkpoint("c", 1, expect=0))
    for stale in (None, 0, 5):
        with pytest.raises(CheckpointConflict, match=r"checkpoint 'c' .* is 1, not the expected"):
            warehouse.load("rows", _chunk(6), checkpoint=Checkpoint("c", 2, expect=stale))
    assert warehouse.checkpoint("c") == 1
    assert _count(warehouse) == 6


def test_checkpoint_values_compare_as_json(warehouse: WarehouseBackend) -> None:
    warehouse.load("rows", _chunk(0), checkpoint=Checkpoint("c", {"b": [1, "x"], "a": True}))
    # Key order does not matter: values are stored as canonical JSON.
    warehouse.load(
        "rows", _chunk(3), checkpoint=Checkpoint("c", "done", expect={"a": True, "b": [1, "x"]})
    )
    assert warehouse.checkpoint("c") == "done"


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "must not be None"), ({1, 2}, "not JSON-serialisable"), (float("nan"), "JSON")],
)
def test_bad_checkpoint_values_are_refused(
    warehouse: WarehouseBackend, value: object, message: str
) -> None:
    with pytest.raises(WarehouseError, match=message):
        warehouse.load("rows", _chunk(0), checkpoint=Checkpoint("c", value))
    assert _count(warehouse) == 0


def test_transaction_commits_rows_and_checkpoint_together(warehouse: WarehouseBackend) -> None:
    with warehouse.transaction() as tx:
        assert tx.load("rows", _chunk(0)) == 3
        tx.load("other", [{"id": 1}])
        tx.execute("INSERT INTO rows (id) VALUES (?)", [99])
        tx.set_checkpoint("c", 1)
        assert tx.checkpoint("c") == 1
        assert tx.query("SELECT count(*) AS n FROM rows").column(0)[0].as_py() == 4
    assert _count(warehouse) == 4
    assert _count(warehouse, "other") == 1
    assert warehouse.checkpoint("c") == 1


def test_an_exception_rolls_everything_back(warehouse: WarehouseBackend) -> None:
    warehouse.load("rows", _chunk(0))
    with pytest.raises(RuntimeError, match="boom"), warehouse.transaction() as tx:
        tx.load("rows", _chunk(3))
        tx.set_checkpoint("c", 1)
        raise RuntimeError("boom")
    assert _count(warehouse) == 3
    assert warehouse.checkpoint("c") is None


def test_a_conflict_rolls_back_what_the_transaction_did_before(
    warehouse: WarehouseBackend,
) -> None:
    warehouse.load("rows", _chunk(0), checkpoint=Checkpoint("c", 1))
    with warehouse.transaction() as tx:
        tx.load("rows", _chunk(3))
        with pytest.raises(CheckpointConflict):
            tx.set_checkpoint("c", 2, expect=None)
        # The transaction is over: nothing of it is committed, and it says so when used.
        with pytest.raises(WarehouseError, match="already rolled back after"):
            tx.load("rows", _chunk(6))
    assert _count(warehouse) == 3
    assert warehouse.checkpoint("c") == 1


def test_any_failed_statement_ends_the_transaction(warehouse: WarehouseBackend) -> None:
    with warehouse.transaction() as tx:
        tx.load("rows", _chunk(0))
        with pytest.raises(WarehouseError, match="execute failed"):
            tx.execute("INSERT INTO missing_table VALUES (1)")
    assert _count(warehouse) == 0


def test_a_second_write_in_the_same_thread_is_refused_not_deadlocked(
    warehouse: WarehouseBackend,
) -> None:
    with warehouse.transaction() as tx:
        tx.load("rows", _chunk(0))
        with pytest.raises(WarehouseError, match="already open in this thread"):
            warehouse.load("rows", _chunk(3))
    assert _count(warehouse) == 3


def test_others_do_not_see_uncommitted_rows(warehouse: WarehouseBackend) -> None:
    if warehouse.url.endswith(":memory:"):
        pytest.skip("an in-memory database has one connection, shared by design")
    warehouse.load("rows", _chunk(0))
    seen: list[int] = []
    with warehouse.transaction() as tx:
        tx.load("rows", _chunk(3))
        reader = threading.Thread(target=lambda: seen.append(_count(warehouse)))
        reader.start()
        reader.join(timeout=30)
    assert seen == [3]
    assert _count(warehouse) == 6


def test_a_waiting_loader_with_the_same_expect_gets_a_conflict(
    warehouse: WarehouseBackend,
) -> None:
    """While A holds an uncommitted move of the checkpoint, B tries the same move.

    B waits (for the write lock or the row lock), then finds the checkpoint moved: exactly one
    of them commits its chunk.
    """
    outcome: list[object] = []

    def second_loader() -> None:
        try:
            outcome.append(
                warehouse.load("rows", _chunk(100), checkpoint=Checkpoint("c", 1, expect=None))
            )
        except Exception as error:  # recorded, so the assertion below shows what it was
            outcome.append(error)

    with warehouse.transaction() as tx:
        tx.set_checkpoint("c", 1, expect=None)
        tx.load("rows", _chunk(0))
        other = threading.Thread(target=second_loader)
        other.start()
        wait_for(lambda: _waiting(other), what="the second loader to wait for the first")
        assert outcome == [], "the second loader must wait for the first to finish"
    other.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], CheckpointConflict), outcome
    assert warehouse.query("SELECT id FROM rows ORDER BY id").column(0).to_pylist() == [0, 1, 2]


def test_racing_loaders_never_both_commit(warehouse: WarehouseBackend) -> None:
    """Eight threads read the checkpoint, then all try to move it from there at once."""
    warehouse.load("rows", _chunk(0), checkpoint=Checkpoint("c", 0))
    barrier = threading.Barrier(8)
    results: list[str] = []

    def loader(index: int) -> None:
        expect = warehouse.checkpoint("c")
        barrier.wait()
        try:
            warehouse.load("rows", _chunk(10 * index + 10), checkpoint=Checkpoint("c", 1, expect))
            results.append("committed")
        except CheckpointConflict:
            results.append("conflict")
        except Exception as error:  # recorded, so the assertion below shows what it was
            results.append(repr(error))

    threads = [threading.Thread(target=loader, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["committed"] + ["conflict"] * 7
    assert _count(warehouse) == 6


def test_a_transaction_sees_the_tables_it_created(warehouse: WarehouseBackend) -> None:
    with warehouse.transaction() as tx:
        assert not tx.table_exists("made")
        tx.execute("CREATE TABLE made (id INTEGER)")
        assert tx.table_exists("made")
    assert warehouse.table_exists("made")
