"""`cauce ui` and `cauce serve --ui`: refusals in one line, and a real server answering."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_ui_refuses_other_addresses_without_a_token(cli, example_home: Path):
    result = cli("--home", str(example_home), "ui", "example", "--host", "0.0.0.0")
    assert result.status == 1
    assert "without a token" in result.err and "CAUCE_UI_TOKEN" in result.err
    assert "Traceback" not in result.err


def test_ui_refuses_a_base_path_no_address_can_hold_in_one_line(cli, example_home: Path):
    result = cli("--home", str(example_home), "ui", "example", "--port", "0",
                 "--base-path", "/a b")
    assert result.status == 1 and "base path '/a b'" in result.err
    assert "--base-path /cauce" in result.err and "Traceback" not in result.err


def test_ui_needs_an_existing_home(cli, tmp_path: Path):
    result = cli("--home", str(tmp_path / "nothing-here"), "ui")
    assert result.status == 1 and "no cauce home" in result.err
    assert not (tmp_path / "nothing-here").exists()


def test_ui_on_a_home_that_is_a_file_says_so(cli, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("not a home", encoding="utf-8")
    result = cli("--home", str(tmp_path / "notes.txt"), "ui")
    assert result.status == 1
    assert result.err.splitlines()[0] == (
        f"error: the cauce home {tmp_path / 'notes.txt'} is a file, not a folder")


def test_ui_on_a_taken_port_is_one_line_saying_so(cli, example_home: Path):
    """uvicorn's own error line came first, and any refusal was blamed on a taken port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("--home", str(example_home), "ui", "example", "--port", str(port))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: the UI could not listen on 127.0.0.1:{port}: Address already in use",
        "hint: another program uses that port: choose another, or --port 0 for a free one"]


def test_ui_on_an_address_not_this_machines_says_so(cli, example_home: Path):
    result = cli("--home", str(example_home), "ui", "example", "--host", "192.0.2.1",
                 "--token", "t" * 16)
    assert result.status == 1
    assert result.err.splitlines()[1] == (
        "hint: that address is not one of this machine's: give one of its addresses to --host")


def test_a_token_from_a_crlf_file_is_read_without_its_carriage_return(
        cli, example_home: Path, monkeypatch):
    # the UI wanted "token\r", which no browser sends: every request was refused
    import cauce.cli.ui
    from cauce import CauceError

    seen = []

    def opener():
        def opened(home, apps, **options):
            seen.append(options["token"])
            raise CauceError("seen")
        return opened

    monkeypatch.setattr(cauce.cli.ui, "ui_opener", opener)
    monkeypatch.setenv("CAUCE_UI_TOKEN", "t" * 16 + "\r")
    assert "error: seen" in cli("--home", str(example_home), "ui", "example").err.splitlines()
    assert seen == ["t" * 16]


def test_ui_names_an_unknown_app(cli, example_home: Path):
    result = cli("--home", str(example_home), "ui", "exampel")
    assert result.status == 1 and "example" in result.err


def test_serve_with_ui_answers_while_it_serves(example_home: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    serve = subprocess.Popen(
        [sys.executable, "-m", "cauce.cli.main", "--home", str(example_home), "serve",
         "example", "--ui", "--ui-port", "0", "--for", "20s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert serve.stdout is not None
        address = serve.stdout.readline().strip()
        assert address.startswith("http://127.0.0.1:"), address
        deadline = time.monotonic() + 10
        while True:
            page = httpx.get(address + "apps/example", timeout=5)
            if page.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert page.status_code == 200 and "example" in page.text
        overview = httpx.get(address, timeout=5).text
        assert "alive" in overview  # the serve process itself, registered in the home
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    assert serve.returncode == 0, serve.stderr.read() if serve.stderr else ""


def test_sigterm_stops_the_ui_as_ctrl_c_does(example_home: Path, tmp_path: Path):
    """A service manager's stop ends the UI gracefully, exit status 0; SIGTERM killed it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    ui = subprocess.Popen(
        [sys.executable, "-m", "cauce.cli.main", "--home", str(example_home), "ui", "example",
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert ui.stderr is not None
        while "stops it" not in (line := ui.stderr.readline()):
            assert line, "the UI ended before it served"
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=30)
    finally:
        ui.kill()
    rest = ui.stderr.read()
    assert ui.returncode == 0, rest
    assert rest.splitlines() == ["cauce ui stopped by SIGTERM"]  # it stopped saying nothing


def test_ui_without_its_extra_says_how_to_install_it(cli, example_home: Path, monkeypatch):
    # as after `pip install -e .` alone: starlette cannot be imported
    for name in [m for m in sys.modules if m == "cauce.web" or m.startswith(("cauce.web.",
                                                                              "starlette"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "starlette", None)
    result = cli("--home", str(example_home), "ui", "example")
    assert result.status == 1
    assert "needs starlette" in result.err and "pip install 'cauce[ui]'" in result.err


def test_the_ui_started_with_stdout_closed_serves_and_says_its_address(example_home: Path,
                                                                      tmp_path: Path):
    """`cauce ui >&- &`: the address it prints on stdout went nowhere (the command would not
    know it had none); it is said on stderr, and the UI serves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    ui = subprocess.Popen(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "cauce", "--home",
         str(example_home), "ui", "example", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert ui.stderr is not None
        lines = []
        while "stops it" not in (line := ui.stderr.readline()):
            assert line, f"the UI ended before it served: {lines}"
            lines.append(line)
        address = lines[-1].split()[0]
        assert lines[-1] == f"{address} (stdout: stdout is closed)\n"
        assert httpx.get(address, timeout=5).status_code == 200
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=30)
    finally:
        ui.kill()
    assert ui.returncode == 0, ui.stderr.read()
