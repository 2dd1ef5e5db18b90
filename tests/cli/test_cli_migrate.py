"""`cauce migrate`: create the state store or bring its schema up to date, and say its version."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from cauce.backends.postgres.schema import SCHEMA_VERSION as PG_VERSION
from cauce.backends.sqlite.schema import SCHEMA_VERSION as SQLITE_VERSION

PG = "postgresql://postgres@127.0.0.1:5432/test"


def test_migrate_creates_a_sqlite_state_then_finds_it_up_to_date(cli, tmp_path: Path) -> None:
    first = cli("migrate")
    assert first.status == 0, first.err
    state = tmp_path / ".cauce" / "state.db"
    assert first.out.strip() == f"sqlite:///{state}: schema version {SQLITE_VERSION} (created)"
    again = cli("migrate")
    assert again.out.strip().endswith(f"schema version {SQLITE_VERSION} (up to date)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (cauce[postgres])")
    try:
        admin = psycopg.connect(PG, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip(f"no PostgreSQL reachable at {PG}")
    schema = f"t_{secrets.token_hex(6)}"
    try:
        yield f"{PG}?schema={schema}"
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.close()


@pytest.mark.postgres
def test_migrate_on_postgresql_and_a_newer_schema_refused(cli, pg_url: str) -> None:
    first = cli("migrate", "--state", pg_url)
    assert first.status == 0, first.err
    assert first.out.strip() == f"{pg_url}: schema version {PG_VERSION} (created)"
    assert cli("migrate", "--state", pg_url).out.strip().endswith("(up to date)")
    import psycopg

    schema = pg_url.rsplit("=", 1)[1]
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(f"INSERT INTO {schema}.cauce_schema (version) VALUES (%s)", (PG_VERSION + 1,))
    refused = cli("migrate", "--state", pg_url)
    assert refused.status == 1
    lines = refused.err.strip().splitlines()
    assert lines[0].startswith("error: the state at ") and "newer cauce" in lines[0]
    assert lines[1] == "hint: upgrade cauce on this machine"


def test_an_unreachable_server_is_one_line(cli) -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed (cauce[postgres])")
    result = cli("migrate", "--state", "postgresql://postgres@127.0.0.1:1/test")
    assert result.status == 1
    assert result.err.strip().splitlines() == [
        "error: cannot reach PostgreSQL at 127.0.0.1:1: Connection refused",
        "hint: is the server running at 127.0.0.1:1? check the host and port in the state URL"]
