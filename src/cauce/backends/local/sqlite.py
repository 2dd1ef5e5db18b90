"""The state database: one SQLite file in WAL mode, shared by every process of a home.

Every write runs in a short ``BEGIN IMMEDIATE`` transaction so that concurrent writers queue on
SQLite's busy handler instead of failing, and a writer never has to upgrade a read lock (the
case in which SQLite reports "database is locked" without waiting). ``synchronous=NORMAL`` in
WAL mode keeps every committed transaction across a process crash; only a power cut can lose
the last few.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...errors import StateError
from ...sqlite_wal import use_wal
from . import statefile

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- a message id is never reused
    queue         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    grp           TEXT,
    visible_at    REAL    NOT NULL,
    sent_at       REAL    NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    lease         TEXT,
    last_error    TEXT,
    attrs         TEXT,
    worker        TEXT,                               -- who holds (or last held) the lease
    batch_head    INTEGER,                            -- first message of its batch, if not itself
    isolation     INTEGER NOT NULL DEFAULT 0,         -- 1: in a batch of its own, 2: in a process
    lost          INTEGER NOT NULL DEFAULT 0          -- deliveries whose worker died meanwhile
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
CREATE INDEX IF NOT EXISTS messages_group ON messages (queue, grp, id) WHERE grp IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_leased ON messages (queue, visible_at) WHERE lease IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_isolated ON messages (queue, visible_at) WHERE isolation = 2;

CREATE TABLE IF NOT EXISTS items (
    tbl        TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_index (
    tbl   TEXT NOT NULL,
    idx   TEXT NOT NULL,
    value TEXT NOT NULL,
    key   TEXT NOT NULL,
    PRIMARY KEY (tbl, idx, value, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS stream_records (
    stream TEXT    NOT NULL,
    shard  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    pkey   TEXT    NOT NULL,
    data   TEXT    NOT NULL,
    ts     REAL    NOT NULL,
    PRIMARY KEY (stream, shard, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_consumers (
    stream      TEXT    NOT NULL,
    consumer    TEXT    NOT NULL,
    shard       INTEGER NOT NULL,
    seq         INTEGER NOT NULL DEFAULT 0,
    lease       TEXT,
    lease_until REAL    NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    retry_at    REAL    NOT NULL DEFAULT 0,
    last_error  TEXT,
    worker      TEXT,                                 -- who holds (or last held) the lease
    run_id      TEXT,                                 -- the run of that delivery
    isolated    INTEGER NOT NULL DEFAULT 0,           -- 1: delivered alone in its process
    PRIMARY KEY (stream, consumer, shard)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS runs (
    id         TEXT PRIMARY KEY,
    app        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    partition  TEXT,
    attempt    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    trigger    TEXT,
    message_id INTEGER,
    event_id   TEXT,
    queued_at  REAL,
    started_at REAL,
    ended_at   REAL,
    error      TEXT,
    params     TEXT,
    result     TEXT,
    worker     TEXT,
    cancel     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_name ON runs (app, name, partition, status);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, worker);
CREATE INDEX IF NOT EXISTS runs_by_message ON runs (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);

CREATE TABLE IF NOT EXISTS logs (
    id      INTEGER PRIMARY KEY,
    app     TEXT NOT NULL,
    stream  TEXT NOT NULL,
    ts      REAL NOT NULL,
    level   INTEGER NOT NULL,
    message TEXT NOT NULL,
    run_id  TEXT
);
CREATE INDEX IF NOT EXISTS logs_by_stream ON logs (app, stream, ts);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS logs_by_time ON logs (ts);

CREATE TABLE IF NOT EXISTS schedules (
    app     TEXT NOT NULL,
    job     TEXT NOT NULL,
    spec    TEXT NOT NULL,
    next_at REAL NOT NULL,
    paused  TEXT,
    PRIMARY KEY (app, job)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS bucket_objects (
    app     TEXT NOT NULL,
    bucket  TEXT NOT NULL,
    key     TEXT NOT NULL,
    size    INTEGER NOT NULL,
    mtime   REAL NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (app, bucket, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS leases (
    name    TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS workers (
    id           TEXT PRIMARY KEY,
    app          TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    role         TEXT NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    stopped_at   REAL
);
"""


# Tables every state file has; a SQLite file without them is not cauce's.
TABLES = ("messages", "items", "item_index", "stream_records", "stream_consumers", "runs", "logs",
          "schedules", "bucket_objects", "leases", "workers")

# (schema version, statements that bring a file of the previous version to it), in order.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (2, ["ALTER TABLE messages ADD COLUMN worker TEXT",
         "ALTER TABLE messages ADD COLUMN batch_head INTEGER",
         "ALTER TABLE messages ADD COLUMN isolation INTEGER NOT NULL DEFAULT 0",
         "ALTER TABLE messages ADD COLUMN lost INTEGER NOT NULL DEFAULT 0",
         "CREATE INDEX IF NOT EXISTS messages_leased ON messages (queue, visible_at) "
         "WHERE lease IS NOT NULL",
         "CREATE INDEX IF NOT EXISTS messages_isolated ON messages (queue, visible_at) "
         "WHERE isolation = 2",
         "ALTER TABLE stream_consumers ADD COLUMN worker TEXT",
         "ALTER TABLE stream_consumers ADD COLUMN run_id TEXT",
         "ALTER TABLE stream_consumers ADD COLUMN isolated INTEGER NOT NULL DEFAULT 0"]),
]


class StateDB:
    """A SQLite state file with one connection per thread and retrying write transactions."""

    BUSY_TIMEOUT_MS = 60_000

    CHECKPOINT_EVERY = 1.0

    def __init__(self, path: Path, *, background_checkpoints: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # A WAL checkpoint writes the database file and syncs it: tens of milliseconds on a slow
        # disk. Left to SQLite it runs inside whichever commit crosses the threshold, stalling a
        # hot path; a serving process instead checkpoints from a thread of its own.
        self._background = background_checkpoints
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if not self.path.exists():
            statefile.create(self.path, SCHEMA, SCHEMA_VERSION)
        statefile.check_header(self.path)
        try:
            self._upgrade(self.connection())
        except BaseException:
            self.close()
            raise
        if background_checkpoints:
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, daemon=True,
                                                  name="cauce-wal-checkpoint")
            self._checkpointer.start()

    def _upgrade(self, con: sqlite3.Connection) -> None:
        """Check the file is a cauce state database and bring its schema to this version."""
        with self._translated():
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            tables = {row[0] for row in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise StateError(f"the state database {self.path} was written by a newer cauce "
                             f"(schema version {version}; this one knows {SCHEMA_VERSION})",
                             hint="upgrade cauce on this machine")
        if not set(TABLES) <= tables:
            raise statefile.damaged(self.path, "is not a cauce state database "
                                    "(it lacks cauce's tables)")
        with self.write() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            for target, statements in MIGRATIONS:
                if version < target:
                    for statement in statements:
                        con.execute(statement)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _checkpoint_loop(self) -> None:
        con = sqlite3.connect(self.path, isolation_level=None, timeout=self.BUSY_TIMEOUT_MS / 1000)
        try:
            while not self._stop.wait(self.CHECKPOINT_EVERY):
                try:
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError:
                    continue  # busy: the next round catches up
        finally:
            con.close()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode: transactions are explicit)."""
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                      timeout=self.BUSY_TIMEOUT_MS / 1000)
                con.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
                use_wal(con, self.BUSY_TIMEOUT_MS / 1000)
                con.execute("PRAGMA synchronous = NORMAL")
                if self._background:
                    con.execute("PRAGMA wal_autocheckpoint = 0")
            except sqlite3.Error as err:
                known = statefile.translate(self.path, err)
                if known is not None:
                    raise known from err
                raise StateError(
                    f"cannot open the state database {self.path}: {err}",
                    hint="check the cauce home folder exists and is writable (--home, CAUCE_HOME)",
                ) from err
            con.row_factory = sqlite3.Row
            self._local.con = con
            with self._lock:
                self._connections.append(con)
        return con

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """SQLite errors that mean a damaged file or disk, as StateError."""
        try:
            yield
        except sqlite3.Error as err:
            known = statefile.translate(self.path, err)
            if known is None:
                raise
            raise known from err

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); committed on exit, rolled back on error."""
        con = self.connection()
        with self._translated():
            for attempt in range(50):
                try:
                    con.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as err:
                    # busy_timeout already waited; a second chance covers rare lock-upgrade cases.
                    if "locked" not in str(err) and "busy" not in str(err):
                        raise
                    time.sleep(min(0.5, 0.01 * (attempt + 1)))
            else:
                raise StateError(f"the state database {self.path} stayed locked",
                                 hint="another process holds a long write transaction")
            try:
                yield con
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")

    def read(self) -> sqlite3.Connection:
        """The connection for reads outside a transaction (each statement sees committed data)."""
        return self.connection()

    def backup(self, target: Path) -> None:
        """A consistent copy of the whole state (committed work only) at ``target``, taken while
        other processes keep working; written under a temporary name, then renamed."""
        target = Path(target)
        if target.exists():
            raise StateError(f"{target} already exists", hint="name a new file for the backup")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        copy = sqlite3.connect(tmp)
        try:
            with self._translated():
                self.connection().backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
        os.replace(tmp, target)

    @staticmethod
    def examine(path: Path) -> statefile.Verdict:
        """A full check of the state file at ``path`` (never creating or changing it)."""
        return statefile.examine(
            Path(path), TABLES, SCHEMA_VERSION,
            lambda p: sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=60))

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
            self._checkpointer = None
        with self._lock:
            for con in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    con.close()
            self._connections.clear()
        self._local = threading.local()

