"""Start logs: which claimed deliveries a process has really started, kept where its death
cannot erase them.

A worker claims deliveries ahead of its threads (so one transaction covers many), and only
some of them have started when it dies. Before a handler is called its worker thread appends
one line to the process's start log — a few microseconds, where a transaction per start would
cost tens — and the page cache keeps the line when the process is killed. Whoever finds the
delivery's lease expired reads the dead process's log to tell a run that was lost while running
from one that never started. Started runs also reach the state database itself: with their
settlement, or in the dispatcher's next write once they have run a little while; a log is
rotated away once everything in it is there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLDER = "starts"


@dataclass(frozen=True)
class Start:
    """One started delivery: the lease it was claimed under, the message (or stream shard) that
    heads it, and the run record as it began."""

    lease: str
    head: str
    run: dict[str, Any]


class StartLog:
    """The start log of one process (``<home>/starts/<worker>.<generation>.log``). The process
    holds a lock on each of its logs while it lives, so others can tell a dead worker's."""

    def __init__(self, home: Path, worker: str) -> None:
        self.folder = home / FOLDER
        self.worker = worker
        self._lock = threading.Lock()
        self._generation = 0
        self._fd: int | None = None
        self._size = 0

    def _path(self, generation: int) -> Path:
        return self.folder / f"{self.worker}.{generation}.log"

    def note(self, start: Start) -> None:
        """Append one start; when this returns, the line survives the death of this process."""
        line = (json.dumps({"lease": start.lease, "head": start.head, "run": start.run},
                           separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self._path(self._generation),
                                   os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            os.write(self._fd, line)
            self._size += len(line)

    @property
    def size(self) -> int:
        return self._size

    def rotate(self) -> tuple[Path, int] | None:
        """Start a new generation; returns the old one, to `remove` once everything it lists is
        in the state database (None if there was none)."""
        with self._lock:
            if self._fd is None:
                return None
            old = (self._path(self._generation), self._fd)
            self._generation += 1
            self._fd, self._size = None, 0
            return old

    @staticmethod
    def remove(old: tuple[Path, int]) -> None:
        path, fd = old
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)

    def close(self) -> None:
        """Remove this process's log (call once everything it lists is settled)."""
        old = self.rotate()
        if old is not None:
            self.remove(old)


def read_starts(home: Path, worker: str) -> dict[tuple[str, str], Start]:
    """Every start a process logged, by (lease, head): what survives of a dead worker."""
    found: dict[tuple[str, str], Start] = {}
    for path in sorted((home / FOLDER).glob(f"{worker}.*.log")):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue  # rotated away meanwhile: everything in it reached the database
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of a process killed mid-write: it had not started
            found[(entry["lease"], entry["head"])] = Start(entry["lease"], entry["head"],
                                                           entry["run"])
    return found


def dead_workers(home: Path) -> set[str]:
    """Workers whose start logs no living process holds."""
    dead = set()
    for path in (home / FOLDER).glob("*.log"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its process lives
        finally:
            os.close(fd)
        dead.add(path.name.rsplit(".", 2)[0])
    return dead


def forget(home: Path, worker: str) -> None:
    """Remove the logs of a dead process (once no lease of its is left to settle)."""
    for path in (home / FOLDER).glob(f"{worker}.*.log"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
