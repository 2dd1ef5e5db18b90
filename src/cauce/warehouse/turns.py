"""Turns between processes on one database file: an exclusive lock on a lock file beside it.

DuckDB reads a database file's header before it locks the file. A process that opens the file
just as another closes it can therefore take DuckDB's lock and then work from the header it
read a moment before, the one the other process's checkpoint has just replaced: it reads blocks
that are no longer where that header says ("Could not read enough bytes from file") or commits
over the other's work as if it never happened. Holding this lock from before DuckDB opens the
file until it has closed it gives cauce's processes whole turns, so each one opens the file as
the one before it left it.

The lock is a POSIX record lock (``lockf``), as DuckDB's own: it belongs to the process, is
not inherited through ``fork()``, and ends with the process, however it ends. Closing any
descriptor of the lock file ends it too, so nothing but `ProcessTurn` opens that file, and a
process looks at who holds it (`ProcessTurn.holder`) only when it does not. It only orders
cauce's processes; DuckDB's lock still guards the file against other programs.
"""

from __future__ import annotations

import errno
import fcntl
import os
from contextlib import suppress
from pathlib import Path

#: Why a lock file cannot be made: a read-only folder or file system.
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)
#: Width of the process id written in the lock file, so that each holder overwrites the last.
_PID_WIDTH = 10


class ProcessTurn:
    """This process's turn on a database file, taken on ``<file>.lock``.

    Within a process, one thread at a time takes and gives back the turn (a POSIX lock does not
    exclude the threads of the process holding it).
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def take(self) -> bool:
        """Take the turn if no other process has it; False when one does."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if error.errno in _NOT_WRITABLE:
                return True  # DuckDB's own lock alone orders the processes there
            raise
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        self._fd = fd
        with suppress(OSError):  # the id only names the holder to those who wait too long
            os.pwrite(fd, f"{os.getpid():>{_PID_WIDTH}}\n".encode(), 0)
        return True

    def give_back(self) -> None:
        """End the turn (closing the lock file releases the lock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def holder(self) -> int | None:
        """The process id of the process that took the turn last, when the lock file says."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return None
        return int(text) if text.isdigit() else None
