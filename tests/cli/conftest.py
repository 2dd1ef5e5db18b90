"""Fixtures for command-line tests: `cauce` run in-process in a fresh working directory."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from cauce.cli.main import main
from cli_runner import Result, clean_environment, in_process


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli("runs", "--json")`` runs `cauce runs --json` with ``tmp_path`` as working directory
    (so the home is ``tmp_path/.cauce``) and no CAUCE_* variables from the developer's shell."""
    clean_environment(monkeypatch, tmp_path)
    return in_process(capsys)


@pytest.fixture
def app_file(tmp_path: Path) -> Callable[[str], str]:
    """Write an app module into the working directory; returns its ``file.py:app`` reference."""

    def write(source: str) -> str:
        path = tmp_path / f"app_{uuid.uuid4().hex[:8]}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return f"{path.name}:app"

    return write


@pytest.fixture(scope="session")
def example_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where `cauce run example seed --files 2` then `cauce serve example --for 2s` ran.
    Shared by the tests that only look at it: do not change it."""
    work = tmp_path_factory.mktemp("example")
    home = work / ".cauce"
    with pytest.MonkeyPatch.context() as monkeypatch:
        clean_environment(monkeypatch, work)
        assert main(["--home", str(home), "run", "example", "seed", "--files", "2"]) == 0
        assert main(["--home", str(home), "serve", "example", "--for", "2s"]) == 0
    return home
