"""Get the bytes of a census source: a local path, or an http(s) URL downloaded once.

A URL is downloaded into a bucket under `downloads/<host>/<path>` together with its SHA-256
checksum (`<key>.sha256`); later loads read the bucket copy after checking it against the
checksum, so the 30 runs of a chunked load download each file once, and a damaged copy is
fetched again instead of being loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from cauce import Bucket, CauceError

if TYPE_CHECKING:
    import httpx

DEFAULT_SOURCES = (
    "https://raw.githubusercontent.com/clicksign/python-dev-test/master/data/Adult.data",
    "https://raw.githubusercontent.com/clicksign/python-dev-test/master/data/Adult.test",
)
DOWNLOADS = "downloads"
TIMEOUT_SECONDS = 30.0
LOCAL_HINT = (
    "pass local files instead: cauce run census load --source path/to/Adult.data "
    "--source path/to/Adult.test (or write synthetic ones with `cauce run census demo-data`)"
)

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class SourceFile:
    """One source's content, its file name (the `_source` of its rows) and checksum."""

    name: str
    origin: str
    data: bytes
    sha256: str
    downloaded: bool = False


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def source_name(source: str) -> str:
    """The file name of a path or URL: `Adult.data`."""
    if is_url(source):
        return unquote(urlsplit(source).path.rstrip("/").rsplit("/", 1)[-1]) or source
    return Path(source).name


def fetch(
    source: str,
    bucket: Bucket,
    *,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SourceFile:
    """The content of `source`: read from disk, or from the bucket copy of a URL."""
    if not is_url(source):
        return _read_local(source)
    key = download_key(source)
    checksum_key = f"{key}.sha256"
    if bucket.exists(key) and bucket.exists(checksum_key):
        data = bucket.get(key)
        digest = hashlib.sha256(data).hexdigest()
        if digest == bucket.get(checksum_key).decode().strip():
            return SourceFile(source_name(source), source, data, digest)
    data = _download(source, progress, transport)
    digest = hashlib.sha256(data).hexdigest()
    bucket.put(key, data)
    bucket.put(checksum_key, digest + "\n")
    return SourceFile(source_name(source), source, data, digest, downloaded=True)


def download_key(url: str) -> str:
    """Bucket key of a URL's copy: `downloads/<host>/<path>`."""
    parts = urlsplit(url)
    segments = [unquote(part) for part in parts.path.split("/") if part not in ("", ".", "..")]
    return "/".join([DOWNLOADS, parts.hostname or "host", *segments])


def _read_local(source: str) -> SourceFile:
    path = Path(source).expanduser()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CauceError(
            f"cannot read the source {source!r}: {error.strerror}",
            hint="pass an existing file or an http(s) URL with --source",
        ) from error
    return SourceFile(path.name, source, data, hashlib.sha256(data).hexdigest())


def _download(url: str, progress: Progress | None, transport: httpx.BaseTransport | None) -> bytes:
    import httpx  # only URLs need it; a load of local files starts faster without it

    try:
        client = httpx.Client(transport=transport, timeout=TIMEOUT_SECONDS, follow_redirects=True)
        with client, client.stream("GET", url) as response:
            response.raise_for_status()
            length = response.headers.get("content-length")
            total = int(length) if length is not None else None
            received = bytearray()
            for block in response.iter_bytes():
                received += block
                if progress is not None:
                    progress(len(received), total)
            return bytes(received)
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        # The advice is in the message too: it is what a failed run shows first.
        raise CauceError(
            f"cannot download {url}: no network connection ({error}); pass local files with "
            "--source path/to/Adult.data --source path/to/Adult.test",
            hint=LOCAL_HINT,
        ) from error
    except httpx.HTTPStatusError as error:
        status = error.response
        raise CauceError(
            f"cannot download {url}: HTTP {status.status_code} {status.reason_phrase}",
            hint=LOCAL_HINT,
        ) from error
    except httpx.HTTPError as error:
        raise CauceError(f"cannot download {url}: {error}", hint=LOCAL_HINT) from error
