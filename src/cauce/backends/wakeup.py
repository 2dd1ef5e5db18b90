"""Cross-process wake-ups: tell serving processes on this machine that new work was committed.

Each `cauce serve`/`cauce worker` listens on a Unix datagram socket in ``<home>/wake/``; any
process that commits a message, publish, object event or stream record sends one byte to each
of them. The listener then wakes its dispatcher at once instead of at its next poll. It is only
an accelerator: polling still finds every message, so a lost datagram, a full socket buffer, a
platform without Unix sockets or a socket path too long for the OS costs latency, never work.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

FOLDER = "wake"
RESCAN = 1.0  # seconds between listings of the listeners (new workers join within this)
COALESCE = 0.003  # seconds without a commit after which the next one is a new burst's first
BURST_WAKE_EVERY = 0.02  # seconds between wake-ups while commits follow closer than COALESCE
TURN_AFTER = 1.0  # seconds without a commit after which the next wake-up goes to the next worker


def supported() -> bool:
    return hasattr(socket, "AF_UNIX")


def socket_file(name: str) -> str:
    """The socket file of the listener ``name`` (a worker id, up to about 50 characters with
    the host name): a short digest of it, so that the path fits the OS's limit of about 100
    bytes below a home of up to about 80."""
    return hashlib.blake2b(name.encode(), digest_size=6).hexdigest() + ".sock"


class WakeListener:
    """Receives wake-ups for one serving process and calls ``on_wake`` for each."""

    poll = None  # notifiers drop the wake-ups that follow one closely: polling finds that work

    def __init__(self, home: Path, name: str, on_wake: Callable[[], None]) -> None:
        self.path = home / FOLDER / socket_file(name)
        self._on_wake = on_wake
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Bind and listen; False (and polling only) where that is not possible."""
        if not supported():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(self.path))
        except OSError:  # e.g. the path is longer than the OS allows for a socket
            sock.close()
            return False
        self._sock = sock
        self._thread = threading.Thread(target=self._loop, daemon=True, name="cauce-wake")
        self._thread.start()
        return True

    def _loop(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(64)
            except OSError:
                return
            if data == b"stop":
                return
            self._on_wake()

    def close(self) -> None:
        if self._sock is None:
            return
        with contextlib.suppress(OSError):
            self._sock.sendto(b"stop", str(self.path))
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._sock.close()
        self._sock = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class WakeNotifier:
    """Wakes one listener of a home (not this process's own) per notification.

    One commit is work for one worker: waking them all would have every worker race for it
    (a thundering herd). The first commit of a burst (none in the `COALESCE` before it) wakes
    a worker at once; while commits keep following each other closer than that, one in
    `BURST_WAKE_EVERY` does. Wake-ups go to the same worker while commits keep coming, and to
    the next one in turn after `TURN_AFTER` without any: work that keeps coming stays with the
    worker at it, which wakes another when its claims fill its room, and the others take what
    waits too long (`cauce.runtime.serving.JOIN_AFTER`). Each wake-up costs the
    committing process a context switch on a busy machine: a producer sending one message per
    transaction spent a fifth of its time in them at one per 3 ms, and each woke a worker to
    claim a few messages.
    """

    def __init__(self, home: Path, own: str | None = None) -> None:
        self.folder = home / FOLDER
        self.own = own
        self._targets: list[str] = []
        self._scanned = -RESCAN
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if supported() else None
        if self._sock is not None:
            self._sock.setblocking(False)
        self._lock = threading.Lock()
        self._turn = 0
        self._sent = self._committed = float("-inf")

    def _listeners(self) -> list[str]:
        now = time.monotonic()
        if now - self._scanned >= RESCAN:
            try:
                names = os.listdir(self.folder)
            except FileNotFoundError:
                names = []
            own = socket_file(self.own) if self.own is not None else None
            self._targets = [str(self.folder / n) for n in names
                             if n.endswith(".sock") and n != own]
            self._scanned = now
        return self._targets

    def notify(self) -> None:
        if self._sock is None:
            return
        with self._lock:
            now = time.monotonic()
            quiet = now - self._committed >= COALESCE
            turn = now - self._committed >= TURN_AFTER
            self._committed = now
            if not quiet and now - self._sent < BURST_WAKE_EVERY:
                return
            self._sent = now
            targets = self._listeners()
            for attempt in range(len(targets)):
                if turn or attempt or self._turn >= len(targets):
                    self._turn = (self._turn + 1) % len(targets)
                target = targets[self._turn]
                try:
                    self._sock.sendto(b"w", target)
                    return
                except BlockingIOError:
                    return  # its buffer is full of wake-ups already: it is awake
                except (ConnectionRefusedError, FileNotFoundError):
                    # a listener that died without cleaning up: forget it (and its file),
                    # try the next
                    with contextlib.suppress(OSError):
                        os.unlink(target)
                    self._scanned = -RESCAN
                except OSError:
                    continue

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
