"""Bucket: object storage whose every write emits an *object created* event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..backends.local.folders import FolderStore, StoredObject
from ..errors import ObjectNotFound, ResourceError
from ..events import ObjectRef
from .base import Resource


class Bucket(Resource):
    """Objects by key. On one machine a folder under the cauce home (or the folder its URL names)."""

    kind = "bucket"

    def _store(self) -> FolderStore:
        return self._runtime().bucket_store(self)

    def _ref(self, obj: StoredObject) -> ObjectRef:
        return ObjectRef(self, obj.key, obj.size, datetime.fromtimestamp(obj.mtime, UTC))

    def _created(self, key: str) -> ObjectRef:
        ref = self._ref(self._store().stat(key))
        self._runtime().object_created(self, ref)
        return ref

    def put(self, key: str, data: bytes | str | IO[bytes]) -> ObjectRef:
        """Write an object atomically (replacing any previous one) and emit object-created."""
        store = self._store()
        if isinstance(data, str):
            data = data.encode("utf-8")
        with store.writer(key) as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            elif hasattr(data, "read"):
                while chunk := data.read(1 << 20):
                    out.write(chunk)
            else:
                raise ResourceError(f"cannot store a {type(data).__name__} in bucket {self.name!r}",
                                    hint="pass bytes, text or a binary file object")
        return self._created(key)

    def put_file(self, key: str, path: str | Path, *, move: bool = False) -> ObjectRef:
        """Store a local file as ``key`` (moved instead of copied when ``move``)."""
        source = Path(path)
        if not source.is_file():
            raise ObjectNotFound(f"no file {source}", hint="check the path")
        self._store().put_file(key, source, move=move)
        return self._created(key)

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
        with self._store().writer(key) as out:
            yield out
        self._created(key)

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
        return self._store().delete(key)

    def path(self, key: str) -> Path:
        """The object's local file, for engines that read files directly."""
        return self._store().path(key)

    def text(self, key: str, encoding: str = "utf-8") -> str:
        """The object decoded as text."""
        return self.get(key).decode(encoding)
