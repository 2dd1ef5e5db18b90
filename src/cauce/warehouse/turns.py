"""Turns between processes on one database file: an exclusive lock on a lock file beside it.

DuckDB reads a database file's header before it locks the file. A process that opens the file
just as another closes it can therefore take DuckDB's lock and then work from the header it
read a moment before, the one the other process's checkpoint has just replaced: it reads blocks
that are no longer where that header says ("Could not read enough bytes from file") or commits
over the other's work as if it never happened. Holding this lock from before DuckDB opens the
file until it has closed it gives cauce's processes whole turns, so each one opens the file as
the one before it left it.

The turn is byte 0 of the lock file, locked exclusively. A process that finds it taken waits
in line: it holds a shared lock on byte 1 and looks again every few milliseconds. A process
that wants the turn while others wait in line joins them, and looks first only after each of
them has looked once. Otherwise a process doing one operation after another would take the
turn back each time, the moment after it gave it, and the others would rarely find it free (a
loader among four waited 30 s for its turn).

The locks are POSIX record locks (``lockf``), as DuckDB's own: they belong to the process, are
not inherited through ``fork()``, and end with the process, however it ends. Closing any
descriptor of the lock file ends them too, so nothing but `ProcessTurn` opens that file, and it
looks at who holds the turn (`ProcessTurn.holder`) only when no thread of this process has it.
A POSIX lock does not exclude the threads of the process holding it either, so within a
process the turns on one file are taken one at a time as well: a thread whose `ProcessTurn`
wants the turn waits while another thread's has it. The turn only orders cauce's processes;
DuckDB's lock still guards the file against other programs.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import threading
import time
from contextlib import suppress
from pathlib import Path

#: Why a lock file cannot be made: a read-only folder or file system.
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)
#: What a lock attempt that found the lock taken fails with.
_TAKEN = (errno.EACCES, errno.EAGAIN)
#: The bytes of the lock file that are locked: the turn, and the line waiting for it.
_TURN, _LINE = 0, 1
#: Seconds between a waiting process's looks at the turn (each one a system call), jittered.
_LOOK_EVERY = 0.005
#: Seconds a process that finds others waiting lets pass before its first look: longer than
#: any pause between their looks, so that each of them looks once first.
_AFTER_THOSE_WAITING = 0.02
#: Width of the process id written in the lock file, so that each holder overwrites the last.
_PID_WIDTH = 10


#: Per process and lock file, the lock held by the `ProcessTurn` that has the turn there.
_THREADS: dict[tuple[int, Path], threading.Lock] = {}
_THREADS_GUARD = threading.Lock()


def _threads_turn(lock_file: Path) -> threading.Lock:
    """The lock that gives one thread of this process at a time the turn on ``lock_file`` (a
    forked child gets its own rather than a copy of the parent's, which may be held)."""
    with _THREADS_GUARD:
        return _THREADS.setdefault((os.getpid(), lock_file), threading.Lock())


class ProcessTurn:
    """This process's turn on a database file, taken on ``<file>.lock``.

    Threads of the process take turns too: while one `ProcessTurn` on the file has the turn,
    another waits for it to be given back (from any thread), as for another process.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None
        self._threads: threading.Lock | None = None

    def take(self, deadline: float) -> bool:
        """Take the turn, waiting while another thread of this process has it, then in line
        while another process has it or others wait for it; False when ``deadline`` (a
        `time.monotonic` time) passes first."""
        threads = _threads_turn(self.path)
        if not threads.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        try:
            taken = self._take(deadline)
        except BaseException:
            threads.release()
            raise
        if taken:
            self._threads = threads
        else:
            threads.release()
        return taken

    def _take(self, deadline: float) -> bool:
        """`take` once this thread is the process's one to take the turn."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if error.errno in _NOT_WRITABLE:
                return True  # DuckDB's own lock alone orders the processes there
            raise
        try:
            taken = self._wait_in_line(fd, deadline)
        except BaseException:
            os.close(fd)
            raise
        if not taken:
            os.close(fd)
            return False
        self._fd = fd
        with suppress(OSError):  # the id only names the holder to those who wait too long
            os.pwrite(fd, f"{os.getpid():>{_PID_WIDTH}}\n".encode(), 0)
        return True

    def _wait_in_line(self, fd: int, deadline: float) -> bool:
        """Lock the turn on ``fd``, after those already waiting when this one came."""
        others = _others_waiting(fd)
        if not others and _lock(fd, fcntl.LOCK_EX, _TURN):
            return True
        # A process checking for waiters locks the line for a moment only: wait for it.
        fcntl.lockf(fd, fcntl.LOCK_SH, 1, _LINE)
        pause = _AFTER_THOSE_WAITING if others else _LOOK_EVERY
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            if _lock(fd, fcntl.LOCK_EX, _TURN):
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, _LINE)
                return True
            pause = _LOOK_EVERY

    def give_back(self) -> None:
        """End the turn (closing the lock file releases the lock), for other threads too."""
        fd, self._fd = self._fd, None
        threads, self._threads = self._threads, None
        try:
            if fd is not None:
                os.close(fd)
        finally:
            if threads is not None:
                threads.release()

    def holder(self) -> int | None:
        """The process id of the process that took the turn last, when the lock file says; None
        while a thread of this process has the turn (opening the file would end it)."""
        threads = _threads_turn(self.path)
        if not threads.acquire(blocking=False):
            return None
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return None
        finally:
            threads.release()
        return int(text) if text.isdigit() else None


def _lock(fd: int, kind: int, byte: int) -> bool:
    """Lock ``byte`` of ``fd``'s file without waiting; False when another process has it."""
    try:
        fcntl.lockf(fd, kind | fcntl.LOCK_NB, 1, byte)
    except OSError as error:
        if error.errno in _TAKEN:
            return False
        raise
    return True


def _others_waiting(fd: int) -> bool:
    """Whether other processes wait in line for the turn (they hold the line's byte)."""
    if not _lock(fd, fcntl.LOCK_EX, _LINE):
        return True
    fcntl.lockf(fd, fcntl.LOCK_UN, 1, _LINE)
    return False
