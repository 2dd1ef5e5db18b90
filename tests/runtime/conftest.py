"""Fixtures for tests that run real cauce processes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from runtime_helpers import StateView, write_app

from cauce.backends.state import sqlite_url
from cauce.settings import ConfigSources
from state_targets import TARGETS, target_url


@pytest.fixture
def app_module(tmp_path: Path) -> Callable[[str, str], str]:
    """Write an app module into tmp_path; returns its `path.py:app` reference."""
    return lambda name, source: write_app(tmp_path, name, source)


@pytest.fixture(params=TARGETS)
def state(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> StateView:
    """The state of the home ``tmp_path / "home"``, on each engine in turn: its own SQLite file,
    or a fresh PostgreSQL schema that every process started by the test uses (CAUCE_STATE)."""
    if request.param == "sqlite":
        monkeypatch.delenv("CAUCE_STATE", raising=False)
        return StateView(sqlite_url(tmp_path / "home" / "state.db"))
    url = target_url(request.param, tmp_path, request)
    monkeypatch.setenv("CAUCE_STATE", url)
    return StateView(url)


@pytest.fixture
def config(state: StateView) -> ConfigSources:
    """Configuration for an in-process `TestRuntime` on ``state``'s engine (SQLite: its own
    temporary home)."""
    if state.url.startswith("sqlite:"):
        return ConfigSources(environ={})
    return ConfigSources(environ={"CAUCE_STATE": state.url})
