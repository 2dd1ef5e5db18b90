"""Writers of one state file take turns on its lock file (`cauce.backends.sqlite.turns`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from cauce.backends.sqlite import turns as turns_module
from cauce.backends.sqlite.turns import WriterTurns
from waiting import LISTS_LOCK_WAITERS, wait_for, waiting_in_lock

sees_waits = pytest.mark.skipif(not LISTS_LOCK_WAITERS,
                                reason="no /proc/locks to see a writer wait in the lock")


def _waiting_in_lock(turns: WriterTurns) -> bool:
    """Whether a thread of this process is blocked in the kernel on ``turns``' lock file."""
    return waiting_in_lock(turns.path)


@sees_waits
def test_a_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "state.db")
    order: list[str] = []

    def second() -> None:
        with turns.turn():
            order.append("second")

    with turns.turn():
        other = threading.Thread(target=second)
        other.start()
        wait_for(lambda: _waiting_in_lock(turns), what="the second writer to wait in the lock")
        order.append("first")
    other.join(30)
    assert order == ["first", "second"]
    turns.close()


def _finishes(work: Callable[[], None], held: WriterTurns) -> bool:
    """Whether ``work`` returns rather than wait in the lock of ``held`` (run in a thread, so a
    wait cannot hang the test)."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    wait_for(lambda: done.is_set() or _waiting_in_lock(held), what="the write to end or wait")
    return done.is_set()


@sees_waits
def test_writers_of_other_files_do_not_wait(tmp_path: Path) -> None:
    a, b = WriterTurns(tmp_path / "a.db"), WriterTurns(tmp_path / "b.db")

    def write_b() -> None:
        with b.turn():
            pass

    with a.turn():
        assert _finishes(write_b, a)
    a.close()
    b.close()


@sees_waits
def test_a_thread_holding_the_turn_is_not_stopped_by_a_second_object_on_the_file(
    tmp_path: Path,
) -> None:
    first, second = WriterTurns(tmp_path / "state.db"), WriterTurns(tmp_path / "state.db")

    def nested() -> None:
        with first.turn(), second.turn():
            pass  # no wait for a turn this thread holds

    assert _finishes(nested, first)


def test_without_a_lock_file_writers_go_on(tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "missing-folder" / "state.db")
    with turns.turn():
        pass  # SQLite's busy handler alone orders the writers then
    turns.close()


@sees_waits
def test_a_yielding_writer_lets_a_waiting_writer_go_first(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The claim's pauses between looks end when the test says so, not after a time.
    paused, look_again = threading.Event(), threading.Event()

    def pause(seconds: float) -> None:
        paused.set()
        look_again.wait(30)

    monkeypatch.setattr(turns_module, "time", SimpleNamespace(monotonic=time.monotonic,
                                                              sleep=pause))
    monkeypatch.setattr(turns_module, "YIELD_FOR", 60.0)
    turns = WriterTurns(tmp_path / "state.db")
    order: list[str] = []

    def write(name: str, *, yielding: bool) -> None:
        with turns.turn(yielding=yielding):
            order.append(name)

    with turns.turn():
        claim = threading.Thread(target=write, args=("claim",), kwargs={"yielding": True})
        claim.start()
        wait_for(paused.is_set, what="the claim to find the turn held and pause")
        send = threading.Thread(target=write, args=("send",), kwargs={"yielding": False})
        send.start()
        wait_for(lambda: _waiting_in_lock(turns), what="the send to wait in the lock")
    send.join(30)
    look_again.set()
    claim.join(30)
    assert order == ["send", "claim"]
    turns.close()


@sees_waits
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
        wait_for(lambda: _waiting_in_lock(turns), what="the claim to wait in the lock")
        assert not done.is_set()
    assert done.wait(30)
    other.join(5)  # it still lets go of the turn after done is set: close after that
    turns.close()
