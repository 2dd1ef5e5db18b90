"""Download many datasets at once, a bounded number at a time, and report each as it ends.

Downloads run in a thread pool (``concurrency`` at a time) sharing one HTTP client; each thread
runs in a copy of the caller's context, so its log lines land in the calling run's log stream.
Results come back in completion order, in the caller's thread, which is where they are stored
and announced: no cauce resource is touched from a worker thread. A client made with the run's
``cancelled`` ends its downloads at their next chunk or retry wait (their resume markers kept),
so a cancelled harvest waits for none of them.

One harvest at a time downloads into a folder (`one_harvest_at_a_time`): two would write the
same partial files and resume each other's downloads. Within a folder, one download of a dataset
at a time (`one_download_of`): the metadata handler resuming a replayed incomplete download and
a harvest downloading the same dataset would otherwise append to the same partial file.
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
DATASET_LOCK = ".download.lock"  # in a dataset's folder, locked while it downloads


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
def _locked(path: Path, *, wait: bool) -> Iterator[bool]:
    """Hold an exclusive `flock` on ``path`` (released by the kernel when the process dies,
    SIGKILL included; two opens of one file exclude each other within a process too). Yields
    False, holding nothing, when ``wait`` is off and another holder has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextmanager
def one_harvest_at_a_time(folder: Path) -> Iterator[None]:
    """Hold the harvest lock of ``folder``; `OpendataError` at once when another harvest holds
    it, in this process or another."""
    with _locked(folder / LOCK, wait=False) as held:
        if not held:
            raise OpendataError(
                f"another harvest is running, downloading into {folder}",
                hint="wait for it to end (cauce runs --app opendata --job harvest) or cancel it",
            )
        yield


@contextmanager
def one_download_of(folder: Path, dataset: str, *, wait: bool) -> Iterator[None]:
    """Hold the download lock of ``dataset`` in ``folder``: with ``wait``, once the download
    holding it ends; without, `OpendataError` at once when one holds it."""
    with _locked(partial_path(folder, dataset).parent / DATASET_LOCK, wait=wait) as held:
        if not held:
            raise OpendataError(
                f"{dataset}: a harvest is downloading this dataset now",
                hint="this message is tried again later; the harvest queues its own once the "
                "download is complete",
            )
        yield


def download(
    client: SodaClient,
    asset: Asset,
    folder: Path,
    *,
    page_size: int | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Outcome:
    """Download one dataset completely (resuming a partial download); never raises a SODA error.
    The caller holds the dataset's download lock (`one_download_of`)."""
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
                contextvars.copy_context().run, _download_in_turn, client, asset, folder, page_size
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


def _download_in_turn(
    client: SodaClient, asset: Asset, folder: Path, page_size: int | None
) -> Outcome:
    """`download`, once a replayed message resuming the same dataset is done with it."""
    with one_download_of(folder, asset.id, wait=True):
        return download(client, asset, folder, page_size=page_size)
