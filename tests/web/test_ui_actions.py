"""The UI's actions given what no page of it sends: ids that are no ids, forms too large to
read. Each is refused with a page (or line) saying why and a 4xx status, never a 500."""

from __future__ import annotations

import contextlib
import html
import threading
from types import SimpleNamespace

import pytest

from .test_ui_pages import _csrf

REPLAY = "/apps/hostile/dlq/handle/replay"


@pytest.mark.parametrize("bad", ["²", "١٢", "1" * 5000, "99999999999999999999", "-1", "0",
                                 "", "\x00", "abc"])
def test_a_message_id_that_is_no_id_is_refused_with_a_page(ui_client, bad):
    token = _csrf(ui_client, "/apps/hostile/dlq/handle")
    refused = ui_client.post(REPLAY, data={"id": bad, "csrf": token})
    assert refused.status_code == 400, refused.text
    assert "message ids are positive whole numbers" in refused.text
    assert len(refused.text) < 20_000  # the page names the id, cut, not all 5000 digits


def test_a_form_too_large_to_read_is_a_400_not_a_server_error(ui_client):
    token = _csrf(ui_client, "/apps/hostile/dlq/handle")
    body = b"id=1&note=" + b"x" * 1_100_000 + b"&csrf=" + token.encode()
    refused = ui_client.post(REPLAY, content=body,
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 400
    assert "the form could not be read" in refused.text and "1024KB" in refused.text


def test_a_backfill_posted_twice_runs_once(ui_client, monkeypatch):
    from cauce.web import executor

    release = threading.Event()
    calls = []

    def held(rt, job, first, last, **_):
        calls.append((job.name, first, last))
        release.wait(30)
        return SimpleNamespace(ok=True, succeeded=[], failed=[], skipped=[])

    monkeypatch.setattr(executor, "backfill", held)
    path = "/apps/hostile/partitions/per-day/backfill"
    token = _csrf(ui_client, "/apps/hostile/partitions/per-day")
    form = {"first": "2021-01-01", "last": "2021-01-04", "csrf": token}
    try:
        assert "started: backfill per-day" in ui_client.post(path, data=form).text
        again = ui_client.post(path, data=form)
        assert again.status_code == 409, again.text
        assert "is still running" in again.text and "nothing more was started" in again.text
        overlapping = ui_client.post(path, data={**form, "first": "2021-01-04",
                                                 "last": "2021-01-05"})
        assert overlapping.status_code == 409
        apart = ui_client.post(path, data={**form, "first": "2021-01-05", "last": "2021-01-06"})
        assert apart.status_code == 200, apart.text
    finally:
        release.set()
        for task in ui_client.app.state.ui.executor.recent("hostile"):
            if task.thread is not None:
                task.thread.join(30)
    assert calls == [("per-day", "2021-01-01", "2021-01-04"),
                     ("per-day", "2021-01-05", "2021-01-06")]
    # once it ended, the same range may run again
    assert ui_client.post(path, data=form).status_code == 200


def test_a_rerun_posted_twice_queues_one_run(ui_client, monkeypatch):
    import re

    executor = ui_client.app.state.ui.executor
    monkeypatch.setattr(executor, "drain", lambda *_: None)  # the re-run stays queued
    runs = ui_client.get("/runs?app=hostile&name=boom").text
    run_id = re.findall(r'href="/runs/([0-9a-f]{24})"', runs)[-1]
    token = _csrf(ui_client, f"/runs/{run_id}")
    first = ui_client.post(f"/runs/{run_id}/rerun", data={"csrf": token},
                           follow_redirects=False)
    assert first.status_code == 303
    queued = first.headers["location"].split("/runs/")[1].split("?")[0]
    again = ui_client.post(f"/runs/{run_id}/rerun", data={"csrf": token})
    assert again.status_code == 409, again.text
    assert f"run {queued}, a re-run of {run_id}, is still queued" in again.text
    home = ui_client.app.state.ui.home
    assert [r.id for r in home.related_runs(home.run(run_id))
            if r.trigger == f"re-run of {run_id}" and not r.status.finished] == [queued]
    # cancelled, it no longer holds the button
    assert ui_client.post(f"/runs/{queued}/cancel", data={"csrf": token}).status_code == 200
    assert home.run(queued).status.finished
    anew = ui_client.post(f"/runs/{run_id}/rerun", data={"csrf": token}, follow_redirects=False)
    assert anew.status_code == 303
    ui_client.post(anew.headers["location"].split("?")[0] + "/cancel", data={"csrf": token})


def test_a_backfill_of_a_month_says_it_started_and_shows_its_days(ui_client):
    token = _csrf(ui_client, "/apps/hostile/partitions/per-day")
    started = ui_client.post("/apps/hostile/partitions/per-day/backfill",
                             data={"first": "2021-02", "last": "2021-02", "csrf": token})
    executor = ui_client.app.state.ui.executor
    for task in executor.recent("hostile"):
        if task.thread is not None:
            task.thread.join(60)
    assert started.status_code == 200, started.text
    assert "started: backfill per-day 2021-02 → 2021-02 (28 partitions" in started.text
    assert 'data-key="2021-02-28"' in started.text
    assert executor.recent("hostile")[0].outcome.startswith("28 succeeded")


def test_a_backfill_range_backwards_is_explained_in_the_form_s_words(ui_client):
    token = _csrf(ui_client, "/apps/hostile/partitions/per-day")
    refused = ui_client.post("/apps/hostile/partitions/per-day/backfill",
                             data={"first": "2021-01-05", "last": "2021-01-01", "csrf": token})
    assert refused.status_code == 400
    assert "range 2021-01-05..2021-01-01 is empty" in refused.text
    assert "the first partition must come before the last" in refused.text


@pytest.fixture
def own_client(tmp_path):
    """A UI over a hostile home of this test's own: the tests that empty its dead-letter
    queue leave the session's shared home as it was."""
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .conftest import build_hostile_home
    from .hostile_app import app

    home = build_hostile_home(tmp_path / "home")
    with Runtime(app, home=home, lenient_settings=True) as rt, \
            TestClient(create_app(Home(home, [rt], [])), base_url="http://127.0.0.1") as client:
        yield client


def test_a_dead_letter_replayed_or_dropped_meanwhile_is_a_409_saying_so(own_client):
    """The page was drawn, then another process replayed or dropped a message ticked on it:
    the replay says so in one line (409, as for other actions overtaken), not a 404 page."""
    from .hostile_app import work

    rt = own_client.app.state.ui.home.runtime("hostile")
    before = work.dlq.depth()
    work.send({"body": "one"})
    work.send({"body": "two"})
    rt.serve(until=lambda: work.dlq.depth() >= before + 2, timeout="20s", scheduler=False)
    token = _csrf(own_client, "/apps/hostile/dlq/handle")
    ids = [m.id for m in rt.state.queues.listing(work.dlq.store_name)][-2:]
    rt.replay("handle", [ids[0]])           # another process, while the page is open
    rt.purge_dead_letters("handle", [ids[1]])
    for gone in ids:
        answer = own_client.post(REPLAY, data={"id": str(gone), "csrf": token})
        assert answer.status_code == 409, answer.text
        assert (f"message {gone} of handle was replayed or dropped meanwhile, by another page "
                "or process; nothing was replayed") in answer.text
        assert "reload the page for the dead letters left" in answer.text


def test_a_rerun_double_clicked_at_once_queues_one_run(ui_client, monkeypatch):
    """Two Re-run posts that arrive together (a double click: the browser sends both) each
    looked for a pending re-run before either had queued one, and both queued: the check and
    the queuing are one step now."""
    import re

    home = ui_client.app.state.ui.home
    monkeypatch.setattr(ui_client.app.state.ui.executor, "drain", lambda *_: None)
    runs = ui_client.get("/runs?app=hostile&name=boom").text
    run_id = re.findall(r'href="/runs/([0-9a-f]{24})"', runs)[-1]
    token = _csrf(ui_client, f"/runs/{run_id}")
    looked = threading.Barrier(2)
    related = home.related_runs

    def both_look_first(run):  # holds each request after its look until the other has looked
        found = related(run)
        with contextlib.suppress(threading.BrokenBarrierError):
            looked.wait(timeout=3)  # with the fix, the second never looks while the first waits
        return found

    monkeypatch.setattr(home, "related_runs", both_look_first)
    answers: list[int] = []

    def post() -> None:
        answers.append(ui_client.post(f"/runs/{run_id}/rerun", data={"csrf": token},
                                      follow_redirects=False).status_code)

    clicks = [threading.Thread(target=post) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(60)
    monkeypatch.setattr(home, "related_runs", related)
    pending = [r for r in home.related_runs(home.run(run_id))
               if r.trigger == f"re-run of {run_id}" and not r.status.finished]
    for run in pending:  # leaves the shared home as it was
        ui_client.post(f"/runs/{run.id}/cancel", data={"csrf": token})
    assert sorted(answers) == [303, 409] and len(pending) == 1


def test_replay_all_or_purge_of_a_queue_emptied_meanwhile_is_a_409_saying_so(own_client):
    """Replay all, or Purge, posted after another page or process emptied the dead-letter
    queue (or posted twice) said "replayed 0 message(s); they wait in their queue": now one
    line that it was emptied meanwhile, 409, as for the other overtaken actions."""
    from .hostile_app import work

    rt = own_client.app.state.ui.home.runtime("hostile")
    work.send({"body": "one more"})
    rt.serve(until=lambda: work.dlq.depth() >= 1, timeout="20s", scheduler=False)
    token = _csrf(own_client, "/apps/hostile/dlq/handle")
    rt.purge_dead_letters("handle")  # another process, while the page is open
    for action, form in (("replay", {"all": "yes"}), ("purge", {"confirm": "handle"})):
        answer = own_client.post(f"/apps/hostile/dlq/handle/{action}",
                                data={**form, "csrf": token})
        assert answer.status_code == 409, answer.text
        done = "replayed" if action == "replay" else "purged"
        assert ("the dead-letter queue of handle is empty: its messages were replayed or "
                f"dropped meanwhile, by another page or process; nothing was {done}"
                ) in answer.text


def test_an_action_on_a_run_pruned_meanwhile_is_a_409_saying_so(own_client):
    """A run page left open while `cauce runs prune` removed the run: its Re-run (or Cancel)
    answered 404 "no run", as for an id typed wrong; now one line says it was pruned."""
    import re
    import time

    runs = own_client.get("/runs?app=hostile&name=boom").text
    run_id = re.findall(r'href="/runs/([0-9a-f]{24})"', runs)[-1]
    token = _csrf(own_client, f"/runs/{run_id}")
    rt = own_client.app.state.ui.home.runtime("hostile")
    assert rt.state.runs.prune(ended_before=time.time() + 3600, app="hostile") >= 1
    for action, nothing in (("rerun", "queued"), ("cancel", "cancelled")):
        answer = own_client.post(f"/runs/{run_id}/{action}", data={"csrf": token})
        assert answer.status_code == 409, answer.text
        assert (f"run {run_id} is no longer recorded: it was pruned (`cauce runs prune`) since "
                f"this page was drawn; nothing was {nothing}") in html.unescape(answer.text)
    made_up = own_client.post("/runs/zzz/rerun", data={"csrf": token})
    assert made_up.status_code == 404 and "no run" in html.unescape(made_up.text)
