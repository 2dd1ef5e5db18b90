"""Waiting for what another thread or process does, by looking until it is so (a deadline far
longer than it takes on a loaded machine: the wait ends as soon as the condition holds)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: whether this system lists lock waiters, for a skip mark
LISTS_LOCK_WAITERS = Path("/proc/locks").exists()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0,
             what: str = "the condition") -> None:
    """Return once ``condition()`` is true; fail, naming ``what``, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def waiting_in_lock(path: Path, pid: int | None = None) -> bool:
    """Whether a thread of process ``pid`` (this one by default) is blocked in the kernel on a
    lock of the file ``path`` (a waiter is listed in /proc/locks with ``->``)."""
    if not path.exists():
        return False  # not opened yet by anyone
    inode, pid = os.stat(path).st_ino, os.getpid() if pid is None else pid
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and fields[-4] == str(pid) and fields[-3].endswith(f":{inode}"):
            return True
    return False
