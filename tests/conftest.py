"""Fixtures shared by every test folder."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from notifier_clock import NotifierClock

S3_PACKAGES = ("moto", "s3fs", "boto3")
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 server on loopback with one bucket, ``cauce-test``; AWS_* variables point at it."""
    missing = [name for name in S3_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"an S3 test server needs {', '.join(missing)} (the dev extra installs them)")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in (*S3_CREDENTIALS, "AWS_ENDPOINT_URL")}
    os.environ.update(S3_CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    try:
        import boto3

        boto3.client("s3").create_bucket(Bucket="cauce-test")
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


@pytest.fixture
def wake_clock(monkeypatch: pytest.MonkeyPatch) -> NotifierClock:
    """The wake-up notifiers' clock, moved only by the test (see `tests/notifier_clock.py`)."""
    from notifier_clock import NotifierClock

    return NotifierClock(monkeypatch)


@pytest.fixture
def damage_messages() -> Callable[[Path], None]:
    """Overwrite the page of a state file that holds the queued messages, header left sound."""

    def damage(path: Path) -> None:
        con = sqlite3.connect(path)
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        root = con.execute("SELECT rootpage FROM sqlite_master "
                           "WHERE name = 'messages'").fetchone()[0]
        con.close()
        with path.open("r+b") as handle:
            handle.seek((root - 1) * page_size)
            handle.write(b"\xde\xad" * (page_size // 2))

    return damage


@dataclass(frozen=True)
class DemoHome:
    """A home where `cauce demo` ran every bundled app, and what the command printed."""

    home: Path
    out: str


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> DemoHome:
    """`cauce demo` for every bundled app, run once per run (it is the slowest set-up of the
    suite) and shared by the tests that only look at what it made: do not change it. Under
    pytest-xdist the first process to need it makes it, the others wait for it and read it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _demo(tmp_path_factory.mktemp("demo"))
    import fcntl  # the lock of the processes of one run (POSIX; the process tests need it too)

    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, above each process's
    with (shared / "demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = shared / "demo" / "printed.txt"
        if made.exists():
            return DemoHome(shared / "demo" / "cauce-demo", made.read_text())
        (shared / "demo").mkdir(exist_ok=True)
        demo = _demo(shared / "demo")
        made.write_text(demo.out)
        return demo


def _demo(folder: Path) -> DemoHome:
    from cauce.cli.main import main

    home = folder / "cauce-demo"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.chdir(home.parent)
        patch.delenv("COLUMNS", raising=False)  # printed whole, as when piped (xdist sets it)
        status = main(["demo", "--home", str(home)])
    assert status == 0, printed.getvalue()
    return DemoHome(home, printed.getvalue())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Captured output as text that can be encoded: the tests of hostile names log lone
    surrogates, which a report sent between test processes (pytest-xdist) cannot carry."""
    outcome = yield
    report = outcome.get_result()
    report.sections = [(title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
                       for title, text in report.sections]
