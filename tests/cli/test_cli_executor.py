"""`--executor`: a backfill on a local Dask cluster, and the one-line errors of a bad executor."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator

import pytest

DAY = "2021-04-22"
BACKFILL = ("backfill", "transit", "adatrap", "--from", DAY, "--to", DAY)


def test_a_backfill_runs_on_a_local_dask_cluster(cli) -> None:
    pytest.importorskip("distributed", reason="Dask is not installed (cauce[dask])")
    assert cli("run", "transit", "synth", "--scale", "tiny", "--date", DAY).status == 0
    result = cli(*BACKFILL, "--executor", "dask")
    assert result.status == 0, result.err
    assert result.out.startswith("adatrap: 1 succeeded, 0 failed, 0 skipped")
    [run] = cli("runs", "--job", "adatrap", "--json").json()
    assert (run["partition"], run["status"]) == (DAY, "succeeded")
    assert "on Dask worker tcp://" in cli("logs", run["id"]).out


def test_an_unreachable_scheduler_is_one_error_before_anything_runs(cli, monkeypatch) -> None:
    pytest.importorskip("distributed", reason="Dask is not installed (cauce[dask])")
    result = cli(*BACKFILL, "--executor", "dask://127.0.0.1:1")  # nothing listens on port 1
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: cannot reach the Dask scheduler at tcp://127.0.0.1:1 (Connection refused)",
        "hint: start one with `dask scheduler` and `dask worker tcp://127.0.0.1:1`, or use "
        "--executor dask for a cluster on this machine"]
    # nothing ran: the home the command created is gone again
    assert cli("runs", "--job", "adatrap", "--json").err.startswith("error: no cauce home at")


class Impostor(threading.Thread):
    """A server on a free port that is no Dask scheduler: it greets each connection with
    ``greeting`` (nothing: it waits for a command, as Redis does), then keeps it open."""

    def __init__(self, greeting: bytes) -> None:
        super().__init__(daemon=True)
        self.greeting = greeting
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            conn.sendall(self.greeting)
            self.held.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.fixture(params=[b"", b"AMQP\x00\x00\x09\x01", b"HTTP/1.0 400 Bad request\r\n\r\n"],
                ids=["silent", "amqp", "http"])
def impostor(request: pytest.FixtureRequest) -> Iterator[Impostor]:
    server = Impostor(request.param)
    server.start()
    yield server
    server.close()


def test_a_port_where_no_dask_scheduler_answers_is_one_error_not_a_hang(
        cli, monkeypatch, impostor: Impostor) -> None:
    pytest.importorskip("distributed", reason="Dask is not installed (cauce[dask])")
    # Dask's client waited forever for the silent one and ran out of memory on the AMQP one
    monkeypatch.setattr("cauce.runtime.dask_executor.CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{impostor.port}"
    result = cli("run", "transit", "adatrap", "-p", DAY, "--executor",
                 address.replace("tcp://", "dask://"))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: {address} is not a Dask scheduler: something that does not speak Dask's "
        "protocol answers there",
        "hint: give the scheduler's own port (8786 unless `dask scheduler --port` said "
        f"otherwise), not its dashboard's nor a worker's; a scheduler started with TLS is "
        f"written dask+tls://127.0.0.1:{impostor.port}"]


def test_an_unknown_executor_is_one_error(cli) -> None:
    for command in (BACKFILL, ("run", "transit", "adatrap", "-p", DAY),
                    ("worker", "transit", "--for", "1s")):
        result = cli(*command, "--executor", "ray")
        assert result.status == 1
        assert result.err.splitlines() == [
            "error: unknown executor 'ray'",
            "hint: use local, dask (a local Dask cluster), dask://HOST:PORT (a Dask scheduler) "
            "or dask+tls://HOST:PORT (one with TLS)"]


def test_a_scheduler_url_that_cannot_be_one_is_refused_with_the_form_to_use(cli) -> None:
    for url, hint in (("dask://127.0.0.1:99999", "give it as dask://HOST:PORT (a port from 1 "
                       "to 65535), e.g. dask://scheduler:8786"),
                      ("dask+tls://h:0", "give it as dask+tls://HOST:PORT (a port from 1 "
                       "to 65535), e.g. dask+tls://scheduler:8786"),
                      ("tcp://10.0.0.7:8786", "a Dask scheduler's address is given as "
                       "dask://10.0.0.7:8786"),
                      ("tls://10.0.0.7:8786", "a Dask scheduler's address is given as "
                       "dask+tls://10.0.0.7:8786")):
        result = cli("run", "transit", "adatrap", "-p", DAY, "--executor", url)
        assert result.status == 1
        assert result.err.splitlines()[1] == f"hint: {hint}"


def test_without_dask_installed_the_error_says_which_extra_to_install(
        cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    result = cli("run", "transit", "adatrap", "-p", DAY, "--executor", "dask")
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: the executor 'dask' needs Dask, which is not installed",
        'hint: pip install "cauce[dask]"']
