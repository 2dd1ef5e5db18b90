"""Download many datasets at once, a bounded number at a time, and report each as it ends.

Downloads run in a thread pool (``concurrency`` at a time) sharing one HTTP client; each thread
runs in a copy of the caller's context, so its log lines land in the calling run's log stream.
Results come back in completion order, in the caller's thread, which is where they are stored
and announced: no cauce resource is touched from a worker thread. A client made with the run's
``cancelled`` ends its downloads at their next chunk or retry wait (their resume markers kept),
so a cancelled harvest waits for none of them.

One harvest at a time downloads into a folder (`one_harvest_at_a_time`): two would write the
same partial files and resume each other's downloads.
"""

from __future__ import annotations

import contextvars
import fcntl
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cauce.apps.opendata.errors import OpendataError
from cauce.apps.opendata.inventory import Asset
from cauce.connectors.soda import (
    DatasetForbidden,
    DatasetGone,
    DownloadResult,
    Progress,
    SodaClient,
    SodaError,
    marker_for,
)

WAKE = 0.5  # seconds the calling thread waits for a download at most before looking again
LOCK = ".harvest.lock"  # in the downloads folder, locked while a harvest runs


@dataclass(frozen=True)
class Outcome:
    """How one dataset's download ended: ``downloaded``, ``gone``, ``forbidden`` or ``failed``."""

    asset: Asset
    status: str
    result: DownloadResult | None = None
    error: str | None = None


def partial_path(folder: Path, dataset: str) -> Path:
    """Where a dataset's download is written until it is complete (with its resume marker)."""
    return folder / dataset / f"{dataset}.csv"


def has_partial(folder: Path, dataset: str) -> bool:
    return marker_for(partial_path(folder, dataset)).exists()


def discard_partial(folder: Path, dataset: str) -> None:
    """Forget a partial download (of a dataset the portal no longer serves)."""
    path = partial_path(folder, dataset)
    path.unlink(missing_ok=True)
    marker_for(path).unlink(missing_ok=True)


@contextmanager
def one_harvest_at_a_time(folder: Path) -> Iterator[None]:
    """Hold the harvest lock of ``folder`` (an exclusive `flock`, released by the kernel when
    the process dies, SIGKILL included); `OpendataError` at once when another harvest holds it,
    in this process or another."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OpendataError(
                f"another harvest is running, downloading into {folder}",
                hint="wait for it to end (cauce runs --app opendata --job harvest) or cancel it",
            ) from None
        yield
    finally:
        os.close(fd)


def download(
    client: SodaClient,
    asset: Asset,
    folder: Path,
    *,
    page_size: int | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Outcome:
    """Download one dataset completely (resuming a partial download); never raises a SODA error."""
    try:
        result = client.download_csv(
            asset.id, partial_path(folder, asset.id), page_size=page_size, progress=progress
        )
    except (DatasetGone, DatasetForbidden) as err:
        discard_partial(folder, asset.id)
        return Outcome(
            asset, "gone" if isinstance(err, DatasetGone) else "forbidden", error=err.message
        )
    except SodaError as err:
        return Outcome(asset, "failed", error=err.message)
    return Outcome(asset, "downloaded", result)


def download_all(
    client: SodaClient,
    assets: Iterable[Asset],
    folder: Path,
    *,
    concurrency: int = 4,
    page_size: int | None = None,
) -> Iterator[Outcome]:
    """Download every asset, ``concurrency`` at a time; yields each outcome as it is known."""
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="soda-download")
    try:
        futures: list[Future[Outcome]] = [
            pool.submit(
                contextvars.copy_context().run, download, client, asset, folder, page_size=page_size
            )
            for asset in assets
        ]
        pending = set(futures)
        while pending:
            # with a timeout: a signal (Ctrl-C) is handled in this thread only when it wakes
            done, pending = wait(pending, timeout=WAKE, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:  # a caller that stops early (a cancelled run) does not wait for downloads not started
        pool.shutdown(wait=True, cancel_futures=True)
