"""From a warehouse URL to a backend.

``duckdb:///path`` and ``sqlite:///path`` take the path after the third slash (so
``sqlite:////abs/x.db`` is absolute and ``sqlite:///x.db`` relative to the working directory);
``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` use psycopg directly; any other
scheme is handed to SQLAlchemy.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from urllib.parse import unquote

from cauce.errors import WarehouseError
from cauce.textfiles import real_path
from cauce.warehouse.base import WarehouseBackend

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
SUPPORTED = (
    "duckdb:///path.duckdb, duckdb:///:memory:, sqlite:///path.db, sqlite:///:memory:, "
    "postgresql://user@host:port/db (also postgres://, postgresql+psycopg://), "
    "or any SQLAlchemy URL such as mysql+pymysql://user@host/db"
)
_MEMORY = ("", ":memory:")


def connect(url: str, *, lock_timeout: float = 30.0) -> WarehouseBackend:
    """A backend for ``url``. No connection is made until the first operation.

    ``lock_timeout`` is how long (seconds) an operation waits for another writer: another
    process holding a DuckDB file, SQLite's write lock, or a PostgreSQL row or table lock.
    """
    if not isinstance(url, str) or "://" not in url:
        raise WarehouseError(f"not a warehouse URL: {url!r}", hint=f"use one of: {SUPPORTED}")
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    shown = redact(url)
    if scheme == "duckdb":
        from cauce.warehouse.duckdb import DuckDBBackend

        return DuckDBBackend(shown, _file_path(scheme, rest), lock_timeout=lock_timeout)
    if scheme == "sqlite":
        from cauce.warehouse.sqlite import SQLiteBackend

        return SQLiteBackend(shown, _file_path(scheme, rest), lock_timeout=lock_timeout)
    if scheme in POSTGRES_SCHEMES:
        _require("psycopg", "postgres", shown)
        from cauce.warehouse.postgres import PostgresBackend

        return PostgresBackend(shown, f"postgresql://{rest}", lock_timeout=lock_timeout)
    _require("sqlalchemy", "sql", shown, unknown_scheme=scheme)
    from cauce.warehouse.sqlalchemy import SQLAlchemyBackend

    return SQLAlchemyBackend(shown, url, scheme, lock_timeout=lock_timeout)


def names_no_file(url: str) -> bool:
    """Whether ``url`` is a ``duckdb://`` or ``sqlite://`` URL with an empty path, which
    `connect` opens as an in-memory database (as SQLAlchemy does)."""
    scheme, separator, rest = url.partition("://")
    return bool(separator) and scheme.lower() in ("duckdb", "sqlite") and rest in ("", "/")


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``, fit for messages and logs."""
    return re.sub(r"^([^:/]+://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _file_path(scheme: str, rest: str) -> Path | None:
    """The database file of a ``duckdb://`` or ``sqlite://`` URL; None for in-memory."""
    if rest and not rest.startswith("/"):
        raise WarehouseError(
            f"{scheme}:// URLs take no host: {scheme}://{rest}",
            hint=f"use {scheme}:///relative/path or {scheme}:////absolute/path",
        )
    path = unquote(rest[1:])
    if "?" in path:
        raise WarehouseError(
            f"{scheme}:// URLs take no query options: {scheme}://{rest}",
            hint="pass options to connect() instead, e.g. connect(url, lock_timeout=60)",
        )
    if path in _MEMORY:
        return None
    return real_path(Path(path).expanduser())


def _require(module: str, extra: str, url: str, *, unknown_scheme: str | None = None) -> None:
    try:
        importlib.import_module(module)
    except ImportError as error:
        if unknown_scheme is not None:
            raise WarehouseError(
                f"unknown warehouse URL scheme {unknown_scheme!r} in {url}, and SQLAlchemy "
                "(which would handle it) is not installed",
                hint=f"use one of: {SUPPORTED}; for other databases: pip install 'cauce[{extra}]'",
            ) from error
        raise WarehouseError(
            f"{url} needs {module}, which is not installed",
            hint=f"pip install 'cauce[{extra}]'",
        ) from error
