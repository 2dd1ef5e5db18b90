"""Log streams: the lines of one run, one worker, or an app's general stream.

Lines written with ``ctx.log`` — and any standard ``logging`` call made while a run executes in
that thread — land in the run's stream with the runtime clock's timestamp and their level. They
are buffered briefly and written in batches, and always flushed when the run ends. Secret
setting values are masked before a line is stored, and characters no state engine can store
in text are replaced (`storable_text`), so a line or an error reads the same on every engine.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import traceback
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .clock import Clock
from .errors import StateError
from .settings import MASK

if TYPE_CHECKING:
    from .backends.state import StateStore

GENERAL = "general"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _stored(found: re.Match[str]) -> str:
    char = found.group()
    return "\ufffd" if char == "\x00" else f"\\u{ord(char):04x}"


def storable_text(text: str) -> str:
    """Free text (a log line, an error) as every state engine stores it: U+0000, which
    PostgreSQL's text cannot hold, as U+FFFD; a lone surrogate, which has no UTF-8 (an
    undecodable byte of a file name, as ``os.fsdecode`` gives it), as its escape ``\\udc80``."""
    return text if _UNSTORABLE.search(text) is None else _UNSTORABLE.sub(_stored, text)


@dataclass(frozen=True)
class LogLine:
    """One stored log line."""

    ts: datetime
    level: str
    message: str
    stream: str
    app: str
    run_id: str | None
    id: int = 0

    def format(self, tz: object = UTC) -> str:
        """``YYYY-MM-DD HH:MM:SS<TAB>LEVEL: message`` in the given time zone."""
        local = self.ts.astimezone(tz)  # type: ignore[arg-type]
        return f"{local:%Y-%m-%d %H:%M:%S}\t{self.level}: {self.message}"


class LogSink:
    """Buffers log lines and writes them to the state store in batches."""

    FLUSH_EVERY = 0.2
    MAX_BUFFER = 500
    # lines kept while the state store cannot be reached (the oldest go first beyond that)
    MAX_KEPT = 50_000

    def __init__(self, state: StateStore, clock: Clock) -> None:
        self._state = state
        self._clock = clock
        self._buffer: list[tuple[str, str, float, int, str, str | None]] = []
        self._lock = threading.Lock()
        self._away = False  # the last flush found the state store unreachable
        self._secrets: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def mask(self, secrets: Sequence[str]) -> None:
        """Values that must never be stored (secret settings)."""
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def start(self) -> None:
        """Flush in the background (the real runtime); tests flush at run ends instead."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="cauce-log-flusher",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.FLUSH_EVERY):
            # kept for a later flush: the store away, or a statement it refused this time (a
            # lock held past its timeout), must not end the thread that writes every run's lines
            with contextlib.suppress(StateError):
                self.flush()

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by the mask, as it can be stored."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return storable_text(text)

    def write(self, app: str, stream: str, level: int, message: str,
              run_id: str | None = None) -> None:
        message = self.redact(message)
        row = (app, stream, self._clock.time(), level, message, run_id)
        with self._lock:
            self._buffer.append(row)
            full = len(self._buffer) >= self.MAX_BUFFER and not self._away
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
        if rows:
            try:
                self._state.logs.append(rows)
            except StateError:  # the store is away or refused them for now: the lines wait
                with self._lock:  # (and writers leave the flushing to the background thread)
                    self._buffer[:0] = rows
                    del self._buffer[:-self.MAX_KEPT]
                    self._away = True
                raise
            self._away = False

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.flush()


@dataclass(frozen=True)
class LogScope:
    """Where log records of the current thread go while a run (or a worker loop) executes."""

    sink: LogSink
    app: str
    stream: str
    run_id: str | None = None


_scope: ContextVar[LogScope | None] = ContextVar("cauce_log_scope", default=None)


class scoped:
    """Route logging records made in this context to ``scope``'s stream (a class rather than
    a generator: entered once per run, where a generator's context manager costs more)."""

    __slots__ = ("_scope", "_token")

    def __init__(self, scope: LogScope) -> None:
        self._scope = scope

    def __enter__(self) -> LogScope:
        self._token = _scope.set(self._scope)
        return self._scope

    def __exit__(self, *exc: object) -> None:
        _scope.reset(self._token)


def current_scope() -> LogScope | None:
    return _scope.get()


class _ScopeHandler(logging.Handler):
    """Copies every record made inside a scope into that scope's log stream."""

    def emit(self, record: logging.LogRecord) -> None:
        scope = _scope.get()
        if scope is None:
            return
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif isinstance(getattr(record, "traceback", None), str):
            message += "\n" + record.traceback
        scope.sink.write(scope.app, scope.stream, record.levelno, message, scope.run_id)


_installed = threading.Lock()
_handler: _ScopeHandler | None = None


def install() -> Callable[[], None]:
    """Attach the routing handler to the root logger and let INFO through; returns an undo."""
    global _handler
    root = logging.getLogger()
    with _installed:
        if _handler is None:
            _handler = _ScopeHandler(level=logging.DEBUG)
            root.addHandler(_handler)
    previous = root.level
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)

    def undo() -> None:
        root.setLevel(previous)

    return undo
