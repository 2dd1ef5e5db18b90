"""Runs: one attempt of a job or handler, with its status, timings and outcome.

`Run` is what users read (`cauce runs`, ``rt.runs()``); `RunRecord` is what the runtime writes
through the state store (`cauce.backends.state.RunStore`).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Where a run is in its life: queued → running → one of the four ends."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD_LETTERED = "dead-lettered"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class Run:
    """A run as recorded in the state database."""

    id: str
    app: str
    kind: str
    name: str
    partition: str | None
    attempt: int
    status: RunStatus
    trigger: str | None
    event_id: str | None
    queued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    params: dict[str, Any] | None
    result: Any
    worker: str | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while it has not ended)."""
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.SUCCEEDED


_last_ms = 0
_id_lock = threading.Lock()


def new_run_id() -> str:
    """Time-ordered and unique across processes: 12 hex digits of milliseconds + 12 random.

    Within a process ids strictly increase (a millisecond already used is bumped by one), so
    runs created together list in the order they were created. Processes creating runs in the
    same millisecond are told apart by 48 random bits: with 24, four busy workers drew the same
    id about once in 500 runs of 20,000 messages, and the second run's record replaced the first.
    """
    return new_run_ids(1)[0]


def new_run_ids(count: int) -> list[str]:
    """``count`` ids, as ``count`` calls of `new_run_id` in a row would make them, with one
    clock read, one lock and one draw of random bits for all (a worker makes one per message)."""
    global _last_ms
    with _id_lock:
        first = max(_last_ms + 1, int(time.time() * 1000))
        _last_ms = first + count - 1
    noise = secrets.token_hex(6 * count)
    return [f"{first + i:012x}{noise[12 * i:12 * i + 12]}" for i in range(count)]


def run_id_at(timestamp: float) -> str:
    """The smallest id a run created at ``timestamp`` (epoch seconds) can have: run ids in a
    time range form a range of ids."""
    if not timestamp > 0:  # before 1970 (or -inf): before every id
        return "0" * 12
    return f"{min(16**12 - 1, int(min(timestamp, 1e15) * 1000)):012x}"  # after: past every id


@dataclass
class RunRecord:
    """A run as the runtime writes it: times as epoch seconds, its message and outcome."""

    id: str
    app: str
    kind: str
    name: str
    status: RunStatus
    attempt: int = 1
    partition: str | None = None
    trigger: str | None = None
    message_id: int | None = None
    event_id: str | None = None
    queued_at: float | None = None
    started_at: float | None = None
    params: dict[str, Any] | None = None
    worker: str | None = None
    ended_at: float | None = None
    error: str | None = None
    result: Any = None
    # ran in a child process of its own: the death of the process that started it (its
    # parent) says nothing about the run
    in_child: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain values (the status as text), for a start log line."""
        return {**self.__dict__, "status": self.status.value}

    def but(self, **changes: Any) -> RunRecord:
        """A copy with ``changes``: `dataclasses.replace` without its checks, which cost a
        worker more than building the record did (a few per message)."""
        return RunRecord(**{**self.__dict__, **changes})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunRecord:
        return cls(**{**values, "status": RunStatus(values["status"])})
