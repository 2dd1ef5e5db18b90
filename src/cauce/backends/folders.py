"""Buckets as folders: one file per object, written to a temporary file and renamed into place.

A rename within one file system is atomic, so a reader (or a crash) never sees half an object.
Keys are checked by `check_key` before they touch the file system, and the resolved path must
stay inside the bucket folder.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import ConfigError, InvalidKey, ObjectNotFound
from ..textfiles import file_problem, real_path
from .objects import (
    BUCKET_LOCATIONS,
    TEMPORARY_GRACE,
    TMP_DIR,
    ObjectStore,
    StoredObject,
    check_key,
    is_key,
    remove_unheld,
    share,
)


def _file_mode() -> int:
    """The mode a file created now gets (0o644 under the usual umask 022): a temporary file
    is made 0o600, and the object it becomes should be readable as any other file there."""
    umask = os.umask(0o022)  # reading the umask means setting it: put straight back
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()  # once, at import, before threads that could create files meanwhile


class FolderStore(ObjectStore):
    """The objects of one bucket, stored under ``root`` (created with the first write)."""

    def __init__(self, root: Path, clock: Callable[[], float] | None = None) -> None:
        """``clock``: the runtime's, which dates the objects written (None: the caller dates
        them by `created`)."""
        self.root = real_path(root)
        self.clock = clock
        _check_folder(self.root)

    def path(self, key: str) -> Path:
        """The object's file; ObjectNotFound when nothing is there, as in object storage (a
        missing key gave a path that engines failed on later with their own error)."""
        path = self._file(key)
        if not path.exists():
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        return path

    def _file(self, key: str) -> Path:
        """Where the object ``key`` is or goes, inside the bucket folder."""
        path = real_path(self.root / check_key(key))
        if self.root not in path.parents:
            raise InvalidKey(f"object key {key!r} escapes the bucket folder",
                             hint="remove links and '..'")
        return path

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        """A binary file that becomes the object ``key`` only when the block ends without error."""
        target = self._file(key)
        tmp_dir = self.root / TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        held = os.open(tmp_name, os.O_RDONLY)  # until it is the object: see clean_cache
        share(held)
        try:
            os.chmod(tmp_name, _FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                yield handle
            target.parent.mkdir(parents=True, exist_ok=True)
            self._date(tmp_name)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        finally:
            os.close(held)

    def keep_copies(self, listed: Collection[str]) -> None:
        """A folder's objects are their own files: no copies to drop."""

    def clean_cache(self) -> None:
        """Remove the temporary files of writes that a killed process left in the bucket's
        ``.cauce-tmp`` folder (a live write holds its own: a shared lock)."""
        for tmp in (self.root / TMP_DIR).glob("put-*"):
            remove_unheld(tmp, older_than=TEMPORARY_GRACE)

    def put_file(self, key: str, source: Path, *, move: bool) -> None:
        target = self._file(key)
        if move:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._date(source)
                os.replace(source, target)
                return
            except OSError:
                pass  # another file system: copy, then remove the source
        with self.writer(key) as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        if move:
            Path(source).unlink()

    def stat(self, key: str) -> StoredObject:
        path = self._file(key)
        try:
            st = path.stat()
        except OSError as err:  # a link to itself is no object either, as the listing says
            if err.errno not in (errno.ENOENT, errno.ELOOP):
                raise
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from None
        if not path.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        return _stored(key, st)

    def created(self, key: str, when: float) -> StoredObject:
        """The object just written, dated ``when`` by the runtime's clock (a file moved in
        would otherwise keep its old modification time). A store with the runtime's clock
        dated it so as it appeared, and leaves it as a look may have listed it since."""
        if self.clock is None:
            os.utime(self._file(key), (when, when))
        return self.stat(key)

    def _date(self, path: str | Path) -> None:
        """Date a file about to become an object with the runtime's clock, if the store has
        it: a look that lists the object then sees it as the write records it (dated after it
        appeared, it was another object to a look in between, and announced twice)."""
        if self.clock is not None:
            when = self.clock()
            os.utime(path, (when, when))

    def open(self, key: str) -> IO[bytes]:
        self.stat(key)
        return open(self._file(key), "rb")

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Objects whose key starts with ``prefix``, in key order."""
        if not self.root.exists():
            return
        start = self.root
        if "/" in prefix:
            folder = prefix.rsplit("/", 1)[0]
            if ".." in folder.split("/"):  # no key has a '..' segment; the folder is another
                return
            start = self.root / folder
            # a prefix folder that is (or passes through) a link out of the bucket lists nothing
            try:
                inside = start.is_dir() and self.root in (*real_path(start).parents,
                                                          real_path(start))
            except OSError:  # a name or a path too long for the file system: no such folder
                return
            if not inside:
                return
        found = []
        for dirpath, dirnames, filenames in os.walk(start):  # does not descend into linked folders
            if Path(dirpath) == self.root and TMP_DIR in dirnames:
                dirnames.remove(TMP_DIR)
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                full = Path(dirpath, name)
                if key.startswith(prefix) and is_key(key) and (
                        not full.is_symlink() or self.root in real_path(full).parents):
                    try:
                        st = full.stat()
                    except OSError:  # a link to a file gone, or to itself: no object to list
                        continue
                    found.append(_stored(key, st))
        yield from sorted(found, key=lambda o: o.key)

    def delete(self, key: str) -> bool:
        path = self._file(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        # Drop folders the delete left empty, so listings stay tidy.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return True


def _stored(key: str, st: os.stat_result) -> StoredObject:
    """The object a file's status describes. Its tag is the modification time in nanoseconds
    and the inode: a file replaced by another of the same size and time (renamed over it, as
    rsync and most writers do, or copied with its time kept) was the same object by size and
    time in seconds, and no watch saw it change."""
    return StoredObject(key, st.st_size, st.st_mtime, f"{st.st_mtime_ns}:{st.st_ino}")


def _check_folder(root: Path) -> None:
    """Refuse a bucket folder that is, or would be under, something other than a folder (a
    file): every write would fail there, and a listing would find nothing."""
    for path in (root, *root.parents):
        if path.is_dir():
            return
        if path.exists():
            raise ConfigError(f"{root} is a file, not a folder" if path == root
                              else f"{root} cannot be a folder: {path} is a file",
                              hint=f"use {BUCKET_LOCATIONS}")
        if path.is_symlink():  # to nothing, or to itself: no folder can be made there
            said = file_problem(path)
            raise ConfigError(f"{root} {said}" if path == root
                              else f"{root} cannot be a folder: {path} {said}",
                              hint=f"use {BUCKET_LOCATIONS}")
