"""Fresh state stores for tests that run on every engine: a SQLite file under the test's
folder, or a schema of its own on the PostgreSQL at 127.0.0.1:5432 (user postgres, database
``test``), dropped when the test ends — skipped, with the reason, when that server cannot be
reached or this cauce has no PostgreSQL state engine."""

from __future__ import annotations

import functools
import importlib.util
import uuid
from pathlib import Path

import pytest

from cauce.backends.state import sqlite_url

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
TARGETS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@functools.cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL state cannot be used here, or None when it can."""
    if importlib.util.find_spec("cauce.backends.postgres") is None:
        return "this cauce has no PostgreSQL state engine"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'cauce[postgres]')"
    try:
        psycopg.connect(POSTGRES_SERVER, connect_timeout=2).close()
    except psycopg.Error as error:
        return f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {error}"
    return None


def postgres_state(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh schema on the test server, dropped when the test ends."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"cauce_state_{uuid.uuid4().hex[:12]}"

    def drop() -> None:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    request.addfinalizer(drop)
    return f"{POSTGRES_SERVER}?schema={schema}"


def target_url(engine: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """A fresh state URL of ``engine``."""
    if engine == "postgresql":
        return postgres_state(request)
    folder.mkdir(parents=True, exist_ok=True)
    return sqlite_url(folder / f"state-{uuid.uuid4().hex[:8]}.db")
