"""Start logs: which claimed deliveries a process has really started, kept where its death
cannot erase them (how the SQLite state keeps `RunStore.note_started`'s promise).

A worker claims deliveries ahead of its threads (so one transaction covers many), and only
some of them have started when it dies. Before a handler is called its worker thread appends
one line to the process's start log — a few microseconds, where a transaction per start would
cost tens — and the page cache keeps the line when the process is killed. Whoever finds the
delivery's lease expired reads the dead process's log to tell a run that was lost while running
from one that never started. Started runs reach the state file itself with their settlement, or
once they have run a little while; a log generation is removed once every run in it is there.
A process holds a lock on its logs while it lives, so others can tell a dead worker's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..state import Start

# one encoder for every line: json.dumps with options builds a new one per call
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


@dataclass
class _Generation:
    path: Path
    fd: int
    runs: list[str] = field(default_factory=list)
    size: int = 0


class StartLog:
    """The start log of one worker: ``<folder>/<worker>.<generation>.log``."""

    ROTATE_AT = 1 << 20  # bytes after which a new generation begins

    def __init__(self, folder: Path, worker: str) -> None:
        self.folder = folder
        self.worker = worker
        self._lock = threading.Lock()
        self._count = 0
        self._current: _Generation | None = None
        self._old: list[_Generation] = []

    def note(self, start: Start) -> None:
        """Append one start; when this returns, the line survives the death of this process."""
        line = (_encode({"lease": start.lease, "head": start.head, "run": start.run})
                + "\n").encode()
        with self._lock:
            generation = self._current
            if generation is None or generation.size > self.ROTATE_AT:
                if generation is not None:
                    self._old.append(generation)
                generation = self._current = self._open()
            os.write(generation.fd, line)
            generation.size += len(line)
            generation.runs.append(start.run["id"])

    def _open(self) -> _Generation:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.worker}.{self._count}.log"
        self._count += 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _Generation(path, fd)

    def full_generations(self) -> list[tuple[Path, list[str]]]:
        """The generations no longer written to, with the runs each lists."""
        with self._lock:
            return [(g.path, list(g.runs)) for g in self._old]

    def drop(self, path: Path) -> None:
        """Remove a full generation (every run it lists is in the state file)."""
        with self._lock:
            for generation in [g for g in self._old if g.path == path]:
                self._old.remove(generation)
                _remove(generation)

    def close(self) -> None:
        """Remove every generation (call once everything they list is settled)."""
        with self._lock:
            for generation in [*self._old, *([self._current] if self._current else [])]:
                _remove(generation)
            self._old, self._current = [], None


def _remove(generation: _Generation) -> None:
    with contextlib.suppress(FileNotFoundError):
        generation.path.unlink()
    os.close(generation.fd)


class StartReader:
    """The starts other workers logged, read again only when a log changed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read: dict[str, tuple[tuple[tuple[str, int], ...], dict[tuple[str, str], Start]]] = {}

    def find(self, worker: str, lease: str, head: str) -> Start | None:
        """The start ``worker`` logged under ``lease`` for ``head``, if it did."""
        paths = sorted(self.folder.glob(f"{worker}.*.log"))
        signature = tuple((p.name, _size(p)) for p in paths)
        known = self._read.get(worker)
        if known is None or known[0] != signature:
            known = self._read[worker] = (signature, _parse(paths))
        return known[1].get((lease, head))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _parse(paths: list[Path]) -> dict[tuple[str, str], Start]:
    found: dict[tuple[str, str], Start] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue  # removed meanwhile: everything in it had reached the state file
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of a process killed mid-write: it had not started
            found[(entry["lease"], entry["head"])] = Start(entry["lease"], entry["head"],
                                                           entry["run"])
    return found


def dead_workers(folder: Path) -> set[str]:
    """Workers whose start logs no living process holds."""
    dead = set()
    for path in folder.glob("*.log"):
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


def forget(folder: Path, worker: str) -> None:
    """Remove the logs of a dead worker (once no lease of its is left to settle)."""
    for path in folder.glob(f"{worker}.*.log"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
