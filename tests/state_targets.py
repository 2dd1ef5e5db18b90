"""Fresh state stores for tests that run on every engine: a SQLite file under the test's
folder, or a schema of its own on the PostgreSQL at 127.0.0.1:5432 (user postgres, database
``test``), dropped when the test ends — skipped, with the reason, when that server cannot be
reached or this cauce has no PostgreSQL state engine."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest

from cauce.backends.state import sqlite_url
from postgres_server import POSTGRES_SERVER, fresh_schema

TARGETS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_state(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh schema on the test server, dropped when the test ends."""
    if importlib.util.find_spec("cauce.backends.postgres") is None:
        pytest.skip("this cauce has no PostgreSQL state engine")
    return f"{POSTGRES_SERVER}?schema={fresh_schema(request, 'cauce_state', create=False)}"


def target_url(engine: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """A fresh state URL of ``engine``."""
    if engine == "postgresql":
        return postgres_state(request)
    folder.mkdir(parents=True, exist_ok=True)
    return sqlite_url(folder / f"state-{uuid.uuid4().hex[:8]}.db")
