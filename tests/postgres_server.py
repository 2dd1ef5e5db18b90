"""The PostgreSQL server the tests use, at 127.0.0.1:5432 (user postgres, database ``test``):
whether it can be reached, and schemas of a test's own, dropped when the test ends."""

from __future__ import annotations

import functools
import uuid

import pytest

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the server cannot be used, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'cauce[postgres]')"
    try:
        psycopg.connect(POSTGRES_SERVER, connect_timeout=2).close()
    except psycopg.Error as error:
        return f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {error}"
    return None


def fresh_schema(request: pytest.FixtureRequest, prefix: str, *, create: bool) -> str:
    """The name of a new schema (made now if ``create``, else left to whoever uses it), dropped
    when the test ends; the test is skipped, with the reason, when the server is unreachable."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if create:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    request.addfinalizer(drop)
    return schema
