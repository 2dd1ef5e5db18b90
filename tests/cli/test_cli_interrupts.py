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


def _backfill_holding_its_second_day(tmp_path: Path, last: str,
                                     source: str = DAYS) -> subprocess.Popen[str]:
    """`cauce backfill` of days.py from 2021-01-01 to ``last``, once its first partition ended
    and its second is in hand (it stays so until the file "signalled" exists)."""
    (tmp_path / "days.py").write_text(source)
    process = start("backfill", "days.py:app", "day", "--from", "2021-01-01", "--to", last,
                    cwd=tmp_path)
    try:
        wait_for(lambda: _in_state(tmp_path, _a_partition_succeeded), "a partition to end")
        wait_for((tmp_path / "second").exists, "the second partition to be in hand")
    except BaseException:
        process.kill()
        raise
    return process


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_backfill_leaving_the_rest_queued(tmp_path: Path, sig: signal.Signals,
                                                           status: int) -> None:
    """Only the run in hand finishes: the partitions the backfill had fetched ahead go back to
    the queue at once (they ran, one by one, for up to the 30 s grace), and it says so."""
    process = _backfill_holding_its_second_day(tmp_path, "2021-01-20")
    try:
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
    # how far it got, counted once the run in hand ended (it ended after the signal: before,
    # only the bar, which stopped at the signal, said how far, one partition short)
    assert err.splitlines()[-2:] == [
        f"error: backfill of day interrupted by {sig.name}: 2 of 20 partition(s) succeeded; the "
        "partitions it had not run stay queued",
        "hint: run the same command again to resume (partitions that succeeded are skipped)"]
    assert _partitions_by_status(tmp_path) == {"succeeded": 2, "queued": 18}
    (tmp_path / "resuming").touch()
    resumed = cauce("backfill", "days.py:app", "day", "--from", "2021-01-01", "--to",
                    "2021-01-20", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _partitions_by_status(tmp_path) == {"succeeded": 20}


def _leases_until(store: StateStore) -> list[float]:
    """When the leases held on the backfill's partitions run out."""
    return [m.visible_at for m in store.queues.listing("days:job/day") if m.lease is not None]


def _started(store: StateStore, partition: str) -> list[float]:
    return sorted(run["started_at"] for page in store.copying.rows("runs") for run in page
                  if run["partition"] == partition and run["status"] == "succeeded")


def test_a_killed_backfill_is_resumed_at_once_not_after_its_leases(tmp_path: Path) -> None:
    """The partition a SIGKILLed backfill had in hand runs again as soon as the same command is
    started again; before, the resumed backfill stood still (its bar too) until the killed one's
    lease ran out, 30 s later, a wait nothing explained."""
    # a retry for the partition in hand: it ran in the killed process, whose death it counts
    process = _backfill_holding_its_second_day(tmp_path, "2021-01-05",
                                               DAYS.replace("retries=0", "retries=1"))
    try:
        process.kill()
        process.communicate(timeout=60)
    finally:
        process.kill()
    lease_end = min(_in_state(tmp_path, _leases_until))  # the run in hand's, and those fetched
    (tmp_path / "resuming").touch()
    resumed = cauce("backfill", "days.py:app", "day", "--from", "2021-01-01", "--to",
                    "2021-01-05", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("day: 4 succeeded, 0 failed, 1 skipped")
    [again] = _in_state(tmp_path, lambda store: _started(store, "2021-01-02"))
    assert again < lease_end
    general = cauce("logs", "general", cwd=tmp_path).stdout
    assert "delivery(ies) of a killed worker taken back" in general


def test_a_second_ctrl_c_stops_a_backfill_at_once_saying_its_run_in_hand_was_cut_short(
        tmp_path: Path) -> None:
    """Before, the second Ctrl-C gave the same line as the first, as if the run in hand had
    finished and only partitions not started were left."""
    process = _backfill_holding_its_second_day(tmp_path, "2021-01-20")
    try:
        process.send_signal(signal.SIGINT)
        wait_for(lambda: _in_state(tmp_path, _unclaimed) == 18, "the partitions to be given back")
        process.send_signal(signal.SIGINT)  # the run in hand never ends by itself
        _, err = process.communicate(timeout=60)
    finally:
        (tmp_path / "signalled").touch()
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-2:] == [
        "error: backfill of day stopped at once by SIGINT: the partitions it had not run stay "
        "queued, any run in hand was cut short",
        "hint: run the same command again to resume: it takes back the runs cut short and runs "
        "them again (partitions that succeeded are skipped)"]


ENDLESS = """
import time
from pathlib import Path

from cauce import App

app = App("endless")


@app.job(run_at_start=True, retries=0)
def spin(ctx) -> None:
    Path("started").touch()
    while True:  # checks nothing, but can be interrupted between two sleeps
        time.sleep(0.01)
"""


def test_a_second_ctrl_c_ends_a_serve_at_once_with_its_job_still_running(
        tmp_path: Path) -> None:
    """Before, the serve said it had stopped at once, then the process waited at its exit for
    the thread running the job, as long as the job ran (here: for ever)."""
    (tmp_path / "endless.py").write_text(ENDLESS)
    with open(tmp_path / "serve.err", "w") as err:
        process = subprocess.Popen(
            [str(CAUCE), "serve", "endless.py:app"], cwd=tmp_path, env=_env(),
            stdout=subprocess.DEVNULL, stderr=err, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            wait_for((tmp_path / "started").exists, "the job to start")
            process.send_signal(signal.SIGINT)
            wait_for(lambda: "received SIGINT" in (tmp_path / "serve.err").read_text(),
                     "the first Ctrl-C to be heard")
            process.send_signal(signal.SIGINT)
            status = process.wait(timeout=60)
        finally:
            process.kill()
    said = (tmp_path / "serve.err").read_text()
    assert status == 130, said
    assert said.splitlines()[-2:] == [
        "error: stopped at once on a second interrupt",
        "hint: unfinished work is delivered again when its leases expire"]
