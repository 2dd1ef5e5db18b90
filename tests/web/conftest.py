"""A headless Chromium for the web tests (Debian's package, driven by Playwright's client).

Playwright's own browser download cannot work offline, so the browser is the system's
``chromium``, launched by path. Tests that need it skip with the reason it could not start.
Screenshots go to a temporary folder (``CAUCE_UI_SHOTS`` to choose it), never into the repo.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (skipped with a reason when none starts)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("the Playwright client is not installed (pip install -e '.[dev]')")
    path = _chromium_path()
    if path is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    manager = sync_playwright().start()
    try:
        try:
            launched = manager.chromium.launch(executable_path=path, headless=True,
                                               args=["--no-sandbox", "--disable-gpu"])
        except Error as err:
            pytest.skip(f"chromium at {path} did not start: {str(err).splitlines()[0]}")
        yield launched
        launched.close()
    finally:
        manager.stop()


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots of the pages are kept for a look after the run."""
    chosen = os.environ.get("CAUCE_UI_SHOTS")
    folder = Path(chosen) if chosen else Path(tempfile.gettempdir()) / "cauce-ui-shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
