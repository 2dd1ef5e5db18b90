"""Stopping the real `cauce` process: Ctrl-C and SIGTERM end a run cancelled, a late Ctrl-C
changes nothing, a cancel request stops a job that never checks, a killed run is found lost by
the next command, and `serve` says when it is ready and when another serve of the app is live."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cauce.backends.state import StateStore, open_state, sqlite_url

CAUCE = Path(sys.executable).with_name("cauce")

pytestmark = pytest.mark.skipif(
    not CAUCE.exists(), reason=f"no cauce console script next to {sys.executable}"
)

APP = """
import time

from cauce import App

app = App("sleepy")


@app.job(retries=0)
def nap(ctx, seconds: float = 60) -> str:
    (ctx.workdir / "scratch").write_text("left by the run")
    time.sleep(seconds)  # never looks at ctx.cancelled
    return "rested"
"""


LATE = """
import atexit
import os
import signal

from cauce import App

app = App("late")


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


@app.job(retries=0)
def quick(ctx) -> str:
    atexit.register(ctrl_c)  # a Ctrl-C as the process exits, its run reported
    return "done"
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}


def cauce(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CAUCE), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=60
    )


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """`cauce` in the background, with SIGINT's default action whatever this process has: a
    suite started in the background by a shell ignores SIGINT, and so would the commands it
    starts (as a Ctrl-C at a terminal never reaches a background job)."""
    return subprocess.Popen(
        [str(CAUCE), *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(check: Callable[[], object], what: str, seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running_run(cwd: Path) -> str | None:
    listed = cauce("runs", "--status", "running", "--json", cwd=cwd)
    runs = json.loads(listed.stdout) if listed.returncode == 0 else []
    return runs[0]["id"] if runs else None


def only_run(cwd: Path) -> dict[str, object]:
    [run] = json.loads(cauce("runs", "--json", cwd=cwd).stdout)
    return run


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_run_cancelled(tmp_path: Path, sig: signal.Signals, status: int) -> None:
    (tmp_path / "sleepy.py").write_text(APP)
    process = start("run", "sleepy.py:app", "nap", cwd=tmp_path)
    try:
        run_id = wait_for(lambda: running_run(tmp_path), "the run to start")
        process.send_signal(sig)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"■ run {run_id} sleepy.nap cancelled in ")
    assert err.splitlines()[-1].endswith(f": interrupted by {sig.name}")
    run = only_run(tmp_path)
    assert (run["status"], run["error"]) == ("cancelled", f"cancelled: interrupted by {sig.name}")
    general = cauce("logs", "general", cwd=tmp_path).stdout.splitlines()
    assert general[-1].endswith(f"WARNING: run {run_id} nap cancelled: interrupted by {sig.name}")


def test_a_ctrl_c_as_the_process_exits_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "late.py").write_text(LATE)
    done = cauce("run", "late.py:app", "quick", cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # not killed by the signal
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("✓ run ")
    assert only_run(tmp_path)["status"] == "succeeded"


def test_cancel_stops_a_run_that_never_checks(tmp_path: Path) -> None:
    (tmp_path / "sleepy.py").write_text(APP)
    process = start("run", "sleepy.py:app", "nap", cwd=tmp_path)
    try:
        run_id = wait_for(lambda: running_run(tmp_path), "the run to start")
        asked = cauce("runs", "cancel", str(run_id), cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        assert asked.stdout.startswith(f"asked run {run_id} (sleepy.nap) to cancel")
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 1, err
    assert "cancelling the run: asked by `cauce runs cancel`" in err
    run = only_run(tmp_path)
    assert (run["status"], run["error"]) == ("cancelled", "cancelled: asked by `cauce runs cancel`")


def test_a_killed_run_is_found_lost_by_the_next_command(tmp_path: Path) -> None:
    (tmp_path / "sleepy.py").write_text(APP)
    process = start("run", "sleepy.py:app", "nap", cwd=tmp_path)
    try:
        wait_for(lambda: running_run(tmp_path), "the run to start")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        process.kill()
    run = only_run(tmp_path)
    assert run["status"] == "failed"
    assert run["error"] == (
        f"lost: its `cauce run` process (pid {process.pid} on "
        f"{os.uname().nodename}) ended without finishing it"
    )
    assert not (tmp_path / ".cauce" / "work" / str(run["id"])).exists()  # its files went too
    # its log, which stopped at its start, ends with why
    log = cauce("logs", str(run["id"]), cwd=tmp_path).stdout.splitlines()
    assert log[-1].endswith(f"WARNING: run {run['id']} failed: {run['error']}")


def test_serve_says_when_it_is_ready_and_when_another_serve_is_live(tmp_path: Path) -> None:
    first = start("serve", "example", cwd=tmp_path)
    second = None
    try:
        assert first.stderr is not None
        wait_for(lambda: first.stderr.readline().startswith("ready "), "the first serve")
        second = start("serve", "example", cwd=tmp_path)
        assert second.stderr is not None
        said: list[str] = []
        wait_for(
            lambda: said.append(second.stderr.readline()) or said[-1].startswith("ready "),
            "the second serve",
        )
        [warning] = [line for line in said if "another `cauce serve example`" in line]
        assert (f"is live on the same state store: pid {first.pid} on {os.uname().nodename} "
                "(this machine); this one works as an extra worker") in warning
        workers = json.loads(cauce("workers", "--json", cwd=tmp_path).stdout)
        assert sorted(w["pid"] for w in workers) == sorted([first.pid, second.pid])
        assert {w["role"] for w in workers} == {"serve"}
        for process in (first, second):
            process.send_signal(signal.SIGTERM)  # right after `ready`: a graceful stop
            process.communicate(timeout=60)
            assert process.returncode == 0
    finally:
        for process in (first, second):
            if process is not None:
                process.kill()
    assert json.loads(cauce("workers", "--json", cwd=tmp_path).stdout) == []


DAYS = """
import time
from pathlib import Path

from cauce import App, daily

app = App("days")


@app.job(partitions=daily(start="2021-01-01"), retries=0)
def day(ctx) -> None:
    # until resumed: the first partition ends at once, the second says it started and is the
    # run in hand until the test has signalled the backfill; then all run at speed
    folder = Path(__file__).parent
    if (folder / "resuming").exists():
        return
    if not (folder / "first").exists():
        (folder / "first").touch()
        return
    (folder / "second").touch()
    while not (folder / "signalled").exists():
        time.sleep(0.01)
"""


def _partitions_by_status(cwd: Path) -> dict[str, int]:
    listed = cauce("runs", "--limit", "100", "--json", cwd=cwd)
    runs = json.loads(listed.stdout) if listed.returncode == 0 else []  # no home yet
    counted: dict[str, int] = {}
    for run in runs:
        counted[run["status"]] = counted.get(run["status"], 0) + 1
    return counted


def _in_state(cwd: Path, read: Callable[[StateStore], object]) -> object:
    """``read`` on the home's state, in this process (None before there is one): a `cauce runs`
    can take seconds on a busy machine, by when the whole backfill may have ended and the
    signal finds no process to stop."""
    state = cwd / ".cauce" / "state.db"
    if not state.exists():
        return None
    store = open_state(sqlite_url(state))
    try:
        return read(store)
    finally:
        store.close()


def _a_partition_succeeded(store: StateStore) -> bool:
    return any(run["status"] == "succeeded" for page in store.copying.rows("runs") for run in page)


def _unclaimed(store: StateStore) -> int:
    """The backfill's partitions waiting in its queue, claimed by nobody."""
    return sum(message.lease is None for message in store.queues.listing("days:job/day"))


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_backfill_leaving_the_rest_queued(tmp_path: Path, sig: signal.Signals,
                                                           status: int) -> None:
    """Only the run in hand finishes: the partitions the backfill had fetched ahead go back to
    the queue at once (they ran, one by one, for up to the 30 s grace), and it says so."""
    (tmp_path / "days.py").write_text(DAYS)
    process = start("backfill", "days.py:app", "day", "--from", "2021-01-01", "--to",
                    "2021-01-20", cwd=tmp_path)
    try:
        wait_for(lambda: _in_state(tmp_path, _a_partition_succeeded), "a partition to end")
        wait_for((tmp_path / "second").exists, "the second partition to be in hand")
        process.send_signal(sig)
        # all but the first two partitions back in the queue: those fetched ahead were given
        # back (the run in hand still holds its own); only then may the run in hand end
        wait_for(lambda: _in_state(tmp_path, _unclaimed) == 18, "the partitions to be given back")
        (tmp_path / "signalled").touch()
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert "Traceback" not in err
    assert err.splitlines()[-2:] == [
        f"error: backfill of day interrupted by {sig.name}: the partitions it had not run stay "
        "queued",
        "hint: run the same command again to resume (partitions that succeeded are skipped)"]
    assert _partitions_by_status(tmp_path) == {"succeeded": 2, "queued": 18}
    (tmp_path / "resuming").touch()
    resumed = cauce("backfill", "days.py:app", "day", "--from", "2021-01-01", "--to",
                    "2021-01-20", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _partitions_by_status(tmp_path) == {"succeeded": 20}
