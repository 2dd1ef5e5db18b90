"""What the warehouse tests share: backend URLs and the PostgreSQL test server.

PostgreSQL tests use 127.0.0.1:5432 (user postgres, database ``test``) and skip when it is not
reachable; each test gets its own schema (through ``search_path`` in the URL) and drops it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cauce.warehouse import WarehouseBackend, connect
from postgres_server import fresh_schema

FILE_BACKENDS = ["sqlite", "duckdb", "postgresql"]
ALL_BACKENDS = [
    "sqlite",
    "sqlite-memory",
    "duckdb",
    "duckdb-memory",
    "postgresql",
    "sqlalchemy-sqlite",
    "sqlalchemy-postgresql",
]


def postgres_schema(request: pytest.FixtureRequest) -> str:
    """A fresh schema on the test server, dropped when the test ends."""
    return fresh_schema(request, "cauce_test", create=True)


def postgres_url(schema: str, scheme: str = "postgresql") -> str:
    return f"{scheme}://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"


def backend_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL for one backend kind, on files under ``tmp_path`` or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    if kind == "sqlite-memory":
        return "sqlite:///:memory:"
    if kind == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    if kind == "duckdb-memory":
        return "duckdb:///:memory:"
    if kind == "postgresql":
        return postgres_url(postgres_schema(request))
    if kind == "sqlalchemy-sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'generic.db'}"
    raise ValueError(kind)


def open_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> WarehouseBackend:
    if kind == "sqlalchemy-postgresql":
        # connect() sends postgresql+psycopg:// to the native backend; this exercises the
        # generic SQLAlchemy path (pyformat placeholders, inspector, savepoint-free claims)
        # against a real server.
        from cauce.warehouse.sqlalchemy import SQLAlchemyBackend

        url = postgres_url(postgres_schema(request), "postgresql+psycopg")
        return SQLAlchemyBackend(url, url, "postgresql+psycopg", lock_timeout=30)
    return connect(backend_url(kind, tmp_path, request))
