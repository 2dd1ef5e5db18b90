"""The UI in a real browser (Debian's chromium): every page of every bundled app after
`cauce demo`, and the clicks that matter — replay, backfill, a live log, token and CSRF refusals.

Screenshots of each page are kept in the `shots` folder (a temporary one unless
CAUCE_UI_SHOTS names another)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cauce.backends.state import RunFilter

from .conftest import build_hostile_home
from .hostile_app import XSS

TOKEN = "browser-test-token-0123456789"
LIVE_LINES = 4  # lines the live-log test follows, one at a time


@pytest.fixture(scope="module")
def hostile_ui(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Any]:
    """The UI over a fresh home of the hostile app, with a token (browsers get it by link)."""
    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import Server

    from .hostile_app import app

    home = build_hostile_home(tmp_path_factory.mktemp("hostile-browser"))
    with Runtime(app, home=home, lenient_settings=True) as rt:
        server = Server(Home(home, [rt], []), port=0, token=TOKEN).start()
        yield server
        server.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda err: errors.append(str(err)))
    opened.on("dialog", lambda dialog: dialog.accept())
    opened.errors = errors
    yield opened
    context.close()
    assert not errors, errors


def _base(server: Any) -> str:
    return server.url.split("?")[0].rstrip("/")


def test_every_page_renders_for_each_bundled_app(demo_ui, page, shots: Path):
    base = _base(demo_ui)
    apps = demo_ui.home.app_names
    assert {"census", "example", "opendata", "transit"} <= set(apps)
    paths = {"overview": "/", "runs": "/runs", "dashboards": "/dashboards"}
    for app in apps:
        for part in ("", "/partitions", "/queues", "/data", "/logs", "/dashboard"):
            paths[f"{app}{part.replace('/', '-') or '-graph'}"] = f"/apps/{app}{part}"
        for kind in ("table", "bucket", "warehouse"):
            first = next((r.name for r in demo_ui.home.app(app).resources.values()
                          if r.kind == kind), None)
            if first is not None:
                paths[f"{app}-{kind}-{first}"] = f"/apps/{app}/data/{kind}/{first}"
    raw_key = demo_ui.home.bucket("opendata", "raw").list()[0].key
    paths["opendata-bucket-folder"] = ("/apps/opendata/data/bucket/raw?prefix="
                                       + raw_key.rsplit("/", 1)[0])
    newest = demo_ui.home.runs(RunFilter(), limit=1)[0]
    paths["run"] = f"/runs/{newest.id}"
    paths["census-warehouse-sql"] = ("/apps/census/data/warehouse/target?table=adult&sql="
                                     "SELECT education, count(*) AS people FROM adult "
                                     "GROUP BY 1 ORDER BY 2 DESC")
    for name, path in paths.items():
        response = page.goto(base + path)
        assert response is not None and response.status == 200, (path, response)
        assert page.locator("main h1").first.is_visible(), path
        page.screenshot(path=str(shots / f"{name}.png"))
    assert "people" in page.locator("table.result").inner_text()
    # dashboards draw their charts live, from the vendored Vega
    for app, expected in (("census", 6), ("opendata", 5), ("transit", 3)):
        page.goto(f"{base}/apps/{app}/dashboard")
        page.wait_for_function(f"document.querySelectorAll('.cauce-chart svg.marks').length"
                               f" >= {expected}", timeout=15_000)
        page.screenshot(path=str(shots / f"{app}-dashboard.png"), full_page=True)
    # the graph is drawn and links to pages
    page.goto(base + "/apps/example")
    assert page.locator("svg.graph a.node").count() >= 5
    page.locator("svg.graph a.node.job").first.click()
    page.wait_for_load_state()
    assert "/apps/example/partitions/" in page.url or "/runs?" in page.url


def test_runs_page_filters_and_pages_in_place(demo_ui, page):
    base = _base(demo_ui)
    page.goto(base + "/runs")
    page.select_option("select[name=app]", "opendata")
    page.wait_for_url(re.compile(r".*app=opendata.*"))
    apps = page.locator("table.runs tbody tr td:nth-child(2)").all_inner_texts()
    assert apps and set(apps) == {"opendata"}
    older = page.locator("text=older →")
    if older.count():
        first_before = page.locator("table.runs tbody tr td a.mono").first.inner_text()
        older.click()
        page.wait_for_url(re.compile(r".*before=.*"))
        assert page.locator("table.runs tbody tr td a.mono").first.inner_text() != first_before


def _login(page: Any, server: Any, path: str = "/") -> str:
    base = _base(server)
    page.goto(f"{base}{path}{'&' if '?' in path else '?'}token={TOKEN}")
    return base


def test_token_is_refused_without_it_and_remembered_with_it(hostile_ui, page):
    base = _base(hostile_ui)
    refused = page.goto(base + "/")
    assert refused is not None and refused.status == 401
    assert "token is required" in page.content()
    _login(page, hostile_ui)
    assert "token=" not in page.url
    assert page.goto(base + "/apps/hostile").status == 200  # the cookie carries the token


def test_csrf_refused_from_another_page(hostile_ui, page):
    base = _login(page, hostile_ui, "/apps/hostile/dlq/handle")
    # a form on another origin posting to the UI, carrying the cookies but no CSRF token
    page.set_content(f'<form method="post" action="{base}/apps/hostile/dlq/handle/purge">'
                     '<input name="confirm" value="handle"><button>go</button></form>')
    with page.expect_navigation():
        page.click("button")
    assert "CSRF" in page.content()
    # and a script of the UI's own origin without the token is refused too
    page.goto(base + "/apps/hostile/dlq/handle")
    status = page.evaluate("""async () => (await fetch('/apps/hostile/dlq/handle/purge',
        {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'},
         body: 'confirm=handle'})).status""")
    assert status == 403
    assert page.locator("input[name=id]").count() == 2  # nothing was purged


def test_dead_letter_replay_by_click(hostile_ui, page, shots: Path):
    _login(page, hostile_ui, "/apps/hostile/dlq/handle")
    assert page.locator("input[name=id]").count() == 2
    assert page.locator("pre.json").first.inner_text().count("<script>") == 1  # shown as text
    page.screenshot(path=str(shots / "dlq.png"))
    page.locator("input[name=id]").first.check()
    page.click("text=Replay selected")
    page.wait_for_selector(".flash")
    assert "replayed 1 message(s)" in page.locator(".flash").inner_text()
    assert page.locator("input[name=id]").count() == 1


def test_backfill_by_click(hostile_ui, page, shots: Path):
    _login(page, hostile_ui, "/apps/hostile/partitions/per-day?last=2021-01-08")
    cells = page.locator("section.partition-job").first.locator("tr:first-child td[data-key]")
    cells.nth(cells.count() - 4).click(modifiers=["Shift"])  # 2021-01-05
    cells.nth(cells.count() - 1).click(modifiers=["Shift"])  # 2021-01-08
    form = page.locator("form.backfill").first
    assert form.locator("input[name=first]").input_value() == "2021-01-05"
    assert form.locator("input[name=last]").input_value() == "2021-01-08"
    form.locator("input[name=parallel]").fill("3")
    form.locator("button").click()
    page.wait_for_selector(".flash")
    assert "backfill per-day 2021-01-05 → 2021-01-08 (4 partitions, 3 at once)" in \
        page.locator(".flash").inner_text()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.reload()
        done = page.locator('tr:first-child td.ok[data-key^="2021-01-0"]').count()
        if done >= 5:  # the four backfilled days and the one the home started with
            break
        time.sleep(0.2)
    assert done >= 5
    page.screenshot(path=str(shots / "partitions-backfilled.png"))


def test_live_log_follows_a_running_run(hostile_ui, page, shots: Path):
    """An open run page shows each line the run logs while the run is still running, one line
    at a time, each as its own node: the job waits after every line until the page has shown it,
    so a page that got its lines only when the run ended would never see the next one."""
    from .hostile_app import next_line

    rt = hostile_ui.home.runtime("hostile")
    job = rt.app.get_job("slow")
    run_id = rt.submit(job, params={"lines": LIVE_LINES})
    hostile_ui.app.state.ui.executor.drain("hostile", job, run_id)
    log = page.locator("#run-log span")
    ticks = page.locator("#run-log span", has_text=": tick ")
    try:
        _login(page, hostile_ui, f"/runs/{run_id}")
        for i in range(LIVE_LINES):
            page.wait_for_function("n => [...document.querySelectorAll('#run-log span')]"
                                   ".filter(s => s.textContent.includes(': tick ')).length > n",
                                   arg=i, timeout=30_000)
            assert ticks.count() == i + 1  # this line on its own, and no later one
            assert f": tick {i} " in ticks.last.inner_text()
            assert rt.get_run(run_id).status.value == "running"
            next_line.release()
        page.wait_for_selector("text=the run ended: succeeded", timeout=30_000)
    except BaseException:
        for _ in range(LIVE_LINES):  # lets the run end rather than wait out its steps
            next_line.release()
        raise
    texts = log.all_inner_texts()
    assert any(t.endswith(f"tick {LIVE_LINES - 1} {XSS}") for t in texts)  # as text
    assert page.locator("#run-log script").count() == 0
    page.screenshot(path=str(shots / "run-live.png"))


@pytest.fixture(scope="module")
def prefixed_ui(hostile_ui: Any) -> Iterator[Any]:
    """The hostile home's UI again, served under the path prefix /cauce."""
    from cauce.web.server import Server

    server = Server(hostile_ui.home, port=0, token=TOKEN, base_path="/cauce").start()
    yield server
    server.stop()


def test_under_a_path_prefix_pages_scripts_and_the_live_log_work(prefixed_ui, page):
    from .hostile_app import next_line

    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    rt = prefixed_ui.home.runtime("hostile")
    job = rt.app.get_job("slow")
    run_id = rt.submit(job, params={"lines": 1})
    prefixed_ui.app.state.ui.executor.drain("hostile", job, run_id)
    base = _login(page, prefixed_ui, f"/runs/{run_id}")
    assert base.endswith("/cauce")
    try:
        page.wait_for_selector("#run-log span:has-text(': tick 0 ')", timeout=30_000)
    finally:
        next_line.release()
    page.wait_for_selector("text=the run ended: succeeded", timeout=30_000)
    page.click("header nav >> text=Runs")
    page.wait_for_url(f"{base}/runs")
    page.click(f"a[href='/cauce/runs/{run_id}']")
    page.wait_for_url(f"{base}/runs/{run_id}")
    assert missing == []  # styles, scripts, the event stream: all found under the prefix
