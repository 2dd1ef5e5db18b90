"""Errors: one line naming the URL with a hint; never a raw driver exception."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import adbc_driver_manager
import pytest
from warehouse_support import open_backend, postgres_schema, postgres_url

from cauce.errors import WarehouseError
from cauce.warehouse import Checkpoint, WarehouseBackend, connect
from cauce.warehouse.sqlite import _Connection


def _strict_table(warehouse: WarehouseBackend) -> None:
    warehouse.execute("CREATE TABLE strict (id INTEGER NOT NULL)")


def _in_transaction(warehouse: WarehouseBackend) -> None:
    with warehouse.transaction() as tx:
        tx.execute("THIS IS NOT SQL")


def _garbled_checkpoint(warehouse: WarehouseBackend) -> None:
    warehouse.load("rows", [{"id": 1}], checkpoint=Checkpoint("c", 1))
    warehouse.execute("UPDATE _cauce_checkpoints SET value = 'not json'")
    warehouse.checkpoint("c")


FAILING: dict[str, Callable[[WarehouseBackend], object]] = {
    "bad sql": lambda w: w.execute("THIS IS NOT SQL"),
    "missing table": lambda w: w.query("SELECT * FROM missing_table"),
    "insert into missing table": lambda w: w.execute("INSERT INTO missing_table VALUES (1)"),
    "too many values": lambda w: w.query("SELECT ?", [1, 2]),
    "unbindable value": lambda w: w.query("SELECT ?", [object()]),
    "params of the wrong kind": lambda w: w.query("SELECT ?", 5),
    "broken script": lambda w: w.executescript("CREATE TABLE a (x INTEGER); BROKEN"),
    "not null": lambda w: (_strict_table(w), w.load("strict", [{"id": 1}, {"id": None}])),
    "no such table for columns": lambda w: w.columns("missing_table"),
    "bad statement in a transaction": _in_transaction,
    "garbled checkpoint": _garbled_checkpoint,
    "bad table name": lambda w: w.load("", [{"id": 1}]),
    # A lone surrogate (what os.fsdecode and surrogateescape make of undecodable bytes) has no
    # UTF-8 form; encoding it raised UnicodeEncodeError out of the load or the driver.
    "pandas frame with duplicate columns": lambda w: w.load("rows", _duplicate_frame()),
    "lone surrogate in rows": lambda w: w.load("rows", [{"name": "caf\udce9"}]),
    "lone surrogate in a frame": lambda w: w.load("rows", _surrogate_frame()),
    "lone surrogate as a value": lambda w: w.query("SELECT ? AS name", ["caf\udce9"]),
    "lone surrogate as a checkpoint name": lambda w: w.load(
        "rows", [{"id": 1}], checkpoint=Checkpoint("caf\udce9", 1)
    ),
}


def _duplicate_frame() -> object:
    import pandas as pd

    return pd.DataFrame([[1, 2]], columns=["a", "a"])


def _surrogate_frame() -> object:
    import pandas as pd

    return pd.DataFrame({"name": pd.Series(["caf\udce9"], dtype=object)})


@pytest.mark.parametrize("operation", FAILING.values(), ids=FAILING.keys())
def test_no_raw_driver_exception_escapes(
    warehouse: WarehouseBackend, operation: Callable[[WarehouseBackend], object]
) -> None:
    with pytest.raises(WarehouseError) as raised:
        operation(warehouse)
    error = raised.value
    assert "\n" not in str(error), "messages are one line"
    assert error.hint, "every error carries a hint"
    if error.__cause__ is not None:
        assert not isinstance(error.__cause__, WarehouseError)


def test_a_lone_surrogate_is_named_as_such(warehouse: WarehouseBackend) -> None:
    with pytest.raises(WarehouseError, match="surrogate") as raised:
        warehouse.load("rows", [{"name": "caf\udce9"}])
    assert "surrogateescape" in raised.value.hint
    assert not warehouse.table_exists("rows")


def test_driver_errors_name_the_url_and_keep_the_cause(warehouse: WarehouseBackend) -> None:
    with pytest.raises(WarehouseError) as raised:
        warehouse.query("SELECT * FROM missing_table")
    assert f"query failed on {warehouse.url}" in str(raised.value)
    assert raised.value.__cause__ is not None
    assert "check the name" in (raised.value.hint or "")


def test_a_failed_statement_with_values_leaves_the_warehouse_usable(
    warehouse: WarehouseBackend,
) -> None:
    warehouse.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)")
    warehouse.execute("INSERT INTO kv VALUES (?, ?)", [1, "one"])
    for _ in range(2):
        with pytest.raises(WarehouseError):
            warehouse.execute("INSERT INTO kv VALUES (?, ?)", [1, "again"])
        with pytest.raises(WarehouseError):
            warehouse.execute("INSERT INTO kv VALUES (?, ?)", [4, object()])
    # The next statements bind their own values, or none, not the failed one's.
    warehouse.execute("INSERT INTO kv VALUES (2, 'two')")
    assert warehouse.query("SELECT count(*) AS n FROM kv").column(0)[0].as_py() == 2
    with warehouse.transaction() as tx:
        tx.execute("INSERT INTO kv VALUES (?, ?)", [3, "three"])
    assert warehouse.query("SELECT v FROM kv WHERE k = ?", [3]).column(0)[0].as_py() == "three"


def test_a_closed_warehouse_says_so(warehouse: WarehouseBackend) -> None:
    warehouse.query("SELECT 1 AS one")
    warehouse.close()
    with pytest.raises(WarehouseError, match="is closed"):
        warehouse.query("SELECT 1 AS one")


def test_a_failed_commit_is_a_warehouse_error(request: pytest.FixtureRequest) -> None:
    schema = postgres_schema(request)
    with connect(postgres_url(schema)) as warehouse:
        warehouse.executescript(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
            "CREATE TABLE child (parent_id INTEGER REFERENCES parent DEFERRABLE INITIALLY DEFERRED)"
        )
        with (
            pytest.raises(WarehouseError, match="commit failed") as raised,
            warehouse.transaction() as tx,
        ):
            tx.execute("INSERT INTO child VALUES (1)")
        assert "constraint" in (raised.value.hint or "")
        # The pool dropped or reset the connection: the warehouse keeps working.
        assert warehouse.query("SELECT count(*) AS n FROM child").column(0)[0].as_py() == 0


@pytest.fixture
def ctrl_c_seen() -> Iterator[list[int]]:
    """The Ctrl-Cs Python's handler receives during the test (none interrupts it)."""
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    yield seen
    signal.signal(signal.SIGINT, previous)


def _ctrl_c_during_commit(monkeypatch: pytest.MonkeyPatch, *, went_through: bool) -> None:
    """A Ctrl-C during SQLite's COMMIT, as ADBC reports it: its attempt to cancel the statement
    fails, and it raises that once SQLite's COMMIT has run (or failed) its course."""
    execute = _Connection.execute

    def interrupted(self: _Connection, sql: str, params: object = None) -> None:
        if sql == "COMMIT":
            if went_through:
                execute(self, sql)
            raise adbc_driver_manager.NotSupportedError("NOT_IMPLEMENTED") from KeyboardInterrupt()
        execute(self, sql, params)

    monkeypatch.setattr(_Connection, "execute", interrupted)


def _count(warehouse: WarehouseBackend) -> int:
    return warehouse.query("SELECT count(*) AS n FROM t").column(0)[0].as_py()


@pytest.mark.parametrize("kind", ["sqlite", "sqlite-memory"])
def test_a_commit_that_went_through_at_a_ctrl_c_is_committed(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch, ctrl_c_seen: list[int],
) -> None:
    with open_backend(kind, tmp_path, request) as warehouse:
        warehouse.execute("CREATE TABLE t (x INTEGER)")
        _ctrl_c_during_commit(monkeypatch, went_through=True)
        with warehouse.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (1)")
        assert ctrl_c_seen == [signal.SIGINT]  # passed on, for the run to stop
        assert _count(warehouse) == 1
        with warehouse.transaction() as tx:  # no transaction was left open
            tx.execute("INSERT INTO t VALUES (2)")
        assert _count(warehouse) == 2


@pytest.mark.parametrize("kind", ["sqlite", "sqlite-memory"])
def test_a_commit_that_did_not_go_through_at_a_ctrl_c_fails(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch, ctrl_c_seen: list[int],
) -> None:
    with open_backend(kind, tmp_path, request) as warehouse:
        warehouse.execute("CREATE TABLE t (x INTEGER)")
        _ctrl_c_during_commit(monkeypatch, went_through=False)
        with pytest.raises(WarehouseError, match="commit failed"), warehouse.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (1)")
        assert ctrl_c_seen == [signal.SIGINT]
        monkeypatch.undo()
        assert _count(warehouse) == 0  # rolled back, and the warehouse keeps working
        warehouse.execute("INSERT INTO t VALUES (2)")
        assert _count(warehouse) == 1


def test_an_unreachable_server_is_one_line_with_a_hint() -> None:
    with (
        connect("postgresql://postgres@127.0.0.1:1/test") as warehouse,
        pytest.raises(WarehouseError, match="connect failed on postgresql://") as raised,
    ):
        warehouse.query("SELECT 1")
    assert "\n" not in str(raised.value)
    assert "server is running" in (raised.value.hint or "")


def test_passwords_never_show() -> None:
    with connect("postgresql://postgres:s3cret@127.0.0.1:1/test") as warehouse:
        assert "s3cret" not in warehouse.url
        assert warehouse.url == "postgresql://postgres:***@127.0.0.1:1/test"
        with pytest.raises(WarehouseError) as raised:
            warehouse.query("SELECT 1")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "unknown warehouse URL scheme 'ftp'"),
        ("just a path.db", "not a warehouse URL"),
        ("sqlite://host/x.db", "take no host"),
        ("duckdb:///x.duckdb?threads=4", "take no query options"),
        ("mysql+pymysql://root@127.0.0.1/test", "driver for mysql\\+pymysql:// is not installed"),
    ],
)
def test_urls_that_cannot_work_fail_at_connect(url: str, message: str) -> None:
    with pytest.raises(WarehouseError, match=message) as raised:
        connect(url)
    if "scheme" in message or "not a warehouse" in message:
        assert "duckdb:///" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("psycopg", "postgresql://postgres@127.0.0.1/test", "postgres"),
        ("psycopg", "postgres://postgres@127.0.0.1/test", "postgres"),
        ("sqlalchemy", "mysql+pymysql://root@127.0.0.1/test", "sql"),
    ],
)
def test_a_missing_driver_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, url: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(WarehouseError) as raised:
        connect(url)
    assert f"pip install 'cauce[{extra}]'" in (raised.value.hint or "")


def test_file_urls_are_relative_or_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with connect("sqlite:///relative/here.db") as warehouse:
        warehouse.load("t", [{"id": 1}])
    assert (tmp_path / "relative" / "here.db").exists()
    absolute = tmp_path / "abs.duckdb"
    with connect(f"duckdb:///{absolute}") as warehouse:
        warehouse.load("t", [{"id": 1}])
    assert absolute.exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_text("this is not a database file, it is long enough to look like one" * 100)
    for url in (f"duckdb:///{junk}", f"sqlite:///{junk}"):
        with connect(url, lock_timeout=1) as warehouse, pytest.raises(WarehouseError) as raised:
            warehouse.query("SELECT 1 AS one")
        assert str(junk) in str(raised.value)


def test_a_duckdb_file_another_process_finished_creating_is_opened_not_refused(
        tmp_path: Path) -> None:
    # DuckDB read the file while its creator was still writing the header; by the time this
    # process looks, the header is whole: the file is being created, open it again. An old
    # file DuckDB cannot read is refused at once.
    import os
    import time

    import duckdb

    from cauce.warehouse.duckdb import _being_created

    said = duckdb.IOException(f'IO Error: The file "{tmp_path}/w.duckdb" exists, but it is not '
                              "a valid DuckDB database file!")
    fresh = tmp_path / "w.duckdb"
    duckdb.connect(str(fresh)).close()
    assert _being_created(fresh, said)
    hour_ago = time.time() - 3600
    os.utime(fresh, (hour_ago, hour_ago))
    assert not _being_created(fresh, said)
    foreign = tmp_path / "junk.duckdb"
    foreign.write_bytes(b"x" * 20_000)
    assert not _being_created(foreign, said)
    half = tmp_path / "half.duckdb"
    half.write_bytes(fresh.read_bytes()[:5000])  # the creator is half-way through the header
    assert _being_created(half, said)


@pytest.mark.parametrize("driver_says", [
    'TransactionContext Error: Failed to commit: Could not write file "/w/x.duckdb.wal": '
    "No space left on device",
    "database or disk is full",
    'IO Error: Cannot open file "/ro/w.duckdb": Read-only file system',
    "failed to open '/ro/w.db': failed to allocate memory",
    "attempt to write a readonly database",
])
def test_a_file_that_cannot_be_written_gets_a_hint_about_its_disk(driver_says: str) -> None:
    """What DuckDB and SQLite say on a full disk or a read-only folder is not a SQL mistake."""
    from cauce.warehouse.seam import hint_for

    assert hint_for(driver_says).startswith("the database file or its folder cannot be written")
