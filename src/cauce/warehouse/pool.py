"""Connections shared between threads: a pool for files and servers, one locked connection
for in-memory databases.

sqlite3 and psycopg connections must not be used by two threads at once, and the runtime calls
a warehouse from several threads. Each operation therefore checks a connection out, uses it
alone, and gives it back for reuse.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from cauce.errors import WarehouseError

C = TypeVar("C")


class ConnectionPool(Generic[C]):
    """Connections opened on demand, one per concurrent operation, kept idle for reuse."""

    def __init__(
        self,
        open_connection: Callable[[], C],
        close_connection: Callable[[C], None],
        reusable: Callable[[C], bool],
        *,
        name: str,
        max_idle: int = 8,
    ) -> None:
        self._open = open_connection
        self._close = close_connection
        self._reusable = reusable
        self._name = name
        self._max_idle = max_idle
        self._idle: list[C] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        # Connections inherited through fork() belong to the parent: closing them here would
        # close the parent's server session or SQLite file handles, so they are only kept alive.
        self._inherited: list[C] = []

    @contextmanager
    def acquire(self) -> Iterator[C]:
        connection = self._take()
        try:
            yield connection
        finally:
            self._give_back(connection)

    def _take(self) -> C:
        with self._lock:
            if self._closed:
                raise WarehouseError(f"the warehouse {self._name} is closed", hint="connect again")
            if os.getpid() != self._pid:
                self._inherited.extend(self._idle)
                self._idle = []
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _give_back(self, connection: C) -> None:
        with self._lock:
            if (
                not self._closed
                and os.getpid() == self._pid
                and len(self._idle) < self._max_idle
                and self._reusable(connection)
            ):
                self._idle.append(connection)
                return
        self._close(connection)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            self._close(connection)


class SharedConnection(Generic[C]):
    """One connection used by one thread at a time (an in-memory database is per connection)."""

    def __init__(
        self,
        open_connection: Callable[[], C],
        close_connection: Callable[[C], None],
        *,
        name: str,
    ) -> None:
        self._open = open_connection
        self._close = close_connection
        self._name = name
        self._connection: C | None = None
        self._lock = threading.RLock()
        self._closed = False

    @contextmanager
    def acquire(self) -> Iterator[C]:
        with self._lock:
            if self._closed:
                raise WarehouseError(f"the warehouse {self._name} is closed", hint="connect again")
            if self._connection is None:
                self._connection = self._open()
            yield self._connection

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            self._close(connection)
