"""The tables of a PostgreSQL state and the versioned migrations that build and upgrade them.

``cauce_schema`` holds one row: the version of the schema. Opening a state brings an older
schema to this version, one ordered step at a time, all in one transaction under an advisory
lock (so two processes starting together do not migrate at once); a schema newer than this
cauce knows is refused. Text that is ordered or compared by range (keys, run ids, partitions,
queue names) uses the "C" collation, so order is code-point order on every server, as in
SQLite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...errors import StateError
from .database import Database, Location, sql_name

# The first version: every table and index, as cauce 0.x first shipped them.
_V1 = [
    """CREATE TABLE messages (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- never reused
        queue         text COLLATE "C" NOT NULL,
        body          text NOT NULL,
        event_id      text NOT NULL,
        grp           text COLLATE "C",
        visible_at    double precision NOT NULL,
        sent_at       double precision NOT NULL,
        receive_count integer NOT NULL DEFAULT 0,
        lease         text,
        last_error    text,
        attrs         jsonb,
        worker        text,
        batch_head    bigint,
        isolation     smallint NOT NULL DEFAULT 0,
        lost          integer NOT NULL DEFAULT 0)""",
    # the claim: visible, unleased messages of a queue, oldest first
    "CREATE INDEX messages_ready ON messages (queue, visible_at, id) WHERE lease IS NULL",
    "CREATE INDEX messages_leased ON messages (queue, visible_at) WHERE lease IS NOT NULL",
    "CREATE INDEX messages_group ON messages (queue, grp, id) WHERE grp IS NOT NULL",
    "CREATE INDEX messages_isolated ON messages (queue, visible_at) WHERE isolation = 2",
    "CREATE INDEX messages_by_queue ON messages (queue, id)",

    """CREATE TABLE items (
        tbl        text COLLATE "C" NOT NULL,
        key        text COLLATE "C" NOT NULL,
        value      jsonb NOT NULL,
        version    integer NOT NULL,
        updated_at double precision NOT NULL,
        PRIMARY KEY (tbl, key))""",
    """CREATE TABLE item_index (
        tbl   text COLLATE "C" NOT NULL,
        idx   text COLLATE "C" NOT NULL,
        value text COLLATE "C" NOT NULL,
        key   text COLLATE "C" NOT NULL,
        PRIMARY KEY (tbl, idx, value, key))""",
    "CREATE INDEX item_index_by_key ON item_index (tbl, key)",

    """CREATE TABLE stream_heads (
        stream text COLLATE "C" NOT NULL,
        shard  integer NOT NULL,
        seq    bigint NOT NULL,
        PRIMARY KEY (stream, shard))""",
    """CREATE TABLE stream_records (
        stream text COLLATE "C" NOT NULL,
        shard  integer NOT NULL,
        seq    bigint NOT NULL,
        pkey   text NOT NULL,
        data   text NOT NULL,
        ts     double precision NOT NULL,
        PRIMARY KEY (stream, shard, seq))""",
    "CREATE INDEX stream_records_by_time ON stream_records (stream, ts)",
    """CREATE TABLE stream_consumers (
        stream      text COLLATE "C" NOT NULL,
        consumer    text COLLATE "C" NOT NULL,
        shard       integer NOT NULL,
        seq         bigint NOT NULL DEFAULT 0,
        lease       text,
        lease_until double precision NOT NULL DEFAULT 0,
        attempts    integer NOT NULL DEFAULT 0,
        retry_at    double precision NOT NULL DEFAULT 0,
        last_error  text,
        worker      text,
        run_id      text,
        isolated    integer NOT NULL DEFAULT 0,
        PRIMARY KEY (stream, consumer, shard))""",

    """CREATE TABLE runs (
        id         text COLLATE "C" PRIMARY KEY,
        app        text COLLATE "C" NOT NULL,
        kind       text NOT NULL,
        name       text COLLATE "C" NOT NULL,
        partition  text COLLATE "C",
        attempt    integer NOT NULL,
        status     text NOT NULL,
        trigger    text,
        message_id bigint,
        event_id   text,
        queued_at  double precision,
        started_at double precision,
        ended_at   double precision,
        error      text,
        params     jsonb,
        result     jsonb,
        worker     text,
        cancel     boolean NOT NULL DEFAULT false)""",
    "CREATE INDEX runs_by_job ON runs (app, name, partition, status)",
    "CREATE INDEX runs_by_app ON runs (app, id)",
    "CREATE INDEX runs_by_status ON runs (status, worker)",
    "CREATE INDEX runs_by_message ON runs (message_id) WHERE message_id IS NOT NULL",
    "CREATE INDEX runs_by_start ON runs (coalesce(started_at, queued_at) NULLS FIRST, id)",
    "CREATE INDEX runs_cancelled ON runs (id) WHERE cancel",
    # deliveries a worker started, until their runs' rows say so (RunStore.note_started)
    """CREATE TABLE starts (
        worker text NOT NULL,
        lease  text NOT NULL,
        head   text NOT NULL,
        run_id text NOT NULL,
        run    jsonb NOT NULL,
        PRIMARY KEY (worker, lease, head))""",
    "CREATE INDEX starts_by_run ON starts (run_id)",

    """CREATE TABLE logs (
        id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        app     text COLLATE "C" NOT NULL,
        stream  text COLLATE "C" NOT NULL,
        ts      double precision NOT NULL,
        level   integer NOT NULL,
        message text NOT NULL,
        run_id  text)""",
    "CREATE INDEX logs_by_stream ON logs (app, stream, ts, id)",
    "CREATE INDEX logs_by_run ON logs (run_id, ts, id) WHERE run_id IS NOT NULL",
    "CREATE INDEX logs_by_time ON logs (ts, id)",

    """CREATE TABLE schedules (
        app     text COLLATE "C" NOT NULL,
        job     text COLLATE "C" NOT NULL,
        spec    text NOT NULL,
        next_at double precision NOT NULL,
        paused  text,
        PRIMARY KEY (app, job))""",
    """CREATE TABLE bucket_objects (
        app     text NOT NULL,
        bucket  text NOT NULL,
        key     text COLLATE "C" NOT NULL,
        size    bigint NOT NULL,
        mtime   double precision NOT NULL,
        seen_at double precision NOT NULL,
        PRIMARY KEY (app, bucket, key))""",
    """CREATE TABLE leases (
        name    text PRIMARY KEY,
        owner   text NOT NULL,
        expires double precision NOT NULL)""",
    """CREATE TABLE workers (
        id           text PRIMARY KEY,
        app          text NOT NULL,
        pid          integer NOT NULL,
        host         text NOT NULL,
        role         text NOT NULL,
        started_at   double precision NOT NULL,
        heartbeat_at double precision NOT NULL,
        stopped_at   double precision)""",
    "CREATE INDEX workers_by_app ON workers (app, started_at)",
    # serving processes listening for wake-ups, and the server process of their connection
    """CREATE TABLE wake_listeners (
        channel text PRIMARY KEY,
        backend integer NOT NULL)""",
]



@dataclass(frozen=True)
class Migration:
    """One step: the statements that bring the previous version to ``version``. A step that
    is not ``automatic`` (it rewrites large tables, say) is applied only by `cauce migrate`;
    opening an older state then stops with a message saying so."""

    version: int
    statements: tuple[str, ...]
    automatic: bool = True


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, tuple(_V1)),
    # the last record of the batch a consumer claimed, delivered again as it was
    Migration(2, ("ALTER TABLE stream_consumers ADD COLUMN upto bigint NOT NULL DEFAULT 0",)),
    # whether a run ran in a child process of its own (its parent's death does not count)
    Migration(3, ("ALTER TABLE runs ADD COLUMN in_child boolean NOT NULL DEFAULT false",)),
    # what tells an object of a watched bucket from another of the same size and time (S3's
    # ETag, a file's mtime_ns:inode); NULL for objects seen before, filled in at the next look
    Migration(4, ("ALTER TABLE bucket_objects ADD COLUMN tag text",)),
    # each stream's line count and last line, kept as lines are written (the list of streams
    # counted every line)
    Migration(5, (
        """CREATE TABLE log_streams (
            app     text COLLATE "C" NOT NULL,
            stream  text COLLATE "C" NOT NULL,
            last_ts double precision NOT NULL,
            lines   bigint NOT NULL,
            PRIMARY KEY (app, stream))""",
        "CREATE INDEX log_streams_by_time ON log_streams (last_ts)",
        "CREATE INDEX log_streams_by_app ON log_streams (app, last_ts)",
        "INSERT INTO log_streams SELECT app, stream, max(ts), count(*) FROM logs "
        "GROUP BY app, stream",
    )),
)

SCHEMA_VERSION = MIGRATIONS[-1].version

# Tables every cauce schema has.
TABLES = ("messages", "items", "item_index", "stream_heads", "stream_records", "stream_consumers",
          "runs", "starts", "logs", "schedules", "bucket_objects", "leases", "workers",
          "wake_listeners")  # log_streams: added in version 4


def current_version(con: Any, location: Location) -> int:
    """The schema version recorded in the database (0: cauce's tables are not there). A
    schema the role may not use is a StateError: PostgreSQL leaves it out of the search path
    without a word, which looked like a schema where nothing ever ran."""
    if location.schema:
        usable = con.execute("SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace "
                             "WHERE nspname = %s", (location.schema,)).fetchone()
        if usable is not None and not usable[0]:
            raise StateError(f"PostgreSQL at {location.at} does not let "
                             f"{location.user!r} use the schema of the state at "
                             f"{location.where}",
                             hint=f"grant it: GRANT USAGE ON SCHEMA {sql_name(location.schema)} "
                             f"TO {sql_name(location.user)} (and its tables), or use the role "
                             "that created it")
    found = con.execute("SELECT to_regclass('cauce_schema') IS NOT NULL").fetchone()[0]
    if not found:
        return 0
    row = con.execute("SELECT max(version) FROM cauce_schema").fetchone()
    return int(row[0] or 0)


def too_new(location: Location, version: int) -> StateError:
    return StateError(f"the state at {location.where} was written by a newer cauce (schema "
                      f"version {version}; this one knows {SCHEMA_VERSION})",
                      hint="upgrade cauce on this machine")


# what the migrations create (tables and indexes share one namespace per schema)
_CREATED = ("cauce_schema", *sorted({name for m in MIGRATIONS for statement in m.statements
                                     for name in re.findall(r"CREATE (?:TABLE|INDEX) (\w+)",
                                                            statement)}))


def _refuse_others_tables(con: Any, location: Location) -> None:
    """A StateError when the schema cauce's tables would be created in holds tables (or
    indexes) of another program under their names — logs, messages, runs are common ones:
    cauce neither writes into them nor takes them for its own (it failed with
    "unexpected DuplicateTable")."""
    found = [r[0] for r in con.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = "
        "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
        "AND relname = ANY(%s) ORDER BY relname", (list(_CREATED),)).fetchall()]
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise StateError(f"the state at {location.where} would put cauce's tables beside "
                         f"tables of another program with the same names ({shown})",
                         hint="give cauce a schema of its own: ?schema=cauce in the state URL "
                         "(created when first used)")


def migrate(db: Database, *, explicit: bool = False) -> tuple[int, int]:
    """Bring the schema to `SCHEMA_VERSION` (``explicit``: `cauce migrate` asked, so steps that
    are not automatic run too); returns (version before, version after)."""
    with db.connection() as con:
        version = current_version(con, db.location)
    if version > SCHEMA_VERSION:
        raise too_new(db.location, version)
    if version == SCHEMA_VERSION:
        return version, version
    schema = db.location.schema
    with db.atomic() as con:
        # each statement sees what was committed before it: at a stricter level, the version
        # read once the lock is held would be the one of before the wait, and a process that
        # waited for another's migration would run it again ("cauce_schema already exists")
        con.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        con.execute("SELECT pg_advisory_xact_lock(%s)", (db.location.lock_key,))
        if schema and con.execute("SELECT to_regnamespace(%s) IS NULL",
                                  (f'"{schema}"',)).fetchone()[0]:
            # only when missing: CREATE SCHEMA IF NOT EXISTS needs the right to create schemas
            # even for one that exists (made by an administrator for cauce's role)
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        before = current_version(con, db.location)  # another process may have migrated meanwhile
        if before > SCHEMA_VERSION:
            raise too_new(db.location, before)
        pending = [m for m in MIGRATIONS if m.version > before]
        held = [m.version for m in pending if not m.automatic]
        if held and before and not explicit:
            raise StateError(f"the state at {db.location.where} has schema version {before}; "
                             f"version {held[0]} is applied only on purpose",
                             hint="stop the workers, then run `cauce migrate --state URL`")
        if before == 0:
            _refuse_others_tables(con, db.location)
            con.execute("CREATE TABLE cauce_schema (version integer NOT NULL, "
                        "applied_at timestamptz NOT NULL DEFAULT now())")
        for step in pending:
            for statement in step.statements:
                con.execute(statement)
            con.execute("INSERT INTO cauce_schema (version) VALUES (%s)", (step.version,))
    return before, SCHEMA_VERSION
