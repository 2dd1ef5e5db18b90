"""Writers of one state file take turns on its lock file (`cauce.backends.sqlite.turns`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from cauce.backends.sqlite.turns import WriterTurns


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "state.db")
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait(2)
        with turns.turn():
            order.append("second")

    other = threading.Thread(target=second)
    other.start()
    with turns.turn():
        inside.set()
        time.sleep(0.2)  # the other thread is waiting for its turn now
        order.append("first")
    other.join(5)
    assert order == ["first", "second"]
    turns.close()


def _finishes(work: Callable[[], None]) -> bool:
    """Whether ``work`` returns within two seconds (run in a thread, so a wait cannot hang)."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(2)


def test_writers_of_other_files_do_not_wait(tmp_path: Path) -> None:
    a, b = WriterTurns(tmp_path / "a.db"), WriterTurns(tmp_path / "b.db")

    def write_b() -> None:
        with b.turn():
            pass

    with a.turn():
        assert _finishes(write_b)
    a.close()
    b.close()


def test_a_thread_holding_the_turn_is_not_stopped_by_a_second_object_on_the_file(
    tmp_path: Path,
) -> None:
    first, second = WriterTurns(tmp_path / "state.db"), WriterTurns(tmp_path / "state.db")

    def nested() -> None:
        with first.turn(), second.turn():
            pass  # no wait for a turn this thread holds

    assert _finishes(nested)


def test_without_a_lock_file_writers_go_on(tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "missing-folder" / "state.db")
    with turns.turn():
        pass  # SQLite's busy handler alone orders the writers then
    turns.close()
