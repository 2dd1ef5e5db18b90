"""A clock for the wake-up notifiers (`time.monotonic` in their modules) that only the test
moves: the gaps between notifications, which decide whom they wake, are then what the test
says however slow the machine."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from cauce.backends import wakeup
from cauce.backends.postgres import wakeup as postgres_wakeup


class NotifierClock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        for module in (wakeup, postgres_wakeup):
            monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=self.monotonic,
                                                                sleep=time.sleep))

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
