"""`cauce` run in-process, as command-line tests run it: in a fresh working directory, with no
CAUCE_* variables from the developer's shell, each call's output captured apart."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from cauce.cli.main import main


class Result(NamedTuple):
    """A command's exit status and output (a tuple too: ``status, out, err = result``)."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def clean_environment(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Work in ``directory``, wide lines, and no CAUCE_* variables, for the test."""
    monkeypatch.chdir(directory)
    # Loading an app puts its folder on sys.path; keep that to the test, so that a module left
    # there (a queue.py) does not shadow the standard library in later tests' child processes.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("COLUMNS", "200")
    for name in list(os.environ):
        if name.startswith("CAUCE_"):
            monkeypatch.delenv(name)


def in_process(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """A function that runs one `cauce` command line in this process."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        status = main(list(args))
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return invoke
