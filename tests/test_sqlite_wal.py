"""Many processes opening one new SQLite file at once: each gets in, in WAL mode."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cauce.backends.sqlite.database import StateDB
from cauce.warehouse import connect

OPENERS = 10
ROUNDS = 6  # without the retry, about one round in five failed on a 2-core machine


def _open_state(path: str, barrier) -> str:
    barrier.wait()
    try:
        StateDB(Path(path)).close()
    except Exception as error:  # reported to the test, which names it
        return repr(error)
    return "ok"


def _open_warehouse(path: str, barrier) -> str:
    barrier.wait()
    try:
        backend = connect(f"sqlite:///{path}")
        try:
            with backend.transaction() as session:
                session.execute("SELECT 1")
        finally:
            backend.close()
    except Exception as error:
        return repr(error)
    return "ok"


@pytest.fixture(scope="module")
def openers() -> Iterator[tuple[Any, Any]]:
    """A manager (for the barriers) and a pool of OPENERS processes, started once for the module:
    spawning them is most of the time of these tests."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(OPENERS) as pool:
        yield manager, pool


@pytest.mark.slow
@pytest.mark.parametrize("opener", [_open_state, _open_warehouse], ids=["state", "warehouse"])
def test_processes_opening_a_new_file_together_all_get_in(tmp_path: Path, openers, opener) -> None:
    manager, pool = openers
    for round_ in range(ROUNDS):
        path = tmp_path / f"{round_}.db"
        barrier = manager.Barrier(OPENERS)
        outcomes = pool.starmap(opener, [(str(path), barrier)] * OPENERS)
        assert [o for o in outcomes if o != "ok"] == [], f"round {round_}"
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
