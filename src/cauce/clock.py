"""The one clock every part of cauce reads time from.

Schedules, leases, visibility timeouts, retries, stream windows and log timestamps all ask a
`Clock`. Production uses `SystemClock`; tests use `SimulatedClock`, which only moves when told,
so eight weeks of schedules run in a second and deterministically.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime


class Clock(ABC):
    """Time source: seconds since the epoch (UTC) and a matching ``sleep``."""

    @abstractmethod
    def time(self) -> float: ...

    @abstractmethod
    def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)


class SystemClock(Clock):
    """The machine's wall clock."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class SimulatedClock(Clock):
    """A clock that stands still until `advance` or `set` moves it; ``sleep`` moves it too."""

    def __init__(self, start: float) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set_back(self, seconds: float) -> None:
        """Move back by ``seconds``, as a machine's clock stepped back (by NTP, by hand): the
        one way this clock goes backwards, for tests of what must survive it."""
        with self._lock:
            self._now -= max(0.0, seconds)

    def set(self, timestamp: float) -> None:
        """Move to ``timestamp``; the clock never goes backwards."""
        with self._lock:
            self._now = max(self._now, float(timestamp))
