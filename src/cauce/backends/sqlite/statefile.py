"""The state file itself: created whole, checked when opened, its damage named, never replaced.

A new state file is built under a temporary name (schema, version, WAL mode) and linked into
place, so a file at the state path is always a complete one: an empty or unreadable file there
is damage — a truncation, a bad copy, a failing disk — and every command stops on it with one
line saying so, instead of starting a fresh state in which queued work would silently vanish.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ... import causes
from ...errors import StateError
from ...textfiles import file_problem
from ..state import Verdict

MAGIC = b"SQLite format 3\x00"


def recovery_hint(path: Path) -> str:
    return (f"restore {path.name} from a backup (`cauce state backup`), or move it aside to "
            "start an empty state (the work queued in it is then lost); "
            "`cauce state check` examines the file")


def damaged(path: Path, problem: str) -> StateError:
    return StateError(f"the state database {path} {problem}", hint=recovery_hint(path))


def translate(path: Path, error: sqlite3.Error) -> StateError | None:
    """The StateError for a SQLite error that says the file or its disk is unusable (None for
    errors of cauce's own making, which are bugs and keep their traceback)."""
    text = str(error)
    if type(error) is sqlite3.DatabaseError:  # SQLITE_CORRUPT, SQLITE_NOTADB
        return damaged(path, f"is damaged ({text})")
    if isinstance(error, sqlite3.OperationalError):
        if "disk is full" in text:
            return StateError(f"cannot write the state database {path}: the disk is full",
                              hint="free some space on its disk, then start again")
        if "unable to open database file" in text and causes.out_of_descriptors():
            cause = causes.open_files()
            return StateError(f"cannot open the state database {path}: {cause.reason}",
                              hint=cause.hint)
        if "readonly database" in text:  # the file, or its folder (no -wal or -shm made there)
            return StateError(f"cannot write the state database {path}: it or its folder "
                              f"{path.parent} is read-only for this user",
                              hint=f"give write permission back (chmod u+w {path} "
                              f"{path.parent}), or run cauce as the user who owns them; a "
                              "disk mounted read-only must be mounted read-write")
        if "disk I/O error" in text:
            return StateError(f"cannot read or write the state database {path}: {text}",
                              hint="the disk is full (SQLite says so when it cannot grow "
                              "the files beside the state), or it failed: check its free space "
                              "and the disk, then `cauce state check`")
    return None


def check_header(path: Path) -> None:
    """Refuse a file at ``path`` that cannot be a state database (empty, or not SQLite)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC))
    except (IsADirectoryError, PermissionError):
        return  # opening it will fail with its own, fitting message
    except OSError as err:  # a loop of links: an unexpected error where it was first opened
        if err.errno in (errno.EMFILE, errno.ENFILE):
            cause = causes.by_errno(err.errno)
            raise StateError(f"cannot open the state database {path}: {cause.reason}",
                             hint=cause.hint) from None
        problem = file_problem(path) or f"cannot be opened ({err.strerror or err})"
        raise StateError(f"the state database {path} {problem}",
                         hint="give --state (or CAUCE_STATE) a file, or the link a target"
                         ) from None
    if not head:
        raise damaged(path, "is empty (0 bytes): it was truncated or damaged")
    if head != MAGIC:
        raise damaged(path, "is not a SQLite database: it was overwritten or damaged")


def create(path: Path, schema: str, version: int) -> None:
    """Build a complete state file at ``path`` unless one appears there first (another process
    creating the same home): built under a temporary name, then linked into place. A folder
    that cannot take it (read-only, full) is a StateError saying so."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        try:
            _build(tmp, schema, version)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first: use theirs
            except OSError:  # a file system without hard links
                if not path.exists():
                    os.replace(tmp, path)
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"),
                             tmp.with_name(tmp.name + "-shm")):
                with contextlib.suppress(OSError):  # not there, or a read-only folder
                    leftover.unlink()
    except sqlite3.Error as error:
        raise translate(path, error) or cannot_create(path, str(error)) from error
    except OSError as error:
        raise cannot_create(path, error.strerror or str(error)) from error


def _build(tmp: Path, schema: str, version: int) -> None:
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        con.executescript(schema)
        con.execute(f"PRAGMA user_version = {version}")
        con.execute("PRAGMA journal_mode = WAL")
    finally:
        con.close()


def cannot_create(path: Path, reason: str) -> StateError:
    return StateError(f"cannot create the state database {path}: {reason}",
                      hint="check that the cauce home folder is writable and its disk has room "
                      "(--home, CAUCE_HOME)")


def holds_nothing(path: Path) -> bool:
    """Whether a state file holds no row in any table: opened, never written to. False when it
    cannot be read (nothing is concluded from a file that may be damaged or busy)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        tables = [row[0] for row in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return not any(con.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]
                       for table in tables)
    except sqlite3.Error:
        return False
    finally:
        con.close()


def examine(path: Path, tables: Iterable[str], version: int) -> Verdict:
    """A full check of a state file, never creating or changing it: header, SQLite's integrity
    check, cauce's tables, schema version."""
    verdict = Verdict(str(path), hint=recovery_hint(path))
    try:
        check_header(path)
    except StateError as error:
        verdict.problems.append(error.message)
        return verdict
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as error:
        verdict.problems.append(f"cannot open it: {error}")
        return verdict
    try:
        try:
            found = [row[0] for row in con.execute("PRAGMA integrity_check(20)")]
        except sqlite3.OperationalError as error:
            # not damage: a folder it cannot write beside the file (WAL mode writes there even
            # to read), a lock held too long, a failing disk
            raise translate(path, error) or StateError(
                f"cannot read the state database {path}: {error}",
                hint="check that the file and its folder can be read and written (SQLite writes "
                "beside the file even to read it), then `cauce state check` again") from error
        except sqlite3.DatabaseError as error:
            found = [str(error)]
        if found != ["ok"]:
            verdict.problems += [f"integrity check: {line}" for line in found]
            return verdict
        present = {row[0] for row in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in tables if t not in present]
        if missing:
            verdict.problems.append("it lacks cauce's tables " + ", ".join(missing)
                                    + ": it is not a cauce state database")
        verdict.version = con.execute("PRAGMA user_version").fetchone()[0]
        if verdict.version > version:
            verdict.newer_than(version)
        if verdict.sound:
            for table in ("messages", "runs", "items", "logs"):
                verdict.counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error as error:
        verdict.problems.append(f"is damaged ({error})")
    finally:
        con.close()
    return verdict
