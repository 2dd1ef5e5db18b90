"""Fixtures: one warehouse per backend, so each contract test runs against all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from warehouse_support import ALL_BACKENDS, backend_url, open_backend

from cauce.warehouse import WarehouseBackend


@pytest.fixture(params=ALL_BACKENDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseBackend]:
    backend = open_backend(request.param, tmp_path, request)
    yield backend
    backend.close()


@pytest.fixture(params=[kind for kind in ALL_BACKENDS if "postgresql" in kind])
def postgres_warehouse(request: pytest.FixtureRequest,
                       tmp_path: Path) -> Iterator[WarehouseBackend]:
    """The PostgreSQL backends only, for what only PostgreSQL holds (NUMERIC NaN, INET)."""
    backend = open_backend(request.param, tmp_path, request)
    yield backend
    backend.close()


@pytest.fixture
def make_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """Build the URL of a file or server backend, for tests that start other processes."""
    return lambda kind: backend_url(kind, tmp_path, request)
