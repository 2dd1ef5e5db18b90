"""Buckets: objects by key, written atomically, every write an object-created event."""

from __future__ import annotations

import codecs
import errno
import importlib.util
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cauce import App, InvalidKey, ObjectNotFound, ObjectRef, ResourceError
from cauce.testing import TestRuntime
from cauce.textfiles import TextDecodeError


@pytest.fixture
def raw():
    app = App("files")
    bucket = app.bucket("raw")
    with TestRuntime(app, start="2024-03-01T12:00:00") as rt:
        yield bucket, rt


def test_put_and_get(raw) -> None:
    bucket, _ = raw
    ref = bucket.put("in/a.csv", b"id\n1\n")
    assert isinstance(ref, ObjectRef)
    assert (ref.bucket_name, ref.key, ref.size) == ("raw", "in/a.csv", 5)
    assert ref.created_at == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # the runtime's clock
    assert bucket.get("in/a.csv") == b"id\n1\n"
    assert ref.read() == b"id\n1\n"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_objects_are_files_readable_as_any_other_there(raw, tmp_path: Path) -> None:
    bucket, _ = raw
    source = tmp_path / "a.csv"
    source.write_bytes(b"1")
    umask = os.umask(0o022)
    os.umask(umask)
    bucket.put("put.csv", b"1")
    bucket.put_file("copied.csv", source)
    with bucket.open("opened.csv", "wb") as out:
        out.write(b"1")
    modes = {key: bucket.path(key).stat().st_mode & 0o777
             for key in ("put.csv", "copied.csv", "opened.csv")}
    assert set(modes.values()) == {0o666 & ~umask}  # were 0o600: no other user could read them


def test_text_and_file_objects_are_stored_as_bytes(raw) -> None:
    bucket, _ = raw
    bucket.put("text.txt", "ñandú")
    bucket.put("stream.bin", io.BytesIO(b"x" * 3_000_000))
    assert bucket.get("text.txt") == "ñandú".encode()
    assert bucket.text("text.txt") == "ñandú"
    assert bucket.info("stream.bin").size == 3_000_000


def test_put_replaces_the_previous_object(raw) -> None:
    bucket, _ = raw
    bucket.put("k", b"old")
    bucket.put("k", b"new")
    assert bucket.get("k") == b"new"
    assert [r.key for r in bucket.list()] == ["k"]


def test_other_values_are_refused(raw) -> None:
    bucket, _ = raw
    with pytest.raises(ResourceError, match="cannot store a dict in bucket 'raw'"):
        bucket.put("k", {"a": 1})  # type: ignore[arg-type]
    assert not bucket.exists("k")


def test_open_for_reading_and_writing(raw) -> None:
    bucket, _ = raw
    with bucket.open("out/report.txt", "wb") as out:
        out.write(b"line 1\n")
        out.write(b"line 2\n")
    with bucket.open("out/report.txt", "rb") as handle:
        assert handle.read().splitlines() == [b"line 1", b"line 2"]
    with pytest.raises(ResourceError, match="mode 'r' is not supported"):
        bucket.open("out/report.txt", "r")


def test_missing_objects(raw) -> None:
    bucket, _ = raw
    with pytest.raises(ObjectNotFound, match=r"no object 'nope\.csv'"):
        bucket.get("nope.csv")
    with pytest.raises(ObjectNotFound, match=r"no object 'nope\.csv'"):
        bucket.open("nope.csv")
    with pytest.raises(ObjectNotFound, match=r"no object 'nope\.csv'"):
        bucket.path("nope.csv")  # as in S3: it gave a path to no file
    assert not bucket.exists("nope.csv")
    assert bucket.delete("nope.csv") is False


def test_list_by_prefix_in_key_order(raw) -> None:
    bucket, _ = raw
    for key in ["in/b.csv", "in/a.csv", "in/sub/c.csv", "out/x.csv", "inbox.txt"]:
        bucket.put(key, b"1")
    assert [r.key for r in bucket.list()] == ["in/a.csv", "in/b.csv", "in/sub/c.csv", "inbox.txt",
                                              "out/x.csv"]
    assert [r.key for r in bucket.list("in/")] == ["in/a.csv", "in/b.csv", "in/sub/c.csv"]
    assert [r.key for r in bucket.list("in")] == ["in/a.csv", "in/b.csv", "in/sub/c.csv",
                                                  "inbox.txt"]
    assert [r.key for r in bucket.list("in/s")] == ["in/sub/c.csv"]
    assert bucket.list("missing/") == []
    # folders no file system could hold (a name past 255 bytes, a path past 4,096) hold nothing
    assert bucket.list("x" * 300 + "/") == [] and bucket.list("in/" + "y/" * 3000) == []


def test_delete_removes_the_object_and_folders_it_emptied(raw) -> None:
    bucket, _ = raw
    bucket.put("a/b/c.txt", b"1")
    bucket.put("a/keep.txt", b"1")
    assert bucket.delete("a/b/c.txt") is True
    assert not bucket.exists("a/b/c.txt")
    assert not bucket.path("a/keep.txt").parent.joinpath("b").exists()
    assert [r.key for r in bucket.list()] == ["a/keep.txt"]


def test_put_file_copies_or_moves(raw, tmp_path: Path) -> None:
    bucket, _ = raw
    source = tmp_path / "local.csv"
    source.write_bytes(b"a,b\n")
    os.utime(source, (0, 0))
    ref = bucket.put_file("copied.csv", source)
    assert source.exists()
    assert ref.size == 4
    moved = bucket.put_file("moved.csv", source, move=True)
    assert not source.exists()
    assert bucket.get("moved.csv") == b"a,b\n"
    assert moved.created_at == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(ObjectNotFound, match="no file"):
        bucket.put_file("x.csv", tmp_path / "absent.csv")


def test_path_is_the_objects_local_file(raw) -> None:
    bucket, rt = raw
    bucket.put("in/a.csv", b"1")
    path = bucket.path("in/a.csv")
    assert path.read_bytes() == b"1"
    assert path.is_relative_to(rt.home)
    assert bucket.info("in/a.csv").path == path


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("../outside.txt", "has an empty, '.' or '..' segment"),
        ("in/../../outside.txt", "has an empty, '.' or '..' segment"),
        ("in//a.csv", "has an empty, '.' or '..' segment"),
        ("in/", "has an empty, '.' or '..' segment"),
        ("./a.csv", "has an empty, '.' or '..' segment"),
        ("/etc/passwd", "is absolute"),
        ("in\\a.csv", "contains a backslash"),
        ("in/a\x00.csv", "contains a control character"),
        ("in/a\n.csv", "contains a control character"),
        ("in/a\udc80.csv", "contains a lone surrogate"),
        (".cauce-tmp/x", "uses the reserved folder .cauce-tmp"),
        ("k" * 1025, "is longer than 1024 bytes"),
        ("in/" + "n" * 256 + ".csv", "has a segment longer than 255 bytes"),
        ("é" * 128, "has a segment longer than 255 bytes"),
    ],
)
def test_invalid_keys_are_refused_before_touching_the_disk(raw, key: str, problem: str) -> None:
    bucket, _ = raw
    with pytest.raises(InvalidKey, match=problem):
        bucket.put(key, b"x")
    with pytest.raises(InvalidKey, match=problem):
        bucket.get(key)
    assert bucket.list() == []


@pytest.mark.parametrize("key", ["x:y.csv", "ab:c", "C:/data.csv", "2021-04-22T10:00:00Z.json",
                                 "in/" + "n" * 255, "é" * 127 + "e"])
def test_colons_and_segments_up_to_255_bytes_are_ordinary_keys(raw, key: str) -> None:
    bucket, _ = raw
    bucket.put(key, b"x")
    assert bucket.get(key) == b"x"
    assert [ref.key for ref in bucket.list()] == [key]


def test_empty_keys(raw) -> None:
    bucket, _ = raw
    with pytest.raises(InvalidKey, match="an object key must be a non-empty string"):
        bucket.put("", b"x")


def _link_out(bucket, tmp_path: Path) -> Path:
    """A folder outside the bucket holding secret.txt, linked into the bucket as link/."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("no")
    bucket.put("placeholder", b"1")
    bucket.path("placeholder").parent.joinpath("link").symlink_to(outside)
    return outside


def test_a_key_cannot_escape_through_a_symlink(raw, tmp_path: Path) -> None:
    bucket, _ = raw
    outside = _link_out(bucket, tmp_path)
    with pytest.raises(InvalidKey, match=r"object key 'link/evil\.txt' escapes the bucket folder"):
        bucket.put("link/evil.txt", b"x")
    with pytest.raises(InvalidKey, match="escapes the bucket folder"):
        bucket.get("link/secret.txt")
    assert not (outside / "evil.txt").exists()


def test_listing_does_not_follow_a_symlink_out_of_the_bucket(raw, tmp_path: Path) -> None:
    bucket, _ = raw
    _link_out(bucket, tmp_path)
    assert [r.key for r in bucket.list("link/")] == []


def test_listing_passes_over_links_to_nothing(raw) -> None:
    # a file linked in whose target was moved, or a link to itself: the listing failed with
    # FileNotFoundError (an unexpected error for every command that lists the bucket)
    bucket, _ = raw
    bucket.put("in/a.csv", b"1")
    folder = bucket.path("in/a.csv").parent
    (folder / "moved.csv").symlink_to("gone.csv")
    (folder / "loop.csv").symlink_to("loop.csv")
    assert [ref.key for ref in bucket.list("in/")] == ["in/a.csv"]
    for key in ("in/moved.csv", "in/loop.csv"):  # the loop's was an OSError
        assert not bucket.exists(key)
        with pytest.raises(ObjectNotFound):
            bucket.get(key)


@pytest.mark.parametrize("prefix", ["in/../", "in/../i", "../", "in/../../", "in/./../"])
def test_a_prefix_through_a_dot_dot_folder_lists_no_keys(raw, prefix: str) -> None:
    bucket, _ = raw
    bucket.put("in/a.csv", b"1")
    bucket.put("top.csv", b"2")
    assert bucket.list(prefix) == []
    bucket.put("in/..hidden", b"3")  # a segment that only starts with '..' is ordinary
    assert [ref.key for ref in bucket.list("in/..")] == ["in/..hidden"]


def test_an_object_key_cannot_also_be_a_folder_of_keys(raw) -> None:
    bucket, _ = raw
    bucket.put("a/b", b"1")
    with pytest.raises(InvalidKey, match="object key 'a' of bucket 'raw' collides with other keys"):
        bucket.put("a", b"2")
    with pytest.raises(InvalidKey,
                       match="object key 'a/b/c' of bucket 'raw' collides with other keys"):
        bucket.put("a/b/c", b"3")
    assert bucket.delete("a") is False
    assert [r.key for r in bucket.list()] == ["a/b"]


def test_a_writer_that_raises_leaves_no_object_and_no_temporary_file(raw) -> None:
    bucket, _ = raw
    bucket.put("report.txt", b"complete")
    with pytest.raises(RuntimeError, match="disk full"), bucket.open("report.txt", "wb") as out:
        out.write(b"half of the new ver")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError, match="source broke"), bucket.open("fresh.txt", "wb") as out:
        out.write(b"partial")
        raise RuntimeError("source broke")
    assert bucket.get("report.txt") == b"complete"
    assert not bucket.exists("fresh.txt")
    root = bucket.path("report.txt").parent
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["report.txt"]


def test_a_source_that_fails_midway_leaves_no_object(raw) -> None:
    bucket, _ = raw

    class FailingSource(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 1:
                raise OSError("connection reset")
            return b"x" * 1024

    with pytest.raises(OSError, match="connection reset"):
        bucket.put("download.bin", FailingSource())
    assert not bucket.exists("download.bin")


def test_a_bucket_can_live_in_a_folder_given_by_url(tmp_path: Path) -> None:
    app = App("files")
    shared = app.bucket("shared", url=str(tmp_path / "shared-folder"))
    with TestRuntime(app):
        shared.put("a.txt", b"1")
    assert (tmp_path / "shared-folder" / "a.txt").read_bytes() == b"1"


def test_a_bucket_url_of_an_unknown_protocol_is_a_config_error() -> None:
    from cauce import ConfigError

    app = App("files")
    remote = app.bucket("remote", url="nosuch://bucket/prefix")
    message = r"bucket 'remote' \(declaration\): URL 'nosuch://bucket/prefix' is not supported"
    with TestRuntime(app), pytest.raises(ConfigError, match=message):
        remote.put("a.txt", b"1")


@pytest.mark.parametrize("url", ["ftp://x/y", "SFTP://host/path", "https://example.org/x"])
def test_a_bucket_url_that_is_no_object_storage_is_a_config_error(url: str) -> None:
    from cauce import ConfigError

    app = App("files")
    remote = app.bucket("remote", url=url)
    with TestRuntime(app), pytest.raises(ConfigError) as info:
        remote.put("a.txt", b"1")  # refused before anything is reached
    scheme = url.partition(":")[0].lower()
    assert info.value.message == (f"bucket 'remote' (declaration): URL {url!r} is not supported: "
                                  f"{scheme}:// is no object storage cauce keeps buckets in")
    assert info.value.hint is not None
    assert info.value.hint.startswith("use a folder path, file:///path/to/folder, s3://bucket/")


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "memory://bucket//prefix",
                                 "memory://bucket/a//b/"])
def test_a_bucket_url_naming_no_bucket_or_with_an_empty_part_is_a_config_error(url: str) -> None:
    # s3://bucket//prefix stored objects under "/prefix/..." that no listing found
    from cauce import ConfigError

    app = App("files")
    remote = app.bucket("remote", url=url)
    with TestRuntime(app), pytest.raises(ConfigError) as info:
        remote.put("a.txt", b"1")
    assert info.value.message == (f"bucket 'remote' (declaration): URL {url!r} is not supported: "
                                  "it names no bucket, or has '//' in its path")
    assert "s3://bucket/prefix" in (info.value.hint or "")


@pytest.mark.parametrize(("where", "message"), [
    ("afile", "{root} is a file, not a folder"),
    ("afile/sub", "{root} cannot be a folder: {file} is a file"),
    ("file://{file}", "{root} is a file, not a folder"),
    ("loop", "{root} is a link that leads back to itself (a loop of symbolic links)"),
    ("loop/sub", "{root} cannot be a folder: {loop} is a link that leads back to itself (a "
     "loop of symbolic links)"),
])
def test_a_bucket_url_that_is_a_file_is_a_config_error(tmp_path: Path, where: str,
                                                        message: str) -> None:
    from cauce import ConfigError

    file = tmp_path / "afile"
    file.write_text("not a folder")
    (tmp_path / "loop").symlink_to("loop")  # was an unexpected RuntimeError, then OSError
    url = where.format(file=file) if "{" in where else str(tmp_path / where)
    app = App("files")
    misplaced = app.bucket("misplaced", url=url)
    with TestRuntime(app):
        for use in (lambda: misplaced.put("a.txt", b"1"), lambda: misplaced.list()):
            with pytest.raises(ConfigError) as info:
                use()
            root = Path(url.removeprefix("file://"))
            assert info.value.message == ("bucket 'misplaced' (declaration): "
                                          + message.format(root=root, file=file,
                                                           loop=tmp_path / "loop"))
            assert (info.value.hint or "").startswith("use a folder path, file:///path/to/")
    assert file.read_text() == "not a folder"


def test_a_bucket_url_whose_package_is_missing_names_it() -> None:
    from cauce import ConfigError

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here, so gs:// works")
    app = App("files")
    remote = app.bucket("remote", url="gs://bucket/prefix")
    with TestRuntime(app), pytest.raises(ConfigError, match="needs a package") as info:
        remote.put("a.txt", b"1")
    assert "gcsfs" in info.value.message


def test_object_created_events_are_filtered_by_prefix_and_suffix() -> None:
    app = App("files")
    raw = app.bucket("raw")
    seen: dict[str, list[str]] = {"csv": [], "all": []}

    @app.on(raw, prefix="in/", suffix=".csv")
    def on_csv(obj: ObjectRef, ctx) -> None:
        seen["csv"].append(f"{obj.key}:{obj.size}:{obj.read().decode()}")

    @app.on(raw)
    def on_any(obj: ObjectRef, ctx) -> None:
        seen["all"].append(obj.key)

    with TestRuntime(app) as rt:
        raw.put("in/a.csv", b"1")
        raw.put("in/a.txt", b"2")
        raw.put("out/b.csv", b"3")
        with raw.open("in/c.csv", "wb") as out:
            out.write(b"44")
        rt.drain()
    assert seen["csv"] == ["in/a.csv:1:1", "in/c.csv:2:44"]
    assert sorted(seen["all"]) == ["in/a.csv", "in/a.txt", "in/c.csv", "out/b.csv"]


def test_a_failed_write_emits_no_event() -> None:
    app = App("files")
    raw = app.bucket("raw")
    seen = []
    app.on(raw, name="on_any")(lambda obj, ctx: seen.append(obj.key))
    with TestRuntime(app) as rt:
        with pytest.raises(RuntimeError), raw.open("x", "wb") as out:
            out.write(b"1")
            raise RuntimeError("abort")
        assert rt.drain() == 0
    assert seen == []


@pytest.mark.parametrize("refusal", [errno.ENOSPC, errno.EROFS])
def test_a_bucket_that_cannot_take_the_object_says_so(raw, tmp_path: Path, monkeypatch,
                                                      refusal: int) -> None:
    from cauce.backends import folders

    def refuse(*args) -> None:
        raise OSError(refusal, os.strerror(refusal))

    bucket, _ = raw
    monkeypatch.setattr(folders.os, "replace", refuse)  # the os module, for this test
    source = tmp_path / "a.csv"
    source.write_bytes(b"id\n1\n")
    for write in (lambda: bucket.put("in/a.csv", b"id\n1\n"),
                  lambda: bucket.put_file("in/a.csv", source)):
        with pytest.raises(ResourceError, match=f"cannot write object 'in/a.csv' to bucket "
                           f"'raw': {os.strerror(refusal)}") as info:
            write()
        assert "free space" in (info.value.hint or "")
    assert bucket.list() == []


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF8 + "año,n\r\nñandú,1\r\n".encode(),
    "año,n\r\nñandú,1\r\n".encode("cp1252"),
    "año,n\r\nñandú,1\r\n".encode("utf-16"),
], ids=["utf-8 with a mark", "cp1252", "utf-16"])
def test_text_reads_a_file_as_a_supplier_saved_it(raw, data: bytes) -> None:
    # cp1252 and UTF-16 were a UnicodeDecodeError, and a mark stayed in the first column's name
    bucket, _ = raw
    bucket.put("in.csv", data)
    assert bucket.text("in.csv") == "año,n\r\nñandú,1\r\n"


def test_text_in_a_named_encoding_the_bytes_are_not_in_names_the_object(raw) -> None:
    bucket, _ = raw
    bucket.put("in.csv", "a\nñ\n".encode("cp1252"))
    with pytest.raises(TextDecodeError) as info:
        bucket.text("in.csv", encoding="utf-8")
    assert str(info.value) == (f"object 'in.csv' of bucket {bucket.name!r} is not utf-8 text: "
                               "byte 0xf1 on line 2 (invalid continuation byte)")
    assert "encoding='cp1252'" in (info.value.hint or "")
    assert bucket.text("in.csv", encoding="cp1252") == "a\nñ\n"


def test_text_not_in_cp1252_is_not_told_to_try_cp1252(raw) -> None:
    # the hint's example was cp1252 whatever failed, cp1252 itself included
    bucket, _ = raw
    bucket.put("in.csv", b"a\n\x81\n")
    with pytest.raises(TextDecodeError, match="is not cp1252 text: byte 0x81 on line 2") as info:
        bucket.text("in.csv", encoding="windows-1252")
    assert "encoding='latin-1'" in (info.value.hint or "")
    assert bucket.text("in.csv", encoding="latin-1") == "a\n\x81\n"


def test_serving_removes_the_temporary_files_of_writes_killed_midway(tmp_path: Path) -> None:
    """A write killed midway (SIGKILL) left its file in the bucket's .cauce-tmp for ever; a
    serving process's start removes it, and leaves one a live write holds."""
    import fcntl
    import signal
    import subprocess
    import sys
    import time

    from cauce.runtime.runtime import Runtime
    from waiting import wait_for

    folder, home = tmp_path / "drop", tmp_path / "home"
    killed = subprocess.run([sys.executable, "-c", f"""
import os, signal
from cauce import App
from cauce.testing import TestRuntime
app = App("objects")
bucket = app.bucket("raw", url={str(folder)!r})
with TestRuntime(app, home={str(home)!r}), bucket.open("a.csv", "wb") as out:
    out.write(b"half")
    os.kill(os.getpid(), signal.SIGKILL)
"""[1:]], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert killed.returncode == -signal.SIGKILL
    temporary = folder / ".cauce-tmp"
    [left] = temporary.iterdir()
    held = temporary / "put-live"  # a live write's
    held.write_bytes(b"x")
    holder = os.open(held, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_SH)
    an_hour_ago = time.time() - 3600
    for leftover in (left, held):  # as if a while had passed: none is too young to go
        os.utime(leftover, (an_hour_ago, an_hour_ago))
    app = App("objects")
    app.bucket("raw", url=str(folder))
    try:
        with Runtime(app, home=home) as served:
            served.serve(until="idle", timeout="30s", threads=1)
            wait_for(lambda: not left.exists(), what="the killed write's file to go")
        assert held.exists() and not (folder / "a.csv").exists()
    finally:
        os.close(holder)
