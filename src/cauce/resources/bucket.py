"""Bucket: object storage whose every write emits an *object created* event."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..backends.objects import ObjectStore, StoredObject
from ..errors import InvalidKey, ObjectNotFound, ResourceError
from ..events import ObjectRef
from .base import Resource

if TYPE_CHECKING:
    from ..settings import Setting


# what a storage that cannot take an object says: full, over quota, read-only, not allowed
_STORAGE_REFUSALS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                               errno.EPERM})


class Bucket(Resource):
    """Objects by key. On one machine a folder under the cauce home (or the folder its URL
    names); with an ``s3://`` (or other fsspec) URL, objects in that storage."""

    kind = "bucket"
    # seconds between listings that find other programs' writes (a Setting: read at start)
    watch: float | Setting | None = None

    def _store(self) -> ObjectStore:
        return self._runtime().bucket_store(self)

    def _ref(self, obj: StoredObject) -> ObjectRef:
        return ObjectRef(self, obj.key, obj.size, datetime.fromtimestamp(obj.mtime, UTC))

    def _began(self) -> float:
        return self._runtime().clock.time()

    def _created(self, key: str, begun: float) -> ObjectRef:
        # The object was created now by the runtime's clock, whatever the file's own history.
        runtime = self._runtime()
        now = runtime.clock.time()
        stored = self._store().created(key, now)
        ref = ObjectRef(self, key, stored.size, datetime.fromtimestamp(now, UTC))
        runtime.object_created(self, ref, stored, begun=begun)
        return ref

    @contextmanager
    def _writing(self, key: str) -> Iterator[None]:
        """Turn a key that collides with a folder of other keys into InvalidKey, and a bucket
        that cannot take the object (a full disk, a read-only folder) into ResourceError."""
        try:
            yield
        except (IsADirectoryError, NotADirectoryError, FileExistsError):
            raise InvalidKey(
                f"object key {key!r} of bucket {self.name!r} collides with other keys: "
                "one is the folder of another",
                hint="on one machine an object cannot be both 'a' and the prefix 'a/' "
                "of other keys",
            ) from None
        except OSError as err:
            if err.errno not in _STORAGE_REFUSALS:
                raise
            raise ResourceError(
                f"cannot write object {key!r} to bucket {self.name!r}: {err.strerror}",
                hint="free space on its disk, or give the bucket a folder you can write to "
                "(url= or [apps.APP.resources])",
            ) from err

    def put(self, key: str, data: bytes | str | IO[bytes]) -> ObjectRef:
        """Write an object atomically (replacing any previous one) and emit object-created."""
        store = self._store()
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes | bytearray | memoryview) and not hasattr(data, "read"):
            raise ResourceError(f"cannot store a {type(data).__name__} in bucket {self.name!r}",
                                hint="pass bytes, text or a binary file object")
        begun = self._began()
        with self._writing(key), store.writer(key) as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                while chunk := data.read(1 << 20):
                    out.write(chunk)
        return self._created(key, begun)

    def put_file(self, key: str, path: str | Path, *, move: bool = False) -> ObjectRef:
        """Store a local file as ``key`` (moved instead of copied when ``move``)."""
        source = Path(os.path.expanduser(path))  # a ~ no shell expanded (between quotes)
        if source.is_dir():
            raise ResourceError(f"{source} is a folder, not a file",
                                hint="pass the path of a file; store a folder's files one by one")
        if source.exists() and not source.is_file():
            # a device or a pipe (/dev/zero, a FIFO): a copy that may never end, refused
            raise ResourceError(f"{source} is not a regular file (a device or a pipe)",
                                hint="pass the path of a file; for a stream of bytes, write "
                                "it to a file first")
        if not source.is_file():  # missing, or a link to nothing or to itself: which, said
            from ..textfiles import file_problem

            problem = file_problem(source)
            raise ObjectNotFound(f"no file {source}" if problem in (None, "does not exist")
                                 else f"{source} {problem}", hint="check the path")
        begun = self._began()
        with self._writing(key):
            self._store().put_file(key, source, move=move)
        return self._created(key, begun)

    def get(self, key: str) -> bytes:
        with self._store().open(key) as handle:
            return handle.read()

    def open(self, key: str, mode: str = "rb") -> Any:
        """``rb``: read the object; ``wb``: a file that becomes the object when closed."""
        if mode == "rb":
            return self._store().open(key)
        if mode == "wb":
            return self._writer(key)
        raise ResourceError(f"mode {mode!r} is not supported", hint="use 'rb' or 'wb'")

    @contextmanager
    def _writer(self, key: str) -> Iterator[IO[bytes]]:
        begun = self._began()
        with self._writing(key), self._store().writer(key) as out:
            yield out
        self._created(key, begun)

    def info(self, key: str) -> ObjectRef:
        return self._ref(self._store().stat(key))

    def exists(self, key: str) -> bool:
        try:
            self._store().stat(key)
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str = "") -> list[ObjectRef]:
        """Objects whose key starts with ``prefix``, in key order."""
        return [self._ref(obj) for obj in self._store().list(prefix)]

    def delete(self, key: str) -> bool:
        """Remove an object; False if there was none."""
        try:
            return self._store().delete(key)
        except IsADirectoryError:  # the key is only the folder of other keys: no such object
            return False

    def path(self, key: str) -> Path:
        """The object's local file, for engines that read files directly (for a bucket in
        object storage, a local copy kept until the object changes)."""
        return self._store().path(key)

    def text(self, key: str, encoding: str | None = None) -> str:
        """The object decoded as text, without a byte-order mark. Without ``encoding`` it is
        told as :mod:`cauce.textfiles` tells a user's file (a mark, UTF-16, else UTF-8, else
        cp1252 or Latin-1): a file a supplier saved from Excel reads as its text, not as a
        ``UnicodeDecodeError``. A named encoding the bytes are not in raises TextDecodeError
        naming the object and the line."""
        from ..textfiles import TextDecodeError, decode

        try:
            return decode(self.get(key), encoding,
                          name=f"object {key!r} of bucket {self.name!r}")
        except TextDecodeError as err:
            import codecs

            # the example is never the encoding that just failed
            other = "latin-1" if codecs.lookup(encoding or "utf-8").name == "cp1252" else "cp1252"
            err.hint = (f"give the encoding it was saved in, e.g. {self.name}.text(key, "
                        f"encoding={other!r}), or none to tell it from the bytes")
            raise
