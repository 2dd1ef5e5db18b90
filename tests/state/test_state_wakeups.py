"""Wake-ups: a process that committed work wakes a serving process (of any machine, for the
engines that span machines) instead of leaving it to its next poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cauce.backends.state import Notifier, StateStore
from cauce.backends.wakeup import COALESCE, TURN_AFTER
from notifier_clock import NotifierClock


def test_a_notifier_wakes_a_listening_process(state: StateStore, other: StateStore) -> None:
    woken = threading.Event()
    listener = state.listener("serve-a", woken.set)
    if listener is None or not listener.start():
        pytest.skip("this engine only polls")
    notifier = other.notifier("worker-b")
    assert notifier is not None
    try:
        notifier.notify()
        assert woken.wait(30), "the listener was woken"
    finally:
        notifier.close()
        listener.close()


@contextmanager
def _two_listeners(state: StateStore, other: StateStore
                   ) -> Iterator[tuple[list[threading.Event], Notifier]]:
    events = [threading.Event(), threading.Event()]
    listeners = [state.listener(f"serve-{n}", events[n].set) for n in range(2)]
    if any(listener is None or not listener.start() for listener in listeners):
        pytest.skip("this engine only polls")
    notifier = other.notifier("worker-b")
    assert notifier is not None
    try:
        yield events, notifier
    finally:
        notifier.close()
        for listener in listeners:
            if listener is not None:
                listener.close()


def _first_woken(events: list[threading.Event], timeout: float = 30) -> threading.Event:
    """The event set first (which listener a first notification wakes is the notifier's
    choice)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in events:
            if event.is_set():
                return event
        time.sleep(0.001)
    raise AssertionError("no listener was woken")


def test_notifications_apart_wake_listeners_in_turn(state: StateStore, other: StateStore,
                                                    wake_clock: NotifierClock) -> None:
    with _two_listeners(state, other) as (events, notifier):
        notifier.notify()
        _first_woken(events)
        wake_clock.advance(TURN_AFTER + 0.05)  # no work this long: the next wake-up is the next's
        notifier.notify()
        assert events[0].wait(30) and events[1].wait(30), "each listener woken once"


def test_notifications_that_keep_coming_wake_the_same_listener(
        state: StateStore, other: StateStore, wake_clock: NotifierClock) -> None:
    with _two_listeners(state, other) as (events, notifier):
        notifier.notify()
        first = _first_woken(events)
        second = events[1] if first is events[0] else events[0]
        for _ in range(3):
            first.clear()
            wake_clock.advance(2 * COALESCE)  # commits closer together than this send one wake-up
            notifier.notify()
            assert first.wait(30), "the listener at the work was woken again"
        assert not second.wait(0.3), "the other was left waiting"
