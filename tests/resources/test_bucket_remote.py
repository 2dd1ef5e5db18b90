"""Buckets in object storage: the same contract as folder buckets, on fsspec's in-memory file
system (always) and on an S3 server on loopback (``s3_endpoint`` in tests/conftest.py)."""

from __future__ import annotations

import gc
import io
import logging
import socket
import threading
import uuid
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cauce import App, InvalidKey, ObjectNotFound, ResourceError
from cauce.testing import TestRuntime


@pytest.fixture(params=["memory", "s3"])
def bucket_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty place in object storage for each test."""
    prefix = uuid.uuid4().hex[:12]
    if request.param == "s3":
        request.getfixturevalue("s3_endpoint")
        return f"s3://cauce-test/{prefix}"
    return f"memory://cauce-test/{prefix}"


@pytest.fixture
def remote(bucket_url: str, tmp_path):
    app = App("objects")
    bucket = app.bucket("raw", url=bucket_url)
    seen: list[tuple[str, int]] = []

    @app.on(bucket, prefix="in/")
    def arrived(obj, ctx) -> None:
        seen.append((obj.key, len(obj.read())))

    with TestRuntime(app, start="2024-03-01T12:00:00", home=tmp_path / "home") as rt:
        yield bucket, rt, seen


def test_put_get_list_and_delete(remote) -> None:
    bucket, _, _ = remote
    ref = bucket.put("in/a.csv", b"id\n1\n")
    assert (ref.key, ref.size) == ("in/a.csv", 5)
    assert ref.created_at == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # the runtime's clock
    bucket.put("in/b.csv", "ñandú")
    bucket.put("other/c.txt", io.BytesIO(b"x" * 3_000_000))
    assert bucket.get("in/a.csv") == b"id\n1\n"
    assert bucket.text("in/b.csv") == "ñandú"
    assert bucket.info("other/c.txt").size == 3_000_000
    assert [r.key for r in bucket.list()] == ["in/a.csv", "in/b.csv", "other/c.txt"]
    assert [r.key for r in bucket.list("in/")] == ["in/a.csv", "in/b.csv"]
    assert [r.key for r in bucket.list("in/b")] == ["in/b.csv"]
    assert bucket.list("nothing/") == []
    assert bucket.exists("in/a.csv") and not bucket.exists("in")
    assert bucket.delete("in/a.csv") is True
    assert bucket.delete("in/a.csv") is False
    with pytest.raises(ObjectNotFound):
        bucket.get("in/a.csv")


def test_every_write_is_an_object_created_event(remote) -> None:
    bucket, rt, seen = remote
    bucket.put("in/a.csv", b"12345")
    with bucket.open("in/b.csv", "wb") as out:
        out.write(b"123")
    bucket.put("elsewhere/c.csv", b"1")  # outside the handler's prefix
    rt.drain()
    assert sorted(seen) == [("in/a.csv", 5), ("in/b.csv", 3)]


def test_a_failed_write_leaves_no_object(remote) -> None:
    bucket, rt, seen = remote
    with pytest.raises(RuntimeError), bucket.open("in/half.csv", "wb") as out:
        out.write(b"half")
        raise RuntimeError("the writer died")
    assert not bucket.exists("in/half.csv")
    rt.drain()
    assert seen == []


def test_put_file_copies_or_moves(remote, tmp_path) -> None:
    bucket, _, _ = remote
    source = tmp_path / "day.csv"
    source.write_bytes(b"a,b\n")
    bucket.put_file("in/copied.csv", source)
    bucket.put_file("in/moved.csv", source, move=True)
    assert not source.exists()
    assert bucket.get("in/copied.csv") == bucket.get("in/moved.csv") == b"a,b\n"


def test_path_is_a_local_copy_refreshed_when_the_object_changes(remote) -> None:
    bucket, _, _ = remote
    bucket.put("in/a.csv", b"first")
    local = bucket.path("in/a.csv")
    assert local.read_bytes() == b"first"
    assert bucket.path("in/a.csv") == local  # unchanged: the same copy
    bucket.put("in/a.csv", b"second, longer")
    assert bucket.path("in/a.csv").read_bytes() == b"second, longer"
    bucket.delete("in/a.csv")
    assert not local.parent.exists()  # no copy left behind of an object that is gone


def test_keys_are_checked_as_in_folder_buckets(remote) -> None:
    bucket, _, _ = remote
    for key in ("../x", "/abs", "a//b", "a\\b", "in/" + "n" * 256):
        with pytest.raises(InvalidKey):
            bucket.put(key, b"1")
    assert bucket.list() == []
    for key in ("x:y.csv", "ab:c", "in/" + "n" * 255):
        bucket.put(key, b"1")
    assert sorted(ref.key for ref in bucket.list()) == ["ab:c", "in/" + "n" * 255, "x:y.csv"]


def test_the_prefix_counts_towards_the_1024_bytes_of_a_key(remote, bucket_url: str) -> None:
    # S3 refuses a longer name (KeyTooLongError; moto does not), as a failure to reach it
    bucket, _, _ = remote
    room = 1024 - len(bucket_url.split("/", 3)[3]) - 1  # the prefix and its slash
    longest = "/".join(["k" * 250] * 5)[:room]
    bucket.put(longest, b"1")
    assert [ref.key for ref in bucket.list()] == [longest]
    for use in (lambda: bucket.put(longest + "k", b"1"), lambda: bucket.exists(longest + "k")):
        with pytest.raises(InvalidKey, match=f"is longer than the {room} bytes"):
            use()


def test_a_second_runtime_sees_what_the_first_wrote(bucket_url: str, tmp_path) -> None:
    """Two homes (two machines, say) sharing one bucket in object storage."""
    writer_app, reader_app = App("writer"), App("reader")
    written = writer_app.bucket("shared", url=bucket_url)
    read = reader_app.bucket("shared", url=bucket_url)
    with TestRuntime(writer_app, home=tmp_path / "one"):
        written.put("day/2024-03-01.csv", b"1,2\n")
    with TestRuntime(reader_app, home=tmp_path / "two"):
        assert [r.key for r in read.list("day/")] == ["day/2024-03-01.csv"]
        assert read.get("day/2024-03-01.csv") == b"1,2\n"


def test_a_missing_s3_bucket_is_one_clear_error(s3_endpoint: str, tmp_path) -> None:
    app = App("objects")
    bucket = app.bucket("raw", url="s3://no-such-bucket-here/prefix")
    message = r"cannot put 'a\.txt': the storage location does not exist"
    with TestRuntime(app, home=tmp_path / "home"):
        with pytest.raises(ResourceError, match=message) as info:
            bucket.put("a.txt", b"1")
        assert "create the S3 bucket" in (info.value.hint or "")
        assert "AWS_ENDPOINT_URL" in (info.value.hint or "")  # a web server there says 404
        assert not bucket.exists("a.txt")
        assert bucket.list() == []


def test_an_object_that_is_also_a_folder_of_objects_has_its_own_local_copy(
        s3_endpoint: str, tmp_path) -> None:
    # S3 holds 'a' beside 'a/b' (a folder bucket cannot): their local copies must not collide
    app = App("objects")
    bucket = app.bucket("raw", url=f"s3://cauce-test/{uuid.uuid4().hex[:12]}")
    keys = ["a", "a/b", "a/c/d.csv"]
    with TestRuntime(app, home=tmp_path / "home"):
        for key in keys:
            bucket.put(key, key.encode())
        for order in (keys, keys[::-1]):
            for key in order:
                local = bucket.path(key)
                assert local.read_bytes() == key.encode()
                assert local.name == key.rsplit("/", 1)[-1]  # engines go by the extension


class RawEndpoint:
    """An endpoint on loopback that speaks just enough HTTP: it records each request's head and
    answers 403 (``deny``) once the body is in, or closes the connection unanswered (``hang
    up``). Or another protocol: a mail server's greeting sent on connecting (``smtp``), or
    Redis, which answers a line it takes for a command with an error and closes a connection
    whose lines look like HTTP headers unanswered (``redis``)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.heads: list[bytes] = []
        self.closing = False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.server.accept()
            if self.closing:
                conn.close()
                return
            with conn:
                if self.behaviour == "smtp":
                    conn.sendall(b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                self.heads.append(head)
                if self.behaviour == "deny":
                    self._deny(conn, head, body)
                elif self.behaviour == "redis" and b"\r\nhost:" not in head.lower():
                    conn.sendall(b"-ERR unknown command 'GET', with args beginning with: "
                                 b"'/' 'HTTP/1.0' \r\n")

    def _deny(self, conn: socket.socket, head: bytes, body: bytes) -> None:
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
        if b"expect" not in fields:  # a client waiting for 100 Continue sends no body yet
            while len(body) < int(fields.get(b"content-length", b"0")):
                body += conn.recv(65536)
        error = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(error), error))

    def close(self) -> None:
        self.closing = True
        socket.create_connection(self.server.getsockname()).close()  # wakes accept()
        self.thread.join()
        self.server.close()


@pytest.fixture
def raw_endpoint(request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[RawEndpoint]:
    """A RawEndpoint that the AWS variables point at, each call tried once by botocore."""
    pytest.importorskip("s3fs")
    endpoint = RawEndpoint(request.param)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    yield endpoint
    endpoint.close()


@pytest.mark.parametrize("raw_endpoint", ["deny"], indirect=True)
def test_an_upload_sends_its_body_without_waiting_for_100_continue(raw_endpoint, tmp_path) -> None:
    # aiohttp waits for "100 Continue" with no timeout: an endpoint that took the connection
    # and never answered held the put for ever
    app = App("objects")
    bucket = app.bucket("raw", url="s3://cauce-test/prefix")
    with (TestRuntime(app, home=tmp_path / "home"),
          pytest.raises(ResourceError, match=r"cannot put 'a\.txt': PermissionError")):
        bucket.put("a.txt", b"12345")
    [head] = raw_endpoint.heads
    assert head.startswith(b"PUT /cauce-test/prefix/a.txt ")
    assert b"expect:" not in head.lower()


@pytest.mark.parametrize("raw_endpoint", ["hang up"], indirect=True)
def test_a_call_is_tried_as_often_as_botocore_says_not_again_by_s3fs(raw_endpoint,
                                                                     tmp_path) -> None:
    # s3fs repeated botocore's attempts five times over: 7 minutes to fail against an endpoint
    # that never answers
    app = App("objects")
    bucket = app.bucket("raw", url="s3://cauce-test/prefix")
    with (TestRuntime(app, home=tmp_path / "home"),
          pytest.raises(ResourceError, match=r"cannot look up 'a\.txt'")):
        bucket.exists("a.txt")
    # one attempt (AWS_MAX_ATTEMPTS=1), which aiohttp makes again once when its connection is
    # dropped unanswered; it was 10 (then one GET / asks whether it speaks HTTP at all)
    asked = [head.split(b" ", 2)[:2] for head in raw_endpoint.heads]
    assert [method for method, path in asked if path != b"/"] == [b"HEAD"] * 2


def test_botocore_says_nothing_at_info_in_the_runs_log(s3_endpoint: str, tmp_path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    # "Found credentials in environment variables." and "Found endpoint for s3 via: ..." were
    # lines of the log of every run using an S3 bucket
    for name in ("botocore", "aiobotocore"):  # as a fresh process has them
        for logger in [logging.getLogger(name), *(logging.getLogger(n) for n in
                       logging.root.manager.loggerDict if n.startswith(name + "."))]:
            logger.setLevel(logging.NOTSET)
    app = App("objects")
    bucket = app.bucket("raw", url=f"s3://cauce-test/{uuid.uuid4().hex[:12]}")
    with TestRuntime(app, home=tmp_path / "home"), caplog.at_level(logging.INFO):
        bucket.put("a.txt", b"1")
        assert bucket.get("a.txt") == b"1"
    assert [r.getMessage() for r in caplog.records if "botocore" in r.name] == []


def test_a_closed_runtime_leaves_no_s3_file_system_behind(s3_endpoint: str, tmp_path) -> None:
    # each store's file system has a session of its own, so fsspec's instance cache kept one
    # per runtime (and its connections) for the life of the process
    app = App("objects")
    bucket = app.bucket("raw", url=f"s3://cauce-test/{uuid.uuid4().hex[:12]}")
    with TestRuntime(app, home=tmp_path / "home") as rt:
        bucket.put("a.txt", b"1")
        kept = weakref.ref(rt.runtime.bucket_store(bucket).fs)  # type: ignore[attr-defined]
    del rt
    gc.collect()
    assert kept() is None


@pytest.mark.parametrize("raw_endpoint", ["smtp", "redis"], indirect=True)
def test_an_endpoint_speaking_another_protocol_is_named_no_s3_server(raw_endpoint,
                                                                    tmp_path) -> None:
    # a mail server's greeting came out as the error line, raw bytes and all
    app = App("objects")
    bucket = app.bucket("raw", url="s3://cauce-test/prefix")
    with TestRuntime(app, home=tmp_path / "home"):
        for use, action in ((lambda: bucket.exists("a.txt"), "look up 'a.txt'"),
                            (lambda: bucket.put("a.txt", b"1"), "put 'a.txt'"),
                            (bucket.list, "list its objects")):
            with pytest.raises(ResourceError) as caught:
                use()
            assert str(caught.value) == (
                f"s3://cauce-test/prefix: cannot {action}: the endpoint {raw_endpoint.url} is "
                "no S3 server (it answers in another protocol than HTTP)")
            assert "AWS_ENDPOINT_URL" in (caught.value.hint or "")


@pytest.mark.parametrize("raw_endpoint", ["hang up"], indirect=True)
def test_an_endpoint_that_hangs_up_is_not_said_to_be_no_s3_server(raw_endpoint,
                                                                  tmp_path) -> None:
    # it may be an S3 server that failed: botocore's words stay
    app = App("objects")
    bucket = app.bucket("raw", url="s3://cauce-test/prefix")
    with (TestRuntime(app, home=tmp_path / "home"),
          pytest.raises(ResourceError, match="ConnectionClosedError") as caught):
        bucket.exists("a.txt")
    assert "no S3 server" not in str(caught.value)


def _same_second_rewrite(client, bucket: str, key: str, first: bytes, second: bytes,
                         between) -> bool:
    """Write ``first``, call ``between``, write ``second``: whether the server dated both
    writes with the same second (S3's times have whole seconds)."""
    client.put_object(Bucket=bucket, Key=key, Body=first)
    before = client.head_object(Bucket=bucket, Key=key)["LastModified"]
    between()
    client.put_object(Bucket=bucket, Key=key, Body=second)
    return client.head_object(Bucket=bucket, Key=key)["LastModified"] == before


def test_path_gives_the_object_rewritten_within_its_second(s3_endpoint: str,
                                                           tmp_path) -> None:
    # the copy was fresh when size and time agreed: the old bytes were handed out
    import boto3

    client = boto3.client("s3")
    prefix = uuid.uuid4().hex[:12]
    app = App("objects")
    bucket = app.bucket("raw", url=f"s3://cauce-test/{prefix}")
    with TestRuntime(app, home=tmp_path / "home"):
        for attempt in range(20):
            key = f"a{attempt}.csv"
            if _same_second_rewrite(client, "cauce-test", f"{prefix}/{key}", b"first",
                                    b"again", lambda key=key: bucket.path(key)):
                break
        else:
            pytest.fail("no two writes within one second")
        assert bucket.path(key).read_bytes() == b"again"


def _copy_folders(rt) -> list[str]:
    """The folders of path()'s local copies in the cache of bucket ``raw``."""
    objects = rt.home / "cache" / "buckets" / "objects" / "raw" / "objects"
    return sorted(p.name for p in objects.iterdir() if p.is_dir()) if objects.exists() else []


def test_a_copy_of_an_object_others_deleted_goes_at_the_next_look_unless_a_run_reads_it(
        s3_endpoint: str, tmp_path) -> None:
    # copies of objects deleted by other programs stayed under <home>/cache for ever
    import boto3

    client = boto3.client("s3")
    prefix = uuid.uuid4().hex[:12]
    app = App("objects")
    bucket = app.bucket("raw", url=f"s3://cauce-test/{prefix}", watch="1m")
    read: list[bytes] = []

    @app.job()
    def reader(ctx, key: str, delete: bool = False) -> None:
        local = bucket.path(key)
        if delete:  # another program deletes it while this run reads it; a look happens
            client.delete_object(Bucket="cauce-test", Key=f"{prefix}/{key}")
            ctx._runtime.scan_bucket(bucket)
        read.append(local.read_bytes())

    with TestRuntime(app, home=tmp_path / "home") as rt:
        bucket.put("a.csv", b"a")
        bucket.put("b.csv", b"b")
        assert rt.run(reader, key="a.csv").succeeded
        assert rt.run(reader, key="b.csv", delete=True).succeeded
        assert read == [b"a", b"b"]  # b's copy was still there for its run
        assert len(_copy_folders(rt)) == 2
        client.delete_object(Bucket="cauce-test", Key=f"{prefix}/a.csv")
        rt.advance("1m")
        assert _copy_folders(rt) == []  # both gone: no run holds them now
        assert not rt.run(reader, key="b.csv").succeeded  # no such object


def test_serving_removes_what_killed_processes_left_in_the_cache(s3_endpoint: str,
                                                                 tmp_path) -> None:
    """Temporary files of uploads and downloads killed midway, and copies of objects deleted
    while nothing ran, go when a serving process starts; a file a live process holds stays."""
    import fcntl
    import os
    import signal
    import subprocess
    import sys
    import time

    import boto3

    from cauce.runtime.runtime import Runtime
    from waiting import wait_for

    prefix = uuid.uuid4().hex[:12]
    url = f"s3://cauce-test/{prefix}"
    home = tmp_path / "home"
    app = App("objects")
    bucket = app.bucket("raw", url=url)

    @app.job()
    def reader(ctx) -> None:
        for key in ("kept.csv", "deleted.csv"):
            bucket.path(key)

    with TestRuntime(app, home=home) as rt:
        bucket.put("kept.csv", b"1")
        bucket.put("deleted.csv", b"2")
        bucket.put("other.csv", b"3")  # no copy yet
        assert rt.run(reader).succeeded
    cache = home / "cache" / "buckets" / "objects" / "raw"
    boto3.client("s3").delete_object(Bucket="cauce-test", Key=f"{prefix}/deleted.csv")
    killed = subprocess.run([sys.executable, "-c", f"""
import os, signal
from cauce import App
from cauce.testing import TestRuntime
app = App("objects")
bucket = app.bucket("raw", url={url!r})
with TestRuntime(app, home={str(home)!r}) as rt:
    store = rt.runtime.bucket_store(bucket)
    def killed_midway(remote, local, **kw):
        with open(local, "wb") as out:
            out.write(b"half")
        os.kill(os.getpid(), signal.SIGKILL)
    with store.writer("big.csv") as out:
        out.write(b"half")
        store.fs.get_file = killed_midway
        bucket.path("other.csv")
"""[1:]], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert killed.returncode == -signal.SIGKILL
    left = sorted(p.name[:5] for p in cache.rglob(".*-*"))
    assert left == [".get-", ".put-"]
    held = cache / ".put-live"  # a live process's upload, still written
    held.write_bytes(b"x")
    holder = os.open(held, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_SH)
    an_hour_ago = time.time() - 3600
    for leftover in cache.rglob(".*-*"):  # as if a while had passed: none is too young to go
        os.utime(leftover, (an_hour_ago, an_hour_ago))
    try:
        with Runtime(app, home=home) as served:
            served.serve(until="idle", timeout="30s", threads=1)
            objects = cache / "objects"
            wait_for(lambda: len([p for p in objects.iterdir() if p.is_dir()]) == 1,
                     what="the copy of the deleted object and the killed download to go")
            wait_for(lambda: not [p for p in cache.glob(".put-*") if p != held],
                     what="the killed upload's file to go")
        assert [p.name for p in objects.rglob("*.csv")] == ["kept.csv"]
        assert held.exists()
    finally:
        os.close(holder)


def test_a_clean_up_leaves_the_temporary_file_of_a_write_under_way(remote) -> None:
    # a write that took longer than the grace lost its file to the clean-up of a starting
    # serve, and the upload failed
    import os
    import time

    bucket, rt, _ = remote
    store = rt.runtime.bucket_store(bucket)
    with bucket.open("in/slow.csv", "wb") as out:
        out.write(b"1,2\n")
        out.flush()
        [temporary] = store.cache.glob(".put-*")
        an_hour_ago = time.time() - 3600
        os.utime(temporary, (an_hour_ago, an_hour_ago))
        store.clean_cache()
        assert temporary.exists()
    assert bucket.get("in/slow.csv") == b"1,2\n"


def test_path_of_an_object_others_deleted_drops_its_copy(s3_endpoint: str, tmp_path) -> None:
    # in a bucket no watch looks into, the copy stayed until the next start of a serve
    import boto3

    prefix = uuid.uuid4().hex[:12]
    app = App("objects")
    bucket = app.bucket("raw", url=f"s3://cauce-test/{prefix}")

    @app.job()
    def reader(ctx) -> None:
        bucket.path("a.csv")

    with TestRuntime(app, home=tmp_path / "home") as rt:
        bucket.put("a.csv", b"a")
        assert rt.run(reader).succeeded
        assert len(_copy_folders(rt)) == 1
        boto3.client("s3").delete_object(Bucket="cauce-test", Key=f"{prefix}/a.csv")
        with pytest.raises(ObjectNotFound):
            bucket.path("a.csv")
        assert _copy_folders(rt) == []


def test_a_run_reading_many_local_copies_keeps_few_files_open(tmp_path) -> None:
    # each copy a run read stayed open (a lock) until the run ended: a job reading thousands of
    # objects ran out of file descriptors
    import os

    app = App("objects")
    bucket = app.bucket("raw", url=f"memory://cauce-test/{uuid.uuid4().hex[:12]}")
    opened: list[int] = []

    @app.job()
    def reader(ctx) -> None:
        before = len(os.listdir("/proc/self/fd"))
        for n in range(300):
            bucket.path(f"in/{n}.csv")
        opened.append(len(os.listdir("/proc/self/fd")) - before)

    with TestRuntime(app, home=tmp_path / "home") as rt:
        for n in range(300):
            bucket.put(f"in/{n}.csv", b"1")
        assert rt.run(reader).succeeded
    assert opened[0] < 10


def test_copies_asked_for_outside_a_run_stay_while_the_runtime_lives(s3_endpoint: str,
                                                                     tmp_path) -> None:
    # a script's copies are held for the runtime's life, also after it deleted another one
    import boto3

    prefix = uuid.uuid4().hex[:12]
    app = App("objects")
    bucket = app.bucket("raw", url=f"s3://cauce-test/{prefix}", watch="1m")
    with TestRuntime(app, home=tmp_path / "home") as rt:
        for key in ("a.csv", "b.csv", "c.csv"):
            bucket.put(key, key.encode())
        bucket.path("a.csv")
        bucket.path("b.csv")
        assert bucket.delete("a.csv")
        kept = bucket.path("c.csv")
        boto3.client("s3").delete_object(Bucket="cauce-test", Key=f"{prefix}/c.csv")
        rt.advance("1m")  # a look: c is gone, and its copy is held
        assert kept.read_bytes() == b"c.csv"
        assert len(_copy_folders(rt)) == 2  # b's and c's
