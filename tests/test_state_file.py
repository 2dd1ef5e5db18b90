"""The state database file: created whole, never taken for new when it is damaged."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from cauce import App, Runtime, StateError


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
