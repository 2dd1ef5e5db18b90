"""Writers of one state file take turns on its lock file (`cauce.backends.sqlite.turns`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cauce.backends.sqlite import turns as turns_module
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


def test_a_yielding_writer_lets_a_waiting_writer_go_first(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns_module, "YIELD_PAUSE", 0.5)  # it looks again long after
    monkeypatch.setattr(turns_module, "YIELD_FOR", 5.0)
    turns = WriterTurns(tmp_path / "state.db")
    order: list[str] = []

    def write(name: str, *, yielding: bool) -> None:
        with turns.turn(yielding=yielding):
            order.append(name)

    with turns.turn():
        claim = threading.Thread(target=write, args=("claim",), kwargs={"yielding": True})
        claim.start()
        time.sleep(0.1)  # the claim found the turn held and sleeps before it looks again
        send = threading.Thread(target=write, args=("send",), kwargs={"yielding": False})
        send.start()
        time.sleep(0.1)  # the send waits in the lock
    send.join(5)
    claim.join(5)
    assert order == ["send", "claim"]
    turns.close()


def test_a_yielding_writer_waits_in_the_lock_after_a_while(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns_module, "YIELD_FOR", 0.05)
    monkeypatch.setattr(turns_module, "YIELD_PAUSE", 60.0)  # only the wait in the lock can end
    turns = WriterTurns(tmp_path / "state.db")
    done = threading.Event()

    def claim() -> None:
        with turns.turn(yielding=True):
            done.set()

    with turns.turn():
        other = threading.Thread(target=claim, daemon=True)
        other.start()
        time.sleep(0.2)
        assert not done.is_set()
    assert done.wait(5)
    other.join(5)  # it still lets go of the turn after done is set: close after that
    turns.close()
