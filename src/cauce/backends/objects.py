"""Object storage: the contract both bucket stores keep (`ObjectStore`), and the one rule
for object keys.

A bucket's objects live in a folder (`cauce.backends.folders.FolderStore`) or in S3 and other
fsspec storage (`cauce.backends.fsspec_store.FsspecStore`); the `Bucket` resource speaks only
to this protocol. Every write is atomic — a reader or a crash never sees half an object — and
every key is checked by `check_key` before it reaches the storage.

A store may also have ``keep_copies(listed)`` (after a listing of the whole bucket: drop local
copies of objects it no longer shows) and ``clean_cache()`` (remove what killed processes left,
and copies of objects gone, never what a live process holds); the runtime calls them where a
store has them, so a store written for the protocol alone keeps working.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from ..errors import InvalidKey

TMP_DIR = ".cauce-tmp"
# The locations a bucket can have, for hints.
BUCKET_LOCATIONS = ("a folder path, file:///path/to/folder, s3://bucket/prefix (S3 or a "
                    "compatible server), gs://bucket/prefix, az://container/prefix or memory://name")


@dataclass(frozen=True)
class StoredObject:
    """An object's key, size in bytes and modification time (epoch seconds), and ``tag``: what
    tells this version of the object from another written with the same size and time (S3's
    ETag; for a file, its modification time in nanoseconds and its inode), when the storage
    has one."""

    key: str
    size: int
    mtime: float
    tag: str | None = None


class HoldFile:
    """A file in a cache's ``holds`` folder naming, a line each, the local copies its holder
    (a run; or a process, for what it asked outside runs) may read; the holder's shared lock
    on it says it lives. One descriptor per holder and cache, however many copies it reads."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.fd, name = tempfile.mkstemp(dir=folder, prefix="hold-")
        share(self.fd)
        self.path = Path(name)
        self.names: set[str] = set()
        self._lock = threading.Lock()

    def add(self, name: str) -> None:
        with self._lock:
            if name not in self.names:
                os.write(self.fd, f"{name}\n".encode())
                self.names.add(name)

    def discard(self, name: str) -> None:
        with self._lock:
            if name in self.names:
                self.names.discard(name)
                os.ftruncate(self.fd, 0)
                os.lseek(self.fd, 0, os.SEEK_SET)  # the next name goes after these
                os.write(self.fd, "".join(f"{n}\n" for n in self.names).encode())

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.fd)


# the hold files of the current run, by the holds folder of each cache it reads from
_run_holds: ContextVar[dict[Path, HoldFile] | None] = ContextVar("cauce_run_holds",
                                                                 default=None)


@contextmanager
def holding_copies() -> Iterator[None]:
    """Hold the local copies that ``path()`` hands out within the block (a run) until it ends:
    no clean-up of the cache removes a copy a run may still be reading."""
    holds: dict[Path, HoldFile] = {}
    token = _run_holds.set(holds)
    try:
        yield
    finally:
        _run_holds.reset(token)
        for hold in holds.values():
            hold.close()


def hold_in_run(folder: Path, name: str) -> bool:
    """Name the copy ``name`` in the current run's hold file of the holds ``folder``; False
    outside a run."""
    holds = _run_holds.get()
    if holds is None:
        return False
    hold = holds.get(folder)
    if hold is None:
        hold = holds[folder] = HoldFile(folder)
    hold.add(name)
    return True


def held_names(folder: Path) -> set[str]:
    """The copies that live holders name in the holds ``folder``; the files of holders gone
    (killed, or ended without removing theirs) are removed."""
    names: set[str] = set()
    for path in folder.glob("hold-*"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its holder lives
                names.update(Path(path).read_text("utf-8").split())
                continue
            except OSError:  # no locks here: taken at its word
                names.update(Path(path).read_text("utf-8").split())
                continue
            if time.time() - os.fstat(fd).st_mtime >= TEMPORARY_GRACE:
                path.unlink(missing_ok=True)  # younger: made a moment ago, not locked yet
        finally:
            os.close(fd)
    return names


# seconds a temporary file is left alone after it was last written, whoever holds it: the
# moment between its creation and its lock
TEMPORARY_GRACE = 60.0


def share(fd: int) -> None:
    """Hold the file ``fd`` is open on (a shared lock), so that no clean-up removes it: a
    temporary file being written, a local copy being read. Where the file system has no locks,
    the clean-ups' other rules (ages, listings) are all there is."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_SH)


def remove_unheld(path: Path, *, older_than: float = 0.0,
                  kept: Callable[[], bool] | None = None) -> bool:
    """Remove ``path`` unless a process holds it (a lock of any kind), it is younger than
    ``older_than`` seconds, or ``kept()`` says so once it is locked; whether it is gone. A
    process killed releases its locks, so what it left can go; a live one's temporary file is
    held from the moment after it is made."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    except OSError:  # a folder, or unreadable: not cauce's to remove
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held; or a file system without locks, where nothing is known
            return False
        try:
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                return False  # replaced meanwhile
        except FileNotFoundError:
            return True
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):  # a folder: not a file cauce leaves
            return False
        if older_than and time.time() - status.st_mtime < older_than:
            return False
        if kept is not None and kept():
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


MAX_KEY_BYTES = 1024  # S3's limit
MAX_SEGMENT_BYTES = 255  # a file name's limit on common file systems


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise InvalidKey saying why.

    One rule for every store (folders, S3, other fsspec storage): 1 to 1,024 bytes of UTF-8 in
    segments separated by ``/``; no segment empty, ``.``, ``..`` or over 255 bytes; no leading
    ``/``, backslash, control character below U+0020 or lone surrogate; the first segment is not
    ``.cauce-tmp``. Any other character, a colon included (``2021-04-22T10:00.json``), is an
    ordinary one.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("an object key must be a non-empty string",
                         hint='e.g. "in/2021-04-22.csv"')
    segments = key.split("/")
    problem = None
    if key.startswith("/"):
        problem = "is absolute"
    elif "\\" in key:
        problem = "contains a backslash"
    elif any(ord(c) < 32 for c in key):
        problem = "contains a control character"
    elif any("\ud800" <= c <= "\udfff" for c in key):
        problem = "contains a lone surrogate (not text UTF-8 can hold)"
    elif any(part in ("", ".", "..") for part in segments):
        problem = "has an empty, '.' or '..' segment"
    elif segments[0] == TMP_DIR:
        problem = f"uses the reserved folder {TMP_DIR}"
    elif len(key.encode()) > MAX_KEY_BYTES:
        problem = f"is longer than {MAX_KEY_BYTES} bytes"
    elif any(len(part.encode()) > MAX_SEGMENT_BYTES for part in segments):
        problem = f"has a segment longer than {MAX_SEGMENT_BYTES} bytes"
    if problem:
        raise InvalidKey(f"object key {key!r} {problem}",
                         hint="use relative keys like 'folder/name.ext', each part of a folder "
                         f"or file name at most {MAX_SEGMENT_BYTES} bytes")
    return key


def is_key(key: str) -> bool:
    """Whether ``key`` passes `check_key`: a file or object another program named otherwise
    (a backslash, a control character, bytes that are no UTF-8) is no object of a bucket, as
    no method could read it."""
    try:
        check_key(key)
    except InvalidKey:
        return False
    return True


@runtime_checkable
class ObjectStore(Protocol):
    """The objects of one bucket. Keys are checked by `check_key`; a missing key raises
    `ObjectNotFound`, storage failures a one-line `ResourceError`."""

    def writer(self, key: str) -> AbstractContextManager[IO[bytes]]:
        """A binary file that becomes the object ``key`` (replacing any previous one) only when
        the block ends without error; otherwise nothing is written."""
        ...

    def put_file(self, key: str, source: Path, *, move: bool) -> None:
        """Store a local file as ``key``, atomically; with ``move`` the source is removed."""
        ...

    def stat(self, key: str) -> StoredObject:
        """The object's size and modification time."""
        ...

    def created(self, key: str, when: float) -> StoredObject:
        """The object just written, dated ``when`` where the storage lets cauce date it."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """The object, open for reading."""
        ...

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Objects whose key starts with ``prefix``, in key order."""
        ...

    def delete(self, key: str) -> bool:
        """Remove an object; False if there was none."""
        ...

    def path(self, key: str) -> Path:
        """A local file with the object's bytes, for engines that read files directly."""
        ...
