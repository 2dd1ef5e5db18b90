"""The SQLite state store: one file in WAL mode (`database.py`), shared by every process of a
home, implementing `cauce.backends.state.StateStore`.

``sqlite:///path`` names the file as SQLAlchemy does: the path after the third slash
(``sqlite:////srv/cauce/state.db`` is absolute, ``sqlite:///state.db`` relative to the working
directory). Next to the file live the start logs of its workers (``state.db-starts/``) and the
sockets that wake serving processes (``wake/``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ...textfiles import real_path
from ..state import StateStore, Verdict, sqlite_path, sqlite_url
from ..wakeup import WakeListener, WakeNotifier
from . import statefile
from .bookkeeping import SQLiteLeases, SQLiteSchedules, SQLiteWatches, SQLiteWorkers
from .copying import SQLiteCopying
from .database import StateDB
from .logs import SQLiteLogs
from .queues import SQLiteQueues
from .runs import SQLiteRuns
from .schema import SCHEMA_VERSION, TABLES
from .starts import dead_workers, forget
from .streams import SQLiteStreams
from .tables import SQLiteTables
from .views import SQLiteViews

__all__ = ["SQLiteState"]


class SQLiteState(StateStore):
    """The state in one SQLite file."""

    def __init__(self, path: Path, *, serving: bool = False) -> None:
        self.path = real_path(path)
        self.url = sqlite_url(self.path)
        self.db = StateDB(self.path, background_checkpoints=serving)
        self.starts = self.path.with_name(self.path.name + "-starts")
        self.queues = SQLiteQueues(self.db)
        self.tables = SQLiteTables(self.db)
        self.streams = SQLiteStreams(self.db)
        self.runs = SQLiteRuns(self.db, self.starts)
        self.logs = SQLiteLogs(self.db)
        self.schedules = SQLiteSchedules(self.db)
        self.leases = SQLiteLeases(self.db)
        self.workers = SQLiteWorkers(self.db)
        self.watches = SQLiteWatches(self.db)
        self.views = SQLiteViews(self.db)
        self.copying = SQLiteCopying(self.db)

    @classmethod
    def from_url(cls, url: str, *, serving: bool = False) -> SQLiteState:
        return cls(sqlite_path(url), serving=serving)

    @classmethod
    def exists(cls, url: str) -> bool:
        return sqlite_path(url).exists()

    @classmethod
    def examine(cls, url: str) -> Verdict:
        return statefile.examine(sqlite_path(url), TABLES, SCHEMA_VERSION)

    @classmethod
    def holds_nothing(cls, url: str) -> bool:
        return statefile.holds_nothing(sqlite_path(url))

    @contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[None]:
        # every commit is durable against a crash of the processes (WAL, synchronous=NORMAL);
        # blocks that only derive from the state (claims, longer leases) let writers of new
        # work and settlements take the write turn before them
        with self.db.atomic(yielding=not durable):
            yield

    def close(self) -> None:
        self.runs.close()
        self.db.close()

    def backup(self, target: Path) -> None:
        self.db.backup(target)

    def maintain(self, now: float) -> None:
        """Remove the start logs of dead workers once no lease of theirs is left to settle."""
        for worker in dead_workers(self.starts):
            with self.db.reading() as con:
                held = con.execute(
                    "SELECT 1 FROM messages WHERE lease IS NOT NULL AND worker = ? UNION ALL "
                    "SELECT 1 FROM stream_consumers WHERE lease IS NOT NULL AND worker = ? "
                    "LIMIT 1", (worker, worker)).fetchone()
            if held is None:
                forget(self.starts, worker)

    def listener(self, name: str, on_wake: Callable[[], None]) -> WakeListener:
        return WakeListener(self.path.parent, name, on_wake)

    def notifier(self, own: str) -> WakeNotifier:
        return WakeNotifier(self.path.parent, own=own)
