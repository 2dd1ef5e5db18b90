"""What only the PostgreSQL state does: errors that name their cause, versioned migrations
(automatic, explicit, refused when the schema is newer), connections across a fork."""

from __future__ import annotations

import multiprocessing
import select
import sys
import threading
from collections.abc import Iterator

import pytest

from cauce.backends.postgres import PostgresState
from cauce.backends.postgres.database import locate
from cauce.backends.postgres.schema import MIGRATIONS, SCHEMA_VERSION
from cauce.backends.postgres.wakeup import RESCAN
from cauce.backends.state import open_state
from cauce.errors import ConfigError, StateConflict, StateError, StateUnavailable
from notifier_clock import NotifierClock
from waiting import wait_for

pytestmark = pytest.mark.postgres


def test_an_unreachable_server_is_one_line_naming_it(pg_url: str) -> None:
    with pytest.raises(StateError, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1") as caught:
        open_state("postgresql://postgres@127.0.0.1:1/test")
    assert "is the server running at 127.0.0.1:1" in (caught.value.hint or "")


def test_a_missing_role_or_database_says_how_to_create_it(pg_server: str) -> None:
    with pytest.raises(StateError, match="has no role 'no_such_role_x'") as caught:
        open_state(f"postgresql://no_such_role_x@{pg_server}/test")
    assert "createuser no_such_role_x" in (caught.value.hint or "")
    with pytest.raises(StateError, match="has no database 'no_such_db_x'") as caught:
        open_state(f"postgresql://postgres@{pg_server}/no_such_db_x")
    assert "createdb" in (caught.value.hint or "")


def test_without_the_driver_the_hint_is_the_extra(pg_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError, match="psycopg") as caught:
        open_state(pg_url)
    assert caught.value.hint == "install cauce[postgres]"


def test_migrations_run_once_and_report_versions(pg_url: str) -> None:
    assert not PostgresState.exists(pg_url)
    assert PostgresState.examine(pg_url).problems
    assert PostgresState.migrate(pg_url) == (0, SCHEMA_VERSION)
    assert PostgresState.migrate(pg_url) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert PostgresState.exists(pg_url)
    assert PostgresState.examine(pg_url).version == SCHEMA_VERSION


def test_processes_opening_a_new_schema_together_migrate_it_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def open_and_send() -> None:
        try:
            store = open_state(pg_url)
            store.queues.send("app:q", ["1"], now=0.0)
            store.close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_and_send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = open_state(pg_url)
    try:
        assert len(store.queues.listing("app:q")) == 4
        with store.db.connection() as con:
            assert con.execute("SELECT count(*) FROM cauce_schema").fetchone()[0] == len(
                MIGRATIONS), "each step applied once"
    finally:
        store.close()


def test_a_schema_newer_than_the_code_is_refused(pg_url: str) -> None:
    store = open_state(pg_url)
    store.db.change("INSERT INTO cauce_schema (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    store.close()
    with pytest.raises(StateError, match="newer cauce") as caught:
        open_state(pg_url)
    assert caught.value.hint == "upgrade cauce on this machine"
    assert PostgresState.examine(pg_url).problems


_inherited: list[PostgresState] = []


def _send_from_child() -> None:
    _inherited[0].queues.send("app:q", ["from the child"], now=0.0)


@pytest.mark.skipif(not hasattr(multiprocessing, "get_context") or sys.platform == "win32",
                    reason="fork is POSIX")
def test_a_forked_child_opens_its_own_connections(pg_url: str) -> None:
    store = open_state(pg_url)
    assert isinstance(store, PostgresState)
    try:
        store.queues.send("app:q", ["from the parent"], now=0.0)
        _inherited[:] = [store]
        child = multiprocessing.get_context("fork").Process(target=_send_from_child)
        child.start()
        child.join()
        assert child.exitcode == 0
        store.queues.send("app:q", ["parent again"], now=0.0)
        assert [m.body for m in store.queues.listing("app:q")] == [
            "from the parent", "from the child", "parent again"]
    finally:
        _inherited.clear()
        store.close()


def test_a_claim_passes_messages_another_transaction_holds(pg_url: str) -> None:
    state, other = open_state(pg_url), open_state(pg_url)
    try:
        state.queues.send("app:q", ["1", "2", "3"], now=0.0)
        taken: list[str] = []
        with state.atomic():
            held = state.queues.receive("app:q", now=0.0, limit=2, visibility=30.0)
            claimer = threading.Thread(target=lambda: taken.extend(
                m.body for m in other.queues.receive("app:q", now=0.0, limit=5,
                                                     visibility=30.0)))
            claimer.start()
            claimer.join(60)
            assert not claimer.is_alive(), "the claim did not wait for the open transaction"
        assert [m.body for m in held] == ["1", "2"]
        assert taken == ["3"]
    finally:
        state.close()
        other.close()


def test_connections_the_server_closed_while_idle_are_replaced_unseen(pg_url: str) -> None:
    state, other = open_state(pg_url), open_state(pg_url)
    assert isinstance(state, PostgresState) and isinstance(other, PostgresState)
    try:
        state.queues.send("app:q", ["1", "2"], now=0.0)
        # a claim's connection comes from the pool of commits that need not wait for the disk
        state.queues.receive("app:q", now=0.0, limit=1, visibility=30.0)
        pooled = state.db._idle + state.db._idle_relaxed
        pids = [con.info.backend_pid for con in pooled]
        assert other.db.change("SELECT pg_terminate_backend(pid) FROM "
                               "unnest(%s::integer[]) AS pid", (pids,)) == len(pids) >= 2
        wait_for(lambda: all(select.select([con.pgconn.socket], [], [], 0)[0] for con in pooled),
                 what="the server's goodbye to reach every pooled connection's socket")
        assert [m.body for m in state.queues.listing("app:q")] == ["1", "2"]
        assert [m.body for m in state.queues.receive("app:q", now=1.0, limit=1,
                                                       visibility=30.0)] == ["2"]
    finally:
        state.close()
        other.close()


def test_a_listener_whose_connection_the_server_ended_listens_again(
        pg_url: str, wake_clock: NotifierClock) -> None:
    state, other = open_state(pg_url), open_state(pg_url)
    woken = threading.Event()
    listener = state.listener("serve-a", woken.set)
    notifier = other.notifier("worker-b")
    assert listener is not None and listener.start() and notifier is not None
    try:
        other.db.change("SELECT pg_terminate_backend(%s)", (listener._con.info.backend_pid,))
        assert woken.wait(30), "woken once listening again (what came meanwhile is looked at)"
        woken.clear()
        wake_clock.advance(RESCAN)  # the notifier's look at the listeners sees the new connection
        notifier.notify()
        assert woken.wait(30), "a notification reaches it on its new connection"
    finally:
        notifier.close()
        listener.close()
        state.close()
        other.close()


def test_a_connection_lost_mid_call_is_one_state_error_and_the_next_call_reconnects(
        pg_url: str) -> None:
    state, other = open_state(pg_url), open_state(pg_url)
    assert isinstance(state, PostgresState) and isinstance(other, PostgresState)
    try:
        state.queues.send("app:q", ["1"], now=0.0)
        caught: list[BaseException] = []

        def sleep() -> None:
            try:
                state.db.row("SELECT pg_sleep(30)")
            except BaseException as error:
                caught.append(error)

        sleeper = threading.Thread(target=sleep)
        sleeper.start()
        wait_for(lambda: bool(other.db.change(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'")),
            what="the sleeping statement to be running, then ended")
        sleeper.join(30)
        [error] = caught
        assert isinstance(error, StateError) and "lost the connection to PostgreSQL" in str(error)
        assert [m.body for m in state.queues.listing("app:q")] == ["1"]
    finally:
        state.close()
        other.close()


LOCK_HELD = 30.0  # seconds the holder keeps its lock unless the test lets go first


def test_a_lock_held_elsewhere_is_waited_for_then_one_state_error(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A send meeting a table locked elsewhere gives up after the lock timeout with one state
    error, long before the holder lets go (it would succeed then), and works once it has."""
    import psycopg

    from cauce.backends.postgres.database import Database

    monkeypatch.setattr(Database, "LOCK_TIMEOUT", 0.5, raising=False)
    state = open_state(pg_url)
    holder = psycopg.connect(pg_url.split("?")[0])
    try:
        schema = pg_url.split("schema=")[1]
        holder.execute(f'LOCK TABLE "{schema}".messages IN ACCESS EXCLUSIVE MODE')
        # without a lock timeout the send would wait until the holder lets go, and succeed
        release = threading.Timer(LOCK_HELD, holder.rollback)
        release.start()
        with pytest.raises(StateError, match="stayed locked") as caught:
            state.queues.send("app:q", ["1"], now=0.0)
        assert "pg_blocking_pids" in (caught.value.hint or "")
        holder.rollback()
        state.queues.send("app:q", ["1"], now=0.0)
        assert len(state.queues.listing("app:q")) == 1
    finally:
        release.cancel()
        holder.close()
        state.close()


def test_url_forms_name_the_same_store(pg_url: str) -> None:
    first = open_state(pg_url)
    try:
        first.queues.send("app:q", ["1"], now=0.0)
        rest = pg_url.split("://", 1)[1]
        for scheme in ("postgres", "postgresql+psycopg"):
            again = open_state(f"{scheme}://{rest}")
            try:
                assert len(again.queues.listing("app:q")) == 1
            finally:
                again.close()
    finally:
        first.close()
    with pytest.raises(ConfigError, match="not a plain name"):
        open_state(pg_url.split("?")[0] + "?schema=a;drop")
    with pytest.raises(ConfigError, match="port is not a number") as caught:
        open_state("postgresql://postgres:secret@127.0.0.1:x/test")
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("schema", ["pg_catalog", "pg_toast", "pg_x", "information_schema"])
def test_a_schema_of_postgresqls_own_is_refused_before_connecting(schema: str) -> None:
    # pg_* gave an unexpected ReservedName; information_schema took cauce's tables
    with pytest.raises(ConfigError, match=f"the state URL's schema '{schema}' is PostgreSQL's "
                       "own") as caught:
        locate(f"postgresql://postgres@127.0.0.1/test?schema={schema}")
    assert caught.value.hint == "use a schema of cauce's own (?schema=cauce)"


def test_a_call_waiting_for_a_lock_says_which_session_holds_it(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    import psycopg

    from cauce.backends.postgres.database import Database

    monkeypatch.setattr(Database, "WAIT_NOTICE", 0.3, raising=False)
    said: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    waits = logging.getLogger("cauce.state.waits")
    waits.addHandler(handler)
    state = open_state(pg_url)
    holder = psycopg.connect(pg_url.split("?")[0], application_name="the holder")
    try:
        holder_pid = holder.info.backend_pid
        schema = pg_url.split("schema=")[1]
        holder.execute(f'LOCK TABLE "{schema}".messages IN ACCESS EXCLUSIVE MODE')
        release = threading.Timer(3.0, holder.rollback)
        release.start()
        state.queues.send("app:q", ["1"], now=0.0)  # waits for the holder, then goes on
        release.join()
        # The watcher tells each waiting call once; a second line is a second call that
        # waited too (seen once, in a full suite run on a loaded machine), said the same way.
        assert said
        for line in said:
            assert line.startswith("waiting for a lock on the state at ")
            assert f"held by PostgreSQL process {holder_pid} (the holder, " in line
    finally:
        waits.removeHandler(handler)
        holder.close()
        state.close()


def test_a_statement_timeout_is_one_state_error(pg_url: str) -> None:
    import psycopg

    # The schema is created first, without the timeout: on a busy machine its creation alone
    # can outlast a short statement_timeout.
    open_state(pg_url).close()
    state = open_state(pg_url + "&options=-cstatement_timeout%3D1000")
    holder = psycopg.connect(pg_url.split("?")[0])
    try:
        state.queues.send("app:q", ["1"], now=0.0)
        schema = pg_url.split("schema=")[1]
        holder.execute(f'LOCK TABLE "{schema}".messages IN ACCESS EXCLUSIVE MODE')
        with pytest.raises(StateError, match=r"cancelled a statement on the state at .*"
                           r"statement timeout") as caught:
            state.queues.listing("app:q")
        assert "statement_timeout" in (caught.value.hint or "")
        holder.rollback()
        assert len(state.queues.listing("app:q")) == 1
    finally:
        holder.close()
        state.close()


def test_a_schema_in_upper_case_is_the_one_created(pg_url: str) -> None:
    import psycopg

    base, schema = pg_url.split("?schema=")
    upper = f"Up_{schema}"
    try:
        store = open_state(f"{base}?schema={upper}")
        try:
            store.queues.send("app:q", ["1"], now=0.0)
        finally:
            store.close()
        with psycopg.connect(base) as con:
            assert con.execute(f'SELECT count(*) FROM "{upper}".messages').fetchone()[0] == 1
    finally:
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{upper}" CASCADE')


def test_url_mistakes_are_one_line_each_never_showing_the_password(pg_url: str) -> None:
    base = pg_url.split("?")[0].replace("postgres@", "postgres:s3cret@")
    with pytest.raises(ConfigError, match="64 bytes long; PostgreSQL keeps names of up to 63"):
        open_state(f"{base}?schema={'a' * 64}")
    with pytest.raises(ConfigError, match="64 bytes long"):
        open_state(f"{base}?schema={'é' * 32}")
    with pytest.raises(StateError, match="refused the state URL's options") as caught:
        open_state(f"{base}?options=-cstatement_timeout%3Dabc")
    assert "?options=" in (caught.value.hint or "")
    with pytest.raises(StateError, match="refused the state URL's options"):
        open_state(f"{base}?options=-cno_such_setting%3D1")
    with pytest.raises(ConfigError, match='invalid URI query parameter: "nosuch"'):
        open_state(f"{base}?nosuch=1")
    with pytest.raises(StateError, match="cannot reach PostgreSQL at /no/such/folder:5432"):
        open_state("postgresql://postgres:s3cret@/test?host=/no/such/folder")
    assert "s3cret" not in str(caught.value) + str(caught.value.hint)
    with pytest.raises(ConfigError, match="invalid percent-encoded token") as refused:
        open_state(base.replace("s3cret", "s3%ZZcret"))
    assert "s3%ZZcret" not in str(refused.value) and "********" in str(refused.value)
    with pytest.raises(ConfigError, match="the state URL cannot be read: Invalid IPv6 URL"):
        open_state("postgresql://postgres:s3cret@[::1:5432/test")


def test_libpq_parameters_pass_through(pg_url: str) -> None:
    store = open_state(pg_url + "&options=-c%20synchronous_commit%3Doff"
                       "&application_name=cauce%20test")
    try:
        assert store.db.row("SHOW synchronous_commit") == ("off",)
        store.queues.send("app:q", ["1"], now=0.0)
        assert len(store.queues.listing("app:q")) == 1
    finally:
        store.close()


def test_a_step_that_is_not_automatic_waits_for_cauce_migrate(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cauce.backends.postgres import schema

    PostgresState.migrate(pg_url)
    step = schema.Migration(SCHEMA_VERSION + 1, ("CREATE TABLE later (x integer)",),
                            automatic=False)
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, step))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", step.version)
    with pytest.raises(StateError, match="applied only on purpose") as caught:
        open_state(pg_url)
    assert "cauce migrate" in (caught.value.hint or "")
    assert PostgresState.migrate(pg_url) == (SCHEMA_VERSION, step.version)
    open_state(pg_url).close()


def test_maintain_forgets_starts_whose_runs_are_recorded(pg_url: str) -> None:
    from cauce.backends.state import Start
    from cauce.runs import RunRecord, RunStatus

    store = open_state(pg_url)
    assert isinstance(store, PostgresState)
    try:
        runs = [RunRecord(id=f"s{n}", app="app", kind="handler", name="h",
                          status=RunStatus.RUNNING, worker="w") for n in range(3)]
        for n, run in enumerate(runs):
            store.runs.note_started(Start(f"lease-{n}", str(n), run.as_dict()))
        store.runs.upsert([runs[0]])
        store.maintain(0.0)
        assert store.runs.started(worker="w", lease="lease-0", head="0") is None
        assert store.runs.started(worker="w", lease="lease-1", head="1") == runs[1]
        store.runs.record_running([runs[1]])
        assert store.db.row("SELECT count(*) FROM starts") == (1,)
    finally:
        store.close()


def test_a_block_that_need_not_be_durable_does_not_wait_for_the_disk(pg_url: str) -> None:
    store = open_state(pg_url)
    assert isinstance(store, PostgresState)
    try:
        with store.atomic(durable=False):
            assert store.db.row("SHOW synchronous_commit") == ("off",)
            with store.atomic():
                assert store.db.row("SHOW synchronous_commit") == ("off",), "the outer decides"
        with store.atomic():
            assert store.db.row("SHOW synchronous_commit") == ("on",)
        assert store.db.row("SHOW synchronous_commit") == ("on",)
    finally:
        store.close()


@pytest.mark.parametrize(("said", "message", "hint"), [
    ('connection to server at "db", port 5432 failed: FATAL:  password authentication failed '
     'for user "cauce"', "refused the login of 'cauce'", "password"),
    ('connection to server at "db", port 5432 failed: timeout expired', "did not answer",
     "reachable from this machine"),
])
def test_a_refused_login_and_a_silent_server_have_their_own_hints(said: str, message: str,
                                                                   hint: str) -> None:
    from cauce.backends.postgres.database import locate, unreachable

    error = unreachable(locate("postgresql://cauce@db:5432/cauce"), Exception(said))
    assert message in error.message and hint in (error.hint or "")


@pytest.mark.parametrize(("said", "hint"), [
    ('FATAL:  role "x;id" does not exist', "createuser 'x;id'"),
    ('FATAL:  database "pro;be "x" does not exist', "createdb -h db -p 5432 'pro;be \"x'"),
    ('FATAL:  database "pro;be "x" is not currently accepting connections',
     'ALTER DATABASE "pro;be ""x" ALLOW_CONNECTIONS true'),
    ('FATAL:  permission denied for database "pro;be "x"',
     'GRANT CONNECT ON DATABASE "pro;be ""x" TO "x;id"'),
])
def test_hints_quote_the_names_they_show(said: str, hint: str) -> None:
    """A hint is a command to paste: a name with a semicolon or a quote (a database ``pro;be``,
    ``pro%3Bbe`` in the URL) is decoded as libpq decodes it and quoted, where ``createdb
    pro%3Bbe`` made another database and ``createdb pro;be`` would have run ``be`` too."""
    from cauce.backends.postgres.database import locate, unreachable

    error = unreachable(locate("postgresql://x%3Bid@db:5432/pro%3Bbe%20%22x"), Exception(said))
    assert hint in (error.hint or "")


@pytest.mark.parametrize(("said", "message", "hint"), [
    ('connection to server at "db", port 5432 failed: FATAL:  database "cauce" is not currently '
     'accepting connections', "does not take connections to 'cauce' now", "ALLOW_CONNECTIONS"),
    ('connection to server at "db", port 5432 failed: FATAL:  too many connections for database '
     '"cauce"', "takes no more connections now", "CONNECTION LIMIT"),
    ('connection to server at "db", port 5432 failed: FATAL:  sorry, too many clients already',
     "takes no more connections now", "max_connections"),
    ('connection to server at "db", port 5432 failed: FATAL:  permission denied for database '
     '"cauce"\nDETAIL:  User does not have CONNECT privilege.', "does not let 'cauce' connect",
     "GRANT CONNECT ON DATABASE cauce TO cauce"),
])
def test_a_server_refusing_connections_for_now_leaves_the_store_away(said: str, message: str,
                                                                      hint: str) -> None:
    """A database closed to connections, a connection limit reached, CONNECT revoked: the
    state is away (a serving process waits for it, saying so), not broken — these stopped
    every worker of a fleet at once."""
    from cauce.backends.postgres.database import locate, unreachable
    from cauce.errors import StateUnavailable

    error = unreachable(locate("postgresql://cauce@db:5432/cauce"), Exception(said))
    assert isinstance(error, StateUnavailable)
    assert message in error.message and hint in (error.hint or "")


def test_a_database_closed_to_connections_is_away(pg_server: str) -> None:
    import uuid

    import psycopg

    from cauce.errors import StateUnavailable

    name = f"cauce_closed_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"postgresql://postgres@{pg_server}/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} ALLOW_CONNECTIONS false")
        try:
            with pytest.raises(StateUnavailable, match=f"does not take connections to '{name}'"):
                open_state(f"postgresql://postgres@{pg_server}/{name}")
        finally:
            admin.execute(f"DROP DATABASE {name}")


def test_a_transaction_ended_by_a_deadlock_is_one_state_conflict(pg_url: str) -> None:
    """Two sessions locking the same two rows in opposite orders: PostgreSQL ends one of them
    (after deadlock_timeout), which used to escape as psycopg's own error and stop a serving
    process; it is one StateConflict line, nothing of that transaction committed, and the
    same work runs again."""
    first, second = open_state(pg_url), open_state(pg_url)
    for worker in ("w1", "w2"):
        first.workers.register(worker, app="app", pid=1, host="h", role="worker", now=0.0)
    both_hold_one = threading.Barrier(2)
    failures: list[BaseException] = []

    def beat(state: PostgresState, order: tuple[str, str], now: float) -> None:
        try:
            with state.atomic():
                state.workers.beat(order[0], now=now)
                both_hold_one.wait(timeout=10)
                state.workers.beat(order[1], now=now)
        except BaseException as error:  # the test inspects it
            failures.append(error)

    try:
        threads = [threading.Thread(target=beat, args=(first, ("w1", "w2"), 5.0)),
                   threading.Thread(target=beat, args=(second, ("w2", "w1"), 7.0))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(failures) == 1, failures
        assert isinstance(failures[0], StateConflict)
        assert "to break a deadlock with another session" in str(failures[0])
        assert "\n" not in str(failures[0])
        beats = {w.id: w.heartbeat_at for w in first.workers.listing()}
        assert len(set(beats.values())) == 1  # one transaction's two beats, not a mix
        with second.atomic():  # run again, it goes through
            second.workers.beat("w2", now=9.0)
            second.workers.beat("w1", now=9.0)
        assert {w.heartbeat_at for w in first.workers.listing()} == {9.0}
    finally:
        first.close()
        second.close()


@pytest.fixture
def pg_role(pg_url: str) -> Iterator[str]:
    """A login role of the test's own, without any right but to connect; dropped after."""
    import uuid

    import psycopg

    role = f"cauce_role_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        yield role
    finally:
        with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role} CASCADE")
            admin.execute(f"DROP ROLE {role}")


def _as(role: str, url: str) -> str:
    return url.replace("postgres@", f"{role}@", 1)


def _admin(url: str) -> str:
    """The test server's URL, as its superuser, without cauce's query parameters."""
    return url.split("?")[0]


def test_a_role_short_of_rights_is_told_which_to_grant(pg_url: str, pg_role: str) -> None:
    """Each of these escaped as psycopg's own error ("unexpected InsufficientPrivilege",
    report it); each is one StateError line naming the role, with the grant that fits."""
    import psycopg

    schema = pg_url.rsplit("schema=", 1)[1]
    with pytest.raises(StateError, match=f"refused '{pg_role}' .*permission denied for "
                       "database") as caught:  # no right to create the schema
        open_state(_as(pg_role, pg_url))
    assert f"CREATE SCHEMA {schema} AUTHORIZATION {pg_role}" in (caught.value.hint or "")
    open_state(pg_url).close()  # made by its owner
    with pytest.raises(StateError, match=f"does not let '{pg_role}' use the schema") as caught:
        PostgresState.exists(_as(pg_role, pg_url))  # said as "nothing has run there yet"
    assert f"GRANT USAGE ON SCHEMA {schema} TO {pg_role}" in (caught.value.hint or "")
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {pg_role}")
    with pytest.raises(StateError, match=f"refused '{pg_role}' .*permission denied for "
                       "table") as caught:
        open_state(_as(pg_role, pg_url)).queues.send("app:q", ["1"], now=0.0)
    assert f"ON ALL TABLES IN SCHEMA {schema} TO {pg_role}" in (caught.value.hint or "")


def test_a_schema_made_for_the_role_is_used_without_the_right_to_create_schemas(
        pg_url: str, pg_role: str) -> None:
    """An administrator's CREATE SCHEMA cauce AUTHORIZATION role: the first open ran CREATE
    SCHEMA IF NOT EXISTS, which PostgreSQL refuses to a role that may not create schemas even
    when the schema is there."""
    import psycopg

    schema = pg_url.rsplit("schema=", 1)[1]
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {pg_role}")
    store = open_state(_as(pg_role, pg_url))
    try:
        store.queues.send("app:q", ["1"], now=0.0)
        assert len(store.queues.listing("app:q")) == 1
    finally:
        store.close()


def test_a_read_only_session_and_an_empty_search_path_are_one_line_each(pg_url: str) -> None:
    open_state(pg_url).close()
    read_only = open_state(pg_url + "&options=-cdefault_transaction_read_only%3Don")
    try:
        assert read_only.queues.listing("app:q") == []  # looking is fine
        with pytest.raises(StateError, match=r"takes no writes to the state .* read-only "
                           r"transaction") as caught:
            read_only.queues.send("app:q", ["1"], now=0.0)
        assert "default_transaction_read_only = off" in (caught.value.hint or "")
    finally:
        read_only.close()
    nowhere = pg_url.split("?")[0] + "?options=-csearch_path%3Dcauce_no_such_schema"
    with pytest.raises(StateError, match="has no schema to keep cauce's tables in") as caught:
        open_state(nowhere)
    assert "?schema=" in (caught.value.hint or "")


def test_a_session_ended_for_idling_in_a_transaction_is_one_line(pg_url: str) -> None:
    import psycopg

    store = open_state(pg_url + "&options=-cidle_in_transaction_session_timeout%3D50")

    def ended(pid: int) -> bool:
        with psycopg.connect(_admin(pg_url)) as admin:
            return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                 (pid,)).fetchone()[0] == 0
    try:
        with pytest.raises(StateUnavailable, match="ended a session on the state") as caught, \
                store.atomic():
            pid = store.db.row("SELECT pg_backend_pid()")[0]
            wait_for(lambda: ended(pid), what="the server to end the idle session")
            store.queues.send("app:q", ["1"], now=0.0)
        assert "idle_in_transaction_session_timeout" in (caught.value.hint or "")
        store.queues.send("app:q", ["2"], now=0.0)  # the next call has a new connection
        assert [m.body for m in store.queues.listing("app:q")] == ["2"]
    finally:
        store.close()


@pytest.mark.parametrize("url", [
    "postgresql://cauce:p@ss@db/cauce", "postgresql://cauce:se#cret@db/cauce",
    "postgresql://cauce:se?cret@db/cauce", "postgresql://cauce:se/cret@db/cauce"])
def test_a_password_with_a_character_not_percent_encoded_is_refused_unshown(url: str) -> None:
    """libpq reads such a URL otherwise than cauce did: the first made libpq look for the
    host "ss@db", the others made "se" the port — and the messages showed those bits."""
    with pytest.raises(ConfigError, match="not percent-encoded") as caught:
        locate(url)
    assert "%40" in (caught.value.hint or "")
    assert "ss" not in caught.value.message.replace("password", "").replace("percent", "")
    assert "se" not in caught.value.message.replace("user", "")


def test_urls_libpq_reads_are_read_alike() -> None:
    from psycopg.conninfo import conninfo_to_dict

    # a + in a query value is itself for libpq (it was made a space)
    found = conninfo_to_dict(locate("postgresql://u@db/c?password=a+b%2Bc").conninfo)
    assert found["password"] == "a+b+c"
    # no host: libpq's default (a Unix socket, PGHOST); it was "not one libpq takes"
    assert conninfo_to_dict(locate("postgresql:///cauce").conninfo) == {
        "dbname": "cauce", "connect_timeout": "10"}
    assert conninfo_to_dict(locate("postgresql:///cauce?host=/tmp").conninfo) == {
        "dbname": "cauce", "host": "/tmp", "connect_timeout": "10"}


@pytest.mark.parametrize(("said", "message"), [
    ('connection to server at "db", port 5432 failed: FATAL:  database "user_roles" does not '
     'exist', "has no database 'user_roles'"),
    ('connection to server at "db", port 5432 failed: FATAL:  role "database_owner" does not '
     'exist', "has no role 'database_owner'"),
])
def test_a_missing_database_named_like_a_role_is_said_as_a_database(said: str,
                                                                     message: str) -> None:
    from cauce.backends.postgres.database import unreachable

    which = "user_roles" if "user_roles" in said else "cauce"
    user = "database_owner" if "database_owner" in said else "cauce"
    error = unreachable(locate(f"postgresql://{user}@db:5432/{which}"), Exception(said))
    assert message in error.message


@pytest.mark.parametrize(("name", "shown"), [("select", '"select"'), ("cauce", "cauce"),
                                            ("Cauce", '"Cauce"'), ("user", '"user"')])
def test_hints_quote_reserved_words(name: str, shown: str) -> None:
    from cauce.backends.postgres.database import sql_name

    assert sql_name(name) == shown


def test_a_copy_outlasts_a_short_idle_in_transaction_timeout(pg_url: str, tmp_path) -> None:
    """The copy's transactions on either side wait while the other store works: with a role's
    idle_in_transaction_session_timeout shorter than that, the server ended them and every
    copy of a large state failed. The wait here is as long as the server's clock says."""
    import psycopg

    from cauce.backends.copy import copy_state

    limited = "&options=-cidle_in_transaction_session_timeout%3D50"
    target_url = pg_url.replace("schema=", "schema=copy_")
    # the schemas made and the messages sent beforehand, without the limit: on a loaded
    # machine a pause of 50 ms between two statements of the schema's creation ended it too
    prepared = open_state(pg_url)
    prepared.queues.send("app:q", ['"a"', '"b"', '"c"'], now=1.0)
    prepared.close()
    open_state(target_url).close()
    source = open_state(pg_url + limited)
    target = open_state(target_url + limited)
    waited = False

    def idle_long(pids: list[int]) -> bool:  # or ended by the server
        with psycopg.connect(_admin(pg_url)) as admin:
            return admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND "
                "now() - state_change < interval '300 ms'", (pids,)).fetchone()[0] == 0

    def progress(kind: str, done: int) -> None:
        nonlocal waited
        if not waited:  # both transactions idle: the source's page is loaded, the next unread
            waited = True
            pids = [store.db._local.con.info.backend_pid for store in (source, target)]
            wait_for(lambda: idle_long(pids), what="both sessions to idle for 300 ms")

    try:
        try:
            assert copy_state(source, target, page=1, progress=progress)["messages"] == 3
            assert waited
        finally:
            source.close()
            target.close()
        copied = open_state(target_url)
        try:
            assert [m.body for m in copied.queues.listing("app:q")] == ['"a"', '"b"', '"c"']
        finally:
            copied.close()
    finally:
        with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {target_url.split('schema=')[1].split('&')[0]} "
                          "CASCADE")


def test_a_backup_is_refused_with_the_commands_that_make_one(pg_url: str, tmp_path) -> None:
    """`cauce state backup` only said it copies SQLite files; it says what backs this one up."""
    store = open_state(pg_url)
    try:
        with pytest.raises(ConfigError, match="is a PostgreSQL database") as caught:
            store.backup(tmp_path / "state.db")
    finally:
        store.close()
    at = store.location
    assert (f"pg_dump -h {at.host} -p {at.port} -U {at.user} -n {at.schema} -Fc -f state.dump "
            f"{at.dbname}") in (caught.value.hint or "")
    assert "cauce state copy --to sqlite:" in (caught.value.hint or "")
    assert not (tmp_path / "state.db").exists()


def test_errors_psycopg_ignored_while_cleaning_up_are_debug_lines(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A connection the server ended in the middle of a pipeline (a copy's load) is one
    StateError line; psycopg also warned, before it, of the error it ignored ending the
    pipeline — its repr and libpq's three lines, on stderr or in a serving process's log."""
    import logging

    open_state(pg_url).close()  # the driver as the state engine loads it
    caplog.set_level(logging.DEBUG)
    said = "consuming input failed: server closed the connection unexpectedly"
    logging.getLogger("psycopg").warning("error ignored terminating %r: %s", object(), said)
    logging.getLogger("psycopg").warning("unknown PostgreSQL timezone: %r; will use UTC", "X")
    assert [(r.levelname, r.getMessage()[:23]) for r in caplog.records] == [
        ("DEBUG", "error ignored terminati"), ("WARNING", "unknown PostgreSQL time")]


def test_a_dropped_table_is_not_sent_to_cauce_migrate(pg_url: str) -> None:
    """`cauce state check` advised `cauce migrate` for a state missing a table, and that said
    "up to date" and rebuilt nothing: the advice is a restore."""
    import psycopg

    assert "cauce migrate" in (PostgresState.examine(pg_url).hint or "")  # nothing there yet
    open_state(pg_url).close()
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"DROP TABLE {pg_url.rsplit('schema=', 1)[1]}.starts")
    verdict = PostgresState.examine(pg_url)
    assert verdict.problems == ["it lacks cauce's tables starts"]
    assert "pg_restore" in (verdict.hint or "")
    assert PostgresState.migrate(pg_url) == (SCHEMA_VERSION, SCHEMA_VERSION)  # as it says


def test_several_hosts_are_tried_in_turn_as_libpq_does(pg_url: str, pg_server: str) -> None:
    """libpq's form for a primary and its standbys (h1:5432,h2:5432 with
    target_session_attrs=read-write) was refused: "the state URL's port is not a number"."""
    base, schema = pg_url.split("?")
    several = base.replace(pg_server, f"127.0.0.1:1,{pg_server}") + (
        f"?{schema}&target_session_attrs=read-write")
    store = open_state(several)
    try:
        store.queues.send("app:q", ["1"], now=0.0)
    finally:
        store.close()
    assert store.location.where == f"postgresql://127.0.0.1:1,{pg_server}/test?{schema}"
    with pytest.raises(StateError, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1,127\.0"):
        open_state("postgresql://postgres@127.0.0.1:1,127.0.0.1:2/test")


@pytest.mark.parametrize(("url", "where"), [
    ("postgresql://u@[::1]/db?schema=s", "postgresql://[::1]:5432/db?schema=s"),
    ("postgresql://u@/db?host=/run/pg&schema=s", "postgresql:///db?host=/run/pg&schema=s"),
    ("postgresql://u@%2Frun%2FPG:5433/db", "postgresql:///db?host=/run/PG&port=5433"),
])
def test_where_a_url_points_is_said_as_a_url(url: str, where: str) -> None:
    """An IPv6 address was shown as postgresql://::1:5432/db, a socket's folder as
    postgresql:///run/pg:5432/db (a database named run/pg:5432/db on no host)."""
    assert locate(url).where == where


def test_the_urls_application_name_and_connect_timeout_are_kept(pg_url: str) -> None:
    """Both were replaced by cauce's own (cauce, 10 s): a fleet's machines could not be told
    apart in pg_stat_activity, and a shorter wait for an unreachable server was ignored."""
    store = open_state(pg_url + "&application_name=worker-3&connect_timeout=3")
    try:
        with store.db.connection() as con:
            assert con.info.get_parameters()["connect_timeout"] == "3"
            assert con.execute("SHOW application_name").fetchone() == ("worker-3",)
    finally:
        store.close()
    store = open_state(pg_url)
    try:
        with store.db.connection() as con:
            assert con.info.get_parameters()["connect_timeout"] == "10"
            assert con.execute("SHOW application_name").fetchone() == ("cauce",)
    finally:
        store.close()


def test_a_value_larger_than_postgresql_keeps_is_one_line(pg_url: str) -> None:
    """A table item over jsonb's 256 MB (SQLite keeps up to 1 GB) escaped as "unexpected
    ProgramLimitExceeded"; the same error for a key too long to index is tried here, which
    costs no 256 MB."""
    import secrets

    store = open_state(pg_url)
    try:
        with pytest.raises(StateError, match="cannot keep a value this large") as caught:
            store.queues.send(secrets.token_hex(2000), ['"m"'], now=0.0)
        assert "bucket" in (caught.value.hint or "")
    finally:
        store.close()


def test_a_start_mark_whose_connection_was_lost_is_written_on_a_new_one(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A serving process whose connections the server ended (pg_terminate_backend, a
    restart) failed the delivery whose start mark was on its way as "internal error:
    StateUnavailable", counting a receive against a message that never ran. The connection
    here is ended before the mark is sent, and not looked at first, as when the server ends it
    while the mark is on its way."""
    import psycopg

    from cauce.backends.postgres import database
    from cauce.backends.state import Start
    from cauce.runs import RunRecord, RunStatus

    store = open_state(pg_url)
    assert isinstance(store, PostgresState)
    try:
        pid = store.runs.marks.row("SELECT pg_backend_pid()")[0]  # the pooled mark connection
        with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
        monkeypatch.setattr(database, "_hung_up", lambda con: False)
        run = RunRecord(id="r1", app="app", kind="handler", name="h", status=RunStatus.RUNNING,
                        worker="w")
        store.runs.note_started(Start("lease", "1", run.as_dict()))
        assert store.runs.started(worker="w", lease="lease", head="1") == run
    finally:
        store.close()


def test_tables_of_another_program_under_cauces_names_are_left_alone(pg_url: str) -> None:
    """A schema (public, most often) already holding a table named logs, messages or runs:
    the first open failed with "unexpected DuplicateTable … report it"."""
    import psycopg

    schema = pg_url.rsplit("schema=", 1)[1]
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"CREATE TABLE {schema}.logs (id integer, line text)")
    with pytest.raises(StateError, match=r"beside tables of another program with the same "
                       r"names \(logs\)") as caught:
        open_state(pg_url)
    assert "?schema=cauce" in (caught.value.hint or "")
    assert not PostgresState.exists(pg_url), "nothing of cauce's was made"


def test_a_database_not_in_utf8_is_refused_with_how_to_make_one(pg_server: str) -> None:
    """In a LATIN1 database the first text of another script failed as "unexpected
    UnicodeEncodeError"; in SQL_ASCII every text came back as bytes ("b'succeeded' is not a
    valid RunStatus")."""
    import uuid

    import psycopg

    name = f"cauce_latin1_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"postgresql://postgres@{pg_server}/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                      "TEMPLATE template0")
        try:
            with pytest.raises(StateError, match=f"the database '{name}' .* keeps its text in "
                               "LATIN1; cauce's state needs UTF8") as caught:
                open_state(f"postgresql://postgres@{pg_server}/{name}")
            assert "createdb -E UTF8 -T template0" in (caught.value.hint or "")
        finally:
            admin.execute(f"DROP DATABASE {name}")


@pytest.mark.parametrize(("url", "user", "dbname", "at"), [
    ("postgresql://db/cauce?user=bob", "bob", "cauce", "db:5432"),
    ("postgresql://ann@db/x?user=bob&dbname=cauce", "bob", "cauce", "db:5432"),
    ("postgresql://ann@db/cauce?port=6543", "ann", "cauce", "db:6543"),
    ("postgresql://ann@h1,h2/cauce?port=7", "ann", "cauce", "h1:7,h2:7"),
])
def test_libpqs_query_parameters_name_the_role_and_database_said(url: str, user: str,
                                                                   dbname: str, at: str) -> None:
    """libpq takes ?user=, ?dbname= and ?port= over the URL's parts; messages and hints named
    the parts instead (or this machine's login): "has no role 'root'", createuser root."""
    location = locate(url)
    assert (location.user, location.dbname, location.at) == (user, dbname, at)


def test_processes_migrating_together_at_a_stricter_isolation_migrate_once(pg_url: str) -> None:
    """With default_transaction_isolation serializable (here the URL's; a role's or the
    database's is overridden), a process that waited for another's migration read the version
    of before its wait and ran it again: "unexpected DuplicateTable: cauce_schema"."""
    import psycopg

    url = pg_url + "&options=-cdefault_transaction_isolation%3Dserializable"
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            open_state(url).close()
        except BaseException as error:  # the test inspects it
            errors.append(error)

    key = locate(pg_url).lock_key

    def waiting() -> int:  # for this schema's lock (a bigint key is two 32-bit halves)
        with psycopg.connect(_admin(pg_url)) as look:
            return look.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()[0]

    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (key,))
        threads = [threading.Thread(target=open_one) for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_for(lambda: waiting() == 2, what="both to wait for the migration lock")
        admin.execute("SELECT pg_advisory_unlock(%s)", (key,))
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []


def test_cauces_sessions_run_at_read_committed_whatever_the_role_says(
        pg_url: str, pg_role: str) -> None:
    import psycopg

    schema = pg_url.rsplit("schema=", 1)[1]
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {pg_role}")
        admin.execute(f"ALTER ROLE {pg_role} SET default_transaction_isolation = 'serializable'")
    store = open_state(_as(pg_role, pg_url))
    try:
        with store.atomic():
            assert store.db.row("SHOW transaction_isolation") == ("read committed",)
    finally:
        store.close()


def test_times_come_back_whole_whatever_extra_float_digits_the_role_has(
        pg_url: str, pg_role: str) -> None:
    """A role with extra_float_digits 0 had PostgreSQL round every double to 15 digits: epoch
    times came back 10 µs off (a copy moved every time it held)."""
    import psycopg

    schema = pg_url.rsplit("schema=", 1)[1]
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {pg_role}")
        admin.execute(f"ALTER ROLE {pg_role} SET extra_float_digits = 0")
    store = open_state(_as(pg_role, pg_url))
    try:
        store.queues.send("app:q", ['"m"'], now=1765136000.123456)
        assert store.queues.listing("app:q")[0].sent_at == 1765136000.123456
    finally:
        store.close()


def test_pgoptions_apply_unless_the_url_gives_options(pg_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """cauce's own options (lock_timeout, search_path) replaced PGOPTIONS, which libpq's
    environment otherwise gives every session."""
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=7MB")
    for url, work_mem in ((pg_url, "7MB"), (pg_url + "&options=-cwork_mem%3D9MB", "9MB")):
        store = open_state(url)
        try:
            assert store.db.row("SHOW work_mem") == (work_mem,)
        finally:
            store.close()


def test_an_upgrade_by_a_role_that_does_not_own_the_tables_names_who_must(
        pg_url: str, pg_role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from cauce.backends.postgres import schema

    PostgresState.migrate(pg_url)  # made by the administrator
    name = pg_url.rsplit("schema=", 1)[1]
    with psycopg.connect(_admin(pg_url), autocommit=True) as admin:
        admin.execute(f"GRANT USAGE ON SCHEMA {name} TO {pg_role}")
        admin.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {name} "
                      f"TO {pg_role}")
    step = schema.Migration(SCHEMA_VERSION + 1, ("ALTER TABLE messages ADD COLUMN later int",))
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, step))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", step.version)
    with pytest.raises(StateError, match=f"refused '{pg_role}' .*must be owner of table "
                       "messages") as caught:
        open_state(_as(pg_role, pg_url))
    assert "`cauce migrate` as the role that owns cauce's tables" in (caught.value.hint or "")


@pytest.mark.parametrize(("said", "message", "hint"), [
    ('connection to server at "db", port 5432 failed: server does not support SSL, but SSL was '
     'required', "disagree on SSL", "sslmode"),
    ('connection to server at "db", port 5432 failed: root certificate file "/x" does not exist',
     "disagree on SSL", "sslrootcert"),
    ('connection to server at "db", port 5432 failed: server is not in hot standby mode',
     "is of the kind the state URL asks for", "target_session_attrs"),
    ('connection to server at "db", port 5432 failed: session is read-only',
     "is of the kind the state URL asks for", "target_session_attrs"),
])
def test_ssl_and_target_session_attrs_have_their_own_hints(said: str, message: str,
                                                           hint: str) -> None:
    """Both ended in "check the state URL and that the server accepts connections"."""
    from cauce.backends.postgres.database import unreachable

    error = unreachable(locate("postgresql://cauce@db:5432/cauce"), Exception(said))
    assert message in error.message and hint in (error.hint or "")


@pytest.mark.parametrize(("query", "hint"), [
    ("sslmode=Require", "sslmode takes one of: disable, allow, prefer, require, verify-ca, "
     "verify-full"),
    ("target_session_attrs=primary_only", "target_session_attrs takes one of: any, read-write"),
])
def test_a_value_libpq_does_not_take_is_a_mistake_in_the_url(query: str, hint: str) -> None:
    """`?sslmode=Require` was said as a disagreement with the server on SSL (`connection is
    bad: invalid sslmode value`), with the hint to compare the URL with what the server offers;
    libpq refuses it before it connects, so no server is needed here."""
    with pytest.raises(ConfigError, match=f"the state URL's {query.split('=')[0]} is not a "
                       f"value libpq takes: '{query.split('=')[1]}'") as caught:
        open_state(f"postgresql://cauce@127.0.0.1:1/cauce?{query}")
    assert hint in (caught.value.hint or "")
