"""Every command explains itself with `--help`, and every help shows an example."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer

from cauce.cli.main import cli as typer_app


def command_paths() -> list[tuple[str, ...]]:
    """Every command and group of `cauce`, as the words that name it."""
    root = typer.main.get_command(typer_app)
    paths: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():  # a group
            walk(sub, (*path, name))

    walk(root, ())
    return paths


ALL = command_paths()


def test_the_walk_finds_the_commands() -> None:
    names = {" ".join(p) for p in ALL}
    assert {"run", "serve", "worker", "backfill", "runs", "runs cancel", "logs", "dlq replay",
            "config"} <= names


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "cauce")
def test_every_command_has_help_with_an_example(cli, path: tuple[str, ...]) -> None:
    result = cli(*path, "--help")
    assert result.status == 0, result.err
    assert "Usage:" in result.out
    assert "Example" in result.out, f"`cauce {' '.join(path)} --help` shows no example"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "example", "seed", "--help"), ["--files", "how many CSV files to write",
                                                "--greeting", "Example: cauce run example seed"]),
        (("run", "example", "daily-summary", "--help"), ["--partition", "--partition 2021-04-22"]),
        (("serve", "example", "--help"), ["--for", "--threads", "--greeting", "[setting]"]),
        (("worker", "example", "--help"), ["--threads", "--greeting"]),
        (("backfill", "example", "daily-summary", "--help"), [
            "--from", "--to", "--parallel", "--force",
            "Example: cauce backfill example daily-summary"]),
    ],
)
def test_help_for_an_apps_job_lists_its_options_and_settings(cli, args,
                                                             expected: list[str]) -> None:
    result = cli(*args)
    assert result.status == 0, result.err
    for text in expected:
        assert text in result.out


def test_run_with_an_app_but_no_job_lists_the_jobs(cli) -> None:
    result = cli("run", "example")
    assert result.status == 0
    for job in ("heartbeat", "daily-summary", "publish-summary", "seed"):
        assert job in result.out
    assert "cauce run example JOB --help" in result.out


@pytest.mark.parametrize("command", ["run", "serve", "worker", "backfill"])
def test_a_command_without_its_app_is_a_usage_error_that_shows_the_help(cli, command) -> None:
    result = cli(command)
    assert result.status == 2
    assert f"Usage: cauce {command}" in result.err and "APP" in result.err
    assert "missing argument APP" in result.err and "cauce apps" in result.err
    assert result.out == ""


def bare_groups() -> list[tuple[str, ...]]:
    """The groups that show their help when named alone (`cauce runs` alone lists runs)."""
    root = typer.main.get_command(typer_app)
    groups = []
    for path in ALL:
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if getattr(command, "commands", None) and command.no_args_is_help:
            groups.append(path)
    return groups


def test_the_bare_groups_are_found() -> None:
    assert {(), ("dlq",), ("state",)} <= set(bare_groups())


@pytest.mark.parametrize("path", bare_groups(), ids=lambda p: " ".join(p) or "cauce")
def test_a_group_named_alone_shows_its_help_not_an_error(cli, path: tuple[str, ...]) -> None:
    result = cli(*path)
    # as click's no_args_is_help (a usage error, exit 2) and `cauce run` without its APP:
    # the help on stderr, and no error line before or after it
    assert result.status == 2
    assert result.out == ""
    assert result.err.startswith(f"Usage: {' '.join(('cauce', *path))} [OPTIONS] COMMAND")
    assert "error:" not in result.err and "hint:" not in result.err
    assert result.err == cli(*path, "--help").out
    if not path:
        assert "backfill" in result.err


def bundled_jobs() -> list[tuple[str, str]]:
    from cauce.cli.loading import bundled_apps, load_app

    return [(name, job) for name in sorted(bundled_apps()) for job in load_app(name)[0].jobs]


@pytest.mark.parametrize(("app", "job"), bundled_jobs(),
                         ids=[f"{app}.{job}" for app, job in bundled_jobs()])
def test_every_option_of_a_bundled_job_has_help(cli, app: str, job: str) -> None:
    from cauce.cli.loading import load_app
    from cauce.cli.options import job_options

    result = cli("run", app, job, "--help")
    assert result.status == 0, result.err
    text = " ".join(result.out.split())
    for option in job_options(load_app(app)[0].jobs[job]):
        said = (option.help or "").split("[default")[0].strip()
        assert said, f"{option.opts[0]} of {app} {job} has no help"
        assert " ".join(said.split()[:4]) in text


def test_boolean_options_are_flags(cli) -> None:
    census = cli("run", "census", "load", "--help").out
    assert "--all " in census and "--no-all" not in census and "<bool>" not in census
    transit = cli("run", "transit", "adatrap", "--help").out
    assert "--dry-run " in transit and "fetch the inputs" in transit
    assert "<bool>" not in cli("runs", "--help").out


def test_every_command_is_in_the_cli_docs() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [" ".join(p) for p in ALL if p and f"`cauce {' '.join(p)}" not in docs]
    assert not missing, f"docs/cli.md does not list: {missing}"


def test_python_dash_m_cauce_is_the_command(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    version = subprocess.run([sys.executable, "-m", "cauce", "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("cauce ")
    unknown = subprocess.run([sys.executable, "-m", "cauce", "run", "example", "sed"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == ["error: app 'example' has no job 'sed'",
                                           "hint: did you mean 'seed'?"]
