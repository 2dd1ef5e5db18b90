"""The SQLite state file: connections, transactions and savepoints, shared by every process of
a home.

Every write runs in a short ``BEGIN IMMEDIATE`` transaction so that concurrent writers queue
instead of failing (cauce's writers on a lock file, see `turns`; any other program's on SQLite's
busy handler), and a writer never has to upgrade a read lock (the case in which SQLite reports
"database is locked" without waiting). ``synchronous=NORMAL`` in
WAL mode keeps every committed transaction across a process crash; only a power cut can lose
the last few. Each thread has its own connection, so `atomic` blocks of different threads are
different transactions, and one thread's nested blocks are savepoints of its transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from ...errors import StateError
from ...sqlite_wal import use_wal
from . import statefile
from .schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION, TABLES
from .turns import WriterTurns


def marks(values: Collection[object]) -> str:
    """One ``?`` placeholder per value, comma-separated, for an ``IN (...)`` list."""
    return ",".join("?" * len(values))


class StateDB:
    """A SQLite state file with one connection per thread and retrying write transactions."""

    BUSY_TIMEOUT_MS = 60_000

    CHECKPOINT_EVERY = 1.0
    # Pages of WAL after which a process without its own checkpointer (a producer, a command)
    # checkpoints in a commit: SQLite's default, 1,000, had a producer sending one message per
    # transaction checkpoint every few hundred commits, and every commit while readers kept
    # the checkpoint from finishing. Serving processes checkpoint every second; this bound
    # (about 40 MB) only matters when none is running.
    AUTOCHECKPOINT_PAGES = 10_000

    def __init__(self, path: Path, *, background_checkpoints: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._turns = WriterTurns(self.path)
        # A WAL checkpoint writes the database file and syncs it: tens of milliseconds on a slow
        # disk. Left to SQLite it runs inside whichever commit crosses the threshold, stalling a
        # hot path; a serving process instead checkpoints from a thread of its own.
        self._background = background_checkpoints
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if not self.path.exists():
            statefile.create(self.path, SCHEMA, SCHEMA_VERSION)
        statefile.check_header(self.path)
        # each thread's connection opens the file that is there, never makes one: a file
        # removed or renamed while the process runs was replaced, for every thread that
        # connected afterwards, by an empty database without cauce's tables
        self._uri = self.path.absolute().as_uri() + "?mode=rw"
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
        with self.atomic() as con:
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
                con = sqlite3.connect(self._uri, uri=True, isolation_level=None,
                                      check_same_thread=False,
                                      timeout=self.BUSY_TIMEOUT_MS / 1000)
                con.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
                use_wal(con, self.BUSY_TIMEOUT_MS / 1000)
                con.execute("PRAGMA synchronous = NORMAL")
                checkpoint_after = 0 if self._background else self.AUTOCHECKPOINT_PAGES
                con.execute(f"PRAGMA wal_autocheckpoint = {checkpoint_after}")
            except sqlite3.Error as err:
                known = statefile.translate(self.path, err)
                if known is not None:
                    raise known from err
                if not self.path.exists() and not self.path.is_symlink():
                    raise StateError(
                        f"the state database {self.path} is gone: it was removed or renamed "
                        "while this process was running",
                        hint="put it back, or stop this process and start it again to begin "
                        "a new, empty state there") from None
                raise StateError(
                    f"cannot open the state database {self.path}: {err}",
                    hint=f"check that {self.path.parent} exists and is writable and that "
                    f"{self.path.name} in it is a file, not a folder (the state is the home's "
                    "state.db unless --state or CAUCE_STATE names another)",
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
    def atomic(self, *, yielding: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed when the block ends and rolled
        back when it raises; inside another block of this thread, a savepoint of it.
        ``yielding`` (outermost block only): take the write turn when it lies free rather than be
        handed it at a release (`turns`)."""
        con = self.connection()
        depth = getattr(self._local, "depth", 0)
        if depth:
            name = f"cauce_{depth}"
            with self._translated():
                con.execute(f"SAVEPOINT {name}")
                self._local.depth = depth + 1
                try:
                    yield con
                except BaseException:
                    con.execute(f"ROLLBACK TO {name}")
                    con.execute(f"RELEASE {name}")
                    raise
                else:
                    con.execute(f"RELEASE {name}")
                finally:
                    self._local.depth = depth
            return
        with self._translated(), self._turns.turn(yielding=yielding):
            self._begin(con)
            self._local.depth = 1
            try:
                yield con
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")
            finally:
                self._local.depth = 0

    def _begin(self, con: sqlite3.Connection) -> None:
        for attempt in range(50):
            try:
                con.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                # busy_timeout already waited; a second chance covers rare lock-upgrade cases.
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
                time.sleep(min(0.5, 0.01 * (attempt + 1)))
        raise StateError(f"the state database {self.path} stayed locked",
                         hint="another process holds a long write transaction")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection for reads: outside a transaction each statement sees what
        is committed; inside `atomic`, the transaction's own writes too."""
        with self._translated():
            yield self.connection()

    def backup(self, target: Path) -> None:
        """A consistent copy of the whole state (committed work only) at ``target``, taken while
        other processes keep working; written under a temporary name, then renamed."""
        target = Path(target)
        if os.path.lexists(target):  # a link to nothing, or to itself, is there all the same
            raise StateError(f"{target} already exists", hint="name a new file for the backup")
        tmp = target.with_name(f".{target.name}.partial")
        source = self.connection()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            copy = sqlite3.connect(tmp)
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                copy.close()
            os.replace(tmp, target)
        except (OSError, sqlite3.Error) as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if type(err) is sqlite3.DatabaseError:  # the state file is damaged, not the copy
                raise statefile.translate(self.path, err) or err from err
            reason = err.strerror if isinstance(err, OSError) else str(err)
            raise StateError(f"cannot write the backup {target}: {reason}",
                             hint="name a file in a folder you can write to, on a disk with "
                             "room for a copy of the state") from err

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
        self._turns.close()
        self._local = threading.local()

