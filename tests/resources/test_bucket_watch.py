"""Watched buckets: objects that other programs write (into the folder, or straight to S3) raise
object-created events too, each object once, whichever process looks."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import fsspec
import pytest

from cauce import App, ConfigError, DeclarationError
from cauce.settings import ConfigSources
from cauce.testing import TestRuntime
from state_targets import TARGETS, target_url


@pytest.fixture(params=["folder", "memory", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the watched bucket lives: a folder, fsspec's memory, or an S3 server."""
    if request.param == "folder":
        return str(tmp_path / "dropbox")
    if request.param == "s3":
        request.getfixturevalue("s3_endpoint")
        return f"s3://cauce-test/watch-{uuid.uuid4().hex[:8]}"
    return f"memory://cauce-test/watch-{uuid.uuid4().hex[:8]}"


def drop(location: str, key: str, data: bytes) -> None:
    """Write an object the way another program would: not through cauce."""
    if "://" in location:
        with fsspec.open(f"{location}/{key}", "wb") as out:
            out.write(data)
    else:
        path = Path(location, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def remove(location: str, key: str) -> None:
    if "://" in location:
        fs, root = fsspec.core.url_to_fs(location)
        fs.rm_file(f"{root}/{key}")
    else:
        Path(location, key).unlink()


def watching_app(location: str, seen: list[tuple[str, int]], name: str = "watcher") -> App:
    app = App(name)
    inbox = app.bucket("inbox", url=location, watch="1m")

    @app.on(inbox, suffix=".csv")
    def arrived(obj, ctx) -> None:
        seen.append((obj.key, len(obj.read())))

    return app


def test_objects_written_by_others_are_announced_once(location: str, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    app = watching_app(location, seen)
    with TestRuntime(app, home=tmp_path / "home") as rt:
        drop(location, "day/2024-03-01.csv", b"a,b\n")
        drop(location, "day/notes.txt", b"not for the handler")
        rt.advance("59s")
        assert seen == []  # not looked yet
        rt.advance("1s")
        assert seen == [("day/2024-03-01.csv", 4)]
        rt.advance("10m")
        assert seen == [("day/2024-03-01.csv", 4)]  # looked ten more times: nothing new


def test_names_no_key_can_have_are_no_objects_and_stop_no_watch(location: str,
                                                               tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    app = watching_app(location, seen)
    with TestRuntime(app, home=tmp_path / "home") as rt:
        for name in ("back\\slash.csv", "control\x01.csv", "good.csv"):
            drop(location, name, b"1\n")
        if "://" not in location:  # a file name of bytes that are no UTF-8
            Path(location, os.fsdecode(b"latin-\xe9.csv")).write_bytes(b"1\n")
        rt.advance("1m")
        assert seen == [("good.csv", 2)]
        assert [ref.key for ref in app.resources["inbox"].list()] == ["good.csv"]


def test_a_changed_or_recreated_object_is_announced_again(location: str, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    app = watching_app(location, seen)
    with TestRuntime(app, home=tmp_path / "home") as rt:
        drop(location, "a.csv", b"1\n")
        rt.advance("1m")
        drop(location, "a.csv", b"1\n2\n")  # rewritten, longer
        rt.advance("1m")
        remove(location, "a.csv")
        rt.advance("1m")
        drop(location, "a.csv", b"3\n")  # gone, then back
        rt.advance("1m")
    assert seen == [("a.csv", 2), ("a.csv", 4), ("a.csv", 2)]


def test_writes_through_cauce_are_not_announced_twice(location: str, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    app = watching_app(location, seen)
    inbox = app.resources["inbox"]
    with TestRuntime(app, home=tmp_path / "home") as rt:
        inbox.put("mine.csv", b"x,y\n")
        rt.drain()
        rt.advance("5m")
    assert seen == [("mine.csv", 4)]


def test_what_arrived_while_nothing_ran_is_found_at_start(location: str, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    home = tmp_path / "home"
    with TestRuntime(watching_app(location, seen), home=home) as rt:
        drop(location, "before.csv", b"1\n")
        rt.advance("1m")
    drop(location, "while-down.csv", b"12\n")
    with TestRuntime(watching_app(location, seen), home=home) as rt:
        rt.drain()
    assert seen == [("before.csv", 2), ("while-down.csv", 3)]


def test_two_processes_watching_one_bucket_announce_each_object_once(
    location: str, tmp_path: Path
) -> None:
    seen: list[tuple[str, int]] = []
    home = tmp_path / "home"
    first, second = watching_app(location, seen, "shared"), watching_app(location, seen, "shared")
    with TestRuntime(first, home=home) as one, TestRuntime(second, home=home) as two:
        drop(location, "once.csv", b"1\n")
        counts = [one.runtime.scan_bucket(first.resources["inbox"]),
                  two.runtime.scan_bucket(second.resources["inbox"])]
        assert sorted(counts) == [0, 1]
        one.drain()
        two.drain()
    assert seen == [("once.csv", 2)]


def test_watch_must_be_a_positive_duration() -> None:
    with pytest.raises(DeclarationError, match="watch must be a positive duration"):
        App("bad").bucket("inbox", watch="0s")


@pytest.mark.parametrize(("every", "announced"), [("1m", 1), (None, 0), ("0", 0)])
def test_a_setting_can_turn_the_watch_on(tmp_path: Path, every: str | None, announced: int) -> None:
    app = App("configured")
    interval = app.setting("watch_every", str | None, default=None)
    inbox = app.bucket("inbox", url=str(tmp_path / "drop"), watch=interval)
    seen: list[str] = []
    app.on(inbox, name="arrived")(lambda obj, ctx: seen.append(obj.key))
    with TestRuntime(app, settings={"watch_every": every}, home=tmp_path / "home") as rt:
        drop(str(tmp_path / "drop"), "a.csv", b"1\n")
        rt.advance("2m")
    assert len(seen) == announced


def test_a_watch_setting_that_is_no_duration_is_a_config_error(tmp_path: Path) -> None:
    app = App("configured")
    app.bucket("inbox", watch=app.setting("watch_every", str, default="often"))
    with pytest.raises(ConfigError, match="watch_every: "), TestRuntime(app, home=tmp_path / "h"):
        pass


def test_a_write_through_cauce_during_a_listing_is_not_announced_again(tmp_path: Path) -> None:
    """The listing predates the write: the object is neither forgotten nor announced twice."""
    seen: list[tuple[str, int]] = []
    location = str(tmp_path / "dropbox")
    app = watching_app(location, seen)
    inbox = app.resources["inbox"]
    with TestRuntime(app, home=tmp_path / "home") as rt:
        inbox.put("old.csv", b"1\n")
        rt.drain()
        store = rt.runtime.bucket_store(inbox)
        plain_list = store.list

        def list_then_write(prefix: str = ""):
            listing = list(plain_list(prefix))  # taken before the writes below
            inbox.put("new.csv", b"22\n")
            inbox.put("old.csv", b"333\n")
            return iter(listing)

        store.list = list_then_write  # type: ignore[method-assign]
        try:
            assert rt.runtime.scan_bucket(inbox) == 0
        finally:
            store.list = plain_list  # type: ignore[method-assign]
        rt.drain()
        rt.advance("3m")
    assert sorted(seen) == [("new.csv", 3), ("old.csv", 2), ("old.csv", 4)]


def replace_keeping_size_and_time(location: Path, key: str, data: bytes) -> None:
    """Put another file of the same size in the place of ``key``, dated as the one it
    replaces to the nanosecond: what rsync (or cp -p, then mv) does with a file that changed
    within the same tick of the clock."""
    path = location / key
    before = path.stat()
    assert len(data) == before.st_size
    fresh = location / f".{key}.part"
    fresh.write_bytes(data)
    os.utime(fresh, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(fresh, path)


def test_a_file_replaced_by_one_of_the_same_size_and_time_is_announced_once(
        tmp_path: Path) -> None:
    # size and time in seconds were the same, so no look saw the new file
    seen: list[tuple[str, int]] = []
    location = tmp_path / "dropbox"
    with TestRuntime(watching_app(str(location), seen), home=tmp_path / "home") as rt:
        drop(str(location), "a.csv", b"1\n")
        rt.advance("1m")
        replace_keeping_size_and_time(location, "a.csv", b"2\n")
        rt.advance("3m")
    assert seen == [("a.csv", 2), ("a.csv", 2)]


def test_an_s3_object_rewritten_with_its_size_within_its_second_is_announced_once(
        s3_endpoint: str, tmp_path: Path) -> None:
    # S3's times have whole seconds: only the ETag tells the two objects apart
    import boto3

    client = boto3.client("s3")
    location = f"s3://cauce-test/watch-{uuid.uuid4().hex[:8]}"
    prefix = location.removeprefix("s3://cauce-test/")
    seen: list[tuple[str, int]] = []
    with TestRuntime(watching_app(location, seen), home=tmp_path / "home") as rt:
        for attempt in range(20):  # until both writes fall within one second of the server's
            key = f"a{attempt}.csv"
            client.put_object(Bucket="cauce-test", Key=f"{prefix}/{key}", Body=b"1\n")
            first = client.head_object(Bucket="cauce-test", Key=f"{prefix}/{key}")
            rt.advance("1m")
            client.put_object(Bucket="cauce-test", Key=f"{prefix}/{key}", Body=b"2\n")
            second = client.head_object(Bucket="cauce-test", Key=f"{prefix}/{key}")
            if first["LastModified"] == second["LastModified"]:
                break
            rt.advance("1m")
        else:
            pytest.fail("no two writes within one second")
        rt.advance("3m")
    assert [entry for entry in seen if entry[0] == key] == [(key, 2), (key, 2)]


def _as_schema_before_tags(url: str) -> None:
    """Take the state at ``url`` back to the schema that kept no tag of watched objects."""
    if url.startswith("sqlite:"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.executescript("ALTER TABLE bucket_objects DROP COLUMN tag; DROP TABLE log_streams; "
                          "PRAGMA user_version = 6;")
        con.close()
        return
    import psycopg

    with psycopg.connect(url.partition("?")[0], autocommit=True) as con:
        schema = url.partition("schema=")[2]
        con.execute(f'SET search_path TO "{schema}"')
        con.execute("ALTER TABLE bucket_objects DROP COLUMN tag")
        con.execute("DROP TABLE log_streams")  # schema 5's
        con.execute("DELETE FROM cauce_schema WHERE version >= 4")


@pytest.mark.parametrize("engine", TARGETS)
def test_a_state_of_the_schema_before_tags_announces_nothing_again(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Objects seen before the upgrade are the same objects after it; each learns its tag at
    the next look, and a replacement of the same size and time is announced from then on."""
    seen: list[tuple[str, int]] = []
    location = tmp_path / "dropbox"
    url = target_url(engine, tmp_path / "states", request)
    config = ConfigSources(environ={"CAUCE_STATE": url})
    with TestRuntime(watching_app(str(location), seen), home=tmp_path / "home",
                     config=config) as rt:
        drop(str(location), "a.csv", b"1\n")
        drop(str(location), "b.csv", b"22\n")
        rt.advance("1m")
    _as_schema_before_tags(url)
    with TestRuntime(watching_app(str(location), seen), home=tmp_path / "home",
                     config=config) as rt:
        rt.advance("3m")
        assert sorted(seen) == [("a.csv", 2), ("b.csv", 3)]
        replace_keeping_size_and_time(location, "a.csv", b"3\n")
        rt.advance("3m")
    assert sorted(seen) == [("a.csv", 2), ("a.csv", 2), ("b.csv", 3)]


def test_a_look_between_a_write_through_cauce_landing_and_its_record_announces_it_once(
        location: str, tmp_path: Path) -> None:
    """Another process's look lists the object after it landed and records it before the write
    itself does: one event, not one from the look and one from the write."""
    seen: list[tuple[str, int]] = []
    app = watching_app(location, seen)
    inbox = app.resources["inbox"]
    with TestRuntime(app, home=tmp_path / "home") as rt:
        store = rt.runtime.bucket_store(inbox)
        plain_created = store.created

        def looked_at_first(key: str, when: float):
            rt.advance("1s")  # the look comes a moment later
            assert rt.runtime.scan_bucket(inbox) == 1
            return plain_created(key, when)

        store.created = looked_at_first  # type: ignore[method-assign]
        try:
            inbox.put("a.csv", b"1\n")
            with inbox.open("b.csv", "wb") as out:
                out.write(b"22\n")
        finally:
            store.created = plain_created  # type: ignore[method-assign]
        rt.drain()
        rt.advance("3m")
    assert sorted(seen) == [("a.csv", 2), ("b.csv", 3)]


_KILLED_LOOK = """
import os, signal, sys
from cauce import App
from cauce.settings import ConfigSources
from cauce.testing import TestRuntime

location, home, url, where = sys.argv[1:]
app = App("watcher")
inbox = app.bucket("inbox", url=location, watch="1m")
app.on(inbox, suffix=".csv", name="arrived")(lambda obj, ctx: None)
with TestRuntime(app, home=home, config=ConfigSources(environ={"CAUCE_STATE": url})) as rt:
    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    if where == "recording":  # in the look's transaction, before it commits
        rt.runtime.state.watches.remember = killed
    else:  # once it committed, before anything ran
        rt.runtime.new_work = killed
    with open(os.path.join(location, "a.csv"), "wb") as out:  # arrives once it started
        out.write(b"1\\n")
    rt.advance("1m")
"""


@pytest.mark.parametrize("where", ["recording", "recorded"])
@pytest.mark.parametrize("engine", TARGETS)
def test_a_look_killed_while_recording_what_it_saw_announces_each_object_once(
        engine: str, where: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import signal
    import subprocess
    import sys

    seen: list[tuple[str, int]] = []
    location, home = tmp_path / "dropbox", tmp_path / "home"
    url = target_url(engine, tmp_path / "states", request)
    location.mkdir()
    killed = subprocess.run([sys.executable, "-c", _KILLED_LOOK, str(location), str(home), url,
                             where], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert killed.returncode == -signal.SIGKILL
    with TestRuntime(watching_app(str(location), seen), home=home,
                     config=ConfigSources(environ={"CAUCE_STATE": url})) as rt:
        rt.drain()
        rt.advance("3m")
    assert seen == [("a.csv", 2)]


@pytest.mark.parametrize("engine", TARGETS)
def test_keys_differing_only_in_normalization_or_case_are_objects_of_their_own(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A folder on Linux holds 'café.csv' composed (NFC) and decomposed (NFD), 'A.csv' and
    'a.csv', as four files: four objects, each announced once, each change its own."""
    import unicodedata

    seen: list[tuple[str, int]] = []
    location = tmp_path / "dropbox"
    keys = [unicodedata.normalize("NFC", "café.csv"), unicodedata.normalize("NFD", "café.csv"),
            "A.csv", "a.csv"]
    url = target_url(engine, tmp_path / "states", request)
    app = watching_app(str(location), seen)
    with TestRuntime(app, home=tmp_path / "home",
                     config=ConfigSources(environ={"CAUCE_STATE": url})) as rt:
        for n, key in enumerate(keys):
            drop(str(location), key, b"x" * (n + 1))
        rt.advance("1m")
        assert sorted(seen) == sorted((key, n + 1) for n, key in enumerate(keys))
        assert sorted(ref.key for ref in app.resources["inbox"].list()) == sorted(keys)
        seen.clear()
        remove(str(location), keys[0])
        app.resources["inbox"].put(keys[2], b"changed")
        rt.drain()
        rt.advance("3m")
        assert seen == [(keys[2], 7)]
        assert sorted(ref.key for ref in app.resources["inbox"].list()) == sorted(keys[1:])


def test_a_write_killed_between_its_object_landing_and_its_record_is_announced_once(
        tmp_path: Path) -> None:
    """The object is there, its event is not: the watch announces it after the restart."""
    import signal
    import subprocess
    import sys

    seen: list[tuple[str, int]] = []
    location, home = tmp_path / "dropbox", tmp_path / "home"
    killed = subprocess.run([sys.executable, "-c", f"""
import os, signal
from cauce import App
from cauce.testing import TestRuntime
app = App("watcher")
inbox = app.bucket("inbox", url={str(location)!r}, watch="1m")
app.on(inbox, suffix=".csv", name="arrived")(lambda obj, ctx: None)
with TestRuntime(app, home={str(home)!r}) as rt:
    rt.runtime.object_created = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    inbox.put("a.csv", b"1\\n")
"""[1:]], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert killed.returncode == -signal.SIGKILL
    with TestRuntime(watching_app(str(location), seen), home=home) as rt:
        rt.drain()
        rt.advance("3m")
    assert seen == [("a.csv", 2)]
