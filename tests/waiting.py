"""Waiting for what another thread or process does, by looking until it is so (a deadline far
longer than it takes on a loaded machine: the wait ends as soon as the condition holds)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout: float = 30.0,
             what: str = "the condition") -> None:
    """Return once ``condition()`` is true; fail, naming ``what``, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
