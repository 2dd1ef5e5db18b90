"""A PostgreSQL database for cauce's state: where the URL points, connections, transactions and
savepoints, and PostgreSQL's errors said in one line.

Connections come from a small pool: a call outside `atomic` borrows one for its statement (run
in autocommit mode, so one statement is one round trip and one transaction), an `atomic` block
keeps one for the whole block (nested blocks are savepoints of its transaction). A block or
call that need not wait for the disk takes a connection whose session says so (a pool of its
own), so that it costs no statement more than a durable one. A connection belongs to the
process that opened it: after a fork the child leaves the parent's connections alone and opens
its own. psycopg prepares a statement on the server once it has run a few
times on a connection, so the hot statements are parsed and planned once per connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import select
import shlex
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

from ...errors import ConfigError, StateConflict, StateError, StateUnavailable
from . import jsonb
from .foreign import foreign

if TYPE_CHECKING:
    import psycopg

# Connections of other processes (inherited across a fork): kept referenced, never closed, so
# that no finaliser ends the parent's sessions.
_INHERITED: list[Any] = []

# where a call waiting for a lock held elsewhere says so (the command line prints it)
waits = logging.getLogger("cauce.state.waits")

SCHEMES = ("postgresql", "postgres")
NAME_BYTES = 63  # the longest name PostgreSQL keeps (NAMEDATALEN - 1)


class _SecondaryErrors(logging.Filter):
    """psycopg's warnings of an error it ignored while cleaning up after another (ending a
    pipeline or rolling back on a connection the server closed), made debug lines: the first
    error is raised and said in one line, and these printed the objects' reprs and libpq's
    three lines about it before that line (or filled the general log of a serving process)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith("error ignored"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_SECONDARY = _SecondaryErrors()


def driver() -> Any:
    """psycopg, imported when first needed (it is an optional dependency)."""
    try:
        import psycopg
    except ModuleNotFoundError:
        raise ConfigError("a postgresql:// state needs the PostgreSQL driver psycopg",
                          hint="install cauce[postgres]") from None
    logging.getLogger("psycopg").addFilter(_SECONDARY)  # once: the same filter is kept once
    return psycopg


def text(value: str | None) -> str | None:
    """Free text (a log line, an error) as PostgreSQL can store it: its text type cannot hold
    the character U+0000, which a program's output may contain; it becomes U+FFFD."""
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


@dataclass(frozen=True)
class Location:
    """Where a ``postgresql://`` URL points: libpq's connection string, the schema cauce's
    tables live in (``?schema=``; default ``public``), and how to name it to people."""

    conninfo: str
    options: str  # libpq's ``options`` (server settings), to which cauce adds its own
    schema: str | None
    where: str
    host: str
    port: int
    user: str
    dbname: str
    at: str  # host:port, or several, for messages

    @property
    def lock_key(self) -> int:
        """The advisory lock key that serialises migrations of this schema."""
        digest = hashlib.sha256(f"cauce-schema:{self.schema or 'public'}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


def locate(url: str) -> Location:
    """Parse ``postgresql://user:password@host:port/db?schema=name&…`` (``postgres://`` and
    ``postgresql+psycopg://`` too); other query parameters are libpq's own."""
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    if scheme.split("+", 1)[0] not in SCHEMES:
        raise ConfigError(f"state URL scheme {scheme!r} names no PostgreSQL database",
                          hint="use postgresql://user@host:5432/dbname")
    try:
        parts = urlsplit("postgresql://" + rest)
    except ValueError as error:  # "[::1" and the like
        raise ConfigError(f"the state URL cannot be read: {error}",
                          hint="use postgresql://user@host:5432/dbname") from None
    _check_userinfo(rest, parts)
    # libpq takes a + in a query value as itself, where parse_qsl would make it a space
    query = parse_qsl(parts.query.replace("+", "%2B"), keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None) or None
    if schema is not None and not schema.replace("_", "").isalnum():
        raise ConfigError(f"the state URL's schema {schema!r} is not a plain name",
                          hint="use letters, digits and underscores (?schema=cauce)")
    if schema is not None and (schema.startswith("pg_") or schema == "information_schema"):
        # PostgreSQL reserves pg_* and keeps its catalog views in information_schema (the
        # schema is quoted: PG_x and Information_Schema are other names)
        raise ConfigError(f"the state URL's schema {schema!r} is PostgreSQL's own",
                          hint="use a schema of cauce's own (?schema=cauce)")
    if schema is not None and len(schema.encode()) > NAME_BYTES:
        # PostgreSQL would cut it short, and two long names could share one schema
        raise ConfigError(f"the state URL's schema {schema[:20]!r}… is {len(schema.encode())} "
                          f"bytes long; PostgreSQL keeps names of up to {NAME_BYTES}",
                          hint="use a shorter name (?schema=cauce)")
    # cauce passes libpq options of its own, which would hide PGOPTIONS: the URL's take its place
    options = (" ".join(v for k, v in query if k == "options")
               or os.environ.get("PGOPTIONS", ""))
    libpq = [(k, v) for k, v in query if k not in ("schema", "options")]
    if not any(k == "connect_timeout" for k, _ in libpq) and "PGCONNECT_TIMEOUT" not in os.environ:
        libpq.append(("connect_timeout", "10"))  # libpq's own waits for ever
    # put together by hand: urlunsplit drops the // of a URL without a host (postgresql:///db,
    # libpq's default host), leaving postgresql:/db, which libpq cannot read
    conninfo = f"postgresql://{parts.netloc}{parts.path}" + (
        "?" + urlencode(libpq, quote_via=quote) if libpq else "")
    given = dict(libpq)  # libpq's parameters in the query win over the URL's parts
    hosts = _hosts(parts, given.get("host", ""), given.get("port", ""))
    host, port = hosts[0]
    # as libpq reads them: %XX decoded (a database `pro;be` is written pro%3Bbe)
    user = (given.get("user") or unquote(parts.username or "") or os.environ.get("PGUSER", "")
            or _login())
    dbname = (given.get("dbname") or unquote(parts.path.lstrip("/"))
              or os.environ.get("PGDATABASE", "") or user)
    at = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in hosts)
    if host.startswith("/"):  # a Unix socket's folder
        where = f"postgresql:///{dbname}?host={host}" + (f"&port={port}" if port != 5432 else "")
    else:
        where = f"postgresql://{at}/{dbname}"
    where += ("&" if "?" in where else "?") + f"schema={schema}" if schema else ""
    return Location(conninfo, options, schema, where, host, port, user, dbname, at)


def _check_userinfo(rest: str, parts: SplitResult) -> None:
    """Refuse a URL whose user and password libpq would read otherwise than the rest of it
    is read here: one holding an @, ?, # or / that is not percent-encoded. libpq takes the
    user and password up to the first @ (and no further than the first /), urllib up to the
    last @ before the first /, ? or #: a password ``p@ss`` made libpq look for the host
    ``ss@db``, ``se#cret`` made its first letters the port — in messages that showed them."""
    head = rest.split("/", 1)[0]
    libpq = head.partition("@")[0] if "@" in head else ""
    ours = parts.netloc.rpartition("@")[0]
    # a / ends libpq's look too: "u:se/cret@db" reads as the host u with the port "se"
    port = parts.netloc.rpartition(":")[2]
    split_by_slash = ("@" not in parts.netloc and ":" in parts.netloc and not port.isdigit()
                      and "@" in parts.path)
    if libpq != ours or split_by_slash:
        raise ConfigError("the state URL's user or password holds an @, ?, # or / that is not "
                          "percent-encoded, so the URL cannot be read for sure",
                          hint="write them %40, %3F, %23 and %2F in the user and password "
                          "(or leave the password out of the URL: PGPASSWORD, ~/.pgpass)")


def _hosts(parts: SplitResult, hosts: str, ports: str) -> list[tuple[str, int]]:
    """The hosts and ports the URL names, in order: one, or several (``h1:5432,h2:5432``, which
    libpq tries in turn, with ``target_session_attrs`` choosing among them). ``?host=`` and
    ``?port=`` (``hosts``, ``ports``: one, or one for each host) win, as in libpq; a host left
    out is PGHOST, else localhost."""
    found = []
    for entry in parts.netloc.rpartition("@")[2].split(","):
        if entry.startswith("["):  # an IPv6 address
            name, _, rest = entry[1:].partition("]")
            found.append((unquote(name), rest[1:] if rest.startswith(":") else ""))
        else:
            name, _, text = entry.partition(":")
            found.append((unquote(name), text))
    if hosts:
        found = [(name, "") for name in hosts.split(",")]
    if ports:
        each = ports.split(",")
        found = [(name, each[i] if len(each) > 1 and i < len(each) else each[0])
                 for i, (name, _) in enumerate(found)]
    return [(name or os.environ.get("PGHOST", "localhost"), _port(text)) for name, text in found]


def _port(text: str) -> int:
    """A port of the URL (else PGPORT, else 5432), checked here: urllib says nothing of a port
    out of range but that it cannot be used."""
    source = "the state URL's port"
    if not text:
        text, source = os.environ.get("PGPORT", "5432"), "PGPORT"
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(f"{source} is not a number: {text!r}",
                          hint="use postgresql://user@host:5432/dbname")
    if not 1 <= int(text) <= 65535:
        raise ConfigError(f"{source} is out of range (1–65535): {text}",
                          hint="use postgresql://user@host:5432/dbname")
    return int(text)


def _login() -> str:
    try:
        import getpass
        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return "postgres"


# PostgreSQL's keywords that cannot name a schema, a role or a database unquoted
_RESERVED = frozenset({
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric",
    "authorization", "binary", "both", "case", "cast", "check", "collate", "collation", "column",
    "concurrently", "constraint", "create", "cross", "current_catalog", "current_date",
    "current_role", "current_schema", "current_time", "current_timestamp", "current_user",
    "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch",
    "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike", "in",
    "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading",
    "left", "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null",
    "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary",
    "references", "returning", "right", "select", "session_user", "similar", "some", "symmetric",
    "system_user", "table", "tablesample", "then", "to", "trailing", "true", "union", "unique",
    "user", "using", "variadic", "verbose", "when", "where", "window", "with"})


def sql_name(name: str) -> str:
    """``name`` as an SQL identifier a hint can show to be pasted: quoted unless plain (and no
    reserved word: a schema named select is written "select")."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def unreachable(location: Location, error: Exception) -> StateError:
    """The StateError for a connection that failed, with the hint its cause calls for."""
    # libpq's first line ends with the cause ("…port 5432 failed: Connection refused")
    first = _first_line(error)
    text = first.rsplit(" failed: ", 1)[-1]
    low = str(error).lower()
    at = location.at
    # anchored on the server's words: a database named user_roles is no role
    if re.search(r'fatal:\s+role ".*" does not exist', low):
        return StateError(f"PostgreSQL at {at} has no role {location.user!r}",
                          hint=f"create the role (createuser {shlex.quote(location.user)}) "
                          "or check the user in the state URL")
    if re.search(r'fatal:\s+database ".*" does not exist', low):
        return StateError(f"PostgreSQL at {at} has no database {location.dbname!r}",
                          hint=f"create it: createdb -h {shlex.quote(location.host)} -p "
                          f"{location.port} {shlex.quote(location.dbname)}")
    other = foreign(location, str(error))  # another server's port: not a refused login
    if other is not None:
        return other
    if "password" in low or "authentication" in low:
        return StateError(f"PostgreSQL at {at} refused the login of {location.user!r}: {text}",
                          hint="check the user and password in the state URL (or PGPASSWORD, "
                          "~/.pgpass)")
    if ("configuration parameter" in low or "invalid value for parameter" in low
            or "command-line argument" in low):
        return StateError(f"PostgreSQL at {at} refused the state URL's options: {text}",
                          hint="check ?options= in the state URL, or PGOPTIONS (libpq's form: "
                          "options=-csynchronous_commit%3Doff)")
    if "shutting down" in low or "starting up" in low or "in recovery mode" in low:
        return StateUnavailable(f"PostgreSQL at {at} does not take connections now: {text}",
                                hint=f"is the server at {at} restarting? run again once it is up")
    if "not currently accepting connections" in low:  # ALTER DATABASE … ALLOW_CONNECTIONS
        return StateUnavailable(f"PostgreSQL at {at} does not take connections to "
                                f"{location.dbname!r} now: {text}",
                                hint="run again once it does (ALTER DATABASE "
                                f"{sql_name(location.dbname)} ALLOW_CONNECTIONS true)")
    if "too many" in low or "connection slots are reserved" in low:
        return StateUnavailable(f"PostgreSQL at {at} takes no more connections now: {text}",
                                hint="its max_connections, or the CONNECTION LIMIT of the "
                                "database or role, is reached: close other sessions or raise it")
    if "permission denied for database" in low:  # REVOKE CONNECT
        return StateUnavailable(f"PostgreSQL at {at} does not let {location.user!r} connect "
                                f"to {location.dbname!r}: {text}",
                                hint="grant it: GRANT CONNECT ON DATABASE "
                                f"{sql_name(location.dbname)} TO {sql_name(location.user)}")
    if "refused" in low or "could not connect" in low or "no such file" in low:
        return StateUnavailable(f"cannot reach PostgreSQL at {at}: {text}",
                                hint=f"is the server running at {at}? check the host and port "
                                "in the state URL")
    if "does not support ssl" in low or "certificate" in low or "sslmode" in low:
        return StateError(f"PostgreSQL at {at} and the state URL disagree on SSL: {text}",
                          hint="check sslmode (and sslrootcert, sslcert, sslkey) in the state URL "
                          f"against what the server at {at} offers")
    if re.search(r"session is (not )?read-only|in hot standby mode", low):  # target_session_attrs
        return StateUnavailable(f"no server at {at} is of the kind the state URL asks for: "
                                f"{text}", hint="check target_session_attrs in the state URL; "
                                "during a failover, run again once a server has taken over")
    if "timeout" in low or "timed out" in low:
        return StateUnavailable(f"PostgreSQL at {at} did not answer: {text}",
                                hint=f"is the server at {at} reachable from this machine?")
    return StateError(f"cannot use PostgreSQL at {at}: {text}",
                      hint="check the state URL and that the server accepts connections")


# the values libpq takes for its parameters that take a few words (libpq checks them before it
# connects, and says only `invalid sslmode value: "Require"`)
_CHOICES = {
    "sslmode": "disable, allow, prefer, require, verify-ca, verify-full",
    "target_session_attrs": "any, read-write, read-only, primary, standby, prefer-standby",
    "gssencmode": "disable, prefer, require",
    "channel_binding": "disable, prefer, require",
    "load_balance_hosts": "disable, random",
    "sslcertmode": "disable, allow, require",
    "sslnegotiation": "postgres, direct",
}


def _bad_value(error: Exception) -> ConfigError | None:
    """The ConfigError for a state URL parameter whose value libpq does not take (it was said
    as a disagreement with the server on SSL, or a server that could not be used)."""
    found = re.search(r'invalid (\w+) value: "(.*)"', str(error))
    if found is None:
        return None
    name, value = found.groups()
    return ConfigError(f"the state URL's {name} is not a value libpq takes: {value!r}",
                       hint=f"{name} takes one of: {_CHOICES[name]}" if name in _CHOICES
                       else f"see libpq's documentation of {name}")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _hung_up(con: psycopg.Connection[Any]) -> bool:
    """Whether the server spoke on an idle pooled connection: it says nothing to one unless it
    ends the session (`pg_terminate_backend`, a restart, an idle timeout), so the connection is
    of no more use, and a statement sent on it would fail although nothing went wrong with it."""
    try:
        readable, _, _ = select.select([con.pgconn.socket], [], [], 0)
    except Exception:  # no socket left: closed
        return True
    return bool(readable)


class Database:
    """Pooled connections to one PostgreSQL database (and schema), with `atomic` blocks.

    Not ``durable``: commits return before the server has flushed them to disk — visible to
    everyone at once and kept if the calling process dies, lost only if the server crashes
    within a fraction of a second (for marks whose loss costs a redelivery, never work).
    """

    # connections kept open between uses: as many as a serving process's threads use at once
    # (more are opened when needed, and closed after)
    IDLE_KEPT = 16
    # seconds a statement waits for a lock another session holds on cauce's tables (as long as
    # the SQLite store waits for its file's lock) before it fails with one line saying so
    LOCK_TIMEOUT = 60.0
    # seconds a call waits for a lock held elsewhere before it says which session holds it
    WAIT_NOTICE = 5.0

    def __init__(self, location: Location, *, durable: bool = True) -> None:
        self.location = location
        self.durable = durable
        self.psycopg = driver()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._idle_relaxed: list[psycopg.Connection[Any]] = []  # for blocks not durable
        self._all: list[psycopg.Connection[Any]] = []
        self._local = threading.local()
        self._closed = False
        self._calls: dict[int, tuple[float, int]] = {}  # thread → (call began, its backend)
        self._watcher: threading.Thread | None = None

    # -- connections -------------------------------------------------------------------
    def connect(self, *, autocommit: bool = True, relaxed: bool = False) -> psycopg.Connection[Any]:
        """A new connection of its own (the pool's, a listener's), search path set; ``relaxed``
        (or a database not ``durable``): its commits do not wait for the disk."""
        # the URL's application_name (or PGAPPNAME), if any, names the sessions: a fallback
        options: dict[str, Any] = {"autocommit": autocommit, "client_encoding": "UTF8",
                                   "fallback_application_name": "cauce"}
        # a lock held elsewhere is waited for a while, then said; cauce's transactions are
        # written for READ COMMITTED (claims skip locked rows and see what others committed);
        # times come back to the microsecond (extra_float_digits 0 rounds them to 15 digits):
        # whatever the server, database or role make the default (the URL's options may differ)
        settings = [f"-c lock_timeout={int(self.LOCK_TIMEOUT * 1000)}",
                    r"-c default_transaction_isolation=read\ committed",
                    "-c extra_float_digits=1"]
        if self.location.options:
            settings.append(self.location.options)
        if self.location.schema:  # quoted, as the schema was created: upper case stays
            settings.append(f'-c search_path="{self.location.schema}"')
        if relaxed or not self.durable:
            settings.append("-c synchronous_commit=off")
        if settings:
            options["options"] = " ".join(settings)
        try:
            con = self.psycopg.connect(self.location.conninfo, **options)
        except self.psycopg.OperationalError as error:
            raise (_bad_value(error) or unreachable(self.location, error)) from None
        except self.psycopg.ProgrammingError as error:  # libpq refused the URL itself
            from ..state import url_passwords

            said = str(error).strip()  # it may quote the part it refused: the password too
            for secret in url_passwords(self.location.conninfo):
                said = said.replace(secret, "********")
            raise ConfigError(f"the state URL is not one libpq takes: {said}",
                              hint="its query parameters are schema and libpq's own (sslmode, "
                              "connect_timeout, options, host, …)") from None
        encoding = con.info.parameter_status("server_encoding")  # said at connection time
        if encoding not in (None, "UTF8"):
            con.close()
            location = self.location
            raise StateError(f"the database {location.dbname!r} at {location.at} keeps its text "
                             f"in {encoding}; cauce's state needs UTF8 (text of any "
                             "script, JSON with \\u escapes)",
                             hint="give cauce a database in UTF8: createdb -E UTF8 -T template0 "
                             f"-h {shlex.quote(location.host)} -p {location.port} NAME, and "
                             "name it in the state URL")
        from psycopg.types.json import set_json_loads

        set_json_loads(jsonb.load, con)  # jsonb values back as they were written
        return con

    def _forked(self) -> None:
        """In a child process: forget (without closing) the parent's connections."""
        with self._lock:
            _INHERITED.extend(self._all)
            self._idle, self._idle_relaxed, self._all = [], [], []
            self._local = threading.local()
            self._pid = os.getpid()
            self._calls, self._watcher = {}, None

    def _take(self, relaxed: bool = False) -> psycopg.Connection[Any]:
        if self._closed:
            raise StateError(f"the state at {self.location.where} was closed",
                             hint="open the state store again")
        if os.getpid() != self._pid:
            self._forked()
        relaxed = relaxed and self.durable  # a relaxed database's connections all are
        while True:
            with self._lock:
                idle = self._idle_relaxed if relaxed else self._idle
                if not idle:
                    break
                con = idle.pop()
                if not (con.closed or _hung_up(con)):
                    return con
                with contextlib.suppress(ValueError):
                    self._all.remove(con)
            with contextlib.suppress(Exception):
                con.close()
        con = self.connect(relaxed=relaxed)
        with self._lock:
            self._all.append(con)
        return con

    def _drop_idle(self) -> None:
        with self._lock:
            idle = self._idle + self._idle_relaxed
            self._idle, self._idle_relaxed = [], []
            for con in idle:
                with contextlib.suppress(ValueError):
                    self._all.remove(con)
        for con in idle:
            with contextlib.suppress(Exception):
                con.close()

    def _give(self, con: psycopg.Connection[Any], relaxed: bool = False) -> None:
        broken = con.closed or con.info.transaction_status != self.psycopg.pq.TransactionStatus.IDLE
        idle = self._idle_relaxed if relaxed and self.durable else self._idle
        with self._lock:
            if not broken and not self._closed and len(idle) < self.IDLE_KEPT:
                idle.append(con)
                return
            with contextlib.suppress(ValueError):
                self._all.remove(con)
        with contextlib.suppress(Exception):
            con.close()

    @contextmanager
    def _translated(self, con: psycopg.Connection[Any]) -> Iterator[None]:
        """A full disk, a lock waited for too long, a cancelled statement, a value too large, a
        right the role lacks, a server that takes no writes, no schema to create in, a
        transaction ended to break a deadlock or for idling, and a connection lost mid-way, as
        StateErrors (each its own line); other errors (cauce's own mistakes) unchanged."""
        at = self.location.at
        try:
            yield
        except self.psycopg.errors.DiskFull as error:
            raise StateError(f"PostgreSQL at {at} is out of disk space: {error}",
                             hint="free space on the server's disk") from None
        except self.psycopg.errors.LockNotAvailable:
            raise StateError(f"the state at {self.location.where} stayed locked: another "
                             "session held a lock on its tables for longer than lock_timeout "
                             f"({self.LOCK_TIMEOUT:g} s unless the URL's options set it)",
                             hint="find the session holding it (pg_stat_activity, "
                             "pg_blocking_pids) and end it, or run again once it is done") \
                from None
        except self.psycopg.errors.QueryCanceled as error:  # statement_timeout, pg_cancel_backend
            raise StateError(f"PostgreSQL at {at} cancelled a statement on the state at "
                             f"{self.location.where}: {_first_line(error)}",
                             hint="a statement_timeout (the server's, the role's or the URL's "
                             "options) shorter than the statement took, or someone cancelled it; "
                             "look for locks held elsewhere (pg_stat_activity) and run again") \
                from None
        except self.psycopg.errors.ProgramLimitExceeded as error:
            raise StateError(f"PostgreSQL at {at} cannot keep a value this large in the state "
                             f"at {self.location.where}: {_first_line(error)}",
                             hint="PostgreSQL keeps a JSON value of up to 256 MB (SQLite: 1 GB): "
                             "keep large data in a bucket and send or put its key") from None
        except self.psycopg.errors.InsufficientPrivilege as error:
            raise self._refused(error) from None
        except self.psycopg.errors.ReadOnlySqlTransaction as error:
            raise StateError(f"PostgreSQL at {at} takes no writes to the state at "
                             f"{self.location.where}: {_first_line(error)}",
                             hint="the server is a standby, or default_transaction_read_only is "
                             "on for the role, the database or the URL's options: point the "
                             "state URL at the primary, or ALTER ROLE "
                             f"{sql_name(self.location.user)} SET "
                             "default_transaction_read_only = off") from None
        except self.psycopg.errors.InvalidSchemaName as error:  # an empty search_path
            raise StateError(f"the state at {self.location.where} has no schema to keep "
                             f"cauce's tables in: {_first_line(error)}",
                             hint="the role's search_path names no schema it may use: add "
                             "?schema=cauce to the state URL (created when first used)") \
                from None
        except self.psycopg.errors.IdleInTransactionSessionTimeout as error:
            raise StateUnavailable(f"PostgreSQL at {at} ended a session on the state at "
                                   f"{self.location.where}: {_first_line(error)}",
                                   hint="its idle_in_transaction_session_timeout (the server's, "
                                   "the role's or the URL's options) is shorter than a "
                                   "transaction of cauce waited between statements: raise it; "
                                   "nothing of that transaction was committed") from None
        except (self.psycopg.errors.DeadlockDetected,
                self.psycopg.errors.SerializationFailure) as error:
            conflict = ("deadlock" if isinstance(error, self.psycopg.errors.DeadlockDetected)
                        else "serialization conflict")
            raise StateConflict(f"PostgreSQL ended a transaction on the state at "
                                f"{self.location.where} to break a {conflict} with another "
                                "session; nothing of it was committed",
                                hint="run the command again (a serving process tries again by "
                                "itself)") from None
        except self.psycopg.OperationalError as error:
            if not (con.broken or con.closed):
                raise
            self._drop_idle()  # a server that went away took every idle connection with it
            raise StateUnavailable(f"lost the connection to PostgreSQL at {at}: "
                                   f"{_first_line(error)}",
                                   hint="is the server still running? what this call wrote may "
                                   "not have been committed") from None

    @contextmanager
    def connection(self, *, durable: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """This thread's connection inside an `atomic` block, else one borrowed for a call (not
        ``durable``: one whose commits do not wait for the disk)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            yield con
            return
        con = self._take(relaxed=not durable)
        self._began(con)
        try:
            with self._translated(con):
                yield con
        finally:
            self._calls.pop(threading.get_ident(), None)
            self._give(con, relaxed=not durable)

    @contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """A transaction, committed when the block ends and rolled back when it raises;
        inside another block of this thread, a savepoint of it. Not ``durable`` (counted on
        the outermost block): its commit does not wait for the disk."""
        con = getattr(self._local, "con", None)
        if con is not None:
            with con.transaction():
                yield con
            return
        con = self._take(relaxed=not durable)
        self._local.con = con
        self._began(con)
        try:
            with self._translated(con), con.transaction():
                yield con
        finally:
            self._calls.pop(threading.get_ident(), None)
            self._local.con = None
            self._give(con, relaxed=not durable)

    def _refused(self, error: Exception) -> StateError:
        """The StateError for a statement the role may not run, with the grant that lets it."""
        said = _first_line(error)
        user, schema = sql_name(self.location.user), self.location.schema
        if "for database" in said:  # CREATE SCHEMA
            hint = (f"create the schema for the role (CREATE SCHEMA {sql_name(schema or 'cauce')} "
                    f"AUTHORIZATION {user}) or let it create schemas (GRANT CREATE ON DATABASE "
                    f"{sql_name(self.location.dbname)} TO {user})")
        elif "for schema" in said:  # CREATE TABLE where the role may not
            hint = (f"give cauce a schema of its own: ?schema=cauce in the state URL, with CREATE "
                    f"SCHEMA cauce AUTHORIZATION {user} if the role may not create it")
        elif said.startswith("must be owner"):  # a migration altering a table
            hint = "run `cauce migrate` as the role that owns cauce's tables"
        else:
            tables = sql_name(schema or "public")
            hint = (f"grant the role cauce's tables (GRANT SELECT, INSERT, UPDATE, DELETE ON ALL "
                    f"TABLES IN SCHEMA {tables} TO {user}; GRANT USAGE ON ALL SEQUENCES IN "
                    f"SCHEMA {tables} TO {user}), or use the role that created them")
        return StateError(f"PostgreSQL at {self.location.at} refused "
                          f"{self.location.user!r} on the state at {self.location.where}: {said}",
                          hint=hint)

    # -- saying what a call waits for ----------------------------------------------------
    def _began(self, con: psycopg.Connection[Any]) -> None:
        self._calls[threading.get_ident()] = (time.monotonic(), con.info.backend_pid)
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, daemon=True,
                                             name="cauce-pg-lock-waits")
            self._watcher.start()

    def _watch(self) -> None:
        """Once a second: a call that has waited `WAIT_NOTICE` seconds for a lock another
        session holds says, once, which session that is (a silent wait looks like a hang)."""
        told: set[tuple[int, float]] = set()
        watching: Any = None
        while not self._closed:
            time.sleep(min(1.0, self.WAIT_NOTICE))
            now = time.monotonic()
            calls = list(self._calls.items())
            told &= {(t, since) for t, (since, _) in calls}
            long = {(t, since): pid for t, (since, pid) in calls
                    if now - since >= self.WAIT_NOTICE and (t, since) not in told}
            if not long or self._closed:
                continue
            try:
                if watching is None or watching.closed:
                    watching = self.connect()
                for call, pid in long.items():
                    holders = watching.execute(
                        "SELECT pid, coalesce(nullif(application_name, ''), '?'), state, "
                        "extract(epoch FROM now() - xact_start)::int FROM pg_stat_activity "
                        "WHERE pid = ANY(pg_blocking_pids(%s))", (pid,)).fetchall()
                    if holders:
                        told.add(call)
                        waits.warning("waiting for a lock on the state at %s (up to lock_timeout),"
                                    " held by %s", self.location.where, "; ".join(
                                        f"PostgreSQL process {h} ({app}, {state}, in a "
                                        f"transaction for {age or 0} s)"
                                        for h, app, state, age in holders))
            except Exception:  # the server is away: the calls say so themselves
                with contextlib.suppress(Exception):
                    watching.close()
                watching = None
        if watching is not None:
            with contextlib.suppress(Exception):
                watching.close()

    # -- statements ----------------------------------------------------------------------
    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = (), *,
             durable: bool = True) -> list[tuple[Any, ...]]:
        """The rows a statement returns (not ``durable``, outside a block: see `connection`)."""
        with self.connection(durable=durable) as con:
            return con.execute(sql, params).fetchall()

    def row(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[Any, ...] | None:
        """The first row a statement returns, or None."""
        with self.connection() as con:
            return con.execute(sql, params).fetchone()

    def change(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run a statement; how many rows it changed."""
        with self.connection() as con:
            return con.execute(sql, params).rowcount

    def change_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run a statement once per row (pipelined: one round trip); rows changed in all."""
        if not rows:
            return 0
        with self.connection() as con, con.cursor() as cur:
            cur.executemany(sql, rows)
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._closed = True
            owned = os.getpid() == self._pid
            connections, self._all = self._all, []
            self._idle, self._idle_relaxed = [], []
        for con in connections:
            if owned:
                with contextlib.suppress(Exception):
                    con.close()
            else:
                _INHERITED.append(con)
