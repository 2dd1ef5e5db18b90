"""Output where users run it: piped into a reader that stops early (`| head`), to a full device,
with stdout closed, in encodings that are not UTF-8, and with arguments that are not UTF-8."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from waiting import wait_for

APP = """
from cauce import App, CauceError

app = App("uni")


@app.job(retries=0)
def hola(ctx, nombre: str = "Ñuñoa") -> dict:
    ctx.log.info("comuna %s — São Paulo 😀 ─│┼", nombre)
    return {"comuna": nombre, "emoji": "😀"}


@app.job(retries=0)
def falla(ctx) -> None:
    raise CauceError("no hay datos — Peñalolén", hint="revise la fuente → ahí")


@app.job(retries=0)
def lee(ctx, archivo: str) -> int:
    with open(archivo, "rb") as source:  # a path or a URL, as census's --source
        return len(source.read())


@app.job(retries=0, worker="process")
def aparte(ctx) -> None:
    print("comuna Ñuñoa — 😀")


@app.job(retries=0)
def verbose(ctx) -> None:
    for n in range(4000):
        ctx.log.info("line %d of a long log %s", n, "x" * 60)
"""


def environment(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("CAUCE_", "PYTHONIOENCODING", "LC_", "LANG"))
             and k not in ("COLUMNS", "PYTHONUTF8")}
    return {**clean, "PYTHONUTF8": "1", **extra}


def cauce(*args: str | bytes, cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "cauce", *args], cwd=cwd, env=environment(**env),
                          capture_output=True, timeout=120)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "uni.py").write_text(APP, encoding="utf-8")
    return tmp_path


def head(args: list[str], cwd: Path, lines: int = 1) -> tuple[int, bytes]:
    """``cauce ARGS | head -LINES``: the reader closes the pipe after its lines."""
    process = subprocess.Popen([sys.executable, "-m", "cauce", *args], cwd=cwd,
                               env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    for _ in range(lines):
        assert process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    return process.wait(timeout=60), err


def test_a_reader_that_stops_early_ends_the_command_silently(work: Path) -> None:
    """`cauce logs RUN | head -1` ended with status 1, or with rich's SystemExit, and `--json`
    the same: now it ends as a Unix tool killed by SIGPIPE does, 141, saying nothing."""
    ran = cauce("run", "uni.py:app", "verbose", "--json", cwd=work)
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(cauce("runs", "--json", cwd=work).stdout)[0]["id"]
    for args in (["logs", run_id], ["logs", run_id, "--json"]):
        status, err = head(args, work)
        assert (status, err) == (141, b""), (args, err)


def test_stdout_on_a_full_device_is_one_line(work: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    cauce("run", "uni.py:app", "hola", cwd=work)
    for args in (["runs"], ["runs", "--json"]):
        with open("/dev/full", "wb") as full:
            done = subprocess.run([sys.executable, "-m", "cauce", *args], cwd=work,
                                  env=environment(), stdout=full, stderr=subprocess.PIPE,
                                  timeout=60)
        assert done.returncode == 1
        assert done.stderr.decode().splitlines() == [
            "error: cannot write the output: No space left on device",
            "hint: the device it goes to is full: free room on it, or send the output elsewhere"]


def test_stderr_on_a_full_device_fails_nothing_that_succeeded(work: Path) -> None:
    """`cauce run ... 2>> run.log` on a full disk: the run succeeded and its result was printed,
    and the command still exited 1 with an unexpected OSError (from its summary line)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    for job, status in (("hola", 0), ("falla", 1)):
        with open("/dev/full", "wb") as full:
            done = subprocess.run([sys.executable, "-m", "cauce", "run", "uni.py:app", job],
                                  cwd=work, env=environment(), stdout=subprocess.PIPE,
                                  stderr=full, timeout=120)
        assert done.returncode == status
        if job == "hola":
            assert json.loads(done.stdout) == {"comuna": "Ñuñoa", "emoji": "😀"}
    runs = json.loads(cauce("runs", "--json", cwd=work).stdout)
    assert [run["status"] for run in runs] == ["failed", "succeeded"]


def test_stdout_closed_is_said_and_takes_no_file_of_the_command(work: Path) -> None:
    """With stdout closed (``>&-``) the command said nothing and exited 0, and the first file
    it opened took descriptor 1, where a run's child process would write its output."""
    done = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "cauce",
                           "run", "uni.py:app", "hola"], cwd=work, env=environment(),
                          capture_output=False, stderr=subprocess.PIPE, timeout=120)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines()[-2:] == [
        "error: cannot write the output: stdout is closed",
        "hint: the command was started with its output closed (>&-): send it to a file, or to "
        "/dev/null to drop it"]


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"},
                                 {"LC_ALL": "C", "PYTHONUTF8": "0"}],
                         ids=["ascii", "latin-1", "C locale"])
def test_text_the_encoding_cannot_hold_is_its_nearest_ascii(work: Path, env: dict[str, str]
                                                            ) -> None:
    """Marks, dashes, box drawing and accents had no fallback but \\u2713; JSON held an emoji
    as \\U0001f600, which is no JSON escape."""
    ran = cauce("run", "uni.py:app", "hola", cwd=work, **env)
    assert ran.returncode == 0, ran.stderr
    err = ran.stderr.decode("ascii", "replace")
    assert "-- S" in err and "o Paulo \\U0001f600 -|+" in err
    assert "\nok run " in err
    assert json.loads(ran.stdout)["emoji"] == "😀"
    failed = cauce("run", "uni.py:app", "falla", cwd=work, **env)
    assert b"\nx run " in failed.stderr and b"hint: revise la fuente -> ah" in failed.stderr
    as_json = cauce("run", "uni.py:app", "hola", "--json", cwd=work, **env)
    assert json.loads(as_json.stdout)["result"] == {"comuna": "Ñuñoa", "emoji": "😀"}
    run_id = json.loads(as_json.stdout)["id"]
    logs = cauce("logs", run_id, "--json", cwd=work, **env)
    assert any("😀" in json.loads(line)["message"] for line in logs.stdout.splitlines())
    if env.get("PYTHONIOENCODING") == "ascii":
        assert b"comuna Nunoa -- Sao Paulo" in ran.stderr
    # a job in a process worker that prints what the encoding cannot hold: it failed with
    # UnicodeEncodeError there, where it ran in a thread
    apart = cauce("run", "uni.py:app", "aparte", cwd=work, **env)
    assert apart.returncode == 0, apart.stderr
    assert apart.stdout.startswith(b"comuna ") and b" -- \\U0001f600\n" in apart.stdout


def test_arguments_that_are_not_utf8(work: Path) -> None:
    """A job's text option in Latin-1 was stored as lone surrogates; a stream or app name in
    Latin-1 was an unexpected UnicodeEncodeError; a file name's byte showed as \\udcff."""
    ran = cauce("run", "uni.py:app", "hola", "--json", "--nombre", b"S\xe3o", cwd=work)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["params"] == {"nombre": "São"}
    # text that names a file there keeps its bytes: the file system needs them
    (work / os.fsdecode(b"d\xeda.txt")).write_bytes(b"12345")
    read = cauce("run", "uni.py:app", "lee", "--archivo", b"d\xeda.txt", cwd=work)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == 5
    for args in ([b"logs", b"a\xffb"], [b"logs", b"general", b"--app", b"a\xffb"],
                 [b"runs", b"show", b"a\xffb"], [b"runs", b"--job", b"a\xffb", b"--app", b"x"]):
        done = cauce(*args, cwd=work)
        assert b"unexpected" not in done.stderr and b"Traceback" not in done.stderr, args
        assert "a\xffb".encode() in done.stderr + done.stdout or done.returncode == 0, args
    # a bucket's key and a stream's partition key, typed in Latin-1: the key was refused as
    # holding "a lone surrogate", the partition key as "U+DCFF"
    (work / "data.csv").write_text("id\n1\n", encoding="utf-8")
    stored = cauce("put", "example", "inbox", b"in/d\xeda.csv", "data.csv", cwd=work)
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.decode() == "stored in/día.csv (5 bytes) in bucket inbox\n"
    (work / "st.py").write_text("from cauce import App\napp = App('st')\napp.stream('s')\n",
                                encoding="utf-8")
    put = cauce("put", "st.py:app", "s", "--key", b"Pe\xf1a", '{"v": 1}', cwd=work)
    assert put.returncode == 0, put.stderr
    wrote = cauce("logs", "general", "--app", "uni", "-o", b"d\xeda.log", cwd=work)
    assert wrote.returncode == 0, wrote.stderr
    assert wrote.stderr == b"wrote d\\xeda.log\n"
    assert (work / os.fsdecode(b"d\xeda.log")).exists()


def sleeping(pid: int) -> bool:
    """Whether process ``pid``'s main thread waits in a sleep (``time.sleep``), on Linux."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text() == "hrtimer_nanosleep"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="no /proc/PID/wchan here")
def test_sigterm_stops_logs_follow_as_ctrl_c_does(work: Path) -> None:
    """SIGTERM killed `cauce logs --follow -o FILE` outright: exit -15, no line, and the lines
    still in the file's buffer lost. It now closes the file and says so, exit 143."""
    ran = cauce("run", "uni.py:app", "hola", "--json", cwd=work)
    run_id = json.loads(ran.stdout)["id"]
    target = work / "followed.log"
    process = subprocess.Popen([sys.executable, "-m", "cauce", "logs", "general", "--app", "uni",
                                "--follow", "-o", str(target)], cwd=work, env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # following: the lines there were written, and it waits between reads for new ones
        wait_for(lambda: target.exists() and sleeping(process.pid), what="--follow waiting")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert err.decode().splitlines() == [f"wrote {target}", "stopped by SIGTERM"]
    assert f"run {run_id}" in target.read_text(encoding="utf-8")


NARROW = """
from cauce import App

app = App("narrow")
inbox = app.queue("incoming-invoices-from-the-north")


@app.job(retries=0)
def tally_every_region(ctx) -> int:
    return 1
"""


def test_a_narrow_terminal_cuts_no_id_name_or_path(cli, app_file, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """At COLUMNS=20 run ids were cut to ``01a2528d3…``, queue names to ``i…``, and the home's
    path broken over two lines by a line feed: what users copy into the next command."""
    ref = app_file(NARROW)
    assert cli("run", ref, "tally-every-region").status == 0
    run_id = cli("runs", "--json").json()[0]["id"]
    monkeypatch.setenv("COLUMNS", "20")
    shown = cli("runs")
    assert run_id in shown.out and "narrow.tally-every-region" in shown.out
    assert "…" not in shown.out
    queues = cli("queues", ref)
    assert "incoming-invoices-from-the-north" in queues.out and "…" not in queues.out
    config = cli("config", ref)
    assert f"home {tmp_path / '.cauce'} (" in config.out
    streams = cli("logs")
    assert f"tally-every-region/{run_id}" in streams.out


def test_tables_in_a_file_have_no_padding_at_line_ends(cli, app_file) -> None:
    """Redirected, `cauce runs` padded every line to the longest error: hundreds of spaces."""
    ref = app_file(APP)
    cli("run", ref, "hola")
    cli("run", ref, "falla")
    shown = cli("runs")
    assert len(shown.out.splitlines()) == 3
    assert not any(line.endswith(" ") for line in shown.out.splitlines())
    assert "no hay datos" in shown.out


def test_a_log_line_on_a_narrow_terminal_keeps_its_words_whole() -> None:
    """At 30 columns rich's log lines left the message 10: a run id was cut over three lines
    (``01a252a401`` / ``108ce45759`` / ``5e24``). A line with a word its column cannot hold is
    printed whole, for the terminal to wrap; the others keep rich's form."""
    import io
    import logging

    from cauce.cli.terminal import TerminalConsole, TerminalLog

    for width, rich_form in ((30, False), (120, True)):
        screen = TerminalConsole(file=io.StringIO(), force_terminal=True, width=width,
                                 color_system=None, soft_wrap=True)
        handler = TerminalLog(console=screen, show_path=False, markup=False,
                              rich_tracebacks=False, log_time_format="[%H:%M:%S]")
        handler.handle(logging.makeLogRecord({
            "name": "cauce.run", "levelno": logging.INFO, "levelname": "INFO",
            "msg": "run 01a252a401108ce457595e24 of work started (attempt 1)"}))
        shown = screen.file.getvalue()
        assert "run 01a252a401108ce457595e24 of work" in shown
        assert shown.startswith("[") == rich_form, shown


def test_columns_zero_is_no_width(cli, app_file, monkeypatch: pytest.MonkeyPatch) -> None:
    """COLUMNS=0, as some CI runners set it, was taken for the width: `cauce runs` printed
    nothing at all, with exit status 0."""
    ref = app_file(NARROW)
    cli("run", ref, "tally-every-region")
    monkeypatch.setenv("COLUMNS", "0")
    shown = cli("runs")
    assert shown.status == 0 and "narrow.tally-every-region  " in shown.out


def test_emoji_codes_in_data_are_printed_as_written(cli, app_file) -> None:
    """rich printed a name ':thumbs_up:' given on the command line, or kept in the state, as
    the emoji it names."""
    cli("run", app_file(NARROW), "tally-every-region")
    shown = cli("logs", ":thumbs_up:")
    assert "no log stream or run ':thumbs_up:'" in shown.err


def test_the_ascii_fallback_of_spanish_and_portuguese_text() -> None:
    from cauce.fallbacks import ERRORS

    text = "¿Dónde está? ¡Sí! São João, Ñuñoa — 20° ✓ ✗ ■ … → ─│┼ 😀 \udcff"
    assert text.encode("ascii", ERRORS).decode() == (
        "?Donde esta? !Si! Sao Joao, Nunoa -- 20o ok x - ... -> -|+ \\U0001f600 \\xff")
    # Latin-1 holds the letters, and only the rest falls back
    assert text.encode("latin-1", ERRORS).decode("latin-1").startswith("¿Dónde está? ¡Sí! São")


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="no /proc/PID/wchan here")
def test_ctrl_c_while_put_reads_stdin_keeps_the_records_read(work: Path) -> None:
    """`producer | cauce put APP STREAM -` stopped by Ctrl-C: the records read since the last
    chunk of 5,000 were dropped, though they were gone from the pipe, and the lines after the
    64 KiB head waited for a whole block, lost with it."""
    (work / "st.py").write_text("from cauce import App\napp = App('st')\napp.stream('s')\n",
                                encoding="utf-8")
    put = subprocess.Popen([sys.executable, "-m", "cauce", "put", "st.py:app", "s", "--key", "k",
                            "-"], cwd=work, env=environment(), stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert put.stdin is not None
    try:
        # more than a chunk and more than the 64 KiB head read before the first line
        put.stdin.write(b"".join(b'{"n": %d}\n' % n for n in range(8000)))
        put.stdin.flush()

        def waiting_for_more() -> bool:
            try:
                return Path(f"/proc/{put.pid}/wchan").read_text().endswith("pipe_read")
            except OSError:
                return False

        wait_for(lambda: waiting_for_more() and stored(work) >= 5000, what="the first chunk")
        wait_for(waiting_for_more, what="the read after the last line")
        put.send_signal(signal.SIGINT)
        _, err = put.communicate(timeout=60)
    finally:
        if put.poll() is None:
            put.kill()
    assert put.returncode == 130, err
    kept = stored(work)
    assert kept == 8000  # the lines after the 64 KiB head too, read as they came
    assert err.decode().splitlines() == [
        f"put {kept:,} record(s) into stream s before the interrupt", "interrupted"]


def stored(work: Path) -> int:
    """Records in stream ``s`` of app ``st`` in the home of ``work``."""
    done = cauce("streams", "st.py:app", "--json", cwd=work)
    if done.returncode != 0:
        return 0
    return sum(shard["records"] for shard in json.loads(done.stdout)[0]["shards"])
