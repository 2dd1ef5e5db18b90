"""Choosing the state store — --state on the command, the global --state, CAUCE_STATE, cauce.toml,
<home>/state.db, in that order — for every command that opens a home; and a password in a state
URL never shown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cauce.backends.state import open_state, redact, sqlite_url, url_passwords


def _messages(url: str) -> int:
    state = open_state(url)
    try:
        stats = state.queues.stats(["example:work"], now=time.time())
        return sum(visible + later for visible, later, _ in stats.values())
    finally:
        state.close()


def test_precedence_is_flag_then_environment_then_cauce_toml_then_the_home(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_toml, in_env, in_flag = (sqlite_url(tmp_path / f"{n}.db") for n in ("toml", "env", "flag"))
    default = sqlite_url(tmp_path / ".cauce" / "state.db")
    assert cli("config", "example", "--json").json()["state"] == default
    (tmp_path / "cauce.toml").write_text(f'state = "{in_toml}"\n')
    shown = cli("config", "example", "--json").json()
    assert (shown["state"], shown["state_source"]) == (in_toml, "cauce.toml")
    monkeypatch.setenv("CAUCE_STATE", in_env)
    shown = cli("config", "example", "--json").json()
    assert (shown["state"], shown["state_source"]) == (in_env, "environment CAUCE_STATE")
    shown = cli("config", "example", "--json", "--state", in_flag).json()
    assert (shown["state"], shown["state_source"]) == (in_flag, "option --state")
    shown = cli("--state", in_flag, "config", "example", "--json").json()
    assert shown["state"] == in_flag


def test_every_command_reads_and_writes_the_state_it_is_given(cli, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "elsewhere" / "state.db")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    put = cli("put", "example", "inbox", "in/2.csv", "a.csv", "--state", url)
    assert put.status == 0, put.err
    assert cli("send", "example", "work", '{"key": "in/2.csv"}', "--state", url).status == 0
    assert _messages(url) == 1
    assert not (tmp_path / ".cauce" / "state.db").exists(), "the home's own file is not used"
    queues = cli("queues", "example", "--json", "--state", url)
    assert queues.status == 0, queues.err
    assert any(row["visible"] >= 1 for row in queues.json())
    assert cli("run", "example", "seed", "--files", "1", "--state", url).status == 0
    runs = cli("runs", "--json", "--state", url)
    assert runs.status == 0, runs.err
    assert [r["name"] for r in runs.json()] == ["seed"]
    run_id = runs.json()[0]["id"]
    assert cli("logs", run_id, "--state", url).status == 0
    assert cli("runs", "show", run_id, "--state", url).status == 0
    assert cli("dlq", "list", "example", "work", "--state", url).status == 0
    assert cli("schedules", "example", "--state", url).status == 0
    assert cli("state", "check", "--state", url).status == 0
    served = cli("serve", "example", "--for", "1s", "--state", url)
    assert served.status == 0, served.err
    assert _messages(url) == 0, "serve handled the messages sent to the state it was given"
    assert not (tmp_path / ".cauce" / "state.db").exists()


def test_looking_at_a_state_where_nothing_ran_says_so(cli, tmp_path: Path) -> None:
    result = cli("runs", "--state", sqlite_url(tmp_path / "none.db"))
    assert result.status == 1
    assert result.err.startswith(f"error: no cauce state at {sqlite_url(tmp_path / 'none.db')}")


def test_a_password_in_a_state_url_is_never_shown(cli, tmp_path: Path) -> None:
    url = "postgresql://cauce:hunter2%40x@127.0.0.1:1/cauce?password=hunter3"
    assert redact(f"cannot reach {url}") == ("cannot reach postgresql://cauce:********@127.0.0.1:1"
                                            "/cauce?password=********")
    assert url_passwords(url) == ["hunter2%40x", "hunter2@x", "hunter3"]
    result = cli("config", "example", "--state", url)
    assert "hunter" not in result.out + result.err
    assert "postgresql://cauce:********@127.0.0.1:1/cauce" in result.out
    result = cli("runs", "--state", url.replace("postgresql", "nosuchdb"))
    assert result.status == 1
    assert "hunter" not in result.out + result.err
    assert "nosuchdb://cauce:********@" in result.err


def test_a_home_points_its_buckets_at_one_url(cli, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared-buckets"
    (tmp_path / "cauce.toml").write_text(f'buckets = "file://{shared}"\n')
    config = cli("config", "example", "--json").json()
    [inbox] = [r for r in config["resources"] if r["resource"] == "inbox"]
    assert inbox["location"].startswith(f"file://{shared}/example/inbox  (cauce.toml)")
    assert cli("run", "example", "seed", "--files", "1").status == 0
    assert list((shared / "example" / "inbox").rglob("*.csv"))
    monkeypatch.setenv("CAUCE_BUCKETS", "s3://user:pw@bucket/prefix")
    config = cli("config", "example", "--json").json()
    [inbox] = [r for r in config["resources"] if r["resource"] == "inbox"]
    assert inbox["location"].startswith("s3://user:********@bucket/prefix/example/inbox")


@pytest.mark.parametrize(("port", "message"), [
    ("99999", "the state URL's port is out of range (1–65535): 99999"),
    ("0", "the state URL's port is out of range (1–65535): 0"),
    ("x1", "the state URL's port is not a number: 'x1'"),
], ids=["above", "zero", "letters"])
def test_a_bad_port_in_a_state_url_says_what_is_wrong_with_it(cli, port: str,
                                                               message: str) -> None:
    result = cli("runs", "--state", f"postgresql://cauce:hunter2@db.example:{port}/cauce")
    assert result.status == 1
    assert result.err.splitlines() == [f"error: {message}",
                                       "hint: use postgresql://user@host:5432/dbname"]
