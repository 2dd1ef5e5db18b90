"""Writers of one state file take turns on a lock file, woken the moment the writer before them
is done.

SQLite lets a writer that finds the database locked sleep and retry: 1 ms, then 2, 5, 10 and
more. With several processes committing thousands of small transactions a second, most of that
sleep is time the lock lies free. Holding an exclusive `flock` on ``<state file>-lock`` around
each write transaction makes cauce's writers wait in the kernel instead, which hands the lock
on as soon as it is released. SQLite's own locking still guards the file (against other
programs, and if the lock file cannot be opened): this only orders cauce's writers.

A writer blocked on the lock is woken by the one releasing it, and on a busy machine that
wake-up costs the releasing process the processor. A ``yielding`` writer (a claim, a lease
extension: derived work that can come a moment later) therefore never sleeps in the lock while
it is held: it looks, and if the lock is held, sleeps `YIELD_PAUSE` and looks again, for up to
`YIELD_FOR`, then waits as the others do. The writers that add work are the ones handed the
lock at each release, and a producer committing one message per transaction no longer wakes
the worker processes' claims one after the other. A claim that is a single statement (one
queue, batches of one: the dispatcher runs it outside a transaction block) waits in the lock
like any writer: made to look instead, it took free turns just before the producer's and left
the producer waiting longer (docs/benchmarks.md, "Queues: four processes on SQLite").
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...textfiles import real_path

# Lock files whose turn this thread holds, through any WriterTurns: a second state object on
# the same file, used inside the first one's transaction, must not wait for a turn its own
# thread holds (SQLite then reports the file locked, as it did before turns existed).
_held = threading.local()

YIELD_PAUSE = 0.0005  # seconds a yielding writer sleeps between looks at a held lock
YIELD_FOR = 0.05  # seconds after which it waits in the lock like any writer


class WriterTurns:
    """Exclusive turns among the threads and processes writing one SQLite file."""

    def __init__(self, database: Path) -> None:
        self.path = real_path(database).with_name(database.name + "-lock")
        self._local = threading.local()
        self._fds: list[int] = []
        self._lock = threading.Lock()

    def _fd(self) -> int | None:
        """This thread's own descriptor (flock excludes descriptors, so threads exclude each
        other too); None where the lock file cannot be opened."""
        fd = getattr(self._local, "fd", None)
        if fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                fd = -1  # e.g. a read-only folder: SQLite's busy handler alone orders writers
            self._local.fd = fd
            if fd >= 0:
                with self._lock:
                    self._fds.append(fd)
        return fd if fd >= 0 else None

    @contextmanager
    def turn(self, *, yielding: bool = False) -> Iterator[None]:
        """Wait for this thread's turn to write, and hold it for the block; ``yielding``: look
        for a free lock rather than be handed it (see the module's docstring)."""
        fd = self._fd()
        held: set[Path] = _held.__dict__.setdefault("paths", set())
        if fd is None or self.path in held:
            yield
            return
        if not yielding or not _look(fd):
            fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(self.path)
        try:
            yield
        finally:
            held.discard(self.path)
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            for fd in self._fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds.clear()
        self._local = threading.local()


def _look(fd: int) -> bool:
    """Take the lock on ``fd`` if it is free now or within `YIELD_FOR` (False: it was not)."""
    deadline = time.monotonic() + YIELD_FOR
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(YIELD_PAUSE, left))
