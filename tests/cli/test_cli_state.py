"""`cauce state check` and `cauce state backup`, and every command on a damaged state file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cauce.backends.sqlite.schema import SCHEMA_VERSION


@pytest.fixture
def home(cli, tmp_path: Path) -> Path:
    """A home with three messages waiting in the example app's queue."""
    home = tmp_path / ".cauce"
    for n in range(3):
        assert cli("send", "example", "work", f'{{"key": "in/{n}.csv"}}').status == 0
    return home


@pytest.mark.parametrize("command", [("serve", "example", "--for", "1s"), ("runs",),
                                     ("send", "example", "work", "{}"), ("logs",),
                                     ("queues", "example"), ("dlq", "list", "example", "work"),
                                     ("run", "example", "seed")])
def test_every_command_stops_on_an_empty_state_file(cli, home: Path, command) -> None:
    (home / "state.db").write_bytes(b"")
    result = cli(*command)
    assert result.status == 1
    lines = result.err.strip().splitlines()
    assert lines[0] == (f"error: the state database {home / 'state.db'} is empty (0 bytes): "
                        "it was truncated or damaged")
    assert lines[1].startswith("hint: restore state.db from a backup")
    assert "Traceback" not in result.err
    assert (home / "state.db").stat().st_size == 0


def test_check_says_a_sound_file_is_sound(cli, home: Path) -> None:
    result = cli("state", "check")
    assert result.status == 0, result.err
    assert f"{home / 'state.db'}: sound" in result.out
    assert "3 message(s)" in result.out


def test_check_finds_a_damaged_page(cli, home: Path, damage_messages) -> None:
    damage_messages(home / "state.db")
    result = cli("state", "check")
    assert result.status == 1
    assert f"{home / 'state.db'}: damaged" in result.out
    assert "integrity check" in result.out
    assert "hint: restore state.db from a backup" in result.err


def test_check_of_a_file_a_newer_cauce_wrote(cli, home: Path) -> None:
    """Not damage: the advice is to upgrade, never to restore or move aside the file (which
    would lose the work in it)."""
    with sqlite3.connect(home / "state.db") as con:
        con.execute("PRAGMA user_version = 99")
    result = cli("state", "check")
    assert result.status == 1
    assert result.out.splitlines() == [
        f"{home / 'state.db'}: written by a newer cauce",
        f"  its schema version 99 is newer than this cauce's ({SCHEMA_VERSION}): upgrade cauce"]
    assert result.err.splitlines() == [
        "hint: upgrade cauce on this machine to the version that wrote it; the state is not "
        "damaged, so keep it as it is"]


def test_check_of_an_empty_file(cli, home: Path) -> None:
    (home / "state.db").write_bytes(b"")
    result = cli("state", "check")
    assert result.status == 1
    assert "is empty (0 bytes)" in result.out


def test_check_of_a_home_where_nothing_ran(cli, tmp_path: Path) -> None:
    result = cli("state", "check", "--home", str(tmp_path / "nothing"))
    assert result.status == 1
    assert "no cauce home at" in result.err


def test_backup_is_a_sound_copy_that_restores(cli, home: Path, tmp_path: Path) -> None:
    copy = tmp_path / "saved" / "state.db"
    result = cli("state", "backup", str(copy))
    assert result.status == 0, result.err
    assert f"backed up {home / 'state.db'} to {copy}" in result.out
    assert cli("state", "backup", str(copy)).status == 1, "an existing file is not overwritten"
    (home / "state.db").write_bytes(b"")
    for leftover in home.glob("state.db-*"):
        leftover.unlink()
    copy.replace(home / "state.db")
    assert cli("state", "check").status == 0
    listing = cli("queues", "example", "--json")
    assert listing.status == 0, listing.err
    assert {row["queue"]: row["visible"] for row in listing.json()}["work"] == 3


def test_a_backup_over_a_broken_link_is_refused_as_over_a_file(cli, home: Path,
                                                               tmp_path: Path) -> None:
    # the copy replaced the link: it did not exist, said Path.exists()
    (tmp_path / "loop.db").symlink_to("loop.db")
    (tmp_path / "latest.db").symlink_to("gone.db")
    for link in ("loop.db", "latest.db"):
        result = cli("state", "backup", str(tmp_path / link))
        assert result.err.splitlines()[0] == f"error: {tmp_path / link} already exists"
        assert (tmp_path / link).is_symlink()


def test_a_home_or_state_file_that_is_a_loop_of_links_is_one_line(cli, tmp_path: Path) -> None:
    # each was "unexpected RuntimeError: Symlink loop from ..." (Path.resolve before Python
    # 3.13), or an unexpected OSError where the state file was first opened
    (tmp_path / "home").symlink_to("home")
    (tmp_path / "state.db").symlink_to("state.db")
    for args in (("runs",), ("run", "example", "heartbeat")):
        result = cli("--home", str(tmp_path / "home"), *args)
        assert (result.status, result.err.splitlines()[0]) == (
            1, f"error: cannot reach the cauce home {tmp_path / 'home'}: Too many levels of "
            "symbolic links")
    result = cli("--state", f"sqlite:///{tmp_path / 'state.db'}", "run", "example", "heartbeat")
    assert result.err.splitlines() == [
        f"error: the state database {tmp_path / 'state.db'} is a link that leads back to itself "
        "(a loop of symbolic links)",
        "hint: give --state (or CAUCE_STATE) a file, or the link a target"]


def test_a_backup_file_named_like_an_option_is_told_how_to_be_named(cli, home: Path) -> None:
    # "No such option: -x", and the help, which says nothing of it
    result = cli("state", "backup", "-x.db")
    assert (result.status, result.err.splitlines()) == (2, [
        "error: No such option: -x",
        "hint: if -x.db is a file's name, write ./-x.db, or put -- before it"])


def test_a_backup_and_a_log_file_named_with_a_tilde_go_under_the_home_folder(
        cli, home: Path, tmp_path: Path, monkeypatch) -> None:
    # "~/saved.db" between quotes made a folder named ~ in the working folder
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    (tmp_path / "user").mkdir()
    assert cli("run", "example", "heartbeat").status == 0  # a line in the general stream
    assert cli("state", "backup", "~/saved.db").status == 0
    assert cli("logs", "general", "--app", "example", "-o", "~/general.log").status == 0
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == ["general.log", "saved.db"]
    assert not Path("~").exists()


def test_a_copy_into_a_folder_names_the_folder_not_the_home(cli, home: Path,
                                                            tmp_path: Path) -> None:
    """The store that cannot be opened is the copy's: the hint sent users to --home."""
    (tmp_path / "target.db").mkdir()
    result = cli("state", "copy", "--to", f"sqlite:///{tmp_path / 'target.db'}")
    assert result.status == 1
    assert result.err.splitlines()[1] == (
        f"hint: check that {tmp_path} exists and is writable and that target.db in it is a "
        "file, not a folder (the state is the home's state.db unless --state or CAUCE_STATE "
        "names another)")


def test_a_backup_into_nothing_or_a_folder_is_a_usage_error(cli, home: Path,
                                                            tmp_path: Path) -> None:
    empty = cli("state", "backup", "")
    assert (empty.status, empty.err.splitlines()[0]) == (
        2, "error: Invalid value for 'FILE': it is empty; name the new file to write the copy "
        "to")
    folder = cli("state", "backup", str(tmp_path))
    assert (folder.status, folder.err.splitlines()[0]) == (
        2, f"error: Invalid value for 'FILE': {tmp_path} is a folder; name a new file in it, "
        f"e.g. {tmp_path / 'state-backup.db'}")


def test_a_backup_to_standard_output_is_a_usage_error(cli, home: Path, tmp_path: Path) -> None:
    """`-` is no file named `-` in the working folder: a SQLite copy is a file, not a stream."""
    result = cli("state", "backup", "-")
    assert (result.status, result.err.splitlines()[0]) == (
        2, "error: Invalid value for 'FILE': the copy is a SQLite database file and cannot go "
        "to standard output; name a new file, e.g. state-backup.db, and compress or send that "
        "file")
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("refusal", [
    sqlite3.OperationalError("unable to open database file"),  # a read-only folder
    sqlite3.OperationalError("database or disk is full"),
])
def test_a_backup_that_cannot_be_written_blames_the_backup_and_leaves_nothing(
        cli, home: Path, tmp_path: Path, monkeypatch, refusal: Exception) -> None:
    from cauce.backends.sqlite import database

    connect = sqlite3.connect

    def refuse_the_copy(path, *args, **kwargs):
        if str(path).endswith(".partial"):
            raise refusal
        return connect(path, *args, **kwargs)

    monkeypatch.setattr(database.sqlite3, "connect", refuse_the_copy)
    copy = tmp_path / "saved" / "state.db"
    result = cli("state", "backup", str(copy))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: cannot write the backup {copy}: {refusal}",
        "hint: name a file in a folder you can write to, on a disk with room for a copy of the "
        "state"]
    assert list(copy.parent.iterdir()) == []
