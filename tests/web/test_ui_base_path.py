"""The UI under a reverse proxy's path prefix: every link, form, script and redirect carries
it, and the pages answer whether the proxy passes the prefix on or takes it off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from cauce import CauceError
from cauce.web.base_path import parse_base_path

PREFIX = "/cauce"
# every attribute of the pages that names an address of the UI
ADDRESS = re.compile(r'\b(href|src|action|hx-get|data-events)="([^"]*)"')


@pytest.fixture
def prefixed(hostile_home: Path) -> Iterator[Any]:
    """A test client of the UI over the hostile home, served under /cauce."""
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        home = Home(hostile_home, [rt], [])
        with TestClient(create_app(home, base_path="cauce/"),
                        base_url="http://127.0.0.1") as client:
            yield client


def _addresses(page: str) -> list[tuple[str, str]]:
    return [(kind, value.replace("&amp;", "&")) for kind, value in ADDRESS.findall(page)]


def test_every_address_of_every_page_reached_by_links_is_under_the_prefix(prefixed):
    # one page of each path (its first address seen), every address on it checked
    seen: set[str] = set()
    todo = [f"{PREFIX}/"]
    while todo:
        address = todo.pop()
        if urlsplit(address).path in seen:
            continue
        seen.add(urlsplit(address).path)
        page = prefixed.get(address)
        assert page.status_code == 200, (address, page.status_code, page.text[:300])
        if "html" not in page.headers.get("content-type", ""):
            continue
        for kind, found in _addresses(page.text):
            if found.startswith(("#", "?", "http://", "https://")) or not found:
                continue  # a place on the page, the page itself, the outside world
            assert found == PREFIX or found.startswith(PREFIX + "/"), (address, kind, found)
            if kind != "action" and not urlsplit(found).path.endswith(("/events", "/download")):
                todo.append(found)
    assert len(seen) > 20, "the crawl reached the pages of the hostile app"


def test_the_pages_answer_whether_the_proxy_keeps_the_prefix_or_takes_it_off(prefixed):
    kept, taken = prefixed.get(f"{PREFIX}/runs"), prefixed.get("/runs")
    assert kept.status_code == taken.status_code == 200
    assert f'href="{PREFIX}/static/app.css"' in taken.text
    style = prefixed.get(f"{PREFIX}/static/app.css")
    assert style.status_code == 200 and "text/css" in style.headers["content-type"]


def test_the_graph_the_forms_and_the_live_log_are_under_the_prefix(prefixed):
    graph = prefixed.get(f"{PREFIX}/apps/hostile").text
    assert f'href="{PREFIX}/apps/hostile/partitions/per-day"' in graph
    assert 'href="/apps/' not in graph and 'href="/runs' not in graph
    runs = prefixed.get(f"{PREFIX}/runs?app=hostile&name=boom").text
    run_id = re.findall(rf'href="{PREFIX}/runs/([0-9a-f]{{24}})"', runs)[0]
    run = prefixed.get(f"{PREFIX}/runs/{run_id}").text
    assert f'action="{PREFIX}/runs/{run_id}/rerun"' in run
    assert f'data-events="{PREFIX}/runs/{run_id}/events"' in run


def test_a_form_sends_the_browser_back_under_the_prefix(prefixed):
    runs = prefixed.get(f"{PREFIX}/runs?app=hostile&name=boom").text
    run_id = re.findall(rf'href="{PREFIX}/runs/([0-9a-f]{{24}})"', runs)[0]
    page = prefixed.get(f"{PREFIX}/runs/{run_id}").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    again = prefixed.post(f"{PREFIX}/runs/{run_id}/rerun", data={"csrf": csrf},
                          follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith(f"{PREFIX}/runs/")


def test_the_session_cookie_is_the_prefix_own(prefixed):
    answer = prefixed.get(f"{PREFIX}/")
    cookie = answer.headers["set-cookie"]
    assert f"Path={PREFIX}/" in cookie


@pytest.mark.parametrize(("given", "prefix"), [
    ("", ""), ("/", ""), ("/cauce", "/cauce"), ("cauce/", "/cauce"), (" /a//b/ ", "/a/b"),
    ("/tools/cauce-1.0_x~", "/tools/cauce-1.0_x~"),
])
def test_a_base_path_is_read_as_a_path_prefix(given, prefix):
    assert parse_base_path(given) == prefix


@pytest.mark.parametrize("given", ["/a b", "/../x", "/x?y", "/x#y", "/caf\u00e9", "/%2e%2e",
                                   '/x"onload='])
def test_a_base_path_no_address_can_hold_is_refused_with_a_hint(given):
    with pytest.raises(CauceError) as refused:
        parse_base_path(given)
    assert "base path" in refused.value.message and "--base-path /cauce" in refused.value.hint


def test_the_address_printed_carries_the_prefix(hostile_home):
    from cauce.web import open_ui

    server = open_ui(hostile_home, ["tests.web.hostile_app:app"], port=0, base_path="/cauce/")
    try:
        assert urlsplit(server.url).path == "/cauce/"
    finally:
        server.home.close()
