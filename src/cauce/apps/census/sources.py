"""Get the bytes of a census file: a local path, or an http(s) URL downloaded once.

The data files and the Description come the same way. A URL is downloaded into a bucket under
`downloads/<host>/<path>` together with its SHA-256 checksum (`<key>.sha256`); later loads read
the bucket copy after checking it against the checksum, so the 30 runs of a chunked load
download each file once, and a damaged copy is fetched again instead of being loaded.

Without a `description` setting the Description is the file of that name next to the first
local source (the original exercise keeps `Adult.data`, `Adult.test` and `Description` in one
folder), else the original's, downloaded like the data files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from cauce import Bucket, CauceError, textfiles
from cauce.apps.census.description import DESCRIPTION_FILE

if TYPE_CHECKING:
    import httpx

DEFAULT_SOURCES = (
    "https://raw.githubusercontent.com/clicksign/python-dev-test/master/data/Adult.data",
    "https://raw.githubusercontent.com/clicksign/python-dev-test/master/data/Adult.test",
)
DATA_ROWS, TEST_ROWS = 32_561, 16_281  # the sizes of the real Adult.data and Adult.test
#: records per synthetic file at most: a record takes some 650 bytes of memory while its file is
#: written, so 5,000,000 (150 times Adult.data) take about 3 GB; a larger number used to run
#: for minutes before NumPy's MemoryError
SYNTHETIC_MAX_ROWS = 5_000_000
DEFAULT_DESCRIPTION = (
    "https://raw.githubusercontent.com/clicksign/python-dev-test/master/data/Description"
)
DOWNLOADS = "downloads"
TIMEOUT_SECONDS = 30.0

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Advice:
    """What the errors about one kind of file say: what it is and how to give it locally."""

    role: str  # "source", "Description file"
    option: str  # the CLI option that names it
    offline: str  # ends the message of a download that found no network
    hint: str


DATA = Advice(
    "source",
    "--source",
    "pass local files with --source path/to/Adult.data --source path/to/Adult.test",
    "pass local files instead: cauce run census load --source path/to/Adult.data "
    "--source path/to/Adult.test (or write synthetic ones with `cauce run census demo-data`)",
)
DESCRIPTION = Advice(
    "Description file",
    "--description",
    "pass --description PATH or put Description next to the data files",
    "pass --description path/to/Description, or put the file named Description next to the "
    "first --source file (`cauce run census demo-data` writes one next to its synthetic files)",
)


@dataclass(frozen=True)
class SourceFile:
    """One source's content, its file name (the `_source` of its rows) and checksum."""

    name: str
    origin: str
    data: bytes
    sha256: str
    downloaded: bool = False


#: the first bytes of the compressed files a download may be (UCI's adult.zip, a .gz copy)
COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf\x27\x1c": "7z",
}


def compression(data: bytes) -> str | None:
    """The compression `data` starts with (`gzip`, `zip`...), None for text: a census line
    never starts with these bytes."""
    return next((kind for magic, kind in COMPRESSED.items() if data.startswith(magic)), None)


def is_url(source: str) -> bool:
    """Whether `source` is an http(s) URL (well formed or not: `_check_url` says)."""
    return _HTTP.match(source) is not None


_HTTP = re.compile(r"(?i)https?:")


def source_name(source: str) -> str:
    """The file name of a path or URL: `Adult.data`."""
    if is_url(source):
        try:
            path = urlsplit(source).path
        except ValueError:  # no URL (`https://[::1`), which fetching it says
            path = source
        return unquote(path.rstrip("/").rsplit("/", 1)[-1]) or source
    return Path(source).name


def description_origin(setting: str | None, sources: Sequence[str]) -> str:
    """Where the Description comes from: the setting if given; else the file named Description
    next to the first local source, if there is one; else the original exercise's URL."""
    if setting:
        return setting
    local = next((source for source in sources if not is_url(source)), None)
    if local is not None:
        beside = local_path(local).parent / DESCRIPTION_FILE
        if beside.is_file():
            return str(beside)
    return DEFAULT_DESCRIPTION


def local_path(source: str) -> Path:
    """The path `source` names: `~` and `~user` expanded to a home folder, but a `~name` that
    is no user's (a folder of that name) kept as written instead of failing."""
    path = Path(source)
    try:
        return path.expanduser()
    except RuntimeError:  # "Could not determine home directory"
        return path


def fetch(
    source: str,
    bucket: Bucket,
    *,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
    advice: Advice = DATA,
) -> SourceFile:
    """The content of `source`: read from disk, or from the bucket copy of a URL.

    `advice` says in the errors which file could not be had and how to give it locally.
    """
    if not is_url(source):
        return _read_local(source, advice)
    _check_url(source, advice)
    key = download_key(source)
    checksum_key = f"{key}.sha256"
    if bucket.exists(key) and bucket.exists(checksum_key):
        data = bucket.get(key)
        digest = hashlib.sha256(data).hexdigest()
        if digest == bucket.get(checksum_key).decode().strip():
            return SourceFile(source_name(source), source, data, digest)
    data = _download(source, progress, transport, advice)
    digest = hashlib.sha256(data).hexdigest()
    bucket.put(key, data)
    bucket.put(checksum_key, digest + "\n")
    return SourceFile(source_name(source), source, data, digest, downloaded=True)


def _check_url(url: str, advice: Advice) -> None:
    """One line for a URL no request can be made to (`https://[::1`, a line break in it)."""
    import httpx

    try:
        urlsplit(url)  # the bucket key is made from its parts
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as error:
        raise CauceError(f"{url!r} is not a valid URL: {error}", hint=advice.hint) from None


def download_key(url: str) -> str:
    """Bucket key of a URL's copy: `downloads/<host>[:<port>]/<path>[?<query>]`, one key per
    URL. Path segments are shown decoded, but a `%`, `/`, backslash or control character they
    decode to, and every one in the query, is written `%XX`, so that no two URLs share a key
    and every key is one a bucket takes."""
    parts = urlsplit(url)
    host = _escaped(parts.netloc.rpartition("@")[2].lower()) or "host"  # no user or password
    segments = [_escaped(unquote(part)) for part in parts.path.split("/")
                if part not in ("", ".", "..")]
    segments = [f"%{part}" if part in (".", "..") else part for part in segments] or ["%index"]
    if parts.query:
        segments[-1] += "?" + _escaped(parts.query)
    return "/".join([DOWNLOADS, host, *segments])


def _escaped(text: str) -> str:
    """``text`` with `%`, `/`, backslash and control characters written `%XX`."""
    return "".join(f"%{ord(c):02X}" if c in "%/\\" or ord(c) < 32 or ord(c) == 127 else c
                   for c in text)


def _read_local(source: str, advice: Advice) -> SourceFile:
    path = local_path(source)
    if path.exists() and not path.is_dir() and not path.is_file():
        # a FIFO would wait for a writer forever, /dev/zero fill the memory
        raise CauceError(
            f"cannot read the {advice.role} {source!r}: not a regular file",
            hint=f"pass a file (not a device or a pipe) or an http(s) URL with {advice.option}",
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CauceError(
            f"cannot read the {advice.role} {source!r}: {error.strerror}",
            hint=f"pass an existing file or an http(s) URL with {advice.option}",
        ) from error
    # the name labels its rows: bytes that are not UTF-8 (a Latin-1 name) are decoded as a
    # file's would be, as a database's text must be valid
    name = textfiles.escaped_bytes_decoded(path.name)
    return SourceFile(name, source, data, hashlib.sha256(data).hexdigest())


def _download(
    url: str, progress: Progress | None, transport: httpx.BaseTransport | None, advice: Advice
) -> bytes:
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
            f"cannot download {url}: no network connection ({error}); {advice.offline}",
            hint=advice.hint,
        ) from error
    except httpx.HTTPStatusError as error:
        status = error.response
        raise CauceError(
            f"cannot download {url}: HTTP {status.status_code} {status.reason_phrase}",
            hint=advice.hint,
        ) from error
    except httpx.HTTPError as error:
        raise CauceError(f"cannot download {url}: {error}", hint=advice.hint) from error
