"""Fixtures of the opendata tests: small synthetic catalogues served by the local portal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from cauce.apps.opendata.synth import catalogue
from cauce.connectors.soda.portal import Dataset, Portal, PortalState

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def small_catalogue(
    count: int = 6, *, seed: int = 1, rows: tuple[int, int] = (30, 120)
) -> list[Dataset]:
    """The known datasets first (with fewer rows than the demo's), then random small ones."""
    found = catalogue(count, seed=seed, now=START, rows=rows)
    for dataset in found:
        dataset.frame = dataset.frame.head(rows[1] * 3)
    return found


@pytest.fixture
def make_catalogue() -> Callable[..., list[Dataset]]:
    return small_catalogue


@pytest.fixture
def state() -> PortalState:
    return PortalState.of(small_catalogue(), extras=3)


@pytest.fixture
def portal(state: PortalState) -> Iterator[Portal]:
    with Portal(state) as server:
        yield server
