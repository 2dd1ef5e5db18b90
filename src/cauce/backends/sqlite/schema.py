"""The tables of a SQLite state file, and the migrations that bring an older file up to date."""

from __future__ import annotations

SCHEMA_VERSION = 8

# An item's index entries, found to be replaced at each write of the item (without it a write
# read every entry of the table).
_ENTRIES_BY_KEY = "CREATE INDEX IF NOT EXISTS item_index_by_key ON item_index (tbl, key)"

# Runs in the order `cauce runs` and the runs page list them (newest first); without it a
# listing of 20 read and sorted every run ever recorded.
_RUNS_BY_TIME = ("CREATE INDEX IF NOT EXISTS runs_by_time "
                 "ON runs (coalesce(started_at, queued_at), id)")

# Filtered run lists, newest first, as `cauce runs` orders them (start time) and as the runs
# page does (id): one index per filter, so that a page stops after its rows instead of sorting
# every run the filter matches (`runs.SQLiteRuns.query`, `views.SQLiteViews.runs_page` say
# which one a filter walks).
_RUNS_FILTERED = [
    "CREATE INDEX IF NOT EXISTS runs_by_app_time "
    "ON runs (app, coalesce(started_at, queued_at), id)",
    "CREATE INDEX IF NOT EXISTS runs_by_job_time "
    "ON runs (name, coalesce(started_at, queued_at), id)",
    "CREATE INDEX IF NOT EXISTS runs_by_status_time "
    "ON runs (status, coalesce(started_at, queued_at), id)",
    "CREATE INDEX IF NOT EXISTS runs_by_app_id ON runs (app, id)",
    "CREATE INDEX IF NOT EXISTS runs_by_job_id ON runs (name, id)",
    "CREATE INDEX IF NOT EXISTS runs_by_status_id ON runs (status, id)",
]

# Each log stream's line count and last line, kept as lines are written (`logs.SQLiteLogs`):
# the list of streams counted every line of every stream.
_LOG_STREAMS = [
    """CREATE TABLE IF NOT EXISTS log_streams (
    app     TEXT    NOT NULL,
    stream  TEXT    NOT NULL,
    last_ts REAL    NOT NULL,
    lines   INTEGER NOT NULL,
    PRIMARY KEY (app, stream)
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS log_streams_by_time ON log_streams (last_ts)",
    "CREATE INDEX IF NOT EXISTS log_streams_by_app ON log_streams (app, last_ts)",
]

_SHARDS = """CREATE TABLE IF NOT EXISTS stream_shards (
    stream   TEXT    NOT NULL,
    shard    INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,                        -- never goes back, even when trimmed
    PRIMARY KEY (stream, shard)
) WITHOUT ROWID;
"""

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
""" + _ENTRIES_BY_KEY + """;

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
    upto        INTEGER NOT NULL DEFAULT 0,           -- last record of the batch claimed
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
    cancel     INTEGER NOT NULL DEFAULT 0,
    in_child   INTEGER NOT NULL DEFAULT 0             -- 1: ran in a child process of its own
);
CREATE INDEX IF NOT EXISTS runs_by_name ON runs (app, name, partition, status);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, worker);
CREATE INDEX IF NOT EXISTS runs_by_message ON runs (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
""" + _RUNS_BY_TIME + """;

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
    tag     TEXT,                                     -- S3's ETag, a file's mtime_ns:inode
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
""" + _SHARDS + ";\n".join(_RUNS_FILTERED + _LOG_STREAMS) + ";\n"


# Tables every state file has; a SQLite file without them is not cauce's.
TABLES = ("messages", "items", "item_index", "stream_records", "stream_consumers", "runs", "logs",
          "schedules", "bucket_objects", "leases", "workers")  # stream_shards: added in version 3

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
    (3, [_SHARDS,
         "INSERT OR IGNORE INTO stream_shards SELECT stream, shard, max(seq) FROM stream_records "
         "GROUP BY stream, shard",
         "ALTER TABLE stream_consumers ADD COLUMN upto INTEGER NOT NULL DEFAULT 0"]),
    (4, [_ENTRIES_BY_KEY]),
    (5, ["ALTER TABLE runs ADD COLUMN in_child INTEGER NOT NULL DEFAULT 0"]),
    (6, [_RUNS_BY_TIME]),
    (7, ["ALTER TABLE bucket_objects ADD COLUMN tag TEXT"]),
    (8, [*_RUNS_FILTERED, *_LOG_STREAMS,
         "INSERT INTO log_streams SELECT app, stream, max(ts), count(*) FROM logs "
         "GROUP BY app, stream"]),
]
