"""Helpers for tests that run real cauce processes on a shared home."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

CAUCE = [sys.executable, "-m", "cauce.cli.main"]


def write_app(folder: Path, name: str, source: str) -> str:
    """Write an app module into ``folder``; returns its `path.py:app` reference."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return f"{path}:app"


def cauce(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one cauce command on ``home`` and wait for it."""
    return subprocess.run([*CAUCE, "--home", str(home), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def start(args: list[str], cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*CAUCE, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
