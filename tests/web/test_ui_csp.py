"""Every kind of page under the UI's Content-Security-Policy, in a real browser (Debian's
chromium): no script, style or eval is refused, charts still draw with their tooltips, and the
htmx parts still refresh and filter in place.

The policy allows scripts and styles from the UI's own files only (no 'unsafe-inline', no
'unsafe-eval'), so any inline script, event attribute, style attribute, injected style element
or Function() call on a page shows up here as a violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from cauce.backends.state import RunFilter

from .conftest import build_hostile_home


@pytest.fixture(scope="module")
def hostile_ui(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Any]:
    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import Server

    from .hostile_app import app

    home = build_hostile_home(tmp_path_factory.mktemp("hostile-csp"))
    with Runtime(app, home=home, lenient_settings=True) as rt:
        server = Server(Home(home, [rt], []), port=0).start()
        yield server
        server.stop()


# reported by the page itself, whatever Chromium's console wording is
_REPORT = """document.addEventListener('securitypolicyviolation', function (e) {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI +
                ' at ' + e.sourceFile + ':' + e.lineNumber + ' ' + (e.sample || ''));
});"""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script(_REPORT)
    opened = context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        text = message.text
        if ("Content Security Policy" in text or "CSP violation" in text or "EvalError" in text
                or "unsafe-eval" in text or "chart error" in text):
            problems.append(f"{opened.url}: {text}")

    opened.on("console", console)
    opened.on("pageerror", lambda err: problems.append(f"{opened.url}: {err}"))
    opened.problems = problems
    yield opened
    context.close()


def _base(server: Any) -> str:
    return server.url.split("?")[0].rstrip("/")


def _first(home: Any, app: str, kind: str) -> str | None:
    return next((r.name for r in home.app(app).resources.values() if r.kind == kind), None)


def test_every_page_kind_is_drawn_without_a_policy_violation(demo_ui, page):
    home = demo_ui.home
    base = _base(demo_ui)
    newest = home.runs(RunFilter(), limit=1)[0]
    failed = home.runs(RunFilter(status="failed"), limit=1)
    paths = ["/", "/runs", f"/runs/{newest.id}", "/dashboards", "/runs/not-a-run",
             "/runs?since=yesterday-ish"]
    if failed:
        paths.append(f"/runs/{failed[0].id}")
    for app in home.app_names:
        paths += [f"/apps/{app}{part}" for part in
                  ("", "/partitions", "/queues", "/data", "/logs", "/logs?stream=worker/none",
                   "/dashboard")]
        for kind in ("table", "bucket", "warehouse"):
            name = _first(home, app, kind)
            if name is not None:
                paths.append(f"/apps/{app}/data/{kind}/{name}")
        for queue in home.queues(app, window=3600.0, buckets=30):
            paths.append(f"/apps/{app}/dlq/{queue.target}")
        grid = next((j.name for j in home.app(app).jobs.values() if j.partitions), None)
        if grid is not None:
            paths.append(f"/apps/{app}/partitions/{grid}")
    raw_key = home.bucket("opendata", "raw").list()[0].key
    paths += ["/apps/opendata/data/bucket/raw?prefix=" + raw_key.rsplit("/", 1)[0],
              "/apps/opendata/data/bucket/raw/object?key=" + raw_key,
              "/apps/census/data/warehouse/target?table=adult&sql=SELECT education, count(*) "
              "AS people FROM adult GROUP BY 1 ORDER BY 2 DESC",
              "/apps/census/data/warehouse/target?sql=SELECT nothing FROM nowhere"]
    for path in paths:
        response = page.goto(base + path)
        assert response is not None and response.status < 500, (path, response.status)
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        page.wait_for_load_state("load")
    assert page.problems == []


def test_charts_draw_with_tooltips_under_the_policy(demo_ui, page):
    base = _base(demo_ui)
    for app, expected in (("census", 6), ("opendata", 5), ("transit", 3)):
        page.goto(f"{base}/apps/{app}/dashboard")
        page.wait_for_function("n => document.querySelectorAll('.cauce-chart svg.marks')"
                               ".length >= n", arg=expected, timeout=20_000)
    # a tooltip shows on hover, and the export menu is styled (closed until opened)
    mark = page.locator(".cauce-chart svg.marks .mark-rect path, .cauce-chart svg.marks "
                        ".mark-symbol path, .cauce-chart svg.marks .mark-line path").first
    mark.hover(force=True)
    page.wait_for_selector("#vg-tooltip-element.visible", timeout=10_000)
    assert page.locator("#vg-tooltip-element").inner_text().strip()
    menu = page.locator(".cauce-chart details .vega-actions").first
    assert not menu.is_visible()
    page.locator(".cauce-chart details summary").first.click()
    assert menu.is_visible()
    assert page.problems == []


def test_htmx_parts_refresh_and_filter_under_the_policy(demo_ui, page):
    base = _base(demo_ui)
    page.goto(base + "/")
    with page.expect_request(lambda r: r.headers.get("hx-request") == "true", timeout=15_000):
        pass  # the overview refreshes itself
    page.goto(base + "/runs")
    page.select_option("select[name=app]", "opendata")
    page.wait_for_url(re.compile(r".*app=opendata.*"))
    apps = page.locator("table.runs tbody tr td:nth-child(2)").all_inner_texts()
    assert apps and set(apps) == {"opendata"}
    # the log page's stream menu opens the chosen stream (a script of the UI's, not onchange=)
    page.goto(base + "/apps/census/logs")
    streams = page.locator("select[name=stream] option").all_inner_texts()
    if len(streams) > 1:
        with page.expect_navigation():
            page.select_option("select[name=stream]", streams[-1])
        assert "stream=" in page.url
    # an error page's "back" link goes back (a javascript: address would be refused)
    page.goto(base + "/runs")
    page.goto(base + "/runs/not-a-run")
    page.click("text=back")
    page.wait_for_url(re.compile(r".*/runs$"))
    assert page.problems == []


def test_a_refresh_that_fails_says_so_until_one_succeeds(demo_ui, page):
    """The overview refreshes itself every 5 s; a refresh answered with an error (the state
    store gone, the UI stopped) left the page as it was, as if up to date."""
    base = _base(demo_ui)
    failing = {"on": True}

    def refresh(route):
        if route.request.headers.get("hx-request") == "true" and failing["on"]:
            route.fulfill(status=503, content_type="text/html", body=(
                '<main><h1>State store unavailable</h1><p class="error">the state database '
                "/x/state.db is gone: it was removed</p></main>"))
        else:
            route.continue_()

    page.route(base + "/", refresh)
    page.goto(base + "/")
    banner = page.locator("#refresh-problem")
    banner.wait_for(timeout=20_000)
    assert banner.inner_text() == (
        "this part of the page could not be refreshed (503): the state database /x/state.db "
        "is gone: it was removed; what it shows may be out of date")
    failing["on"] = False
    banner.wait_for(state="detached", timeout=20_000)
    assert page.problems == []


def test_replay_all_asks_first(hostile_ui, page):
    """Replay all sends every dead letter back at once; its button carried a confirmation
    that no script asked, so one click replayed them all. Declined, nothing moves."""
    base = _base(hostile_ui)
    asked: list[str] = []

    def decline(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", decline)
    page.goto(base + "/apps/hostile/dlq/handle")
    before = page.locator("input[name=id]").count()
    assert before >= 1
    page.click("text=Replay all")
    assert asked == ["Replay every dead-lettered message of handle?"]
    page.goto(base + "/apps/hostile/dlq/handle")
    assert page.locator("input[name=id]").count() == before
    assert page.problems == []


def test_actions_under_the_policy(hostile_ui, page):
    base = _base(hostile_ui)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/apps/hostile/dlq/handle")
    page.locator("input[name=id]").first.check()
    page.click("text=Replay selected")
    page.wait_for_selector(".flash")
    page.goto(base + "/apps/hostile/partitions/per-day?last=2021-01-08")
    cells = page.locator("section.partition-job").first.locator("tr:first-child td[data-key]")
    cells.nth(cells.count() - 2).click(modifiers=["Shift"])
    cells.nth(cells.count() - 1).click(modifiers=["Shift"])
    assert page.locator("section.partition-job td.sel").count() >= 2
    page.locator("form.backfill").first.locator("button").click()
    page.wait_for_selector(".flash")
    assert page.problems == []
