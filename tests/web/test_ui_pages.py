"""The UI's pages over a home full of hostile names: every page answers, nothing is markup,
no secret shows, and actions are POSTs that need the page's CSRF token."""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from urllib.parse import quote

import pytest

from .hostile_app import SECRET, XSS

RAW = [XSS, "<img src=x onerror", "<b>x</b>", "<b>bold</b>"]


def _csrf(client, path: str = "/") -> str:
    page = client.get(path).text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page) or re.search(
        r'"X-CSRF-Token": "([0-9a-f]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def _pages(client) -> list[str]:
    runs = re.findall(r'href="/runs/([0-9a-f]{24})"', client.get("/runs?app=hostile").text)
    assert runs, "the hostile home has runs"
    base = "/apps/hostile"
    return ["/", "/runs", "/runs?app=hostile&status=failed", "/dashboards", base,
            f"{base}/partitions", f"{base}/partitions/per-day", f"{base}/queues",
            f"{base}/dlq/handle", f"{base}/data", f"{base}/data/table/items",
            f"{base}/data/table/items?key=%3Cscript", f"{base}/data/bucket/inbox",
            f"{base}/data/bucket/inbox?prefix=folder/",
            f"{base}/data/bucket/inbox/object?key=folder/%3Cb%3Ex%3C/b%3E.txt",
            f"{base}/logs", f"{base}/dashboard", *(f"/runs/{r}" for r in set(runs))]


def test_every_page_answers_and_escapes_everything(ui_client):
    for path in _pages(ui_client):
        page = ui_client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        for raw in RAW:
            assert raw not in page.text, (path, raw)
        assert SECRET not in page.text, path
    # what was escaped is still shown, as text
    items = ui_client.get("/apps/hostile/data/table/items").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in items
    assert "../escape" in items and "quote&#34;&#39;s" in items
    dlq = ui_client.get("/apps/hostile/dlq/handle").text
    assert "refused" in dlq and "***" in dlq  # the secret in the error is masked


def test_an_unknown_log_stream_is_a_404_that_links_the_existing_ones(ui_client):
    streams = re.findall(r'<option value="([^"]+)"', ui_client.get("/apps/hostile/logs").text)
    assert streams[0] == "general" and any(s.startswith("worker/") for s in streams)
    page = ui_client.get("/apps/hostile/logs", params={"stream": "worker/nope"})
    assert page.status_code == 404
    assert "app hostile has no log stream worker/nope" in page.text
    for stream in streams:
        assert f'href="/apps/hostile/logs?stream={quote(stream, safe="")}"' in page.text
    assert ui_client.get("/apps/hostile/logs", params={"stream": streams[-1]}).status_code == 200


def test_settings_show_secrets_masked(ui_client):
    page = ui_client.get("/apps/hostile").text
    assert "api_token" in page and SECRET not in page and "***" in page


def test_graph_links_every_node(ui_client):
    page = ui_client.get("/apps/hostile").text
    for href in ('href="/apps/hostile/partitions/per-day"',
                 'href="/runs?app=hostile&amp;name=boom"',
                 'href="/apps/hostile/queues#queue-work"',
                 'href="/apps/hostile/data/table/items"'):
        assert href in page
    # handle raises without touching a resource; per-day writes items: a dashed edge
    assert 'class="edge uses"' in page and 'class="edge trigger"' in page


def test_unknown_things_are_pages_not_tracebacks(ui_client):
    for path in ("/apps/nope", "/runs/ffffffffffff", "/apps/hostile/data/table/nope",
                 "/nowhere"):
        page = ui_client.get(path)
        assert page.status_code == 404, path
        assert "Traceback" not in page.text
    page = ui_client.get("/runs?status=sideways")
    assert page.status_code == 400 and "unknown status" in page.text
    for since in ("nan", "inf", "-5h", "9999-99-99"):
        page = ui_client.get("/runs", params={"app": "hostile", "since": since})
        assert page.status_code == 400 and "is not a date, a time or an age" in page.text, since
    for since in ("1e308", "0001-01-01", "9999-12-31T23:59"):  # times before or after every run
        assert ui_client.get("/runs", params={"since": since, "until": since}).status_code == 200
    long_folder = ui_client.get("/apps/hostile/data/bucket/inbox", params={"prefix": "x" * 300})
    assert long_folder.status_code == 200 and "0 object(s)" in long_folder.text


def test_bucket_browsing_cannot_leave_the_bucket(ui_client):
    for key in ("../../state.db", "/etc/passwd", "folder/../../x", "..\\x"):
        for view in ("object", "download"):
            page = ui_client.get(f"/apps/hostile/data/bucket/inbox/{view}", params={"key": key})
            assert page.status_code == 400, (view, key)
    got = ui_client.get("/apps/hostile/data/bucket/inbox/download",
                        params={"key": "folder/<b>x</b>.txt"})
    assert got.status_code == 200 and got.content == f"text {XSS}".encode()
    assert got.headers["content-type"] == "application/octet-stream"
    # the key's last segment (its "/" makes "b>.txt" the name), ASCII-safe and exact
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"b_.txt\"; filename*=UTF-8''b%3E.txt")


def test_actions_need_the_csrf_token(ui_client):
    for path in ("/apps/hostile/dlq/handle/replay", "/apps/hostile/dlq/handle/purge"):
        refused = ui_client.post(path, data={"all": "yes"})
        assert refused.status_code == 403 and "CSRF" in refused.text
        wrong = ui_client.post(path, data={"all": "yes", "csrf": "0" * 64})
        assert wrong.status_code == 403
    token = _csrf(ui_client)
    cross = ui_client.post("/apps/hostile/dlq/handle/replay",
                           data={"all": "yes", "csrf": token},
                           headers={"origin": "http://evil.example"})
    assert cross.status_code == 403


def test_gets_change_nothing(ui_client):
    before = ui_client.get("/apps/hostile/dlq/handle").text.count('name="id"')
    for path in ("/apps/hostile/dlq/handle/replay", "/apps/hostile/dlq/handle/purge",
                 "/apps/hostile/partitions/per-day/backfill"):
        assert ui_client.get(path).status_code == 405
    assert ui_client.get("/apps/hostile/dlq/handle").text.count('name="id"') == before


def test_replay_one_then_all_then_purge(ui_client, hostile_home):
    from cauce import Runtime

    token = _csrf(ui_client, "/apps/hostile/dlq/handle")
    page = ui_client.get("/apps/hostile/dlq/handle").text
    ids = re.findall(r'name="id" value="(\d+)"', page)
    assert len(ids) == 2
    done = ui_client.post("/apps/hostile/dlq/handle/replay",
                          data={"id": ids[0], "csrf": token})
    assert done.status_code == 200 and "replayed 1 message(s)" in done.text
    assert done.text.count('name="id"') == 1
    none = ui_client.post("/apps/hostile/dlq/handle/replay", data={"csrf": token})
    assert none.status_code == 400 and "no message was selected" in none.text
    unconfirmed = ui_client.post("/apps/hostile/dlq/handle/purge",
                                 data={"confirm": "nope", "csrf": token})
    assert unconfirmed.status_code == 400
    purged = ui_client.post("/apps/hostile/dlq/handle/purge",
                            data={"confirm": "handle", "csrf": token})
    assert "purged 1 dead-lettered message(s)" in purged.text
    # the replayed message waits in its queue again, with a fresh count
    from .hostile_app import app

    rt = ui_client.app.state.ui.home.runtime("hostile")
    assert isinstance(rt, Runtime) and rt.app is app
    rows = {row["queue"]: row for row in rt.queue_stats()}
    assert rows["work"]["visible"] == 1 and rows["work"]["dlq"] == 0


def test_backfill_by_post_runs_the_range(ui_client):
    token = _csrf(ui_client, "/apps/hostile/partitions/per-day")
    bad = ui_client.post("/apps/hostile/partitions/per-day/backfill",
                         data={"first": "2021-01-05", "last": "2021-01-01", "parallel": "2",
                               "csrf": token})
    assert bad.status_code == 400 and "is empty" in bad.text
    started = ui_client.post("/apps/hostile/partitions/per-day/backfill",
                             data={"first": "2021-01-01", "last": "2021-01-04", "parallel": "2",
                                   "csrf": token})
    assert started.status_code == 200 and "started: backfill per-day" in started.text
    executor = ui_client.app.state.ui.executor
    deadline = time.monotonic() + 30
    while executor.running("hostile") and time.monotonic() < deadline:
        time.sleep(0.05)
    task = executor.recent("hostile")[0]
    assert task.outcome == "3 succeeded, 0 failed, 1 skipped (already succeeded)"
    grid = ui_client.get("/apps/hostile/partitions/per-day?last=2021-01-04").text
    for key in ("2021-01-01", "2021-01-02", "2021-01-04"):
        assert f'class="ok" data-key="{key}"' in grid
    assert grid.count('class="ok" data-key=') == 8  # per-day and summary, four days


def test_rerun_and_cancel(ui_client):
    runs = ui_client.get("/runs?app=hostile&name=boom").text
    run_id = re.findall(r'href="/runs/([0-9a-f]{24})"', runs)[0]
    token = _csrf(ui_client, f"/runs/{run_id}")
    ended = ui_client.post(f"/runs/{run_id}/cancel", data={"csrf": token})
    assert ended.status_code == 409 and "already ended" in ended.text
    again = ui_client.post(f"/runs/{run_id}/rerun", data={"csrf": token},
                           follow_redirects=False)
    assert again.status_code == 303
    new_id = again.headers["location"].split("/runs/")[1].split("?")[0]
    assert new_id != run_id
    home = ui_client.app.state.ui.home
    deadline = time.monotonic() + 20
    while not home.run(new_id).status.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    rerun = home.runtime("hostile").get_run(new_id)
    assert rerun.status.value == "failed" and rerun.params == {"note": f"note {XSS}"}
    assert rerun.trigger == f"re-run of {run_id}"
    handler_run = re.findall(r'href="/runs/([0-9a-f]{24})"',
                             ui_client.get("/runs?app=hostile&name=handle").text)[0]
    refused = ui_client.post(f"/runs/{handler_run}/rerun", data={"csrf": token})
    assert refused.status_code == 400 and "only job runs" in refused.text


def test_run_events_stream_the_log_then_end(ui_client):
    runs = ui_client.get("/runs?app=hostile&name=per-day").text
    run_id = re.findall(r'href="/runs/([0-9a-f]{24})"', runs)[-1]
    body = ui_client.get(f"/runs/{run_id}/events?after=0").text
    assert body.rstrip().endswith('event: end\ndata: "succeeded"')
    # lines travel as JSON text; the page inserts them with textContent, never as HTML
    messages = [json.loads(line[6:])["message"] for line in body.splitlines()
                if line.startswith("data: {")]
    assert "<img src=x onerror=alert(1)> day 2021-01-03" in messages


@pytest.mark.parametrize("after", ["0", "", "12"])
def test_run_events_after_is_a_number(ui_client, after):
    runs = ui_client.get("/runs?app=hostile&name=boom").text
    run_id = re.findall(r'href="/runs/([0-9a-f]{24})"', runs)[-1]
    assert ui_client.get(f"/runs/{run_id}/events?after={after}").status_code == 200


# beyond SQLite's 64-bit integers, a digit int() refuses, a minus sign, not a number
BAD_CURSORS = ["99999999999999999999999", "\u00b2", "-1", "junk", "1.5"]


@pytest.mark.parametrize("value", BAD_CURSORS)
def test_paging_cursors_that_are_not_whole_numbers_are_refused_with_a_page(ui_client, value):
    runs = ui_client.get("/runs?app=hostile&name=boom").text
    run_id = re.findall(r'href="/runs/([0-9a-f]{24})"', runs)[-1]
    for path, name in ((f"/runs/{run_id}/events", "after"), ("/apps/hostile/logs", "before"),
                       ("/apps/hostile/dlq/handle", "after")):
        page = ui_client.get(path, params={name: value})
        assert page.status_code == 400, (path, value, page.text[:200])
        assert f"{name}=" in page.text and "whole number" in page.text


def test_bucket_folders_are_paged(ui_client, monkeypatch):
    from cauce.web.pages import data

    monkeypatch.setattr(data, "BUCKET_PAGE", 1)
    # "folder/<b>x</b>.txt" holds a "/": under folder/ it is the folder "<b>x</", then "deeper/"
    first = ui_client.get("/apps/hostile/data/bucket/inbox?prefix=folder/").text
    assert "&lt;b&gt;x&lt;/</a>" in first and "deeper/" not in first and "next →" in first
    after = re.search(r'href="([^"]*after=[^"]*)"', first).group(1).replace("&amp;", "&")
    second = ui_client.get(after).text
    assert "deeper/</a>" in second and "&lt;b&gt;x" not in second and "next →" not in second


def test_lone_surrogates_in_values_are_shown_not_a_server_error(ui_client):
    from .hostile_app import items

    # JSON keeps a lone surrogate ("\ud800"); UTF-8 has none, so a page must replace it
    items.put({"id": "zz-lone-surrogate", "note": "half \ud800 a pair"})
    page = ui_client.get("/apps/hostile/data/table/items", params={"key": "zz-lone"})
    assert page.status_code == 200
    assert "half \ufffd a pair" in page.text


@pytest.mark.parametrize(("last", "problem"), [
    ("0001-01-01", "partition 0001-01-01 is before the first one (2021-01-01)"),
    ("9999-12-31", "partition 9999-12-31 is in the future"),
    ("2021-02-30", "&#39;2021-02-30&#39; is no date of the calendar")])
def test_a_grid_ending_at_a_partition_out_of_range_says_which(ui_client, last, problem):
    page = ui_client.get("/apps/hostile/partitions/per-day", params={"last": last})
    assert page.status_code == 400 and problem in page.text


def test_a_backfill_of_a_job_without_partitions_is_refused_before_it_starts(ui_client):
    token = _csrf(ui_client, "/apps/hostile/partitions/per-day")
    before = len(ui_client.app.state.ui.executor.recent("hostile"))
    refused = ui_client.post("/apps/hostile/partitions/boom/backfill",
                             data={"first": "2021-01-01", "last": "2021-01-02", "csrf": token},
                             follow_redirects=False)
    assert refused.status_code == 400 and "is not partitioned" in refused.text
    assert len(ui_client.app.state.ui.executor.recent("hostile")) == before


@contextmanager
def _yearly_grid(tmp_path, name: str, stored: list | None = None):
    """A client of the UI over an app whose job ``days`` has the daily partitions of 2021 and
    ran 2021-03-01, with run records ``stored`` added (made from the app's name)."""
    from starlette.testclient import TestClient

    from cauce import App, Runtime, daily
    from cauce.web.home import Home
    from cauce.web.server import create_app

    app = App(name)

    @app.job(partitions=daily(start="2021-01-01", end="2021-12-31"))
    def days(ctx):
        """Nothing to do: the tests are about the partitions' grid."""

    with Runtime(app, home=tmp_path) as rt:
        rt.run("days", "2021-03-01")
        if stored:
            rt.state.runs.insert(stored)
        with TestClient(create_app(Home(tmp_path, [rt], [])),
                        base_url="http://127.0.0.1") as client:
            yield client


def test_a_grid_of_partitions_that_ended_links_only_to_partitions_there_are(tmp_path):
    with _yearly_grid(tmp_path, "closed") as client:
        page = client.get("/apps/closed/partitions/days").text
        links = re.findall(r'href="(/apps/closed/partitions/days\?last=[^"]+)"', page)
        assert "?last=2021-12-31" in " ".join(links)  # "up to the last partition"
        for link in links:
            assert client.get(link.replace("&amp;", "&")).status_code == 200, link


def test_a_text_object_cut_inside_a_character_is_still_previewed_as_text(ui_client):
    from cauce.web.pages.data import PREVIEW

    from .hostile_app import inbox

    # byte PREVIEW falls inside the two bytes of an "é": the preview ends before it
    inbox.put("long/accents.txt", ("x" + "é" * PREVIEW).encode())
    page = ui_client.get("/apps/hostile/data/bucket/inbox/object",
                         params={"key": "long/accents.txt"}).text
    assert "Binary content" not in page
    assert "x" + "é" * ((PREVIEW - 1) // 2) + "</pre>" in page


def test_an_unexpected_error_is_a_page_that_says_where_to_look(hostile_home, monkeypatch):
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        home = Home(hostile_home, [rt], [])

        def broken(*args, **kwargs):
            raise RuntimeError("a defect <b>inside</b>")

        monkeypatch.setattr(home, "workers", broken)
        with TestClient(create_app(home), base_url="http://127.0.0.1",
                        raise_server_exceptions=False) as client:
            page = client.get("/")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "unexpected error" in page.text and "Traceback" not in page.text
    assert "<b>inside</b>" not in page.text


def test_a_state_store_away_is_a_page_that_says_so_with_503(hostile_home, monkeypatch):
    """A PostgreSQL state that refuses connections for a moment was 400 "Cannot do that", a
    refusal of the request; it is 503 with a Retry-After, what monitors and proxies retry."""
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.errors import StateUnavailable
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        home = Home(hostile_home, [rt], [])

        def away(*args, **kwargs):
            raise StateUnavailable("cannot reach PostgreSQL at db:5432: Connection refused",
                                   hint="is the server running at db:5432?")

        monkeypatch.setattr(home, "workers", away)
        with TestClient(create_app(home), base_url="http://127.0.0.1",
                        raise_server_exceptions=False) as client:
            page = client.get("/")
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert "cannot reach PostgreSQL at db:5432" in page.text and "Traceback" not in page.text


def test_a_grid_after_runs_of_a_partition_spelled_another_way_still_answers(tmp_path):
    from cauce.runs import RunRecord, RunStatus

    # "20210302" sorts after every ISO key: the grid would end there
    stored = [RunRecord(id="r" * 24, app="spelled", kind="job", name="days",
                        status=RunStatus.SUCCEEDED, partition="20210302", trigger="manual",
                        queued_at=0.0, params={})]
    with _yearly_grid(tmp_path, "spelled", stored) as client:
        page = client.get("/apps/spelled/partitions/days")
        assert page.status_code == 200, page.text[:300]
        assert "2021-12-31" in page.text  # the grid ends at the last partition instead


def test_controls_and_bidi_overrides_are_shown_not_acted_on(ui_client):
    from .hostile_app import items

    # an ANSI colour, and an override that would show "exe.txt" for "txt.exe"
    items.put({"id": "zz-controls \x1b[31mred\x1b[0m rtl\u202etxt.exe", "note": "n"})
    page = ui_client.get("/apps/hostile/data/table/items", params={"key": "zz-controls"}).text
    assert "zz-controls \u241b[31mred\u241b[0m rtl[U+202E]txt.exe" in page
    assert not any(c in page for c in "\x1b\u202e")


def test_a_huge_value_is_cut_on_pages_and_in_the_live_log(ui_client):
    from cauce.web.render import SHOWN_MAX

    rt = ui_client.app.state.ui.home.runtime("hostile")
    run_id = rt.run("boom", note="y" * 1_000_000).id
    page = ui_client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and len(page.text) < 10 * SHOWN_MAX
    assert re.search(r"… \(9\d\d,\d{3} more characters not shown\)", page.text)
    body = ui_client.get(f"/runs/{run_id}/events?after=0").text
    messages = [json.loads(line[6:])["message"] for line in body.splitlines()
                if line.startswith("data: {")]
    assert messages and all(len(m) < SHOWN_MAX + 100 for m in messages)


def test_a_download_is_not_named_with_a_bidirectional_override(ui_client):
    from .hostile_app import inbox

    inbox.put("zz/invoice\u202etxt.exe", b"MZ")
    got = ui_client.get("/apps/hostile/data/bucket/inbox/download",
                        params={"key": "zz/invoice\u202etxt.exe"})
    assert got.status_code == 200 and got.content == b"MZ"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"invoice_txt.exe\"; filename*=UTF-8''invoice_txt.exe")


def test_a_next_run_time_already_past_is_marked_overdue(tmp_path):
    """A schedule's next time in the past (nothing served then) read on the overview as if it
    were still to come; `cauce schedules` says overdue, and so does the page now."""
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=tmp_path, lenient_settings=True) as rt:
        schedules = rt.state.schedules
        schedules.set(app.name, "boom", spec="cron 0 3 * * *", next_at=time.time() - 3600)
        schedules.set(app.name, "per-day", spec="cron 0 4 * * *", next_at=time.time() + 3600)
        with TestClient(create_app(Home(tmp_path, [rt], [])),
                        base_url="http://127.0.0.1") as client:
            rows = re.findall(r"<tr><td>hostile</td>.*?</tr>", client.get("/").text, re.S)
    marked = {re.search(r">([\w-]+)</a>", row).group(1): "overdue" in row for row in rows}
    assert marked == {"boom": True, "per-day": False}


def test_a_state_file_removed_while_the_ui_runs_is_a_503_page_saying_so(tmp_path):
    """Removed (or renamed) under a running UI, the state file was made anew, empty, by the
    next page's thread, and every page was a 500 "unexpected error"; now each page that reads
    the state says in one line that it is gone, and no empty file takes its place."""
    from starlette.testclient import TestClient

    from cauce import App, Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    app = App("gone")

    @app.job
    def hello(ctx):
        return 1

    home = tmp_path / "home"
    with Runtime(app, home=home) as rt:
        rt.run("hello")
        ui = Home(home, [rt], [])
        with TestClient(create_app(ui), base_url="http://127.0.0.1",
                        raise_server_exceptions=False) as client:
            (home / "state.db").rename(home / "state.db.moved")
            for path in ("/runs", "/apps/gone/queues", "/apps/gone/logs"):
                page = client.get(path)
                assert page.status_code == 503, (path, page.status_code)
                assert (f"the state database {home / 'state.db'} is gone: it was removed "
                        "or renamed while this process was running") in page.text
                assert "javascript:" not in page.text  # its back link runs under the policy
            assert not (home / "state.db").exists()


def test_a_bucket_object_removed_since_its_listing_is_a_404_saying_so(ui_client):
    """An object linked from a bucket's listing and removed since (or a key edited by hand)
    answered 400 "Cannot do that", as if the request could never have worked."""
    for part in ("object", "download"):
        page = ui_client.get(f"/apps/hostile/data/bucket/inbox/{part}",
                             params={"key": "folder/removed-meanwhile.txt"})
        assert page.status_code == 404, (part, page.status_code)
        assert "no object &#39;folder/removed-meanwhile.txt&#39;" in page.text
        assert "it may have been removed since the listing was drawn" in page.text


def test_too_many_open_files_is_a_page_naming_the_limit_not_a_defect(hostile_home, monkeypatch,
                                                                      caplog):
    """With the UI out of file descriptors every page was 500 "please report", each with a
    traceback or two on the terminal, and the error page itself could not be drawn (its
    template could not be opened). It is 503 naming ulimit -n, and one line per request."""
    import errno
    import logging
    import resource

    import jinja2
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        home = Home(hostile_home, [rt], [])

        def no_files(*args, **kwargs):
            raise OSError(errno.EMFILE, "Too many open files", "/usr/share/zoneinfo/UTC")

        monkeypatch.setattr(home, "workers", no_files)
        ui = create_app(home)
        monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", no_files)
        with TestClient(ui, base_url="http://127.0.0.1",
                        raise_server_exceptions=False) as client, \
                caplog.at_level(logging.ERROR):
            page = client.get("/")
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert "this process has too many files open" in page.text and "ulimit -n" in page.text
    assert "unexpected error" not in page.text
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert lines == [f"GET /: this process has too many files open: it may have {soft} "
                     "(ulimit -n) (OSError: [Errno 24] Too many open files: "
                     "'/usr/share/zoneinfo/UTC')"]


def test_a_ui_that_cannot_start_for_want_of_files_says_so_in_one_line(hostile_home, capsys,
                                                                      monkeypatch):
    """Its thread printed Python's traceback, then `the UI could not start` with the hint
    `its error is above`."""
    import errno

    import pytest

    from cauce import Runtime
    from cauce.errors import CauceError
    from cauce.web.home import Home
    from cauce.web.server import Server

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        server = Server(Home(hostile_home, [rt], []), port=0)

        def no_files(*args, **kwargs):
            raise OSError(errno.EMFILE, "Too many open files", "uvicorn/protocols/__init__.py")

        monkeypatch.setattr(server.server, "run", no_files)
        with pytest.raises(CauceError) as raised:
            server.start()
    assert raised.value.message.startswith("the UI could not start on 127.0.0.1:0: this "
                                           "process has too many files open")
    assert "ulimit -n" in raised.value.hint
    assert "Traceback" not in capsys.readouterr().err
