"""A registered process is gone only when it ran on this machine and no process holds its id."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from cauce import pids


def test_a_running_process_of_this_machine_is_not_gone() -> None:
    assert not pids.gone(socket.gethostname(), os.getpid())


def test_a_finished_process_of_this_machine_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert pids.gone(socket.gethostname(), child.pid)


def test_a_process_of_another_machine_is_never_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pids.gone(socket.gethostname() + "-elsewhere", child.pid)


def test_another_users_process_is_not_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(pid: int, signal: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(pids.os, "kill", refused)
    assert not pids.gone(socket.gethostname(), 1)
