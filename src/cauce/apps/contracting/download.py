"""Fetching the sources: whole Socrata datasets through the SODA connector, PACO files by URL.

The SODA API names columns by their API field names and sends dates as floating timestamps
(``2019-11-14T00:00:00.000``); the bulk exports the ETL reads use display names and each
source's own date format. A download is therefore written as the bulk export would be: every
page (``$order=:id``, retries on 429/5xx as the connector does), headers mapped to display names
through the dataset's ``columns[]``, dates in the source's export pattern. One ETL reads both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl

from cauce import Context, RunCancelled
from cauce.apps.contracting.errors import ContractingError
from cauce.apps.contracting.sources import Source, date_columns
from cauce.apps.contracting.synth.background import STRFTIME
from cauce.connectors.soda import RetryPolicy, SodaClient, SodaError
from cauce.connectors.soda.client import wait_unless_cancelled

FLOATING = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"


@dataclass(frozen=True)
class Fetched:
    path: Path
    rows: int
    pages: int
    origin: str


def downloadable(src: Source) -> bool:
    return src.dataset is not None or src.url is not None


def manual_hint(src: Source) -> str:
    return (
        f"not published as CSV: put {src.file!r} in bucket staging by hand "
        f"(cauce put contracting staging 'origen/{src.file}' FILE)"
    )


def fetch(ctx: Context, src: Source) -> Fetched:
    """Download ``src`` into the run's work folder, shaped as its bulk export."""
    settings = ctx.settings
    folder = ctx.workdir / "download"
    folder.mkdir(parents=True, exist_ok=True)
    retry = RetryPolicy(attempts=settings.retries, backoff=settings.backoff)

    def cancelled() -> bool:  # looked at in retry waits and per chunk: the weekly fetches in
        return ctx.cancelled  # worker threads, which Ctrl-C does not interrupt
    if src.dataset is None:
        url = f"{settings.paco.rstrip('/')}/{src.file}"
        return _fetch_file(url, folder / src.file, retry, settings.timeout, cancelled)
    try:
        with SodaClient(
            settings.portal,
            app_token=settings.soda_app_token,
            timeout=settings.timeout,
            retry=retry,
            page_size=settings.page_size,
            cancelled=cancelled,
        ) as soda:
            view = soda.metadata(src.dataset)
            result = soda.download_csv(src.dataset, folder / f"{src.dataset}.csv")
            origin = soda.base_url
    except SodaError as err:
        raise ContractingError(
            f"{src.dataset} ({src.file}): {err.message}", hint=err.hint
        ) from None
    target = folder / src.file
    as_export(src, result.path, view, target)
    result.path.unlink(missing_ok=True)
    return Fetched(target, result.rows, result.pages, origin)


def as_export(src: Source, path: Path, view: dict, target: Path) -> None:
    """Rewrite a SODA CSV download as the bulk export: display names, the export's date format."""
    names = {
        c["fieldName"]: c.get("name") or c["fieldName"]
        for c in view.get("columns", [])
        if isinstance(c, dict) and c.get("fieldName")
    }
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as err:  # ragged, cut, empty or not UTF-8
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ContractingError(
            f"{src.dataset} ({src.file}): the portal's CSV cannot be read: {reason}",
            hint="download it again; if it persists, put the bulk export in bucket staging by "
            f"hand (cauce put contracting staging 'origen/{src.file}' FILE)",
        ) from None
    frame = frame.rename({f: names[f] for f in frame.columns if f in names})
    patterns = {c.header: c.pattern for c in date_columns(src)}
    frame = frame.with_columns(
        pl.when(pl.col(header).str.contains(FLOATING))
        .then(
            pl.col(header)
            .str.slice(0, 19)
            .str.strptime(pl.Datetime, "%Y-%m-%dT%H:%M:%S", strict=False)
            .dt.strftime(STRFTIME[pattern])
        )
        .otherwise(pl.col(header))
        .alias(header)
        for header, pattern in patterns.items()
        if header in frame.columns
    )
    frame.write_csv(target)


def _fetch_file(
    url: str, target: Path, retry: RetryPolicy, timeout: float, cancelled: Callable[[], bool]
) -> Fetched:
    """A plain file by HTTP, retried on 429/5xx and broken connections like SODA requests;
    `RunCancelled` at the next chunk or retry wait once ``cancelled()``; an address that is no
    http(s) URL fails at once."""
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL as err:
        raise ContractingError(f"{url}: not a valid address: {err}",
                               hint="check the paco setting") from None
    if scheme not in ("http", "https"):
        raise ContractingError(f"{url}: not an http or https address",
                               hint="check the paco setting") from None
    for attempt in range(1, max(1, retry.attempts) + 1):
        try:
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
                if response.status_code == 200:
                    with target.open("wb") as out:
                        for chunk in response.iter_bytes(1 << 20):
                            if cancelled():
                                raise RunCancelled(f"cancelled while downloading {url}")
                            out.write(chunk)
                    rows = max(0, sum(1 for _ in target.open("rb")) - 1)
                    return Fetched(target, rows, 1, url)
                problem = f"HTTP {response.status_code}"
                if response.status_code not in (408, 429) and response.status_code < 500:
                    raise ContractingError(f"{url}: {problem}", hint="check the paco setting")
        except httpx.TransportError as err:
            problem = f"{type(err).__name__}: {err}"
        if attempt < retry.attempts:
            wait_unless_cancelled(retry.wait(attempt, None), cancelled)
    raise ContractingError(
        f"{url}: {problem} after {retry.attempts} attempt(s)", hint="it is retried on the next run"
    )
