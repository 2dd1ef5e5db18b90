"""Exhausted resources — a full disk, a file size limit, too many open files, no memory, no
thread to be had, a file this user may not write — are said in one line naming the limit and
how to raise it, on a run's error and on a command's last line; never `unexpected ...` with a
request to report a bug, nor a hint that blames the input or the SQL."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cauce import App, Runtime, causes
from cauce.settings import ConfigSources
from cli_runner import clean_environment, in_process

SRC = Path(__file__).resolve().parents[1] / "src"


def test_causes_are_found_in_an_errors_chain() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/data/x.csv")
    assert causes.of(full).reason.startswith("the disk of /data/x.csv is full")
    # Rust's OSErrors (Polars) carry no errno, only its number in the text
    assert "is full" in causes.of(OSError("No space left on device (os error 28)")).reason
    assert "ulimit -f" in causes.of(OSError("File too large (os error 27)")).reason \
        or "file system" in causes.of(OSError("File too large (os error 27)")).reason
    assert "ulimit -n" in causes.of(OSError(errno.EMFILE, "Too many open files")).reason
    assert "memory" in causes.of(MemoryError()).reason
    assert causes.of(RuntimeError("can't start new thread")).reason \
        == "no thread can be started"
    # Polars' thread pool, when clone() says EAGAIN (a pids.max, ulimit -u)
    panic = Exception('called `Result::unwrap()` on an `Err` value: Os { code: 11, kind: '
                      'WouldBlock, message: "Resource temporarily unavailable" }')
    assert causes.of(panic).reason == "no thread can be started"
    try:
        try:
            raise MemoryError
        except MemoryError as err:
            raise ValueError("while loading") from err
    except ValueError as wrapped:
        assert "memory" in causes.of(wrapped).reason
    assert causes.of(ValueError("bad value")) is None
    try:
        try:
            raise PermissionError(errno.EACCES, "Permission denied", "/etc/shadow")
        except PermissionError:
            raise ValueError("no settings file, using defaults") from None
    except ValueError as unrelated:
        assert causes.of(unrelated) is None
    try:
        try:
            raise PermissionError(errno.EACCES, "Permission denied", "/etc/shadow")
        except PermissionError:
            raise ValueError("bad value")  # noqa: B904 (raised while it was handled)
    except ValueError as during:
        assert causes.of(during) is None  # most often about something else
    refused = ValueError("cannot read the settings")
    refused.__cause__ = PermissionError(errno.EACCES, "Permission denied", "/etc/x.toml")
    assert causes.of(refused).reason == "this user may not use /etc/x.toml"
    assert causes.of(OSError(errno.ENOENT, "No such file", "x")) is None


def test_the_limits_in_force_are_named() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert f"it may have {soft} (ulimit -n)" in causes.open_files().reason
    script = textwrap.dedent("""
        import resource
        from cauce import causes
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
        print(causes.memory())
        print(causes.open_files())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(SRC)}, check=True).stdout
    memory, files = out.splitlines()
    assert "it may use 3 GB of address space (ulimit -v)" in memory
    assert "ulimit -v unlimited" in memory
    # its hard limit is the same: raising it is root's (not `ulimit -n 40`)
    assert "its hard limit is 40 too" in files and "ulimit -n 4096" in files


def test_a_run_that_fills_the_disk_gets_a_hint_about_the_disk(tmp_path: Path) -> None:
    """The run's error was `OSError: [Errno 28] No space left on device` with a hint to read
    its traceback, which says nothing more about what to do."""
    app = App("limits")

    @app.job(retries=0)
    def write(ctx) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out.csv"))

    @app.job(retries=0)
    def polars_write(ctx) -> None:
        raise OSError("No space left on device (os error 28)")

    @app.job(retries=0)
    def hold(ctx) -> None:
        raise MemoryError

    with Runtime(app, home=tmp_path / "home", config=ConfigSources(environ={})) as rt:
        wrote = rt.run(write)
        polars = rt.run(polars_write)
        held = rt.run(hold)
    assert wrote.status == "failed"
    assert wrote.error.startswith("OSError: [Errno 28] No space left on device")
    assert f"(hint: the disk of {tmp_path / 'out.csv'} is full" in wrote.error
    assert "(hint: a disk cauce writes to is full" in polars.error
    assert held.error.startswith("MemoryError (hint: this process ran out of memory")


def test_a_command_stopped_by_a_thread_limit_says_so_and_the_log_keeps_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`cauce serve` that could start no thread ended with `error: unexpected RuntimeError:
    can't start new thread` and a request to report a bug; the general log had no word of why
    it stopped."""
    from cauce.runtime import serving

    clean_environment(monkeypatch, tmp_path)
    cli = in_process(capsys)

    def no_thread(*args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(serving, "_loop", no_thread)
    result = cli("--home", str(tmp_path / "h"), "serve", "example", "--for", "5s")
    assert result.status == 1
    lines = [line for line in result.err.splitlines() if not line[:1].isdigit()]
    assert lines[-2] == "error: no thread can be started (RuntimeError: can't start new thread)"
    assert lines[-1].startswith("hint: this process is at a limit (")
    assert "report" not in result.err
    monkeypatch.undo()
    clean_environment(monkeypatch, tmp_path)
    log = cli("--home", str(tmp_path / "h"), "logs", "general", "--app", "example").out
    assert "stops on an error: RuntimeError: can't start new thread" in log
    assert "Traceback" in log


_EXHAUST = textwrap.dedent("""
    import contextlib, os, resource, sys
    from pathlib import Path
    from cauce.backends.state import open_state, sqlite_url
    from cauce.errors import StateError
    import threading
    url = sqlite_url(Path(sys.argv[1]) / "state.db")
    state = open_state(url)  # made while files can still be opened
    state.tables.count("t")
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    held = []
    with contextlib.suppress(OSError):  # every descriptor the limit leaves, taken
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))

    def look(opening):  # another state opened, or a new thread's connection to this one
        try:
            (open_state(url) if opening else state).tables.count("t")
        except StateError as err:
            print(err.message)
            print(err.hint)

    look(True)
    thread = threading.Thread(target=look, args=(False,))
    thread.start()
    thread.join()
""")


def test_a_state_that_cannot_be_opened_for_want_of_files_names_the_limit(
        tmp_path: Path) -> None:
    """It was `cannot open the state database ...: unable to open database file` with a hint
    to check that the home exists and is writable, which it was."""
    out = subprocess.run([sys.executable, "-c", _EXHAUST, str(tmp_path)], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4, out.stdout
    for message, hint in (lines[:2], lines[2:]):
        assert message.endswith(
            "state.db: this process has too many files open: it may have 64 (ulimit -n)")
        assert "its hard limit is 64 too" in hint and "writable" not in hint


def test_a_read_only_state_file_is_said_so() -> None:
    """`attempt to write a readonly database` from SQLite (the file or its folder made
    read-only under a running serve, or before a command) was an unexpected OperationalError."""
    import sqlite3

    from cauce.backends.sqlite import statefile

    error = statefile.translate(Path("/h/state.db"),
                                sqlite3.OperationalError("attempt to write a readonly database"))
    assert error is not None
    assert error.message == ("cannot write the state database /h/state.db: it or its folder "
                             "/h is read-only for this user")
    assert "chmod u+w /h/state.db /h" in error.hint


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
                    reason="needs root and setpriv, to drop the right to write any file")
def test_a_read_only_state_file_stops_a_command_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    home = tmp_path / "h"
    cauce = [sys.executable, "-m", "cauce", "--home", str(home)]
    subprocess.run([*cauce, "run", "example", "seed", "--files", "1"], env=env, check=True,
                   capture_output=True)
    (home / "state.db").chmod(0o444)
    out = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
                          *cauce, "run", "example", "seed", "--files", "1"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.splitlines()[-2:] == [
        f"error: cannot write the state database {home / 'state.db'}: it or its folder "
        f"{home} is read-only for this user",
        f"hint: give write permission back (chmod u+w {home / 'state.db'} {home}), or run "
        "cauce as the user who owns them; a disk mounted read-only must be mounted read-write"]


def test_warehouse_errors_of_memory_and_disk_are_not_blamed_on_the_sql() -> None:
    """A driver that could not be loaded for want of address space, and SQLite's `disk I/O
    error` at a file size limit, had the hint `check the SQL and the table and column names`."""
    from cauce.warehouse.seam import hint_for

    dlopen = ("[Driver Manager] Could not load `libadbc_driver_sqlite.so`: dlopen() failed: "
              "failed to map segment from shared object")
    assert hint_for(dlopen).startswith("this process ran out of memory")
    assert "full disk" in hint_for("failed to execute query: disk I/O error")
    duckdb = "TransactionContext Error: Failed to commit: Failed to allocate block of 262144 bytes"
    assert hint_for(duckdb).startswith("this process ran out of memory")


def test_a_delivery_that_meets_a_thread_limit_in_a_serve_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A serve whose worker could start no thread for a run (a job run's timeout watcher, say)
    failed it as `internal error: RuntimeError: can't start new thread`, logged as a bug with
    its traceback."""
    app = App("limits_serve")
    work = app.queue("work", max_receives=1)

    @app.on(work)
    def handle(message, ctx) -> None:
        """Nothing to do: the run's thread is what the limit refuses."""

    with Runtime(app, home=tmp_path / "home", config=ConfigSources(environ={})) as rt:
        def no_thread(spec, cancel):
            raise RuntimeError("can't start new thread")

        monkeypatch.setattr(rt.executors.thread, "execute", no_thread)
        work.send({"n": 1})
        rt.serve(until="idle", timeout="20s", scheduler=False)
        runs = rt.runs("handle")
    assert [run.status for run in runs] == ["dead-lettered"]
    assert runs[0].error.startswith("no thread can be started (RuntimeError: can't start new "
                                    "thread) (hint: this process is at a limit (")


_ARENAS = textwrap.dedent("""
    import os, resource, sys
    from cauce.cli.main import main
    if sys.argv[1] == "limited":
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, resource.RLIM_INFINITY))
    main(["--help"])
    print(os.environ.get("MALLOC_ARENA_MAX"))
""")


@pytest.mark.parametrize(("limit", "preset", "arenas"), [
    ("limited", None, "2"), ("limited", "4", "4"), ("unlimited", None, "None")])
def test_under_an_address_space_limit_malloc_keeps_to_two_arenas(limit: str, preset: str | None,
                                                                 arenas: str) -> None:
    """Under `ulimit -v 1200000` a census load aborted the process (`memory allocation of 512
    bytes failed`): glibc reserved 64 MB per thread's arena. Two arenas (this process and the
    processes it starts) load it within 1 GB; a MALLOC_ARENA_MAX of the user's is kept."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("MALLOC_ARENA_MAX", None)
    if preset is not None:
        env["MALLOC_ARENA_MAX"] = preset
    out = subprocess.run([sys.executable, "-c", _ARENAS, limit], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == arenas
