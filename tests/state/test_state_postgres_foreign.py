"""A state URL naming another server's port (MariaDB, Redis, RabbitMQ, an HTTP server): one
line saying what answers there, never a refused login or a server out of reach. Servers of the
test's own stand in for them, so no PostgreSQL is needed."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from cauce.backends.postgres import foreign
from cauce.backends.state import open_state
from cauce.errors import StateError, StateUnavailable

pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'cauce[postgres]')")


def _mariadb(connection: socket.socket) -> None:
    """MariaDB's handshake, sent before the client says anything."""
    body = (
        b"\x0a5.5.5-10.11.6-MariaDB-0+deb12u1\x00"
        + struct.pack("<I", 12)
        + b"abcdefgh\x00"
        + b"\xff\xf7\x08\x02\x00\xff\x81\x15"
        + b"\x00" * 10
        + b"ijklmnopqrst\x00mysql_native_password\x00"
    )
    connection.sendall(struct.pack("<I", len(body))[:3] + b"\x00" + body)
    connection.recv(1024)


def _http(connection: socket.socket) -> None:
    connection.recv(1024)
    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _silent(connection: socket.socket) -> None:
    """Redis keeps silent on PostgreSQL's first message (it waits for a line's end)."""
    connection.recv(1024)
    connection.recv(1024)  # until the client gives up and closes


def _hangs_up(connection: socket.socket) -> None:
    """An MQTT broker closes a connection whose first packet is not MQTT's."""
    connection.recv(1024)


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """Start a server that talks to each connection as ``talk`` does; its port."""
    listeners: list[socket.socket] = []

    def start(talk: Callable[[socket.socket], None]) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve() -> None:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:  # the listener was closed: the test is over
                    return
                with connection:
                    try:
                        talk(connection)
                    except OSError:  # the client left first
                        continue

        threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    yield start
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize("sslmode", ["prefer", "disable"])
def test_a_mariadb_port_is_named_not_taken_for_a_refused_login(server, sslmode: str) -> None:
    """With sslmode=disable libpq said `expected authentication request from server, but
    received c`, and cauce called that a refused login: check the password."""
    port = server(_mariadb)
    with pytest.raises(StateError) as caught:
        open_state(f"postgresql://cauce@127.0.0.1:{port}/cauce?sslmode={sslmode}")
    assert (
        caught.value.message == f"127.0.0.1:{port} is not a PostgreSQL server: MariaDB "
        "answers there"
    )
    assert "give the port PostgreSQL listens on" in (caught.value.hint or "")
    assert "password" not in (caught.value.hint or "")
    assert not isinstance(caught.value, StateUnavailable), "a mistake in the URL: no waiting"


def test_an_http_port_is_named(server) -> None:
    port = server(_http)
    with pytest.raises(StateError, match=r"is not a PostgreSQL server: an HTTP server answers"):
        open_state(f"postgresql://cauce@127.0.0.1:{port}/cauce?sslmode=disable")


def test_a_silent_server_is_not_taken_for_one_out_of_reach(server, monkeypatch) -> None:
    """Redis's port was `did not answer: connection timeout expired` with the hint `is the
    server reachable from this machine?`: it is, and it is not PostgreSQL."""
    port = server(_silent)
    monkeypatch.setitem(foreign.USUAL_PORTS, port, "Redis")
    with pytest.raises(StateUnavailable) as caught:
        open_state(f"postgresql://cauce@127.0.0.1:{port}/cauce?connect_timeout=1")
    assert "took the connection but gave no answer" in caught.value.message
    assert f"{port} is the usual port of Redis" in (caught.value.hint or "")
    assert "reachable" not in (caught.value.hint or "")


def test_a_server_that_hangs_up_on_a_usual_port_of_another_is_named(server, monkeypatch) -> None:
    port = server(_hangs_up)
    monkeypatch.setitem(foreign.USUAL_PORTS, port, "MQTT (Mosquitto)")
    with pytest.raises(StateUnavailable, match="took the connection and closed it") as caught:
        open_state(f"postgresql://cauce@127.0.0.1:{port}/cauce?sslmode=disable")
    assert f"{port} is the usual port of MQTT" in (caught.value.hint or "")


def test_a_silent_server_on_another_port_is_a_server_that_did_not_answer(server) -> None:
    """A PostgreSQL server too busy to answer (or a machine paused) keeps silent too: on a port
    of no other server's, it is not said to be another server."""
    port = server(_silent)
    with pytest.raises(StateUnavailable, match="did not answer"):
        open_state(f"postgresql://cauce@127.0.0.1:{port}/cauce?connect_timeout=1")
