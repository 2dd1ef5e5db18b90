"""A small SODA client on httpx: metadata, rows, and complete, resumable CSV downloads.

Why not sodapy: it is unmaintained since 2022, its `get_all` pages without `$order` (pages
can overlap or skip rows), it has no retries, no streaming to a file and no resume (see
docs/decisions.md).

- The app token (``SODA_APP_TOKEN``) goes in the ``X-App-Token`` header of requests to the
  portal's own origin and nowhere else: not in URLs, logs, errors, ``repr``, or a redirect to
  another host.
- Every request has a timeout per read, and a deadline of `PAGE_TIMEOUTS` timeouts for the
  whole of it, from connecting to its body's last byte (a portal trickling bytes, of its headers
  or its body, never trips a read timeout): see `cauce.connectors.soda.deadline`. 202, 429,
  5xx, timeouts, broken connections and pages longer than their ``$limit`` are retried with
  exponential backoff and jitter, honouring ``Retry-After``, as are other answers than 200 that
  are no 4xx (204, a redirect without a ``Location``); 404 raises `DatasetGone`, 403
  `DatasetForbidden`, other 4xx `SodaRequestError`, none retried.
- `download_csv` pages with ``$order=:id``, ``$limit`` and ``$offset`` until a short page, streams
  each page to the file (header kept once) and, after each page, writes a small resume marker
  next to it. A download that failed restarts at the failed page, not from zero.
- With ``cancelled`` (a run's ``lambda: ctx.cancelled``), a wait before a retry and a download
  stop within a fraction of a second of it turning true, raising `RunCancelled`: a download
  running in a worker thread does not hold up Ctrl-C for a Retry-After or a gigabyte.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import random
import re
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, TypeVar

from annotated_types import Ge, Gt, Interval

from cauce.connectors.soda.errors import (
    DatasetChanged,
    DatasetForbidden,
    DatasetGone,
    SodaRequestError,
    SodaUnavailable,
)
from cauce.errors import RunCancelled

log = logging.getLogger("cauce.connectors.soda")
# httpx logs every request at INFO: thousands of lines per harvest in a run's log. This client
# logs what matters itself (retries, resumes); httpx's warnings still show.
logging.getLogger("httpx").setLevel(logging.WARNING)
# httpx and NumPy load with the first client and the first page: importing the connector (an
# app declaring its jobs) costs neither.
if TYPE_CHECKING:
    import httpx
T = TypeVar("T")
TRANSIENT = frozenset({202, 408, 429, 500, 502, 503, 504})
DEFAULT_PAGE = 50_000
MARKER_SUFFIX = ".resume.json"
NAP = 0.2  # seconds between looks at whether the run was cancelled, while waiting to retry
# A whole answer (a CSV page, a view) must arrive within this many timeouts (10 minutes by
# default): a 50,000-row page of a wide dataset is tens of megabytes; a portal trickling a byte
# now and then never ends.
PAGE_TIMEOUTS = 10
# The types of an app's SODA settings, so a wrong value is refused where it is set: a page of
# 0 rows would page forever, a negative timeout fails inside httpx.
PageSize = Annotated[int, Interval(ge=1, le=DEFAULT_PAGE)]
Timeout = Annotated[float, Gt(0)]
Attempts = Annotated[int, Ge(1)]
Backoff = Annotated[float, Ge(0)]
# Socrata's "4x4" ids (jbjy-vk9h). An id becomes a URL path and a file name: anything else
# (`..`, `/`, `?`, spaces) would reach another resource or another folder.
_DATASET_ID = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}")


def check_dataset_id(dataset: str) -> str:
    """``dataset`` if it is a Socrata dataset id; `SodaRequestError` otherwise."""
    if not isinstance(dataset, str) or not _DATASET_ID.fullmatch(dataset):
        raise SodaRequestError(
            f"{str(dataset)[:80]!r} is not a Socrata dataset id",
            dataset=None,
            hint="an id is four lower-case letters or digits, a dash and four more: jbjy-vk9h",
        )
    return dataset


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing request is tried again."""

    attempts: int = 5
    backoff: float = 1.0  # seconds before the second attempt; doubled for each further one
    max_wait: float = 60.0  # no single wait is longer, Retry-After included

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        exponential = self.backoff * 2 ** (attempt - 1)
        return min(self.max_wait, exponential * random.uniform(0.5, 1.5))


@dataclass(frozen=True)
class Progress:
    """Where a download stands: reported after every chunk written."""

    dataset: str
    page: int
    rows: int
    bytes: int


@dataclass(frozen=True)
class DownloadResult:
    """A finished download."""

    dataset: str
    path: Path
    rows: int
    pages: int
    bytes: int
    resumed_at_page: int  # 0 when the download started from the beginning
    header: str


@dataclass(frozen=True)
class ResumeMarker:
    """The pages already written to a partial download, saved after each page."""

    dataset: str
    page_size: int
    query: dict[str, str]
    pages: int = 0
    rows: int = 0
    bytes: int = 0
    header: str | None = None

    @classmethod
    def load(cls, path: Path) -> ResumeMarker | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(self)))
        temporary.replace(path)


class _Transient(Exception):
    """A failure worth another attempt, with the server's Retry-After if it gave one."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _unavailable_hint(failure: str) -> str:
    """A hint that fits why the portal could not be had: refused, throttled, or failing."""
    if failure.startswith("HTTP 429"):
        return "the portal throttled the requests: set SODA_APP_TOKEN; the run is retried later"
    if failure.startswith("HTTP "):
        return "the portal itself is failing; the run is retried later"
    if "ConnectError" in failure or "Timeout" in failure:
        return "nothing answered at the portal's address: check the URL and the network"
    return "the portal's answers could not be read; the run is retried later"


class SodaClient:
    """A client for one Socrata domain, e.g. ``SodaClient("https://www.datos.gov.co")``."""

    def __init__(
        self,
        base_url: str,
        *,
        app_token: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        page_size: int = DEFAULT_PAGE,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 10,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        import httpx

        self.base_url = _portal_url(base_url)
        self.retry = retry or RetryPolicy()
        self.answer_deadline = timeout * PAGE_TIMEOUTS
        self.page_size = page_size
        self._sleep = sleep
        self._cancelled = cancelled
        headers = {"User-Agent": "cauce", "Accept-Encoding": "gzip"}
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        mounts = None
        if transport is None:  # httpx's own, with a deadline for each whole request
            from cauce.connectors.soda.deadline import DeadlineTransport, environment_mounts

            transport = DeadlineTransport(ssl_context=_tls(), limits=limits)
            mounts = environment_mounts(_tls(), limits)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            event_hooks={"request": [_token_for(httpx.URL(self.base_url), app_token)]},
            transport=transport,
            mounts=mounts,
            follow_redirects=True,
            verify=_tls(),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=limits,
        )
        self.uses_token = bool(app_token)

    def __repr__(self) -> str:
        return f"<SodaClient {self.base_url} token={'yes' if self.uses_token else 'no'}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SodaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------
    def metadata(self, dataset: str) -> dict[str, Any]:
        """`/api/views/{id}.json`: name, owner, category, `rowsUpdatedAt`, `columns[]`..."""
        check_dataset_id(dataset)
        return self._get_json(f"/api/views/{dataset}.json", {}, dataset, dict)  # type: ignore[no-any-return]

    def rows(
        self,
        dataset: str,
        *,
        select: str | None = None,
        where: str | None = None,
        order: str | None = ":id",
        limit: int = 1_000,
        offset: int = 0,
        filters: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """One page of rows as JSON objects (every value text; null fields absent)."""
        check_dataset_id(dataset)
        params = _query(select=select, where=where, order=order, filters=filters)
        params.update({"$limit": str(limit), "$offset": str(offset)})
        return self._get_json(f"/resource/{dataset}.json", params, dataset, list)  # type: ignore[no-any-return]

    def iter_rows(
        self,
        dataset: str,
        *,
        select: str | None = None,
        where: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row, page by page in `:id` order, until a short page."""
        size = page_size or self.page_size
        offset = 0
        while True:
            page = self.rows(dataset, select=select, where=where, limit=size, offset=offset)
            yield from page
            if len(page) < size:
                return
            offset += size

    def count(self, dataset: str, *, where: str | None = None) -> int:
        """The number of rows (matching ``where``), by ``$select=count(*)``."""
        page = self.rows(dataset, select="count(*) AS n", where=where, order=None)
        return int(page[0]["n"]) if page else 0

    # -- downloading --------------------------------------------------------------------------
    def download_csv(
        self,
        dataset: str,
        dest: str | Path,
        *,
        where: str | None = None,
        select: str | None = None,
        page_size: int | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> DownloadResult:
        """Download every row of ``dataset`` as one CSV file at ``dest``.

        If ``dest`` has a resume marker for the same query (left by a download that failed),
        the pages it lists are kept and paging goes on from the next one. Raises `DatasetGone`,
        `DatasetForbidden`, `SodaRequestError`, or `SodaUnavailable` once retries run out (the
        marker is kept, so the next call resumes).
        """
        check_dataset_id(dataset)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        marker_path = marker_for(dest)
        query = _query(select=select, where=where, order=":id")
        fresh = ResumeMarker(dataset, page_size or self.page_size, query)
        marker = ResumeMarker.load(marker_path)
        if (
            marker is None
            or (marker.dataset, marker.page_size, marker.query) != (dataset, fresh.page_size, query)
            or not dest.exists()
            or dest.stat().st_size < marker.bytes
        ):
            marker = fresh
        if marker is fresh:
            marker.save(marker_path)  # from now on the destination is known to be incomplete
        for restart in range(2):
            try:
                return self._pages(dest, marker_path, marker, progress)
            except DatasetChanged:
                if restart:
                    raise
                log.warning(
                    "%s: its columns changed while paging; downloading again from the first page",
                    dataset,
                )
                marker = fresh
                marker.save(marker_path)
        raise AssertionError("unreachable")

    def _pages(
        self,
        dest: Path,
        marker_path: Path,
        marker: ResumeMarker,
        progress: Callable[[Progress], None] | None,
    ) -> DownloadResult:
        resumed_at = marker.pages
        if resumed_at:
            log.info(
                "%s: resuming at page %d (%d rows already written)",
                marker.dataset,
                resumed_at + 1,
                marker.rows,
            )
        mode = "r+b" if dest.exists() else "w+b"
        with dest.open(mode) as out:
            while True:
                params = dict(marker.query)
                params.update(
                    {
                        "$limit": str(marker.page_size),
                        "$offset": str(marker.pages * marker.page_size),
                    }
                )
                current = marker

                def fetch(
                    current: ResumeMarker = current, params: dict[str, str] = params
                ) -> _Page:
                    return self._page(out, current, params, progress)

                page = self._with_retries(
                    f"/resource/{marker.dataset}.csv", params, marker.dataset, fetch
                )
                marker = replace(
                    marker,
                    pages=marker.pages + 1,
                    rows=marker.rows + page.rows,
                    bytes=marker.bytes + page.bytes,
                    header=marker.header or page.header,
                )
                marker.save(marker_path)
                if page.rows < marker.page_size:
                    break
            out.truncate(marker.bytes)
        marker_path.unlink(missing_ok=True)
        return DownloadResult(
            marker.dataset,
            dest,
            marker.rows,
            marker.pages,
            marker.bytes,
            resumed_at,
            marker.header or "",
        )

    def _page(
        self,
        out: BinaryIO,
        marker: ResumeMarker,
        params: dict[str, str],
        progress: Callable[[Progress], None] | None,
    ) -> _Page:
        out.truncate(marker.bytes)  # drop whatever a failed attempt at this page left behind
        out.seek(marker.bytes)
        writer = _PageWriter(out, marker.header, marker.page_size)
        path = f"/resource/{marker.dataset}.csv"
        with self._http.stream("GET", path, params=params) as response:
            if response.status_code != 200:
                response.read()
                self._check(response, marker.dataset)
            content_type = response.headers.get("Content-Type", "").lower()
            if "html" in content_type:
                # a proxy's or a maintenance page sent with 200: not a page of the dataset
                raise _Transient("the answer is an HTML page, not CSV")
            if "json" in content_type:  # a gateway's error object sent with 200
                raise _Transient("the answer is JSON, not CSV")
            chunks = self._arriving(
                response,
                f"while downloading page {marker.pages + 1} of {marker.dataset}; it resumes there",
            )
            for chunk in chunks:
                writer.feed(chunk)
                if progress is not None:
                    progress(
                        Progress(
                            marker.dataset,
                            marker.pages + 1,
                            marker.rows + writer.rows,
                            marker.bytes + writer.bytes,
                        )
                    )
        page = writer.finish()
        if marker.header is not None and page.header != marker.header:
            raise DatasetChanged(
                f"dataset {marker.dataset}: columns changed between pages", dataset=marker.dataset
            )
        return page

    # -- requests -------------------------------------------------------------------------------
    def _get_json(
        self, path: str, params: dict[str, str], dataset: str, shape: type[dict] | type[list]
    ) -> Any:
        """The answer's JSON, which must be a ``shape`` (a view is an object, rows a list of
        objects); anything else is read as a page the portal should not have sent (transient)."""

        def fetch() -> Any:
            with self._http.stream("GET", path, params=params) as response:
                if response.status_code != 200:
                    response.read()
                    self._check(response, dataset)
                body = b"".join(self._arriving(response, f"while reading {path}"))
            try:
                found = json.loads(body, parse_int=_integer)
            except ValueError:
                raise _Transient("the answer is not JSON") from None
            if not isinstance(found, shape) or (
                shape is list and not all(isinstance(row, dict) for row in found)
            ):
                what = "an object" if shape is dict else "a list of rows"
                raise _Transient(f"the answer is JSON but not {what}")
            return found

        return self._with_retries(path, params, dataset, fetch)

    def _arriving(self, response: httpx.Response, where: str) -> Iterator[bytes]:
        """The answer's body in chunks as they arrive (not gathered to a size, so a slow answer
        is still watched): `RunCancelled` when the run is, `_Transient` once the whole request
        has taken longer than `answer_deadline` (a portal trickling bytes never trips a read
        timeout). The client's own transport also bounds each read by that deadline; this
        check covers a transport given to the client."""
        from cauce.connectors.soda.deadline import current_attempt

        current = current_attempt()
        deadline = (
            current.deadline if current is not None else time.monotonic() + self.answer_deadline
        )
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        chunks = _gunzipped(response.iter_raw()) if encoding == "gzip" else response.iter_bytes()
        for chunk in chunks:
            self._stop_if_cancelled(where)
            if time.monotonic() > deadline:
                raise _Transient(
                    f"the answer did not arrive whole within {self.answer_deadline:g} s"
                )
            yield chunk

    def _with_retries(
        self,
        path: str,
        params: dict[str, str],
        dataset: str,
        fetch: Callable[[], T],
    ) -> T:
        """``fetch()``, each attempt within `answer_deadline`, tried again after transient
        failures."""
        import httpx

        from cauce.connectors.soda.deadline import attempt as deadline

        attempts = max(1, self.retry.attempts)
        where = _describe(path, params)
        for attempt in range(1, attempts + 1):
            # the whole request (connect, sending, status line, headers, body) within
            # answer_deadline: a portal trickling its headers is given up as one trickling a body
            with deadline(self.answer_deadline) as current:
                try:
                    return fetch()
                # timeouts, refused or broken connections, redirect loops, a body that is not
                # the gzip it claims: a failure of this answer, not of the program
                except httpx.RequestError as err:
                    if isinstance(err, httpx.TimeoutException) and current.passed():
                        failure = _Transient(
                            f"the answer did not arrive whole within {self.answer_deadline:g} s"
                        )
                    else:
                        failure = _Transient(f"{type(err).__name__}: {err}")
                except _Transient as err:
                    failure = err
            if attempt == attempts:
                raise SodaUnavailable(
                    f"{where}: {failure} after {attempts} attempt(s)",
                    dataset=dataset,
                    hint=_unavailable_hint(str(failure)),
                )
            wait = self.retry.wait(attempt, failure.retry_after)
            log.warning(
                "%s: %s; retrying in %.1fs (attempt %d of %d)",
                where,
                failure,
                wait,
                attempt + 1,
                attempts,
            )
            self._wait(wait)
        raise AssertionError("unreachable")

    def _wait(self, seconds: float) -> None:
        """Sleep before a retry; in short naps that end early when the run is cancelled."""
        if self._cancelled is None:
            self._sleep(seconds)
        else:
            wait_unless_cancelled(seconds, self._cancelled, self._sleep)

    def _stop_if_cancelled(self, where: str) -> None:
        if self._cancelled is not None and self._cancelled():
            raise RunCancelled(f"cancelled {where}")

    def _check(self, response: httpx.Response, dataset: str) -> None:
        status = response.status_code
        if status == 200:
            return
        if status in TRANSIENT:
            raise _Transient(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
        message = _message(response)
        if status == 404:
            raise DatasetGone(
                f"dataset {dataset} is gone (HTTP 404): {message}", dataset=dataset, status=404
            )
        if status == 403:
            raise DatasetForbidden(
                f"dataset {dataset} is forbidden (HTTP 403): {message}", dataset=dataset, status=403
            )
        if status in (301, 302, 303, 307, 308):  # a redirect httpx had no Location to follow
            raise _Transient(f"HTTP {status} without a Location to follow")
        if status >= 500 or status < 400:  # 1xx, 204, 5xx: the portal failing, not the query
            raise _Transient(f"HTTP {status}")
        raise SodaRequestError(
            f"dataset {dataset}: HTTP {status}: {message}",
            dataset=dataset,
            status=status,
            hint="check the query ($select, $where) and the app token",
        )


def _gunzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """A gzip body decoded as it arrives, member after member; `_Transient` when it is no gzip
    or ends inside a member. httpx decodes a cut stream without a word, and one cut at a record
    end read as a short page, the last: the dataset stored without its remaining rows."""
    decoder, begun = zlib.decompressobj(16 + zlib.MAX_WBITS), False
    try:
        for chunk in chunks:
            while chunk:
                if decoder.eof:  # a member ended and another begins
                    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                begun = True
                if decoded := decoder.decompress(chunk):
                    yield decoded
                chunk = decoder.unused_data if decoder.eof else b""
    except zlib.error as err:
        raise _Transient(f"the body is not the gzip its Content-Encoding claims: {err}") from None
    if begun and not decoder.eof:
        raise _Transient("the gzip body ended before its stream did: cut short on the way")


def _portal_url(base_url: str) -> str:
    """The portal's base URL (``https://`` added to a bare domain); `SodaRequestError` when it
    is not an http(s) address httpx can use."""
    import httpx

    url = base_url if "://" in base_url else f"https://{base_url}"
    hint = "give a domain (www.datos.gov.co) or a URL (http://127.0.0.1:8080)"
    if url.split("://", 1)[0].lower() not in ("http", "https"):
        raise SodaRequestError(f"portal {url[:80]!r} is not an http or https address", hint=hint)
    try:
        httpx.URL(url)
    except httpx.InvalidURL as err:
        raise SodaRequestError(f"portal {url[:80]!r} is not a valid address: {err}",
                               hint=hint) from None
    return url.rstrip("/")


def _token_for(portal: httpx.URL, token: str | None) -> Callable[[httpx.Request], None]:
    """A request hook that sends the app token to the portal's own origin only: a redirect to
    another host (a CDN, a hostile proxy) follows without it, where a default header would go
    along."""

    def hook(request: httpx.Request) -> None:
        same_origin = (request.url.scheme, request.url.host, request.url.port) == (
            portal.scheme, portal.host, portal.port)
        if token and same_origin:
            request.headers["X-App-Token"] = token
        else:
            request.headers.pop("X-App-Token", None)

    return hook


def wait_unless_cancelled(
    seconds: float, cancelled: Callable[[], bool], sleep: Callable[[float], None] = time.sleep
) -> None:
    """Sleep ``seconds`` in naps of `NAP`; `RunCancelled` as soon as ``cancelled()`` is true."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if cancelled():
            raise RunCancelled("cancelled while waiting to ask the portal again")
        sleep(min(left, NAP))


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS settings, built once: loading the CA bundle takes tens of ms."""
    import httpx

    return httpx.create_ssl_context()


def marker_for(dest: Path) -> Path:
    """Where `download_csv` keeps the resume marker of a download into ``dest``."""
    return dest.with_name(dest.name + MARKER_SUFFIX)


@dataclass(frozen=True)
class _Page:
    rows: int
    bytes: int
    header: str


class _PageWriter:
    """Writes one CSV page to a file: its header only if it is the first page, its records all.

    Records are counted by line ends outside quotes (a quoted field may hold line breaks); the
    quote parity is carried across chunks, vectorised with NumPy. More records than ``limit``
    (the page's ``$limit``) end the page at once: the portal is not paging.
    """

    def __init__(self, out: BinaryIO, header: str | None, limit: int) -> None:
        self.out = out
        self.limit = limit
        self.first_page = header is None
        self.header: bytes | None = None
        self._pending = b""  # the start of the page, until its header line is complete
        self.quotes = 0
        self.rows = 0
        self.bytes = 0
        self.last = b"\n"
        self._fields = 1  # fields of the record after the last record end (if unended)

    def feed(self, chunk: bytes) -> None:
        if self.header is None:
            self._pending += chunk
            end = _first_record_end(self._pending)
            if end is None:
                return
            self.header, chunk, self._pending = self._pending[:end], self._pending[end:], b""
            if 3 * self.header.count(b"\x00") >= len(self.header):  # field names in UTF-16,
                # half NUL bytes (SODA sends UTF-8): line ends and quotes are not single bytes,
                # so it can be neither paged nor joined. A stray NUL is the profile's to report.
                raise _Transient("the answer is UTF-16 (NUL bytes in its header), not UTF-8 CSV")
            if self.first_page:
                self._write(self.header)
        if chunk:
            import numpy as np

            data = np.frombuffer(chunk, dtype=np.uint8)
            quotes = np.cumsum(data == 34) + self.quotes
            outside = quotes % 2 == 0
            ends = np.flatnonzero((data == 10) & outside)
            separators = (data == 44) & outside
            self.rows += int(ends.size)
            if ends.size:
                self._fields = 1 + int(np.count_nonzero(separators[int(ends[-1]) + 1:]))
            else:
                self._fields += int(np.count_nonzero(separators))
            self.quotes = int(quotes[-1])
            if self.rows > self.limit:
                raise _Transient(
                    f"the answer has more rows than the $limit of {self.limit} asked for"
                )
            self._write(chunk)
            self.last = chunk[-1:]

    def finish(self) -> _Page:
        """The page written; `_Transient` when the answer cannot be a whole SODA CSV page: an
        empty body (a page has its header even past the last row), an HTML page or a JSON
        object sent as CSV, or a body that ends inside a record (cut off by a proxy that closed
        the connection). A last record without its line end is whole when its quotes pair up,
        it has every field of the header and does not end on a separator: it is ended with
        one."""
        head = (self._pending if self.header is None else self.header).lstrip(_LEADING)
        if not head:
            raise _Transient("the answer is empty, not even a header line")
        if head[:1] == b"<":  # a CSV header starts with a field name: this is <html> or <!DOCTYPE
            raise _Transient("the answer is an HTML page, not CSV")
        if head[:1] == b"{":  # nor a brace: this is a JSON object
            raise _Transient("the answer is JSON, not CSV")
        if self.header is None:
            raise _Transient("the answer ended inside its header line")
        if self.quotes % 2 or (self.last != b"\n" and not self._whole_last_record()):
            raise _Transient(f"the answer ended inside a record, after {self.rows} whole row(s)")
        if self.last != b"\n":
            self.rows += 1
            self._write(b"\n")
        return _Page(self.rows, self.bytes, self.header.decode("utf-8", errors="replace"))

    def _whole_last_record(self) -> bool:
        if self.header is None or self.last == b",":
            return False
        header = next(csv.reader([self.header.decode("utf-8", errors="replace").rstrip("\r\n")]))
        return self._fields >= len(header)

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.bytes += len(data)


_LEADING = b"\xef\xbb\xbf \t\r\n"  # what may come before a CSV's first field: a BOM, blanks


def _first_record_end(data: bytes) -> int | None:
    import numpy as np

    array = np.frombuffer(data, dtype=np.uint8)
    outside = np.cumsum(array == 34) % 2 == 0
    ends = np.flatnonzero((array == 10) & outside)
    return int(ends[0]) + 1 if ends.size else None


def _query(
    *,
    select: str | None,
    where: str | None,
    order: str | None,
    filters: dict[str, str] | None = None,
) -> dict[str, str]:
    params = dict(filters or {})
    if select:
        params["$select"] = select
    if where:
        params["$where"] = where
    if order:
        params["$order"] = order
    return params


def _describe(path: str, params: dict[str, str]) -> str:
    paging = {k: params[k] for k in ("$offset", "$limit") if k in params}
    return f"GET {path}" + (
        f" ({', '.join(f'{k}={v}' for k, v in paging.items())})" if paging else ""
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass  # not seconds: an HTTP date, below
    else:  # "nan" reads as a float, and time.sleep refuses it: no usable header, then
        return seconds if math.isfinite(seconds) else None
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _integer(text: str) -> int | float:
    """A JSON integer; one longer than Python converts (4,300 digits) is read as a float, an
    infinity, rather than failing the whole answer (a view with one in any field)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:200]
    return str(body)[:200]
