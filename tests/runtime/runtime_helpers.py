"""Helpers for tests that run real cauce processes on a shared home."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cauce.backends.state import StateStore, StoredMessage, open_state
from cauce.errors import StateError
from waiting import wait_for as wait_for  # the runtime tests' import of it

CAUCE = [sys.executable, "-m", "cauce.cli.main"]


def write_app(folder: Path, name: str, source: str) -> str:
    """Write an app module into ``folder``; returns its `path.py:app` reference."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return f"{path}:app"


def cauce(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one cauce command on ``home`` and wait for it."""
    return subprocess.run([*CAUCE, "--home", str(home), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None,
          **kwargs: object) -> subprocess.Popen[str]:
    """Start one cauce command (in ``env``: by default this process's environment)."""
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*CAUCE, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]


class StateView:
    """Reads a home's state through the contract, whatever its engine (each call opens the
    store, reads, closes it — as another process would)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _read(self, read: Callable[[StateStore], Any]) -> Any:
        if self.url.startswith("sqlite:///") and not Path(self.url[10:]).exists():
            return None  # nothing ran yet: do not create the file
        store = open_state(self.url)
        try:
            return read(store)
        finally:
            store.close()

    def rows(self, kind: str) -> list[dict[str, Any]]:
        """Every row of one kind of state (`cauce.backends.state.COPIED`)."""
        return self._read(lambda s: [r for page in s.copying.rows(kind) for r in page]) or []

    def count(self, kind: str) -> int:
        return self._read(lambda s: s.copying.count(kind)) or 0

    def items(self, table: str) -> int:
        return self._read(lambda s: s.tables.count(table)) or 0

    def messages(self, queue: str | None = None) -> list[StoredMessage]:
        if queue is None:
            return [StoredMessage(**{k: v for k, v in row.items() if k != "grp"},
                                  group=row["grp"]) for row in self.rows("messages")]
        return self._read(lambda s: s.queues.listing(queue)) or []

    def running_workers(self) -> int:
        return len(self.worker_ids())

    def worker_ids(self) -> list[str]:
        """Ids of the `cauce worker` processes registered and not stopped."""
        try:
            return self._read(lambda s: s.workers.running("worker")) or []
        except StateError:  # the first worker is still creating the tables
            return []


def serve_killed_three_times(ref: str, home: Path, cwd: Path, what: str) -> subprocess.Popen[str]:
    """`cauce serve REF` SIGKILLed as each of its first three deliveries starts (the app appends
    its process id to ``cwd / "starts"`` as one starts): the first runs in the serve's own
    thread, the next two alone in a child process, which is stopped once its parent is gone.
    Returns a fourth serve, once its delivery (``what``) has started."""
    starts = cwd / "starts"

    def started(count: int) -> subprocess.Popen[str]:
        serve = start(["serve", ref, "--home", str(home), "--threads", "1"], cwd)
        try:
            wait_for(lambda: starts.exists() and len(starts.read_text().split()) == count, 30,
                     f"{what} {count} to start")
        except AssertionError:
            serve.kill()
            serve.wait(timeout=30)
            raise
        return serve

    for count in (1, 2, 3):
        serve = started(count)
        serve.kill()
        serve.wait(timeout=30)
        if count > 1:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(starts.read_text().split()[-1]), signal.SIGKILL)
        serve.communicate(timeout=30)  # the child shared its output pipes
    return started(4)


#: The start of a patient handler (apps with ``os``, ``signal``, ``time`` and ``FOLDER``): it
#: notes its process id in FOLDER/starts, waits for FOLDER/go, and kills its own process when
#: that says "die". For `serve_killed_three_times`.
PATIENT_START = """    with (FOLDER / "starts").open("a") as starts:
        starts.write(f"{os.getpid()}\\n")
    waited = time.monotonic() + 90  # a child its test left behind (it failed) ends by itself
    while not (FOLDER / "go").exists() and time.monotonic() < waited:
        time.sleep(0.05)
    if (FOLDER / "go").read_text() == "die":
        os.kill(os.getpid(), signal.SIGKILL)  # the delivery kills its own process
"""


def tell_the_delivery(folder: Path, fate: str) -> None:
    """Tell a delivery waiting in PATIENT_START to "finish" or "die": the file appears whole
    (renamed into place), as a delivery that saw it created still empty went on to finish."""
    written = folder / "go.tmp"
    written.write_text(fate)
    written.rename(folder / "go")


def assert_only_the_first_kill_counted(runs: list[dict[str, Any]]) -> None:
    """The runs of `serve_killed_three_times`, by start: lost in the serve's own thread (it
    counts), then twice excused in a child process, then the fourth in a child too."""
    assert runs[0]["error"].startswith("worker lost")
    assert [r["error"].split(";")[0] for r in runs[1:3]] == [
        "worker process killed while the run went on in a child process of its own"] * 2
    assert [r["in_child"] for r in runs] == [0, 1, 1, 1]
