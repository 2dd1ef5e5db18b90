"""`cauce config` and settings on the command line: where each value comes from, which one wins."""

from __future__ import annotations

from pathlib import Path

import pytest

APP = """
from cauce import App

app = App("greeter")
greeting = app.setting("greeting", str, default="hola", help="the word to greet with")
times = app.setting("times", int, default=1, help="how many times")
db = app.setting("db", str, default="sqlite:///greeter.db", help="where greetings go")
key = app.setting("key", str | None, default=None, secret=True, help="signing key")
notes = app.warehouse("notes", url=db)
vault = app.warehouse("vault", url=key)
inbox = app.bucket("inbox")


@app.job
def greet(ctx) -> str:
    return " ".join([ctx.settings.greeting] * ctx.settings.times)
"""


def greeted(cli, ref: str, *options: str) -> str:
    result = cli("run", ref, "greet", *options)
    assert result.status == 0, result.err
    return result.json()


def test_the_default_then_file_then_dotenv_then_environment_then_option(
    cli, app_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = app_file(APP)
    assert greeted(cli, ref) == "hola"
    (tmp_path / "cauce.toml").write_text('[apps.greeter]\ngreeting = "hello"\ntimes = 2\n')
    assert greeted(cli, ref) == "hello hello"
    (tmp_path / ".env").write_text("CAUCE_GREETER_GREETING=ola\n")
    assert greeted(cli, ref) == "ola ola"
    monkeypatch.setenv("CAUCE_GREETER_GREETING", "hej")
    assert greeted(cli, ref) == "hej hej"
    assert greeted(cli, ref, "--greeting", "salut", "--times", "3") == "salut salut salut"


def test_a_malformed_dotenv_line_is_said_once_and_the_rest_is_read(cli, app_file,
                                                                    tmp_path: Path) -> None:
    """Each skipped line is named with what is wrong, once, though the command reads `.env`
    several times; a value on a skipped line (a password, often) is not shown."""
    ref = app_file(APP)
    (tmp_path / ".env").write_text("CAUCE_GREETER_GREETING=ola\nDB PASSWORD=hunter2\n"
                                   "# a comment\njust-words\n1TIMES=3\nCAUCE_GREETER_TIMES=2\n")
    result = cli("config", ref, "--json")
    assert result.status == 0, result.err
    assert {r["setting"]: r["value"] for r in result.json()["settings"]} == {
        "greeting": "ola", "times": 2, "db": "sqlite:///greeter.db", "key": None}
    dotenv = tmp_path / ".env"
    assert result.err.splitlines() == [
        f"warning: {dotenv} line 2 skipped: 'DB PASSWORD' is not a variable name (letters, "
        "digits and _, not starting with a digit)",
        f"warning: {dotenv} line 4 skipped: it has no `=` (KEY=value)",
        f"warning: {dotenv} line 5 skipped: '1TIMES' is not a variable name (letters, digits "
        "and _, not starting with a digit)"]


def test_config_says_where_each_value_came_from(cli, app_file, tmp_path: Path, monkeypatch) -> None:
    ref = app_file(APP)
    (tmp_path / "cauce.toml").write_text('[apps.greeter]\ntimes = 2\n')
    (tmp_path / ".env").write_text("CAUCE_GREETER_KEY=k3y-value\n")
    monkeypatch.setenv("CAUCE_GREETER_GREETING", "hej")
    report = cli("config", ref, "--json").json()
    assert report["app"] == "greeter"
    assert (report["home"], report["home_source"]) == (str(tmp_path / ".cauce"), "default")
    assert [(r["setting"], r["value"], r["source"]) for r in report["settings"]] == [
        ("greeting", "hej", "environment CAUCE_GREETER_GREETING"),
        ("times", 2, "cauce.toml [apps.greeter] times"),
        ("db", "sqlite:///greeter.db", "default"),
        ("key", "********", ".env CAUCE_GREETER_KEY"),
    ]
    assert report["problems"] is None


def test_config_shows_where_each_resource_keeps_its_data(cli, app_file, tmp_path: Path,
                                                         monkeypatch) -> None:
    ref = app_file(APP)
    monkeypatch.setenv("CAUCE_GREETER_KEY", "postgresql://user:pw@db/vault")
    report = cli("config", ref, "--json").json()
    locations = {r["resource"]: r["location"] for r in report["resources"]}
    assert locations["notes"] == "sqlite:///greeter.db  (setting db)"
    assert locations["vault"] == "********  (setting key)"
    assert locations["inbox"] == str(tmp_path / ".cauce" / "buckets" / "greeter" / "inbox")
    assert "pw@db" not in cli("config", ref).out


def test_a_resource_url_from_the_configuration_files(cli, app_file, tmp_path: Path) -> None:
    ref = app_file(APP)
    (tmp_path / "cauce.toml").write_text('[apps.greeter.resources]\ninbox = "/data/inbox"\n')
    report = cli("config", ref, "--json").json()
    locations = {r["resource"]: r["location"] for r in report["resources"]}
    assert locations["inbox"] == "/data/inbox  (cauce.toml [apps.greeter.resources] inbox)"


def test_the_home_comes_from_the_option_the_environment_or_dotenv(cli, app_file, tmp_path: Path,
                                                                  monkeypatch) -> None:
    ref = app_file(APP)
    (tmp_path / ".env").write_text(f"CAUCE_HOME={tmp_path / 'from-dotenv'}\n")
    report = cli("config", ref, "--json").json()
    assert (report["home"], report["home_source"]) == (str(tmp_path / "from-dotenv"),
                                                       ".env CAUCE_HOME")
    monkeypatch.setenv("CAUCE_HOME", str(tmp_path / "from-env"))
    assert cli("config", ref, "--json").json()["home_source"] == "environment CAUCE_HOME"
    report = cli("--home", str(tmp_path / "from-option"), "config", ref, "--json").json()
    assert (report["home"], report["home_source"]) == (str(tmp_path / "from-option"),
                                                       "option --home")


def test_an_invalid_value_is_one_clear_error(cli, app_file, monkeypatch) -> None:
    ref = app_file(APP)
    monkeypatch.setenv("CAUCE_GREETER_TIMES", "twice")
    result = cli("run", ref, "greet")
    assert result.status == 1
    problem = "times: 'twice' from environment CAUCE_GREETER_TIMES is invalid"
    assert result.err.startswith(f"error: {problem}")
    report = cli("config", ref, "--json").json()
    assert report["problems"].startswith(problem)
