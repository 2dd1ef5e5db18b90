"""The PostgreSQL state store (`cauce.backends.state.StateStore`): many machines share one
database, claims pass each other with ``FOR UPDATE SKIP LOCKED``, serving processes wake each
other with LISTEN/NOTIFY, and the schema is versioned (`schema.py`).

``postgresql://user:password@host:port/dbname`` (or ``postgres://``) names the database, as
libpq reads it (its other query parameters too); ``?schema=name`` keeps cauce's tables in a
schema of their own, created when first opened. The driver is psycopg 3 (``cauce[postgres]``).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ...errors import ConfigError
from ...runs import RunRecord
from ..state import StateStore, Verdict
from .bookkeeping import PostgresLeases, PostgresSchedules, PostgresWatches, PostgresWorkers
from .copying import PostgresCopying
from .database import Database, locate, sql_name
from .logs import PostgresLogs
from .queues import PostgresQueues
from .runs import UPSERT, PostgresRuns, columns, latest_of
from .schema import SCHEMA_VERSION, TABLES, current_version, migrate
from .streams import PostgresStreams
from .tables import PostgresTables
from .views import PostgresViews
from .wakeup import PostgresListener, PostgresNotifier

__all__ = ["PostgresState"]

# Deliveries that succeeded, settled in one statement: their messages deleted (a data-modifying
# WITH runs whether or not it is read) and their runs written.
_ACKNOWLEDGE = ("WITH acked AS (DELETE FROM messages AS m "
                "USING unnest(%s::bigint[], %s::text[]) AS u(id, lease) "
                "WHERE m.id = u.id AND m.lease = u.lease) " + UPSERT)


class PostgresState(StateStore):
    """The state in a PostgreSQL database (or one schema of it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = locate(url)
        self.db = Database(self.location)
        try:
            migrate(self.db)
        except BaseException:
            self.db.close()
            raise
        self.queues = PostgresQueues(self.db)
        self.tables = PostgresTables(self.db)
        self.streams = PostgresStreams(self.db)
        self.relaxed = Database(self.location, durable=False)
        self.runs = PostgresRuns(self.db, self.relaxed)
        self.logs = PostgresLogs(self.db)
        self.schedules = PostgresSchedules(self.db)
        self.leases = PostgresLeases(self.db)
        self.workers = PostgresWorkers(self.db)
        self.watches = PostgresWatches(self.db)
        self.views = PostgresViews(self.db)
        self.copying = PostgresCopying(self.db)

    @classmethod
    def from_url(cls, url: str, *, serving: bool = False) -> PostgresState:
        return cls(url)

    @classmethod
    def exists(cls, url: str) -> bool:
        db = Database(locate(url))
        try:
            with db.connection() as con:
                return current_version(con, db.location) > 0
        finally:
            db.close()

    @classmethod
    def examine(cls, url: str) -> Verdict:
        """What `cauce state check` says; a server it cannot use (unreachable, a role refused)
        is a StateError of its own, not a verdict of damage."""
        location = locate(url)
        verdict = Verdict(location.where, hint="restore cauce's tables from a backup of the "
                          "database (pg_restore of a pg_dump): `cauce migrate` brings a schema "
                          "up to date, it does not rebuild a table that was dropped")
        db = Database(location)
        try:
            with db.connection() as con:
                verdict.version = current_version(con, location)
                if verdict.version == 0:
                    verdict.problems.append("it holds no cauce state (no cauce_schema table)")
                    verdict.hint = "`cauce migrate` builds cauce's tables"
                    return verdict
                missing = [t for t in TABLES
                           if con.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] is None]
                if missing:
                    verdict.problems.append("it lacks cauce's tables " + ", ".join(missing))
                if verdict.version > SCHEMA_VERSION:
                    verdict.newer_than(SCHEMA_VERSION)
                if verdict.sound:
                    for table in ("messages", "runs", "items", "logs"):
                        verdict.counts[table] = con.execute(
                            f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            db.close()
        return verdict

    @classmethod
    def migrate(cls, url: str) -> tuple[int, int]:
        db = Database(locate(url))
        try:
            return migrate(db, explicit=True)
        finally:
            db.close()

    def acknowledge(self, leases: Sequence[tuple[int, str]], runs: Sequence[RunRecord]) -> None:
        latest = latest_of(runs)
        if not leases or not latest:
            super().acknowledge(leases, runs)
            return
        self.db.change(_ACKNOWLEDGE, [[i for i, _ in leases], [t for _, t in leases],
                                      *columns(latest)])

    @contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[None]:
        with self.db.atomic(durable=durable):
            yield

    def backup(self, target: Path) -> None:
        """Refused with the commands that do back it up: pg_dump, or a copy into SQLite."""
        at = self.location
        schema = f" -n {shlex.quote(sql_name(at.schema))}" if at.schema else ""
        raise ConfigError(f"the state at {at.where} is a PostgreSQL database, which `cauce state "
                          "backup` does not copy (it writes SQLite files)",
                          hint=f"back it up with pg_dump -h {shlex.quote(at.host)} -p {at.port} "
                          f"-U {shlex.quote(at.user)}{schema} -Fc -f state.dump "
                          f"{shlex.quote(at.dbname)}, or copy it into a SQLite file while nothing "
                          "serves it: cauce state copy --to sqlite:////path/state.db")

    def close(self) -> None:
        self.relaxed.close()
        self.db.close()

    def maintain(self, now: float) -> None:
        """Remove the starts of runs whose rows say they started, and registrations of
        listeners whose connection is gone."""
        self.runs.forget_recorded_starts()
        self.db.change("DELETE FROM wake_listeners AS w WHERE NOT EXISTS "
                       "(SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = w.backend)")

    def listener(self, name: str, on_wake: Callable[[], None]) -> PostgresListener:
        return PostgresListener(self.db, name, on_wake)

    def notifier(self, own: str) -> PostgresNotifier:
        return PostgresNotifier(self.relaxed, own=own)
