"""The state database file: created whole, never taken for new when it is damaged."""

from __future__ import annotations

import errno
import re
import sqlite3
from pathlib import Path

import pytest

from cauce import App, Runtime, StateError
from cauce.backends.sqlite import statefile


def _app() -> App:
    app = App("files")
    app.queue("work")
    return app


def _home_with_work(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    app = _app()
    with Runtime(app, home=home):
        app.resources["work"].send_batch([{"n": n} for n in range(3)])
    return home


def test_a_new_home_gets_a_complete_state_file(tmp_path: Path) -> None:
    home = _home_with_work(tmp_path)
    con = sqlite3.connect(home / "state.db")
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 3
    assert not [p.name for p in home.iterdir() if p.name.startswith(".state.db")], \
        "no temporary file of the creation is left behind"


def test_holds_nothing_only_for_a_state_never_written_to(tmp_path: Path) -> None:
    from cauce.backends.state import engine, sqlite_url

    empty = tmp_path / "empty"
    with Runtime(_app(), home=empty) as rt:  # opened and closed, never written to
        assert rt.state is not None
    url = sqlite_url(empty / "state.db")
    assert engine(url).holds_nothing(url)
    used = sqlite_url(_home_with_work(tmp_path) / "state.db")
    assert not engine(used).holds_nothing(used)
    (tmp_path / "garbage.db").write_bytes(b"not a database at all" * 100)
    for path in (tmp_path / "garbage.db", tmp_path / "missing.db"):
        assert not statefile.holds_nothing(path), "nothing is concluded from what cannot be read"


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.write_bytes(b"queued work was here\n" * 100), "is not a SQLite database"),
        (lambda p: p.write_bytes(p.read_bytes()[:1024]), "is damaged"),
    ],
    ids=["zero-length", "not-sqlite", "truncated"],
)
def test_a_damaged_state_file_stops_the_runtime_and_is_left_as_it_is(
        tmp_path: Path, damage, problem: str) -> None:
    home = _home_with_work(tmp_path)
    state = home / "state.db"
    damage(state)
    before = state.read_bytes()
    with pytest.raises(StateError, match=re.escape(problem)) as info:
        Runtime(_app(), home=home).open()
    assert str(state) in info.value.message
    assert "backup" in (info.value.hint or "") and "cauce state check" in (info.value.hint or "")
    assert "writable" not in (info.value.hint or "")
    assert state.read_bytes() == before, "the damaged file is not replaced by a new one"


def test_a_sqlite_file_of_another_program_is_not_taken_for_state(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    other = sqlite3.connect(home / "state.db")
    other.execute("CREATE TABLE invoices (id INTEGER)")
    other.commit()
    other.close()
    with pytest.raises(StateError, match="is not a cauce state database"):
        Runtime(_app(), home=home).open()


def test_damage_found_while_working_is_a_state_error(tmp_path: Path, damage_messages) -> None:
    home = _home_with_work(tmp_path)
    damage_messages(home / "state.db")
    app = _app()
    with Runtime(app, home=home), pytest.raises(StateError, match="is damaged") as info:
        app.resources["work"].receive(max=10)
    assert "cauce state check" in (info.value.hint or "")


def test_an_unreadable_home_keeps_its_own_hint(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.db").mkdir()  # a folder where the file should be
    with pytest.raises(StateError, match="cannot open the state database") as info:
        Runtime(_app(), home=home).open()
    assert "writable" in (info.value.hint or "")


def _read_only_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a read-only file system does, whoever runs the test (root writes anywhere else):
    SQLite cannot open a new file, and removing even a missing file fails with EROFS."""
    def refuse_open(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    def refuse_unlink(self, missing_ok=False):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(statefile.sqlite3, "connect", refuse_open)
    monkeypatch.setattr(Path, "unlink", refuse_unlink)


def test_a_home_that_cannot_take_a_state_file_is_one_state_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    _read_only_folder(monkeypatch)
    with pytest.raises(StateError) as info:
        Runtime(_app(), home=home).open()
    assert info.value.message == (f"cannot create the state database {home / 'state.db'}: "
                                  "unable to open database file")
    assert "writable" in (info.value.hint or "") and "room" in (info.value.hint or "")


def test_a_full_disk_while_creating_the_state_file_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statefile.os, "link", full)
    monkeypatch.setattr(statefile.os, "replace", full)
    with pytest.raises(StateError, match=r"cannot create the state database .*: No space left"):
        Runtime(_app(), home=tmp_path / "home").open()
    assert not (tmp_path / "home" / "state.db").exists()


def test_a_state_file_that_cannot_be_read_is_not_called_damaged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite cannot read a WAL file in a folder it cannot write (a read-only file system):
    `cauce state check` says so, rather than calling the file damaged and suggesting a restore."""
    from cauce.backends.state import engine, sqlite_url

    home = _home_with_work(tmp_path)
    url = sqlite_url(home / "state.db")
    connect = sqlite3.connect

    class Unreadable(sqlite3.Connection):
        def execute(self, *args, **kwargs):
            raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(statefile.sqlite3, "connect",
                        lambda *args, **kwargs: connect(*args, factory=Unreadable, **kwargs))
    with pytest.raises(StateError, match="cannot read the state database") as info:
        engine(url).examine(url)
    assert "backup" not in (info.value.hint or "")
    assert "read and written" in (info.value.hint or "")


def test_an_io_error_hints_at_a_full_disk_first(tmp_path: Path) -> None:
    """SQLite says "disk I/O error", not "disk is full", when a full disk stops its WAL index."""
    error = statefile.translate(tmp_path / "state.db", sqlite3.OperationalError("disk I/O error"))
    assert error is not None and "disk is full" in (error.hint or "")


def test_a_state_file_removed_while_running_is_not_made_anew_empty(tmp_path: Path) -> None:
    """A thread that connects after the state file was removed or renamed gets one StateError
    saying so; it used to make an empty file without cauce's tables in its place ("no such
    table: runs" in every later reader, and a bare SQLite file where the state was)."""
    import threading

    from cauce.backends.sqlite.database import StateDB

    path = tmp_path / "state.db"
    db = StateDB(path)
    try:
        path.rename(tmp_path / "state.db.moved")
        errors: list[BaseException] = []

        def connect() -> None:
            try:
                db.connection()
            except BaseException as err:  # handed to the test's thread
                errors.append(err)

        thread = threading.Thread(target=connect)
        thread.start()
        thread.join(30)
        (err,) = errors
        assert isinstance(err, StateError)
        assert err.message == (f"the state database {path} is gone: it was removed or renamed "
                               "while this process was running")
        assert not path.exists()
    finally:
        db.close()


def test_a_state_file_made_read_only_while_running_is_one_state_error(tmp_path: Path) -> None:
    """A write to a state that became read-only under the process (a chmod, a disk remounted
    read-only) escaped as sqlite3's "attempt to write a readonly database" (a 500 page in the
    UI); it is one StateError naming the file, and reads go on."""
    from cauce.backends.sqlite.database import StateDB
    from cauce.backends.sqlite.queues import SQLiteQueues

    path = tmp_path / "state.db"
    db = StateDB(path)
    try:
        # what SQLite answers a write to a file it may not write (the tests run as root,
        # whom a chmod does not stop)
        db.connection().execute("PRAGMA query_only = ON")
        with pytest.raises(StateError) as refused:
            SQLiteQueues(db).send("app:q", ["{}"], now=0.0)
        assert refused.value.message == (f"cannot write the state database {path}: it or "
                                         f"its folder {tmp_path} is read-only for this user")
        assert "write permission" in (refused.value.hint or "")
        assert SQLiteQueues(db).listing("app:q") == []
    finally:
        db.close()
