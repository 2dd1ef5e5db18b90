"""The state contract's test suite, run against every implementation.

Each test takes ``state`` (an open store on a fresh location) and, where two processes matter,
``other`` (a second store on the same location: other connections, other transactions). A new
implementation joins by adding its name to ``ENGINES`` and a branch to ``_location`` that
yields a fresh location — skipping, with the reason, when its server is not reachable — and
removes it afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cauce.backends.state import StateStore, open_state, sqlite_url

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# The PostgreSQL server the tests use (each test in a schema of its own, dropped after).
PG_URL = os.environ.get("CAUCE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (cauce[postgres])")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL reachable at {PG_URL}: {str(error).strip()[:120]}")
    schema = f"t_{secrets.token_hex(6)}"
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}schema={schema}"
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.close()


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "state.db")
    elif request.param == "postgresql":
        yield from _postgres()
    else:
        raise AssertionError(f"no location for the {request.param} state engine")


@pytest.fixture
def opener(url: str) -> Iterator[Callable[[], StateStore]]:
    """Opens stores on the test's location; every one is closed at the end."""
    opened: list[StateStore] = []

    def open_one() -> StateStore:
        opened.append(open_state(url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def state(opener: Callable[[], StateStore]) -> StateStore:
    return opener()


@pytest.fixture
def other(state: StateStore, opener: Callable[[], StateStore]) -> StateStore:
    """A second store on the same location, as another process would open it."""
    return opener()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL location (tests of what only that engine does)."""
    yield from _postgres()


@pytest.fixture
def pg_server(pg_url: str) -> str:
    """The test server's ``host:port``."""
    parts = urlsplit(PG_URL)
    return f"{parts.hostname}:{parts.port or 5432}"
