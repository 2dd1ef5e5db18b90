"""Buckets in object storage: S3 and S3-compatible servers, or any other fsspec file system.

A bucket whose URL is ``s3://bucket/prefix`` (or ``gs://``, ``az://``, ``memory://``...) keeps
its objects there, under the same keys and rules as a folder bucket. Each write goes to a local
temporary file first and is uploaded in one call when the block ends without error, so a failed
write leaves no object and a reader never sees half of one (an S3 PUT is atomic). Listings and
lookups ask the server each time: another process or machine may have written meanwhile.
``path(key)`` gives engines that read files directly a local copy, cached until the object's
size or time changes.

Credentials and endpoints come from each library's usual places; for S3 that is the AWS
environment variables and files, with ``AWS_ENDPOINT_URL`` for an S3-compatible server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import weakref
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from ..errors import CauceError, ConfigError, InvalidKey, ObjectNotFound, ResourceError
from .objects import (
    BUCKET_LOCATIONS,
    MAX_KEY_BYTES,
    TEMPORARY_GRACE,
    HoldFile,
    ObjectStore,
    StoredObject,
    check_key,
    held_names,
    hold_in_run,
    is_key,
    remove_unheld,
    share,
)

# Object storage, where one call uploads a whole object that readers then see at once; fsspec's
# other protocols (ftp, sftp, http, webdav...) show a file while it is written, or are read-only.
OBJECT_STORAGE = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


class FsspecStore(ObjectStore):
    """The objects of one bucket at ``url``; ``cache`` is a local folder for temporary files
    and the copies ``path()`` hands out."""

    def __init__(self, url: str, cache: Path) -> None:
        self._hold: HoldFile | None = None  # the copies handed out outside any run
        self._holding = threading.Lock()
        protocol = url.partition("://")[0].lower()
        if protocol not in OBJECT_STORAGE:
            raise ConfigError(f"URL {url!r} is not supported: {protocol}:// is no object storage "
                              "cauce keeps buckets in", hint=f"use {BUCKET_LOCATIONS}")
        place = url.partition("://")[2].rstrip("/")
        if not place or "" in place.split("/"):
            raise ConfigError(
                f"URL {url!r} is not supported: it names no bucket, or has '//' in its path",
                hint="write s3://bucket/prefix with one slash between parts (a '//' kept objects "
                "that no listing found)")
        try:
            self.fs, root = _connect(url, protocol)
        except ImportError as error:  # fsspec names the package the protocol needs
            raise ConfigError(
                f"URL {url!r} needs a package that is not installed: {error}",
                hint='for s3:// install cauce with its S3 extra: pip install "cauce[s3]"; '
                "for other protocols, the package fsspec names",
            ) from None
        except Exception as error:  # a malformed URL, or settings its library refuses
            raise ConfigError(f"URL {url!r} is not supported: {error}",
                              hint=f"use {BUCKET_LOCATIONS}") from None
        self.url = url
        self.root = root.rstrip("/")
        self.cache = Path(cache)
        # S3's (and GCS's, Azure's) 1,024 bytes hold the bucket's prefix and its slash too
        prefix = self.root.lstrip("/").partition("/")[2]
        self.room = MAX_KEY_BYTES - (len(prefix.encode()) + 1 if prefix else 0)

    def _full(self, key: str) -> str:
        if len(check_key(key).encode()) > self.room:
            raise InvalidKey(
                f"object key {key!r} is longer than the {self.room} bytes {self.url} leaves "
                f"for keys (object storage takes {MAX_KEY_BYTES}, its prefix included)",
                hint="use a shorter key, or a bucket URL with a shorter prefix")
        return f"{self.root}/{key}"

    @contextmanager
    def _translated(self, action: str, *, lookup: bool = False) -> Iterator[None]:
        """Storage failures (network, credentials, permissions, a missing S3 bucket) as
        one-line ResourceErrors; a lookup lets FileNotFoundError through for its caller."""
        try:
            yield
        except CauceError:
            raise
        except FileNotFoundError:
            if lookup:
                raise
            raise ResourceError(
                f"{self.url}: cannot {action}: the storage location does not exist",
                hint="create the S3 bucket (or the container) first, or fix the bucket's URL "
                "or the endpoint (AWS_ENDPOINT_URL: a server there that is no S3 answers "
                "'not found' to every request)",
            ) from None
        except Exception as error:  # each fsspec back end has its own exception classes
            endpoint = _speaks_no_http(error)
            if endpoint is not None:  # its banner's raw bytes were the error line
                raise ResourceError(
                    f"{self.url}: cannot {action}: the endpoint {endpoint} is no S3 server "
                    "(it answers in another protocol than HTTP)",
                    hint="point AWS_ENDPOINT_URL at the S3 server's address and port; "
                    f"{endpoint} is another service's",
                ) from error
            raise ResourceError(
                f"{self.url}: cannot {action}: {type(error).__name__}: {error}",
                hint="check the storage's credentials and endpoint (for S3: AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL)",
            ) from error

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        """A binary file that is uploaded as ``key`` only when the block ends without error."""
        target = self._full(key)
        self.cache.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.cache, prefix=".put-")
        held = os.open(tmp_name, os.O_RDONLY)  # until uploaded: see clean_cache
        share(held)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
            with self._translated(f"put {key!r}"):
                self.fs.put_file(tmp_name, target)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
            os.close(held)

    def put_file(self, key: str, source: Path, *, move: bool) -> None:
        with self._translated(f"put {key!r}"):
            self.fs.put_file(str(source), self._full(key))
        if move:
            Path(source).unlink()

    def stat(self, key: str) -> StoredObject:
        full = self._full(key)
        self.fs.invalidate_cache(full)
        try:
            with self._translated(f"look up {key!r}", lookup=True):
                info = self.fs.info(full)
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in {self.url}") from None
        if info.get("type") != "file":
            raise ObjectNotFound(f"no object {key!r} in {self.url}")
        return StoredObject(key, int(info["size"]), _modified(info), _tag(info))

    def created(self, key: str, when: float) -> StoredObject:
        """The object just written, as listings will show it: the server keeps its own time,
        so ``when`` (the runtime's clock) only dates the event."""
        return self.stat(key)

    def open(self, key: str) -> IO[bytes]:
        self.stat(key)
        with self._translated(f"read {key!r}", lookup=True):
            return self.fs.open(self._full(key), "rb")

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Objects whose key starts with ``prefix``, in key order."""
        folder = self.root + ("/" + prefix.rsplit("/", 1)[0] if "/" in prefix else "")
        self.fs.invalidate_cache(folder)
        try:
            with self._translated("list its objects", lookup=True):
                found = self.fs.find(folder, detail=True)
        except FileNotFoundError:
            return
        objects = []
        for name, info in found.items():
            key = name[len(self.root) + 1:]
            if info.get("type") == "file" and key.startswith(prefix) and is_key(key):
                objects.append(StoredObject(key, int(info["size"]), _modified(info),
                                            _tag(info)))
        yield from sorted(objects, key=lambda stored: stored.key)

    def delete(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        with self._translated(f"delete {key!r}"):
            self.fs.rm_file(self._full(key))
        if self._hold is not None:  # this process, outside any run, deletes it: done with it
            self._hold.discard(self._local(key).parent.name)
        self._drop_copy(key)  # path()'s copy, if no run holds it
        return True

    def path(self, key: str) -> Path:
        """A local copy of the object, downloaded again only when the object changed (its size,
        time or tag). The copy is held (a shared lock) until the run that asked ends, or, asked
        outside a run, while this store lives: no clean-up removes it meanwhile. Asked for an
        object that is gone, it drops the copy of it (unless a run holds it)."""
        try:
            stored = self.stat(key)
        except ObjectNotFound:
            self._drop_copy(key)
            raise
        local = self._local(key)
        for _ in range(5):  # another process may replace or remove the copy between steps
            fd = _open_held(local) if self._fresh(local, stored) else None
            if fd is None:
                fd = self._download(key, stored, local)
            if fd is not None:
                try:  # named as held before the lock a clean-up waits for is let go
                    self._keep(local.parent.name)
                finally:
                    os.close(fd)
                return local
        raise ResourceError(f"{self.url}: cannot keep a local copy of {key!r}: other processes "
                            "replace it as it is made",
                            hint=f"check what else writes under {self.cache}")

    def _fresh(self, local: Path, stored: StoredObject) -> bool:
        try:
            kept = local.stat()
        except OSError:
            return False
        if (kept.st_size, kept.st_mtime) != (stored.size, stored.mtime):
            return False
        # same size and time: S3's whole seconds do not tell two versions apart, the tag does
        return stored.tag is None or self._copied(local.parent).get("tag") == stored.tag

    def _download(self, key: str, stored: StoredObject, local: Path) -> int | None:
        """Download ``key`` as its local copy; a descriptor holding it (None when another
        process put its own copy there meanwhile). The temporary file is held from the start,
        so a clean-up of what killed processes left does not take it."""
        for _ in range(3):  # a clean-up may remove the copy's emptied folder in between
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd, tmp_name = tempfile.mkstemp(dir=local.parent, prefix=".get-")
                break
            except FileNotFoundError:
                continue
        else:
            raise ResourceError(f"{self.url}: cannot make a local copy of {key!r} in "
                                f"{local.parent}", hint=f"check what else removes files "
                                f"under {self.cache}")
        share(fd)
        done = False
        try:
            with self._translated(f"download {key!r}"):
                self.fs.get_file(self._full(key), tmp_name)
            os.utime(tmp_name, (stored.mtime, stored.mtime))
            os.replace(tmp_name, local)
            self._note_copy(local.parent, key, stored.tag)
            done = _same_file(fd, local)
            return fd if done else None
        finally:
            if not done:
                Path(tmp_name).unlink(missing_ok=True)
                os.close(fd)

    def _keep(self, name: str) -> None:
        """Hold the copy in the folder ``name`` until the current run ends, or while this store
        lives when no run asked."""
        if hold_in_run(self._holds, name):
            return
        with self._holding:
            if self._hold is None:
                self._hold = HoldFile(self._holds)
                weakref.finalize(self, self._hold.close)
        self._hold.add(name)

    @property
    def _holds(self) -> Path:
        return self.cache / "holds"

    def _copied(self, folder: Path) -> dict[str, Any]:
        """What the note beside a copy's folder says: its object's key and tag ({} if none)."""
        try:
            note = json.loads(folder.with_name(folder.name + ".json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return note if isinstance(note, dict) else {}

    def _note_copy(self, folder: Path, key: str, tag: str | None) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=folder.parent, prefix=".note-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"key": key, "tag": tag}, out)
        os.replace(tmp_name, folder.with_name(folder.name + ".json"))

    def _drop_copy(self, key: str) -> None:
        """Remove the local copy of ``key``, unless a run (of any process) holds it."""
        self._drop_folder(self._local(key).parent)

    def _drop_folder(self, folder: Path) -> bool:
        """Remove a copy's folder — the copy, its note, what killed downloads left — unless a
        process holds one of its files or names the copy in a hold file; whether it went."""
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            names = []
        def held() -> bool:  # asked once the copy is locked: no path() is handing it out
            return folder.name in held_names(self._holds)

        free = all([remove_unheld(folder / name, older_than=TEMPORARY_GRACE)
                    if name.startswith(".get-") else remove_unheld(folder / name, kept=held)
                    for name in names])
        if free:
            folder.with_name(folder.name + ".json").unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # a download began there meanwhile
                folder.rmdir()
        return free

    def keep_copies(self, listed: Collection[str]) -> None:
        """After a listing of the whole bucket: remove the copies of objects it no longer
        shows (deleted by other programs), and what killed processes left."""
        self._clean(lambda key: key in listed)

    def clean_cache(self) -> None:
        """Remove the copies of objects that are gone, asking the storage about each, and the
        temporary files of processes killed while writing or downloading (the start of a
        `cauce serve` or `worker`)."""
        def exists(key: str) -> bool:
            try:
                self.stat(key)
            except ObjectNotFound:
                return False
            return True

        self._clean(exists)

    def _clean(self, exists: Callable[[str], bool]) -> None:
        for tmp in self.cache.glob(".put-*"):
            remove_unheld(tmp, older_than=TEMPORARY_GRACE)
        objects = self.cache / "objects"
        try:
            entries = sorted(objects.iterdir())
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith(".note-"):
                remove_unheld(entry, older_than=TEMPORARY_GRACE)
            elif entry.is_dir():
                for tmp in entry.glob(".get-*"):
                    remove_unheld(tmp, older_than=TEMPORARY_GRACE)
                key = self._copied(entry).get("key")
                # a copy without a note: made by an older cauce, or its download was killed
                if not isinstance(key, str) or not exists(key):
                    self._drop_folder(entry)
            elif entry.suffix == ".json" and not entry.with_suffix("").exists():
                remove_unheld(entry, older_than=TEMPORARY_GRACE)  # its copy went

    def _local(self, key: str) -> Path:
        """Where the local copy of ``key`` goes: a folder named by a digest of the key, holding
        a file named as the key ends (engines go by its extension). Object storage may hold
        both ``a`` and ``a/b``, which as paths of their own would be a file and a folder. A
        note beside the folder (``<digest>.json``) says the key and the tag copied."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.cache / "objects" / digest / key.rsplit("/", 1)[-1]


def _open_held(path: Path) -> int | None:
    """A descriptor of ``path`` holding it (a shared lock), or None when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    share(fd)  # waits out a clean-up deciding on it
    if _same_file(fd, path):
        return fd
    os.close(fd)  # removed or replaced meanwhile
    return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


# botocore's loggers that say at INFO where the credentials and the endpoint came from, once
# per process: a line in every run's log, which runs on folder buckets do not have
_CHATTY = ("botocore.credentials", "aiobotocore.credentials", "botocore.configprovider")


def _connect(url: str, protocol: str) -> tuple[Any, str]:
    """The file system of ``url`` and the path in it. For S3, each call is tried as botocore's
    retry settings say (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``; 5 attempts by default) and
    not as many times again by s3fs, which made an endpoint that never answers fail a lookup
    after 7 minutes rather than 80 s; uploads go without ``Expect: 100-continue``."""
    import fsspec  # with asyncio under it: paid only by buckets on remote URLs

    if protocol not in ("s3", "s3a"):
        return fsspec.core.url_to_fs(url)
    from aiobotocore.session import AioSession  # s3fs's own; ImportError without the S3 extra

    for name in _CHATTY:  # unless the user set their levels
        chatty = logging.getLogger(name)
        if chatty.level == logging.NOTSET:
            chatty.setLevel(logging.WARNING)
    session = AioSession()
    session.register("before-call.s3", _send_without_expect)  # after botocore adds the header
    # a session of its own makes each file system new: fsspec's cache would keep them all
    fs, root = fsspec.core.url_to_fs(url, session=session, skip_instance_cache=True)
    fs.retries = 1
    return fs, root


def _send_without_expect(params: dict[str, Any], **_: Any) -> None:
    """botocore asks for ``100 Continue`` before sending an upload's body, and aiohttp waits for
    it with no timeout: an endpoint that takes the connection and never answers (a wrong port,
    a stuck proxy) held a put for ever, where every other call fails after its read timeout."""
    params["headers"].pop("Expect", None)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception under it: causes, contexts, and the one botocore keeps
    in its ``kwargs``."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        kept = getattr(current, "kwargs", None)
        inner = kept.get("error") if isinstance(kept, dict) else None
        pending += [e for e in (current.__cause__, current.__context__, inner)
                    if isinstance(e, BaseException)]


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _speaks_no_http(error: BaseException) -> str | None:
    """The endpoint (``scheme://host:port``) that ``error`` shows to speak another protocol
    than HTTP — its first bytes are no HTTP status line (an SMTP, SSH or FTP banner), or it
    closed the connection unanswered and answers a plain HTTP request with no HTTP (Redis) —
    else None."""
    try:
        from aiohttp.http_exceptions import BadStatusLine
    except ImportError:  # no S3 library: no S3 endpoint either
        return None
    endpoint, garbled, closed = None, False, False
    for cause in _causes(error):
        info = getattr(cause, "request_info", None)
        kept = getattr(cause, "kwargs", None)
        if info is not None and endpoint is None:
            endpoint = _origin(str(info.real_url))
        if isinstance(kept, dict) and isinstance(kept.get("endpoint_url"), str):
            endpoint = endpoint or _origin(kept["endpoint_url"])
        garbled = garbled or isinstance(cause, BadStatusLine)  # not a malformed header
        closed = closed or type(cause).__name__ in ("ConnectionClosedError",
                                                   "ServerDisconnectedError")
    if endpoint is None or not (garbled or closed):
        return None
    if garbled or _answers_no_http(endpoint):
        return endpoint
    return None


def _answers_no_http(endpoint: str) -> bool:
    """Whether a plain ``http://`` endpoint answers ``GET / HTTP/1.0`` with bytes that are no
    HTTP. False when it answers nothing (a server that hangs up may be an S3 server that
    failed) or cannot be reached now."""
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or parts.hostname is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=2) as probe:
            probe.sendall(b"GET / HTTP/1.0\r\n\r\n")
            first = probe.recv(5)
    except OSError:
        return False
    return bool(first) and not b"HTTP/".startswith(first) and not first.startswith(b"HTTP/")


def _tag(info: dict[str, Any]) -> str | None:
    """What tells one version of an object from another of the same size and time, from an
    fsspec info record: S3's (and Azure's) ETag, GCS's etag or MD5; None where the storage keeps
    none. S3's times have whole seconds, so an object rewritten within one with the same size
    was the same object without it."""
    for field in ("ETag", "etag", "md5Hash"):
        value = info.get(field)
        if isinstance(value, str) and value:
            return value.strip('"')
    return None


def _modified(info: dict[str, Any]) -> float:
    """The object's time from an fsspec info record (S3 ``LastModified``, or ``mtime``, or
    ``created``), as epoch seconds."""
    for field in ("LastModified", "mtime", "created"):
        value = info.get(field)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
    return 0.0
