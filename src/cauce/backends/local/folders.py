"""Buckets as folders: one file per object, written to a temporary file and renamed into place.

A rename within one file system is atomic, so a reader (or a crash) never sees half an object.
Keys are checked by `check_key` before they touch the file system, and the resolved path must
stay inside the bucket folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ...errors import InvalidKey, ObjectNotFound

TMP_DIR = ".cauce-tmp"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    mtime: float


MAX_KEY_BYTES = 1024  # S3's limit
MAX_SEGMENT_BYTES = 255  # a file name's limit on common file systems


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise InvalidKey saying why.

    One rule for every store (folders, S3, other fsspec storage): 1 to 1,024 bytes of UTF-8 in
    segments separated by ``/``; no segment empty, ``.``, ``..`` or over 255 bytes; no leading
    ``/``, backslash or control character; the first segment is not ``.cauce-tmp``. Any other
    character, a colon included (``2021-04-22T10:00.json``), is an ordinary one.
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


class FolderStore:
    """The objects of one bucket, stored under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise InvalidKey(f"object key {key!r} escapes the bucket folder",
                             hint="remove links and '..'")
        return path

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        """A binary file that becomes the object ``key`` only when the block ends without error."""
        target = self.path(key)
        tmp_dir = self.root / TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, source: Path, *, move: bool) -> None:
        target = self.path(key)
        if move:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, target)
                return
            except OSError:
                pass  # another file system: copy, then remove the source
        with self.writer(key) as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        if move:
            Path(source).unlink()

    def stat(self, key: str) -> StoredObject:
        path = self.path(key)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from None
        if not path.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        return StoredObject(key, st.st_size, st.st_mtime)

    def created(self, key: str, when: float) -> StoredObject:
        """The object just written, dated ``when`` by the runtime's clock (a file moved in
        would otherwise keep its old modification time)."""
        os.utime(self.path(key), (when, when))
        return self.stat(key)

    def open(self, key: str) -> IO[bytes]:
        self.stat(key)
        return open(self.path(key), "rb")

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Objects whose key starts with ``prefix``, in key order."""
        if not self.root.exists():
            return
        start = self.root
        if "/" in prefix:
            start = self.root / prefix.rsplit("/", 1)[0]
            # a prefix folder that is (or passes through) a link out of the bucket lists nothing
            if not start.is_dir() or self.root not in (*start.resolve().parents, start.resolve()):
                return
        found = []
        for dirpath, dirnames, filenames in os.walk(start):  # does not descend into linked folders
            if Path(dirpath) == self.root and TMP_DIR in dirnames:
                dirnames.remove(TMP_DIR)
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                full = Path(dirpath, name)
                if key.startswith(prefix) and (not full.is_symlink()
                                               or self.root in full.resolve().parents):
                    st = full.stat()
                    found.append(StoredObject(key, st.st_size, st.st_mtime))
        yield from sorted(found, key=lambda o: o.key)

    def delete(self, key: str) -> bool:
        path = self.path(key)
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
