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


def build_hostile_home(home: Path) -> Path:
    """Run the hostile app in ``home``: failures, dead letters, hostile keys and lines."""
    from cauce import Runtime

    from .hostile_app import XSS, app, inbox, items, readings, work

    with Runtime(app, home=home) as rt:
        rt.run("per-day", "2021-01-03")
        rt.run("boom", note=f"note {XSS}")
        for key in (XSS, "quote\"'s", "../escape", "a/b/c.txt"):
            items.put({"id": key, "value": XSS})
        inbox.put("folder/<b>x</b>.txt", f"text {XSS}")
        inbox.put("folder/deeper/'quoted'.csv", b"a,b\n1,2\n")
        work.send({"body": XSS})
        work.send({"body": "second"})
        readings.put({"r": XSS}, "k1")
        rt.serve(until=lambda: work.dlq.depth() == 2, timeout="20s", scheduler=False)
    return home


@pytest.fixture(scope="session")
def hostile_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home of the hostile app, shared by the tests of one session (they may change it)."""
    return build_hostile_home(tmp_path_factory.mktemp("hostile-home"))


@pytest.fixture
def ui_client(hostile_home: Path) -> Iterator[Any]:
    """A test client of the UI over the hostile home (no token)."""
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        home = Home(hostile_home, [rt], [])
        with TestClient(create_app(home), base_url="http://127.0.0.1") as client:
            yield client


@pytest.fixture(scope="module")
def demo_ui(demo_home: Any, browser: Any) -> Iterator[Any]:
    """The UI over a home where `cauce demo` ran every bundled app."""
    from cauce.web import open_ui

    home = demo_home.home
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(home)  # as `cauce ui` does for a demo home: its relative files are there
        server = open_ui(home, port=0).start()
        yield server
        server.stop()
        server.home.close()
