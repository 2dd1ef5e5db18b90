"""Fixtures for tests that run real cauce processes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from runtime_helpers import write_app


@pytest.fixture
def app_module(tmp_path: Path) -> Callable[[str, str], str]:
    """Write an app module into tmp_path; returns its `path.py:app` reference."""
    return lambda name, source: write_app(tmp_path, name, source)
