"""Cross-process wake-ups: an accelerator that must never be needed for correctness.

The notifiers read a clock the tests move (`wake_clock`: commits with no move between
them are right after each other); a listener is closed before its
wake-ups are counted: it reads its socket's datagrams in order up to the "stop" its closing
sends, so every wake-up sent before is counted, with no wait for one that never comes.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cauce.backends import wakeup
from cauce.backends.wakeup import COALESCE, WakeListener, WakeNotifier, socket_file, supported
from notifier_clock import NotifierClock

pytestmark = pytest.mark.skipif(not supported(), reason="no Unix sockets on this platform")


class Woken:
    """A listener's wake-ups: an event, and how many there were."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    def wait(self) -> bool:
        return self.event.wait(30)


def _listener(home: Path, name: str) -> tuple[WakeListener, Woken]:
    woke = Woken()
    listener = WakeListener(home, name, woke)
    assert listener.start()
    return listener, woke


@contextmanager
def _two_listeners(home: Path) -> Iterator[tuple[Woken, Woken, WakeNotifier]]:
    """Listeners "a" and "b" and a producer's notifier, closed at the end (count after it)."""
    a, woke_a = _listener(home, "a")
    b, woke_b = _listener(home, "b")
    notifier = WakeNotifier(home, own="producer")
    try:
        yield woke_a, woke_b, notifier
    finally:
        a.close()
        b.close()
        notifier.close()


def test_a_notification_wakes_one_listener_in_turn(tmp_path: Path, wake_clock: NotifierClock,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wakeup, "TURN_AFTER", COALESCE)
    with _two_listeners(tmp_path) as (woke_a, woke_b, notifier):
        notifier.notify()
        wake_clock.advance(COALESCE)
        notifier.notify()
        assert woke_a.wait() and woke_b.wait()
    assert (woke_a.count, woke_b.count) == (1, 1)
    assert not (tmp_path / "wake" / socket_file("a")).exists()


def test_commits_right_after_a_wake_up_send_none(tmp_path: Path,
                                                 wake_clock: NotifierClock) -> None:
    with _two_listeners(tmp_path) as (woke_a, woke_b, notifier):
        for _ in range(5):
            notifier.notify()
    assert woke_a.count + woke_b.count == 1  # one datagram, one listener


def test_commits_that_keep_coming_keep_waking_the_worker_at_it(
        tmp_path: Path, wake_clock: NotifierClock) -> None:
    with _two_listeners(tmp_path) as (woke_a, woke_b, notifier):
        for _ in range(4):
            notifier.notify()
            wake_clock.advance(wakeup.BURST_WAKE_EVERY)  # commits keep coming: a wake-up each
    # woken each time, not the other in turn: the work stays with the listener at it
    assert sorted([woke_a.count, woke_b.count]) == [0, 4]


def test_a_process_does_not_wake_itself(tmp_path: Path) -> None:
    own, woke = _listener(tmp_path, "me")
    notifier = WakeNotifier(tmp_path, own="me")
    try:
        notifier.notify()
    finally:
        own.close()
        notifier.close()
    assert woke.count == 0


def test_the_socket_of_a_dead_listener_is_forgotten(tmp_path: Path,
                                                    wake_clock: NotifierClock) -> None:
    folder = tmp_path / "wake"
    folder.mkdir()
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(folder / "dead.sock"))
    dead.close()  # its file stays behind, as after a SIGKILL
    alive, woke = _listener(tmp_path, "alive")
    notifier = WakeNotifier(tmp_path)
    try:
        notifier.notify()
        wake_clock.advance(COALESCE)
        notifier.notify()
        assert woke.wait()
        assert not (folder / "dead.sock").exists()
    finally:
        alive.close()
        notifier.close()


def test_a_worker_listens_below_a_home_deeper_than_its_id_would_allow(tmp_path: Path) -> None:
    # a worker id carries the host name: 50 characters are common; below a home of 60 the
    # path would pass the OS's limit of about 100 bytes, and the worker would only poll
    worker = f"worker-ip-172-31-22-104.ec2.internal-{4_194_304}-a1b2c3"
    home = Path(tempfile.mkdtemp(prefix="h" * 52, dir="/tmp"))  # 65 characters
    try:
        listener, woke = _listener(home, worker)
        try:
            WakeNotifier(home, own="producer").notify()
            assert woke.wait()
        finally:
            listener.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_path_too_long_for_a_socket_falls_back_to_polling(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    listener = WakeListener(deep, "w", lambda: None)
    assert listener.start() is False
    WakeNotifier(deep).notify()  # nothing to wake, nothing raised
