"""Loaders run as other processes (loader_process.py), for tests of several processes on one
warehouse: started, told to go (or, holding the file, to let go), and their results read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LOADER = Path(__file__).with_name("loader_process.py")


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start a loader without waiting for it (it imports, connects, then says it is ready)."""
    return subprocess.Popen(
        [sys.executable, str(LOADER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start(*args: str, go: bool = True) -> subprocess.Popen[str]:
    """Start a loader and wait until it is ready (a holder: until it holds the file); with
    ``go`` let it start loading."""
    return ready(spawn(*args), go=go)


def ready(process: subprocess.Popen[str], go: bool = True) -> subprocess.Popen[str]:
    """Wait until ``process`` is ready; with ``go`` let it start loading."""
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    assert first in ("ready", "holding"), process.stderr.read() if process.stderr else first
    if go:
        send_go(process)
    return process


def send_go(process: subprocess.Popen[str]) -> None:
    """Let a ready loader start loading, or a holder let go of the file."""
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def finish(process: subprocess.Popen[str]) -> dict[str, int]:
    """Wait for a loader to end well, and return what it says it did."""
    # Read through the same buffered pipe as ready(): communicate() reads the file descriptor
    # directly and would miss lines that readline() had already buffered.
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0, err
    return json.loads(out.strip().splitlines()[-1])
