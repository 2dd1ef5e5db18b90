"""`cauce state copy --to URL`: a home's whole state moved to another store, row for row, and
the home carrying on there; refused while it is served or when the target holds state."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cauce.backends.state import COPIED, StateStore, open_state, sqlite_url
from state_targets import TARGETS, target_url

FULL_APP = """
from cauce import App

app = App("full")
work = app.queue("work", max_receives=2, visibility_timeout="1s")
news = app.topic("news")
seen = app.table("seen", key="n", indexes=["kind"])
clicks = app.stream("clicks", shards=2)
drop = app.bucket("drop", watch="1s")

@app.on(work)
def handle(message, ctx):
    if message.body.get("poison"):
        raise ValueError("poison")
    seen.put({"n": message.body["n"], "kind": "work"})

@app.on(news)
def read_news(message, ctx):
    seen.put({"n": message.body["n"], "kind": "news"})

@app.on(clicks, batch_size=10)
def count_clicks(records, ctx):
    for record in records:
        seen.put({"n": record.data, "kind": "click"})

@app.on(drop)
def dropped(obj, ctx):
    seen.put({"n": obj.key, "kind": "object"})

@app.job(every="1h")
def tick(ctx):
    ctx.log.info("tick")

@app.job
def fill(ctx):
    work.send_batch([{"n": n} for n in range(3)] + [{"n": 99, "poison": True}])
    news.publish({"n": "first"})
    for n in range(5):
        clicks.put(f"c{n}", partition_key=str(n))
    drop.put("a.txt", "a")
"""


def _rows(url: str) -> dict[str, list[dict]]:
    """Every row of a store, item values parsed (an engine may store JSON in its own spelling)."""
    store = open_state(url)
    try:
        found = {kind: [row for page in store.copying.rows(kind) for row in page]
                 for kind in COPIED}
    finally:
        store.close()
    for row in found["items"]:
        row["value"] = json.loads(row["value"])
    return found


@pytest.fixture(scope="module")
def served_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home of the app above after a fill and a few seconds of serving: runs, logs, a dead
    letter, table items with indexes, stream checkpoints, a schedule, a watched bucket. Made
    once for the module (the serving is a fixed 6 s); each test works on a copy."""
    folder = tmp_path_factory.mktemp("served")
    (folder / "full_app.py").write_text(textwrap.dedent(FULL_APP), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    for args in (["run", "full_app.py:app", "fill"], ["serve", "full_app.py:app", "--for", "6s"]):
        done = subprocess.run([sys.executable, "-m", "cauce.cli.main", *args], cwd=folder,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return folder / ".cauce"


@pytest.fixture
def served_home(cli, app_file: Callable[[str], str], served_once: Path,
                tmp_path: Path) -> tuple[str, Path]:
    """A copy of that home in the test's folder, the app beside it, and a message left
    waiting."""
    ref = app_file(FULL_APP)
    home = Path(shutil.copytree(served_once, tmp_path / ".cauce"))
    assert cli("send", ref, "work", '{"n": 7}').status == 0  # waiting at the copy
    return ref, home


@pytest.mark.parametrize("target", TARGETS)
def test_copy_moves_every_row_and_the_home_carries_on_there(
        cli, served_home: tuple[str, Path], target: str, request: pytest.FixtureRequest,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref, home = served_home
    before = _rows(sqlite_url(home / "state.db"))
    assert all(before[kind] for kind in COPIED), \
        f"the home holds every kind: {[k for k in COPIED if not before[k]]} missing"
    assert any(row["queue"] == "full:work.dlq" and row["receive_count"] == 2
               for row in before["messages"])
    to = target_url(target, tmp_path, request)
    copied = cli("state", "copy", "--to", to)
    assert copied.status == 0, copied.err
    assert f"{len(before['messages']):>9,} queued message(s)" in copied.out
    assert f"{len(before['runs']):>9,} run(s)" in copied.out
    assert _rows(to) == before
    # the home now works on the copy: the dead letter replayed, the waiting message handled
    monkeypatch.setenv("CAUCE_STATE", to)
    replayed = cli("dlq", "replay", ref, "work")
    assert replayed.status == 0 and "replayed 1" in replayed.out, replayed.err
    assert cli("send", ref, "work", '{"n": 8}').status == 0
    assert cli("serve", ref, "--for", "3s").status == 0
    after = _rows(to)
    handled = {row["value"]["n"] for row in after["items"]
               if row["tbl"] == "full:seen"}
    assert {7, 8} <= handled
    new_ids = [r["id"] for r in after["messages"]] + [r["message_id"] for r in after["runs"]
                                                      if r["message_id"] is not None]
    assert max(new_ids) > max(r["id"] for r in before["messages"]), "ids are never reused"
    assert _rows(sqlite_url(home / "state.db")) == before, "the source is left as it was"


@pytest.mark.parametrize("target", TARGETS)
def test_a_ctrl_c_after_the_copy_committed_reports_it_complete(
        cli, served_home: tuple[str, Path], target: str, request: pytest.FixtureRequest,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, home = served_home
    before = _rows(sqlite_url(home / "state.db"))
    to = target_url(target, tmp_path / "target", request)
    made = open_state(to)  # an empty store: the copy fills it
    engine = type(made)
    made.close()
    closing = engine.close

    def interrupted_close(self: StateStore) -> None:
        closing(self)
        if self.url == to:  # Ctrl-C while the target closes (SQLite checkpoints then)
            raise KeyboardInterrupt

    monkeypatch.setattr(engine, "close", interrupted_close)
    copied = cli("state", "copy", "--to", to)
    assert copied.status == 0, copied.err
    assert f"{len(before['messages']):>9,} queued message(s)" in copied.out
    monkeypatch.setattr(engine, "close", closing)
    assert _rows(to) == before


def test_copy_is_refused_into_a_store_that_holds_state(cli, served_home: tuple[str, Path],
                                                      tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert cli("--home", str(other), "send", served_home[0], "work", "{}").status == 0
    to = sqlite_url(other / "state.db")
    result = cli("state", "copy", "--to", to)
    assert result.status == 1
    assert result.err.startswith(f"error: the state at {to} is not empty (1 messages); "
                                 "nothing was copied")
    assert len(_rows(to)["messages"]) == 1


def test_copy_is_refused_while_a_worker_serves_the_home(cli, served_home: tuple[str, Path],
                                                       tmp_path: Path) -> None:
    ref, home = served_home
    worker = subprocess.Popen([sys.executable, "-m", "cauce.cli.main", "worker", ref,
                               "--home", str(home)], cwd=tmp_path, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while not _registered(sqlite_url(home / "state.db")):
            assert time.monotonic() < deadline and worker.poll() is None, "the worker started"
            time.sleep(0.05)
        to = sqlite_url(tmp_path / "copy.db")
        result = cli("state", "copy", "--to", to)
        assert result.status == 1
        assert "serving process(es) work on" in result.err and "stop them" in result.err
        assert not _has_state(to)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    # killed without saying so: on this machine it is known to be gone
    assert cli("state", "copy", "--to", to).status == 0


def _registered(url: str) -> bool:
    """Whether a serving process registered on the state at ``url``."""
    store = open_state(url)
    try:
        return bool(store.workers.running())
    finally:
        store.close()


def _has_state(url: str) -> bool:
    store: StateStore = open_state(url)
    try:
        return any(store.copying.count(kind) for kind in COPIED)
    finally:
        store.close()


# Strings the engines keep differently (jsonb refuses U+0000 and lone surrogates) in an item, a
# message waiting and a run's result, so that a copy between engines has them to carry.
ODD_JOB = """
@app.job
def odd(ctx):
    seen.put({"n": "odd", "kind": "x\\ud800y\\uffff", "text": "a\\x00b"})
    work.send({"n": "a\\x00b"}, delay=3600)
    return {"odd": "a\\x00b"}
"""


@pytest.fixture(scope="module")
def postgresql_served(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A home on a PostgreSQL schema after a fill, the odd values and a few seconds of
    serving: its state URL and its home folder. Made once for the module (the serving is a
    fixed 6 s); each test copies the state away and checks it is left as it was."""
    source = target_url("postgresql", Path("unused"), request)
    folder = tmp_path_factory.mktemp("postgresql-served")
    (folder / "full_app.py").write_text(textwrap.dedent(FULL_APP + ODD_JOB), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    for args in (["run", "full_app.py:app", "fill"], ["run", "full_app.py:app", "odd"],
                 ["serve", "full_app.py:app", "--for", "6s"]):
        done = subprocess.run([sys.executable, "-m", "cauce.cli.main", *args], cwd=folder,
                              env={**env, "CAUCE_STATE": source}, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return source, folder / ".cauce"


@pytest.mark.parametrize("target", TARGETS)
def test_copy_from_a_postgresql_home(cli, app_file: Callable[[str], str],
                                     postgresql_served: tuple[str, Path], target: str,
                                     request: pytest.FixtureRequest, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    source, home = postgresql_served
    shutil.copytree(home, tmp_path / ".cauce")  # the home's files beside its state
    ref = app_file(FULL_APP + ODD_JOB)
    monkeypatch.setenv("CAUCE_STATE", source)
    before = _rows(source)
    assert all(before[kind] for kind in COPIED), \
        f"the home holds every kind: {[k for k in COPIED if not before[k]]} missing"
    to = target_url(target, tmp_path / "target", request)
    copied = cli("state", "copy", "--to", to)
    assert copied.status == 0, copied.err
    assert _rows(to) == before
    items = {row["value"]["n"]: row["value"] for row in before["items"]}
    assert (items["odd"]["kind"], items["odd"]["text"]) == ("x\ud800y\uffff", "a\x00b")
    assert {"odd": "a\x00b"} in [run["result"] for run in before["runs"]]
    # the home carries on there: the dead letter replayed, a new message handled
    monkeypatch.setenv("CAUCE_STATE", to)
    assert cli("dlq", "replay", ref, "work").status == 0
    assert cli("send", ref, "work", '{"n": 8}').status == 0
    assert cli("serve", ref, "--for", "3s").status == 0
    assert 8 in {row["value"]["n"] for row in _rows(to)["items"]}
    assert _rows(source) == before, "the source is left as it was"
