"""Sources: local paths, URLs downloaded once with a checksum, and errors that say what to do.

The Description comes the same way; without a setting it is the one next to the first local
source, else the original's URL.
"""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from cauce import CauceError
from cauce.apps.census.sources import (
    DEFAULT_DESCRIPTION,
    DEFAULT_SOURCES,
    DESCRIPTION,
    description_origin,
    download_key,
    fetch,
    source_name,
)
from cauce.backends.objects import check_key

URL = "https://example.org/data/Adult.data"
BODY = b"39, State-gov, 77516\n" * 100


class DictBucket:
    """Objects in a dict: the three Bucket calls the fetcher makes (exists, get, put)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def exists(self, key: str) -> bool:
        return key in self.objects

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def put(self, key: str, data: bytes | str) -> None:
        self.objects[key] = data.encode() if isinstance(data, str) else data


class Server:
    """A mock HTTP server counting its requests."""

    def __init__(self, status: int = 200) -> None:
        self.requests = 0
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(self.status, content=BODY if self.status == 200 else b"")


def test_the_defaults_are_the_original_test_files():
    assert [source_name(s) for s in DEFAULT_SOURCES] == ["Adult.data", "Adult.test"]
    assert all(s.startswith("https://raw.githubusercontent.com/clicksign/python-dev-test/")
               for s in DEFAULT_SOURCES)


def test_the_default_description_sits_next_to_the_default_data_files():
    folder = {s.rsplit("/", 1)[0] for s in DEFAULT_SOURCES}
    assert folder == {DEFAULT_DESCRIPTION.rsplit("/", 1)[0]}
    assert source_name(DEFAULT_DESCRIPTION) == "Description"


def test_the_description_setting_comes_first(tmp_path):
    (tmp_path / "Description").write_text("next to the data")
    sources = [str(tmp_path / "Adult.data")]
    assert description_origin("elsewhere/Description", sources) == "elsewhere/Description"
    assert description_origin(URL + ".txt", sources) == URL + ".txt"


def test_then_the_description_next_to_the_first_local_source(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "Description").write_text("first")
    (second / "Description").write_text("second")
    local = [str(first / "Adult.data"), str(second / "Adult.test")]
    assert description_origin(None, local) == str(first / "Description")
    assert description_origin(None, [URL, *local]) == str(first / "Description")


def test_then_the_original_url(tmp_path):
    assert description_origin(None, [str(tmp_path / "Adult.data")]) == DEFAULT_DESCRIPTION
    assert description_origin(None, list(DEFAULT_SOURCES)) == DEFAULT_DESCRIPTION
    assert description_origin(None, []) == DEFAULT_DESCRIPTION
    (tmp_path / "Description").mkdir()  # a folder of that name is not the file
    assert description_origin(None, [str(tmp_path / "Adult.data")]) == DEFAULT_DESCRIPTION


def test_a_local_file_is_read_with_its_checksum(tmp_path):
    path = tmp_path / "Adult.data"
    path.write_bytes(BODY)
    file = fetch(str(path), DictBucket())
    assert (file.name, file.data, file.downloaded) == ("Adult.data", BODY, False)
    assert file.sha256 == hashlib.sha256(BODY).hexdigest()


def test_a_missing_local_file_is_one_clear_error(tmp_path):
    with pytest.raises(CauceError, match=r"cannot read the source .*No such file") as raised:
        fetch(str(tmp_path / "nope.data"), DictBucket())
    assert "--source" in raised.value.hint


@pytest.mark.timeout(30)  # without the check, reading the pipe waits for a writer forever
def test_a_pipe_or_a_device_is_refused_instead_of_read_forever(tmp_path):
    fifo = tmp_path / "Adult.data"
    os.mkfifo(fifo)
    for source in ("/dev/null", str(fifo)):  # (/dev/zero, also refused, would fill the memory)
        with pytest.raises(CauceError, match="not a regular file") as raised:
            fetch(source, DictBucket())
        assert "not a device or a pipe" in raised.value.hint


def test_a_url_is_downloaded_once_with_progress_and_checksum():
    server, bucket, progress = Server(), DictBucket(), []
    transport = httpx.MockTransport(server)
    first = fetch(URL, bucket, progress=lambda done, total: progress.append((done, total)),
                  transport=transport)
    second = fetch(URL, bucket, transport=transport)
    assert server.requests == 1
    assert first.downloaded and not second.downloaded
    assert first.data == second.data == BODY
    key = download_key(URL)
    assert key == "downloads/example.org/data/Adult.data"
    assert bucket.objects[key + ".sha256"].decode().strip() == hashlib.sha256(BODY).hexdigest()
    assert progress[-1] == (len(BODY), len(BODY))


def test_every_url_has_a_key_of_its_own_that_a_bucket_takes():
    urls = ["https://h/get?f=a.csv", "https://h/get?f=b.csv", "https://h:8443/get?f=a.csv",
            "https://h/a%2Fb", "https://h/a/b", "https://h/a%252Fb", "https://h/%2e%2e/b",
            "https://h/a%5Cb", "https://h/a%00b", "https://h/", "https://h/?q=1",
            "https://h/index", "https://h/get?x=/../y"]
    keys = [download_key(url) for url in urls]
    assert len(set(keys)) == len(urls), keys
    for key in keys:
        check_key(key)
    assert download_key("https://u:secret@Example.org/a%20b%C3%A9") == "downloads/example.org/a bé"


def test_a_damaged_copy_is_downloaded_again():
    server, bucket = Server(), DictBucket()
    fetch(URL, bucket, transport=httpx.MockTransport(server))
    bucket.objects[download_key(URL)] = b"truncated"
    again = fetch(URL, bucket, transport=httpx.MockTransport(server))
    assert again.data == BODY and again.downloaded
    assert server.requests == 2


def test_no_network_says_so_and_shows_how_to_pass_local_files():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(CauceError, match=r"no network connection .*pass local files with "
                       r"--source path/to/Adult\.data --source path/to/Adult\.test") as raised:
        fetch(URL, DictBucket(), transport=httpx.MockTransport(unreachable))
    assert "--source path/to/Adult.data --source path/to/Adult.test" in raised.value.hint
    assert "demo-data" in raised.value.hint


def test_no_network_for_the_description_says_how_to_give_it_locally():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(CauceError) as raised:
        fetch(DEFAULT_DESCRIPTION, DictBucket(), transport=httpx.MockTransport(unreachable),
              advice=DESCRIPTION)
    message = raised.value.message
    assert message.startswith(f"cannot download {DEFAULT_DESCRIPTION}: no network connection")
    assert message.endswith("pass --description PATH or put Description next to the data files")
    assert "\n" not in message
    assert "--description path/to/Description" in raised.value.hint
    assert "--source" not in message


def test_a_missing_description_file_says_which_option_names_it(tmp_path):
    with pytest.raises(CauceError, match=r"cannot read the Description file .*No such file") as e:
        fetch(str(tmp_path / "Description"), DictBucket(), advice=DESCRIPTION)
    assert "--description" in e.value.hint


def test_an_http_error_names_the_status():
    with pytest.raises(CauceError, match="HTTP 404 Not Found"):
        fetch(URL, DictBucket(), transport=httpx.MockTransport(Server(status=404)))


def test_a_real_closed_port_is_reported_as_no_network():
    with pytest.raises(CauceError, match="no network connection"):
        fetch("http://127.0.0.1:9/Adult.data", DictBucket())


def test_a_folder_named_like_an_unknown_users_home_is_read_as_written(tmp_path, monkeypatch):
    """`~nosuchuser/Adult.data` failed with Python's 'Could not determine home directory'."""
    folder = tmp_path / "~no-such-user-census"
    folder.mkdir()
    (folder / "Adult.data").write_bytes(BODY)
    (folder / "Description").write_text("beside")
    monkeypatch.chdir(tmp_path)
    source = "~no-such-user-census/Adult.data"
    assert fetch(source, DictBucket()).data == BODY
    assert description_origin(None, [source]) == "~no-such-user-census/Description"


@pytest.mark.parametrize(("url", "why"), [
    ("https://[::1/Adult.data", "Invalid IPv6 URL"),  # was ValueError
    ("http://exa\nmple.org/Adult.data", "non-printable"),  # was httpx.InvalidURL
])
def test_a_url_that_is_none_says_so_in_one_line(url, why):
    assert source_name(url) == "Adult.data"  # the label of its progress, before the fetch
    server = Server()
    with pytest.raises(CauceError, match=f"is not a valid URL: .*{why}") as raised:
        fetch(url, DictBucket(), transport=httpx.MockTransport(server))
    assert "--source path/to/Adult.data" in raised.value.hint
    assert server.requests == 0
