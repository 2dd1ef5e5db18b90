"""Wake-ups: a process that committed work wakes a serving process (of any machine, for the
engines that span machines) instead of leaving it to its next poll."""

from __future__ import annotations

import threading

import pytest

from cauce.backends.state import StateStore


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


def test_notifications_wake_listeners_in_turn(state: StateStore, other: StateStore) -> None:
    events = [threading.Event(), threading.Event()]
    listeners = [state.listener(f"serve-{n}", events[n].set) for n in range(2)]
    if any(listener is None or not listener.start() for listener in listeners):
        pytest.skip("this engine only polls")
    notifier = other.notifier("worker-b")
    assert notifier is not None
    try:
        notifier.notify()
        notifier.notify()
        assert events[0].wait(30) and events[1].wait(30), "each listener woken once"
    finally:
        notifier.close()
        for listener in listeners:
            if listener is not None:
                listener.close()
