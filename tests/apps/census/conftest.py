"""Fixtures of the census tests: the Descriptions, the real files, synthetic files, PostgreSQL.

`description` is the synthetic Description (always there, written next to the small synthetic
files); `real_description` is the original's, read from ../shared/data/census (skipped when
absent). Both are parsed from their files, as the app does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cauce.apps.census.description import DESCRIPTION_FILE, Description, read_description
from cauce.apps.census.synth import SyntheticFile, write_synthetic

REAL_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "census"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def parse_file(path: Path) -> Description:
    return read_description(path.read_bytes(), str(path))


@pytest.fixture(scope="session")
def real_dir() -> Path:
    names = ("Adult.data", "Adult.test", DESCRIPTION_FILE)
    if not all((REAL_DIR / name).is_file() for name in names):
        pytest.skip(f"the real census files ({', '.join(names)}) are not in {REAL_DIR}")
    return REAL_DIR


@pytest.fixture(scope="session")
def real_description(real_dir: Path) -> Description:
    return parse_file(real_dir / DESCRIPTION_FILE)


@pytest.fixture(scope="session")
def small_synthetic(tmp_path_factory: pytest.TempPathFactory) -> list[SyntheticFile]:
    """Small Adult-like files: 600 + 300 records, 3 + 2 duplicates, 2 + 1 injected letters."""
    return write_synthetic(
        tmp_path_factory.mktemp("synthetic"),
        data_rows=600, test_rows=300, duplicates=(3, 2), injections=(2, 1), seed=7,
    )


@pytest.fixture(scope="session")
def description(small_synthetic: list[SyntheticFile]) -> Description:
    """The Description written next to the small synthetic files."""
    return parse_file(small_synthetic[0].path.with_name(DESCRIPTION_FILE))


@dataclass(frozen=True)
class PostgresSchema:
    """A fresh schema of the `test` database: a connection working in it, and a warehouse
    URL whose search path is it, so one test's tables and checkpoints never meet another's."""

    connection: Any
    url: str


@pytest.fixture
def postgres() -> Iterator[PostgresSchema]:
    """A fresh PostgreSQL schema, dropped afterwards; skips when no server is reachable."""
    psycopg = pytest.importorskip("psycopg")
    try:
        connection = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=2)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}")
    schema = f"census_{uuid.uuid4().hex[:10]}"
    with connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
        connection.execute(f'SET search_path TO "{schema}"')
        try:
            yield PostgresSchema(connection, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
        finally:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def full_synthetic(tmp_path_factory: pytest.TempPathFactory) -> list[SyntheticFile]:
    """Synthetic files as large as the real ones: 32,561 + 16,281 records."""
    return write_synthetic(tmp_path_factory.mktemp("full"))
