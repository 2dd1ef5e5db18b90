"""The state contract's test suite, run against every implementation.

Each test takes ``state`` (an open store on a fresh location) and, where two processes matter,
``other`` (a second store on the same location: other connections, other transactions). A new
implementation joins by adding its name to ``ENGINES`` and a branch to ``_url`` that returns a
fresh location — skipping, with the reason, when its server is not reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cauce.backends.state import StateStore, open_state, sqlite_url

ENGINES = ["sqlite"]


def _url(engine: str, tmp_path: Path) -> str:
    if engine == "sqlite":
        return sqlite_url(tmp_path / "state.db")
    raise AssertionError(f"no location for the {engine} state engine")


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request.param, tmp_path)


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
