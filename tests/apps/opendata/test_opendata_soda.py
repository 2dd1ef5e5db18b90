"""The SODA client against the local portal: complete paging, retries, resume, errors, the token."""

from __future__ import annotations

import contextlib
import http.server
import logging
import math
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import polars as pl
import pytest

from cauce import RunCancelled
from cauce.connectors.soda import (
    DatasetForbidden,
    DatasetGone,
    Progress,
    RetryPolicy,
    SodaClient,
    SodaRequestError,
    SodaUnavailable,
    marker_for,
)
from cauce.connectors.soda import client as soda_client
from cauce.connectors.soda.client import ResumeMarker
from cauce.connectors.soda.portal import ColumnSpec, Dataset, Portal, PortalState, csv_bytes

TOKEN = "tok-5ecret-value"


class Waits(list[float]):
    """A stand-in for time.sleep that records how long the client asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def soda(portal: Portal, waits: Waits) -> Iterator[SodaClient]:
    with SodaClient(
        portal.url,
        app_token=TOKEN,
        retry=RetryPolicy(attempts=4, backoff=0.5),
        page_size=100,
        sleep=waits,
    ) as client:
        yield client


def offsets(state: PortalState, dataset: str) -> list[tuple[str, int]]:
    return [(r.params.get("$offset", ""), r.status) for r in state.requests_for(dataset)]


def test_download_pages_through_everything_byte_for_byte(
    soda: SodaClient, state: PortalState, tmp_path: Path
) -> None:
    seen: list[Progress] = []
    result = soda.download_csv("jbjy-vk9h", tmp_path / "jbjy.csv", progress=seen.append)
    frame = state.datasets["jbjy-vk9h"].frame
    assert (result.rows, result.pages, result.resumed_at_page) == (
        frame.height,
        frame.height // 100 + 1,
        0,
    )
    assert (tmp_path / "jbjy.csv").read_bytes() == csv_bytes(frame)
    assert result.bytes == (tmp_path / "jbjy.csv").stat().st_size
    assert not marker_for(tmp_path / "jbjy.csv").exists()
    assert seen[-1] == Progress("jbjy-vk9h", result.pages, result.rows, result.bytes)
    assert all(
        r.params["$order"] == ":id" and r.params["$limit"] == "100"
        for r in state.requests_for("jbjy-vk9h")
    )


def test_quoted_line_breaks_commas_and_quotes_are_counted_as_one_record(
    soda: SodaClient, state: PortalState, tmp_path: Path
) -> None:
    texts = [f'line {i}\nsecond, "quoted" part' if i % 3 == 0 else f"plain {i}" for i in range(250)]
    state.add(
        Dataset(
            "mult-line",
            "Multi-line",
            "Owner",
            "Cat",
            "a@b.co",
            "custom",
            [ColumnSpec("n", "N", "number"), ColumnSpec("texto", "Texto", "text")],
            pl.DataFrame({"n": list(range(250)), "texto": texts}),
            0,
            0,
        )
    )
    result = soda.download_csv("mult-line", tmp_path / "m.csv")
    assert (result.rows, result.pages) == (250, 3)
    assert pl.read_csv(tmp_path / "m.csv")["texto"].to_list() == texts


def test_empty_dataset_is_a_header_only_file(
    soda: SodaClient, state: PortalState, tmp_path: Path
) -> None:
    empty = state.datasets["it5q-hg94"]
    state.add(
        Dataset(
            "empt-y000",
            "Empty",
            "Owner",
            "Cat",
            "a@b.co",
            empty.kind,
            empty.columns,
            empty.frame.head(0),
            0,
            0,
        )
    )
    result = soda.download_csv("empt-y000", tmp_path / "e.csv")
    assert (result.rows, result.pages) == (0, 1)
    assert (tmp_path / "e.csv").read_text().startswith('"nombre_entidad_creadora","id_proceso"')


def test_500_twice_then_success_is_retried_with_backoff(
    soda: SodaClient, state: PortalState, waits: Waits, tmp_path: Path
) -> None:
    state.fail("gt2j-8ykr", times=2, from_offset=100)
    result = soda.download_csv("gt2j-8ykr", tmp_path / "g.csv")
    assert result.rows == state.datasets["gt2j-8ykr"].rows
    assert offsets(state, "gt2j-8ykr")[:4] == [("0", 200), ("100", 500), ("100", 500), ("100", 200)]
    assert (
        len(waits) == 2 and 0.25 <= waits[0] <= 0.75 and 0.5 <= waits[1] <= 1.5
    )  # 0.5 s, then 1 s, ±50 %


def test_throttling_honours_retry_after(
    soda: SodaClient, state: PortalState, waits: Waits, tmp_path: Path
) -> None:
    state.throttle("8835-5baf", times=2, retry_after=3)
    soda.download_csv("8835-5baf", tmp_path / "p.csv")
    assert waits == [3.0, 3.0]
    capped = SodaClient(soda.base_url, retry=RetryPolicy(attempts=2, max_wait=2), sleep=waits)
    state.throttle("8835-5baf", times=1, retry_after=3600)
    capped.metadata("8835-5baf")
    capped.close()
    assert waits[-1] == 2


@pytest.mark.parametrize("header", ["nan", "-inf", "soon"])
def test_a_retry_after_that_is_no_time_falls_back_to_the_backoff(header: str) -> None:
    """``Retry-After: nan`` reads as a float; time.sleep refused it with a ValueError."""
    answers = iter([httpx.Response(429, headers={"Retry-After": header}),
                    httpx.Response(200, json={"id": "jbjy-vk9h"})])
    transport = httpx.MockTransport(lambda request: next(answers))
    with SodaClient("http://portal.test", retry=RetryPolicy(backoff=0.001),
                    transport=transport) as soda:
        assert soda.metadata("jbjy-vk9h") == {"id": "jbjy-vk9h"}


def test_a_failed_download_resumes_at_the_failed_page(
    soda: SodaClient, state: PortalState, tmp_path: Path
) -> None:
    dest = tmp_path / "jbjy.csv"
    state.fail("jbjy-vk9h", times=None, from_offset=200)
    with pytest.raises(SodaUnavailable, match=r"\$offset=200.*HTTP 500 after 4 attempt"):
        soda.download_csv("jbjy-vk9h", dest)
    assert marker_for(dest).exists()
    state.clear_faults()
    result = soda.download_csv("jbjy-vk9h", dest)
    assert result.resumed_at_page == 2
    requested = [o for o, status in offsets(state, "jbjy-vk9h") if status == 200]
    assert requested == ["0", "100", "200", "300"]  # pages 0 and 100 were not fetched again
    assert dest.read_bytes() == csv_bytes(state.datasets["jbjy-vk9h"].frame)


def test_a_response_cut_mid_page_is_fetched_again_without_leftovers(
    soda: SodaClient, state: PortalState, tmp_path: Path
) -> None:
    state.cut("jbjy-vk9h", from_offset=100)
    result = soda.download_csv("jbjy-vk9h", tmp_path / "j.csv")
    assert (tmp_path / "j.csv").read_bytes() == csv_bytes(state.datasets["jbjy-vk9h"].frame)
    assert result.rows == state.datasets["jbjy-vk9h"].rows


def test_a_changed_header_between_pages_restarts_from_the_first(
    soda: SodaClient, state: PortalState, tmp_path: Path
) -> None:
    dest = tmp_path / "j.csv"
    state.fail("jbjy-vk9h", times=None, from_offset=200)
    with pytest.raises(SodaUnavailable):
        soda.download_csv("jbjy-vk9h", dest)
    state.clear_faults()
    current = state.datasets["jbjy-vk9h"]
    renamed = [
        replace(c, field="orden_entidad") if c.field == "orden" else c for c in current.columns
    ]
    state.datasets["jbjy-vk9h"] = replace(
        current, frame=current.frame.rename({"orden": "orden_entidad"}), columns=renamed
    )
    result = soda.download_csv("jbjy-vk9h", dest)
    assert result.resumed_at_page == 0 and result.header.count("orden_entidad") == 1
    assert dest.read_bytes() == csv_bytes(state.datasets["jbjy-vk9h"].frame)


def test_gone_and_forbidden_are_not_retried(
    soda: SodaClient, state: PortalState, waits: Waits, tmp_path: Path
) -> None:
    state.drop("9ssf-i6c5", 403)
    with pytest.raises(DatasetForbidden, match="forbidden") as forbidden:
        soda.download_csv("9ssf-i6c5", tmp_path / "f.csv")
    assert forbidden.value.status == 403 and forbidden.value.dataset == "9ssf-i6c5"
    with pytest.raises(DatasetGone, match="gone"):
        soda.metadata("zzzz-0000")
    with pytest.raises(SodaRequestError, match="No such column"):
        soda.rows("gt2j-8ykr", where="nothing = 1")
    assert waits == [] and len(state.requests_for("9ssf-i6c5")) == 1


def test_rows_count_and_iter_rows(soda: SodaClient, state: PortalState) -> None:
    frame = state.datasets["gt2j-8ykr"].frame
    assert soda.count("gt2j-8ykr") == frame.height
    assert soda.count("gt2j-8ykr", where="edad >= 60") == frame.filter(pl.col("edad") >= 60).height
    rows = list(soda.iter_rows("gt2j-8ykr", select="id_de_caso", page_size=70))
    assert [int(r["id_de_caso"]) for r in rows] == frame["id_de_caso"].to_list()


def test_the_token_goes_in_a_header_only_and_is_never_logged(
    soda: SodaClient, state: PortalState, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state.fail("gt2j-8ykr", times=1)
    soda.download_csv("gt2j-8ykr", tmp_path / "g.csv")
    assert all(r.token for r in state.requests) and all(
        TOKEN not in str(r.params) for r in state.requests
    )
    assert "retrying" in caplog.text and TOKEN not in caplog.text
    assert TOKEN not in repr(soda) and "token=yes" in repr(soda)


def test_the_token_does_not_follow_a_redirect_to_another_host(waits: Waits) -> None:
    """A portal that redirects to another host (a CDN, a hostile proxy) is followed, but the
    app token stays with the portal's own origin."""
    seen: dict[str, str | None] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen[str(request.url.host)] = request.headers.get("X-App-Token")
        if request.url.host == "portal.test":
            return httpx.Response(302, headers={"Location": f"http://other.test{request.url.path}"})
        return httpx.Response(200, json={"id": "jbjy-vk9h"})

    with SodaClient("http://portal.test", app_token=TOKEN, sleep=waits,
                    transport=httpx.MockTransport(answer)) as soda:
        assert soda.metadata("jbjy-vk9h") == {"id": "jbjy-vk9h"}
    assert seen == {"portal.test": TOKEN, "other.test": None}


def test_timeouts_and_refused_connections_end_as_unavailable(waits: Waits) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    port = silent.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        with (
            SodaClient(url, timeout=0.2, retry=RetryPolicy(attempts=2), sleep=waits) as slow,
            pytest.raises(SodaUnavailable, match="ReadTimeout"),
        ):
            slow.metadata("gt2j-8ykr")
    finally:
        silent.close()
    with (
        SodaClient(url, retry=RetryPolicy(attempts=2), sleep=waits) as closed,
        pytest.raises(SodaUnavailable, match="ConnectError"),
    ):
        closed.metadata("gt2j-8ykr")


@pytest.mark.parametrize(
    "dataset",
    ["../../etc", "jbjy-vk9h/../x", "a b", "JBJY-VK9H", "jbjy-vk9h?x=1", "-rf", "ñand-ú000"],
)
def test_an_id_that_is_not_a_dataset_id_is_refused_before_any_request(
    soda: SodaClient, state: PortalState, tmp_path: Path, dataset: str
) -> None:
    """An id becomes a URL path and a file name: `..` or `/` would reach elsewhere."""
    for call in (
        lambda: soda.download_csv(dataset, tmp_path / "into" / "x.csv"),
        lambda: soda.metadata(dataset),
        lambda: soda.rows(dataset),
    ):
        with pytest.raises(SodaRequestError, match="not a Socrata dataset id") as refused:
            call()
        assert refused.value.hint and "jbjy-vk9h" in refused.value.hint
    assert state.requests == [] and not (tmp_path / "into").exists()


@pytest.mark.parametrize(
    "url", ["ftp://portal.example", "file:///etc", "javascript:x", "http://[::1"]
)
def test_a_portal_that_is_not_an_http_address_is_refused_at_once(url: str) -> None:
    with pytest.raises(SodaRequestError, match=r"^portal .* is not a.* address") as refused:
        SodaClient(url)
    assert refused.value.hint


def mock_portal(answer: httpx.Response, waits: Waits) -> SodaClient:
    """A client of a portal that answers every request with ``answer``."""
    transport = httpx.MockTransport(lambda request: answer)
    return SodaClient(
        "http://portal.test", retry=RetryPolicy(attempts=2), sleep=waits, transport=transport
    )


@pytest.mark.parametrize(
    ("answer", "call", "reason"),
    [
        (httpx.Response(200, json=["a", 1]), "metadata", "JSON but not an object"),
        (httpx.Response(200, json={"error": "x"}), "rows", "JSON but not a list of rows"),
        (httpx.Response(200, json=[1, 2]), "rows", "JSON but not a list of rows"),
        (httpx.Response(200, text="<html>Mantenimiento</html>"), "metadata", "not JSON"),
        (
            httpx.Response(
                200, text="<html>Mantenimiento</html>", headers={"Content-Type": "text/html"}
            ),
            "download",
            "an HTML page, not CSV",
        ),
        (
            httpx.Response(
                200, text="<!DOCTYPE html>\n<p>Mantenimiento</p>\n",
                headers={"Content-Type": "text/csv"},
            ),
            "download",
            "an HTML page, not CSV",
        ),
        (httpx.Response(200, text="", headers={"Content-Type": "text/csv"}), "download",
         "empty, not even a header line"),
        # a gateway's error object sent with 200, as JSON or as text: no rows of the dataset
        (httpx.Response(200, text='{\n "error": true,\n "message": "x"\n}\n',
                        headers={"Content-Type": "application/json"}),
         "download", "JSON, not CSV"),
        (httpx.Response(200, text='{"error": true, "message": "x"}',
                        headers={"Content-Type": "text/plain"}),
         "download", "JSON, not CSV"),
        (httpx.Response(200, text='"a","b"\n"1","2"\n"3",', headers={"Content-Type": "text/csv"}),
         "download", "ended inside a record, after 1 whole row"),
        (httpx.Response(200, text='"a","b"\n"1","un\ncut', headers={"Content-Type": "text/csv"}),
         "download", "ended inside a record, after 0 whole row"),
        (httpx.Response(200, text='"a","b', headers={"Content-Type": "text/csv"}), "download",
         "ended inside its header line"),
        # SODA sends UTF-8: UTF-16 cannot be paged by its line ends nor joined page to page
        (httpx.Response(200, content='"a","b"\n"é","2"\n'.encode("utf-16"),
                        headers={"Content-Type": "text/csv"}),
         "download", "UTF-16"),
        (httpx.Response(200, content='"a","b"\n"é","2"\n'.encode("utf-16-be"),
                        headers={"Content-Type": "text/csv"}),
         "download", "UTF-16"),
        # a redirect with nowhere to go, or no content: a portal failing, not a wrong query
        (httpx.Response(302), "download", "HTTP 302 without a Location"),
        (httpx.Response(204), "metadata", "HTTP 204"),
    ],
)
def test_answers_of_the_wrong_shape_are_retried_then_unavailable(
    answer: httpx.Response, call: str, reason: str, waits: Waits, tmp_path: Path
) -> None:
    """A maintenance page sent with 200, or JSON that is not what the endpoint returns, is no
    view, no rows and no CSV: it is retried, then reported in one line."""
    calls = {
        "metadata": lambda soda: soda.metadata("jbjy-vk9h"),
        "rows": lambda soda: soda.rows("jbjy-vk9h"),
        "download": lambda soda: soda.download_csv("jbjy-vk9h", tmp_path / "j.csv"),
    }
    with (
        mock_portal(answer, waits) as soda,
        pytest.raises(SodaUnavailable, match=reason) as failed,
    ):
        calls[call](soda)
    assert len(waits) == 1 and failed.value.hint
    if call == "download":
        assert marker_for(tmp_path / "j.csv").exists()  # resumes at the page, not from zero


@pytest.mark.parametrize("body", ['"a","b"\n"1","2"\n"3","4"', '"a","b"\r\n"1","2"\r\n"3",4',
                                  '"a","b"\n"1","x\ny"\n"3",""'])
def test_a_whole_last_record_without_its_line_end_is_kept(
    body: str, waits: Waits, tmp_path: Path
) -> None:
    """Many exporters end a file without a line end after the last record: a last record
    with every field, its quotes paired and no separator last is whole, not cut off (it
    was retried until the dataset was unavailable)."""
    answer = httpx.Response(200, text=body, headers={"Content-Type": "text/csv"})
    result = mock_portal(answer, waits).download_csv("jbjy-vk9h", tmp_path / "j.csv")
    assert result.rows == 2 and not waits
    written = (tmp_path / "j.csv").read_bytes()
    assert written.endswith(b"\n") and pl.read_csv(written).height == 2


def test_a_page_longer_than_its_limit_is_refused_not_paged_forever(
    waits: Waits, tmp_path: Path
) -> None:
    """A portal (or proxy) that ignores ``$limit`` and sends rows without end: the page is
    given up as soon as it has more rows than asked for, instead of filling the disk."""
    asked: list[str] = []

    def endless() -> Iterator[bytes]:
        yield b'"a","b"\n'
        for _ in range(1_000):  # ends, so that a client that does not stop fails, not hangs
            yield b'"1","2"\n' * 50

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["$offset"])
        if len(asked) > 3:
            return httpx.Response(404, json={"message": "stop"})
        return httpx.Response(200, content=endless(), headers={"Content-Type": "text/csv"})

    with (
        SodaClient("http://portal.test", retry=RetryPolicy(attempts=2), page_size=100,
                   sleep=waits, transport=httpx.MockTransport(answer)) as soda,
        pytest.raises(SodaUnavailable, match=r"more rows than the \$limit of 100"),
    ):
        soda.download_csv("jbjy-vk9h", tmp_path / "j.csv")
    assert asked == ["0", "0"]


@pytest.mark.parametrize("call", ["download", "metadata"])
def test_an_answer_trickling_bytes_is_given_up_at_its_deadline(
    call: str, waits: Waits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte now and then never trips the read timeout: the answer's deadline
    (`PAGE_TIMEOUTS` timeouts) ends it, while the server would trickle on for a minute, and a
    retry resumes at that page."""
    monkeypatch.setattr(soda_client, "PAGE_TIMEOUTS", 2, raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def trickle() -> None:
        connection, _ = server.accept()
        with connection, contextlib.suppress(OSError):  # the client hangs up at its deadline
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n"
                               b"Content-Length: 100000\r\n\r\n\"a\"\n")
            end = time.monotonic() + 60  # far past any deadline here: only the client ends it
            while time.monotonic() < end:
                time.sleep(0.05)
                connection.sendall(b"1")

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    with (
        SodaClient(url, timeout=0.2, retry=RetryPolicy(attempts=1), sleep=waits) as soda,
        pytest.raises(SodaUnavailable, match=r"did not arrive whole within 0.4 s"),
    ):
        if call == "download":
            soda.download_csv("jbjy-vk9h", tmp_path / "j.csv")
        else:
            soda.metadata("jbjy-vk9h")
    assert call == "metadata" or marker_for(tmp_path / "j.csv").exists()
    server.close()


@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_an_answer_trickling_its_headers_is_given_up_at_its_deadline(
    via: str, waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline covers the whole request, not only the body: a portal sending its status
    line and headers a byte at a time, each under the read timeout, held a request until h11's
    16 KiB header limit (a 5 s deadline took 40 s; here it would be minutes). It now fails at
    the deadline and is retried like any other transient failure, also through a proxy of the
    environment (which is still used)."""
    monkeypatch.setattr(soda_client, "PAGE_TIMEOUTS", 2, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    answered: list[int] = []  # the header bytes sent to each connection before it was dropped
    head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 16_000 + b"\r\n\r\n"

    def trickle() -> None:
        for _ in range(2):
            connection, _ = server.accept()
            sent = 0
            with connection, contextlib.suppress(OSError):  # the client hangs up
                connection.recv(65536)
                end = time.monotonic() + 10  # ten deadlines: then hang up, so a client
                for byte in head:  # without one fails here rather than hanging for minutes
                    if time.monotonic() > end:
                        break
                    time.sleep(0.005)
                    connection.sendall(bytes([byte]))
                    sent += 1
            answered.append(sent)

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    if via == "proxy":  # the trickling server is the proxy; the portal's name never resolves
        monkeypatch.setenv("HTTP_PROXY", url)
        url = "http://portal.test"
    deadline = 2 * 0.5
    began = time.monotonic()
    with (
        SodaClient(url, timeout=0.5, retry=RetryPolicy(attempts=2), sleep=waits) as soda,
        pytest.raises(SodaUnavailable, match=r"did not arrive whole within 1 s after 2 attempt"),
    ):
        soda.metadata("jbjy-vk9h")
    took = time.monotonic() - began
    feeder.join(timeout=30)
    server.close()
    assert len(waits) == 1  # retried once, as a transient failure
    assert len(answered) == 2 and all(sent < len(head) for sent in answered)
    assert took < 2 * 3 * deadline  # two attempts, each within its deadline and a margin


def test_requests_reuse_their_connection_and_no_proxy_hosts_go_direct(
    waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's transport (a deadline for each whole request) keeps httpx's pooling: one
    connection for many requests; and of the environment's proxies, NO_PROXY is honoured."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: used, it fails
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("http_proxy", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    connections: list[int] = []

    class View(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def setup(self) -> None:
            connections.append(1)
            super().setup()

        def do_GET(self) -> None:
            body = b'{"id": "jbjy-vk9h"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet: the server's access lines are no part of the test's output."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), View)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with SodaClient(f"http://127.0.0.1:{server.server_address[1]}",
                        retry=RetryPolicy(attempts=1), sleep=waits) as soda:
            views = [soda.metadata("jbjy-vk9h") for _ in range(5)]
    finally:
        server.shutdown()
        server.server_close()
    assert views == [{"id": "jbjy-vk9h"}] * 5 and len(connections) == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Location": "/resource/jbjy-vk9h.csv"}, "TooManyRedirects"),  # a 302 to itself
        ({"Content-Encoding": "gzip"}, "not the gzip"),  # a body that is not gzip
    ],
)
def test_a_redirect_loop_or_a_broken_gzip_body_is_unavailable_not_a_crash(
    headers: dict[str, str], reason: str, waits: Waits, tmp_path: Path
) -> None:
    """httpx raises these outside its TransportError: one dataset's answer failed the whole
    harvest with an httpx exception instead of being retried, then reported for that dataset."""
    status = 302 if "Location" in headers else 200

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(b'"a"\n'))

    with (
        SodaClient("http://portal.test", retry=RetryPolicy(attempts=2), sleep=waits,
                   transport=httpx.MockTransport(answer)) as soda,
        pytest.raises(SodaUnavailable, match=reason),
    ):
        soda.download_csv("jbjy-vk9h", tmp_path / "j.csv")
    assert len(waits) == 1 and marker_for(tmp_path / "j.csv").exists()


def test_a_cancelled_download_stops_at_its_next_chunk_and_resumes_there(
    portal: Portal, state: PortalState, tmp_path: Path
) -> None:
    """Ctrl-C during a harvest waits for no download to finish (a large one takes hours)."""
    dest = tmp_path / "j.csv"

    def after_first_page() -> bool:  # the run is cancelled once a page is written whole
        marker = ResumeMarker.load(marker_for(dest))
        return marker is not None and marker.pages >= 1

    with (
        SodaClient(portal.url, page_size=100, cancelled=after_first_page) as soda,
        pytest.raises(RunCancelled, match="page 2 of jbjy-vk9h; it resumes there"),
    ):
        soda.download_csv("jbjy-vk9h", dest)
    assert marker_for(dest).exists()
    with SodaClient(portal.url, page_size=100) as soda:
        result = soda.download_csv("jbjy-vk9h", dest)
    assert result.resumed_at_page == 1
    assert dest.read_bytes() == csv_bytes(state.datasets["jbjy-vk9h"].frame)


def test_a_wait_before_a_retry_ends_when_the_run_is_cancelled(
    portal: Portal, state: PortalState
) -> None:
    """A Retry-After of a minute does not hold up Ctrl-C: the wait looks at ``cancelled``."""
    looks = iter([False, False])  # two naps of the wait, then the run is cancelled
    state.throttle("gt2j-8ykr", times=5, retry_after=60)
    with (
        SodaClient(portal.url, cancelled=lambda: next(looks, True)) as soda,
        pytest.raises(RunCancelled, match="while waiting to ask the portal again"),
    ):
        soda.metadata("gt2j-8ykr")
    assert next(looks, "spent") == "spent"


def test_a_view_with_an_integer_too_long_for_python_is_still_read(waits: Waits) -> None:
    """Python refuses integers of more than 4,300 digits: one in any field of a view failed
    the whole view as "not JSON", and with it the dataset's metadata step every time."""
    body = b'{"name": "x", "rowsUpdatedAt": ' + b"9" * 5000 + b', "viewCount": 12}'
    answer = httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    with mock_portal(answer, waits) as soda:
        view = soda.metadata("jbjy-vk9h")
    assert view == {"name": "x", "rowsUpdatedAt": math.inf, "viewCount": 12} and waits == []


def gzip_stream(data: bytes, *, cut_at: int | None = None) -> bytes:
    """``data`` as gzip, whole, or cut after ``cut_at`` bytes of it (flushed, with no end)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    if cut_at is None:
        return compressor.compress(data) + compressor.flush()
    return compressor.compress(data[:cut_at]) + compressor.flush(zlib.Z_SYNC_FLUSH)


def test_a_gzip_body_cut_at_a_record_end_is_not_taken_for_a_short_last_page(
    waits: Waits, tmp_path: Path
) -> None:
    """A gzip stream cut short by a proxy decodes to what came: cut at a record end, that read as
    a short page, the last, and the dataset was stored without the rows after it. A whole
    stream, of one member or two, is read in full."""
    rows = b'"a","b"\n' + b"".join(b'"%d","x"\n' % i for i in range(2000))
    cut = rows.index(b"\n", 8000) + 1
    cut_short, two_members = gzip_stream(rows, cut_at=cut), gzip_stream(rows[:cut]) + gzip_stream(
        rows[cut:]
    )
    answers = iter([cut_short, two_members])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(next(answers)),
                              headers={"Content-Encoding": "gzip", "Content-Type": "text/csv"})

    with SodaClient("http://portal.test", retry=RetryPolicy(attempts=2), sleep=waits,
                    page_size=5000, transport=httpx.MockTransport(answer)) as soda:
        result = soda.download_csv("jbjy-vk9h", tmp_path / "j.csv")
    assert len(waits) == 1 and result.rows == 2000
    assert (tmp_path / "j.csv").read_bytes() == rows


def test_a_stray_nul_in_a_utf8_header_is_kept_for_the_profile(waits: Waits, tmp_path: Path) -> None:
    """Only a header of UTF-16 (every other byte NUL) is refused: a UTF-8 header with one NUL
    is stored as sent, and the profile names the NUL with its line."""
    body = b'"a\x00","b"\n"1","2"\n'
    answer = httpx.Response(200, content=body, headers={"Content-Type": "text/csv"})
    result = mock_portal(answer, waits).download_csv("jbjy-vk9h", tmp_path / "j.csv")
    assert result.rows == 1 and not waits and (tmp_path / "j.csv").read_bytes() == body
