"""Driver errors turned into one-line WarehouseErrors at the backend seam.

Every public method of a backend runs its driver calls inside :func:`translated`, so callers
only ever see :class:`~cauce.errors.WarehouseError` (chained with ``from`` to the driver's
exception), never a ``sqlite3``, ``duckdb``, ``psycopg`` or SQLAlchemy one.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cauce import causes
from cauce.errors import WarehouseError

_HINTS = (
    (
        r"surrogate",
        "a text value holds a lone surrogate (what os.fsdecode or surrogateescape make of "
        "bytes that are not UTF-8), which no database stores: repair it, e.g. "
        "text.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace'), or load the bytes",
    ),
    (
        r"disk is full|no space left|disk quota|read-only file system|readonly database"
        r"|attempt to write a readonly|cannot open file|unable to open database|failed to open"
        r"|disk i/o error|file too large",
        "the database file or its folder cannot be written (a full disk, a file size limit "
        "(ulimit -f), a read-only or forbidden folder): free some space, or point the URL at "
        "another folder",
    ),
    (
        # a driver's library that cannot be mapped, a buffer that cannot be had: the memory
        # this process may use, not the SQL (named with its limit when it is read); after the
        # disk's, as ADBC's SQLite says 'failed to open ...: failed to allocate memory' of a
        # read-only folder
        r"failed to map segment|cannot allocate memory|out of memory|memory allocation"
        r"|std::bad_alloc|failed to allocate",
        lambda: str(causes.memory()),
    ),
    (
        r"role .* does not exist|password authentication failed|authentication failed"
        r"|access denied for user",
        "the database server refused that user: check the user (and password) in the URL, "
        "or create the role on the server",
    ),
    (
        r"database .* does not exist|unknown database",
        "the server has no such database: create it, or name an existing one in the URL",
    ),
    (
        r"connection refused|could not connect|no route to host|name or service not known",
        "nothing answers at that host and port: check the database server is running and the "
        "URL's host and port",
    ),
    (
        r"too many columns|can have at most \d+ columns",
        "the table has more columns than the database allows (SQLite 2000, PostgreSQL 1600): "
        "split the data into tables sharing a key, pack rarely used columns into one JSON "
        "text column, or use DuckDB",
    ),
    (
        r"no such column|has no column|unknown column|column .*(not found|does not exist)",
        "check the column names (backend.columns(table) lists them)",
    ),
    (
        r"no such table|does not exist|not found|unknown table|doesn't exist",
        "check the name; load() creates a missing table from the data, execute() does not",
    ),
    (
        r"syntax error|parser error|near \"",
        "check the SQL near the quoted token; placeholders are ? with a list, :name with a dict",
    ),
    (
        r"unique|duplicate key|primary key|constraint|not null|foreign key",
        "a constraint failed: check keys, UNIQUE and NOT NULL columns",
    ),
    (
        r"locked|lock timeout|could not obtain lock|canceling statement due to lock",
        "another writer held the lock too long; retry, or raise lock_timeout in connect()",
    ),
    (
        r"connection|could not connect|server closed|timeout expired|password",
        "check that the database server is running and the URL (host, port, user, database)",
    ),
    (
        r"binding|bindings|parameter|placeholder",
        "give one value per ? (as a list) or a dict with every :name",
    ),
    (
        # psycopg reading a PostgreSQL date or timestamp Python has no year for
        r"too large \(after year 10k\)|too small \(before year 1\)",
        "a date or timestamp lies beyond Python's years 1 to 9999 (PostgreSQL's 'infinity' "
        "included): CAST it to text in the query, or keep a finite bound such as 9999-12-31",
    ),
    (
        r"convert|invalid input syntax|conversion|could not cast|mismatch|out of range"
        r"|value too long",
        "a value does not fit its column's type; cast it or change the column",
    ),
)

DEFAULT_HINT = "check the SQL and the table and column names"


def hint_for(message: str) -> str:
    """A hint for a driver's error message, by the words it uses."""
    lowered = message.lower()
    for pattern, hint in _HINTS:
        if re.search(pattern, lowered):
            return hint() if callable(hint) else hint
    return DEFAULT_HINT


def one_line(text: str) -> str:
    """The first non-empty line of a driver message, without driver noise."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return "no message"


def ctrl_c_taken(error: BaseException) -> bool:
    """Whether a driver error is ADBC's failed attempt to cancel its call at a Ctrl-C: ADBC
    takes SIGINT for itself during a call, to cancel the statement, and a driver that cannot
    cancel (SQLite) raises that instead once the statement has run its course."""
    return isinstance(error.__cause__, KeyboardInterrupt)


def hand_back_ctrl_c() -> None:
    """Give the Ctrl-C that ADBC took to Python's handler: it was the user's, so the run stops
    as interrupted, not failed."""
    signal.raise_signal(signal.SIGINT)


@contextmanager
def translated(
    what: str,
    where: str,
    driver_errors: tuple[type[BaseException], ...],
    reason: Callable[[BaseException], str] = one_line,
) -> Iterator[None]:
    """Re-raise ``driver_errors`` as ``WarehouseError("<what> failed on <where>: ...")``.

    UnicodeEncodeError is taken too: text with a lone surrogate has no UTF-8 form, and Arrow
    and the drivers raise it when they encode the caller's values.
    """
    try:
        yield
    except WarehouseError:
        raise
    except (*driver_errors, UnicodeEncodeError) as error:
        if ctrl_c_taken(error):
            hand_back_ctrl_c()
        text = reason(error)
        raise WarehouseError(f"{what} failed on {where}: {text}", hint=hint_for(text)) from error
