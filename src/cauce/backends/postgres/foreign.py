"""A state URL's host and port where something other than PostgreSQL answers: another
server's port given by mistake (MariaDB's 3306, Redis's 6379, RabbitMQ's 5672), said as such.

libpq reports such a server by what it did to libpq's first message — a reply that is no
answer to its SSL request (`received invalid response to SSL negotiation: A`), no request
for a password (`expected authentication request from server, but received H`, read before
as a refused login), the connection closed, or nothing at all until its `connect_timeout`
(read before as a server out of reach). The address is asked once more here, briefly, for
the greeting some servers send first (MariaDB, MySQL, NATS, SSH), so the message can name
the server; else the port's usual owner is named in the hint.
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING

from ...errors import StateError, StateUnavailable

if TYPE_CHECKING:
    from .database import Location

# seconds the address is given to accept a connection again, and to greet it
PROBE_TIMEOUT = 2.0
GREETING_TIMEOUT = 1.0

# the servers whose default port is given instead of PostgreSQL's most often
USUAL_PORTS = {
    22: "SSH",
    80: "HTTP",
    443: "HTTPS",
    1883: "MQTT (Mosquitto)",
    3306: "MySQL and MariaDB",
    4222: "NATS",
    5672: "RabbitMQ (AMQP)",
    6379: "Redis",
    8080: "HTTP",
    9000: "MinIO (S3)",
    9092: "Kafka",
    11211: "memcached",
    15672: "RabbitMQ's web console",
    27017: "MongoDB",
}

# what libpq read where it expected PostgreSQL's answer: the start of another protocol's reply
_SAID = {"H": "an HTTP server", "A": "an AMQP broker (RabbitMQ)", "I": "a NATS server"}

# libpq's words for a reply that is not PostgreSQL's
_GARBLED = re.compile(
    r"invalid response to ssl negotiation: (.)"
    r"|expected authentication request from server, but received (.)",
    re.I,
)


def foreign(location: Location, said: str) -> StateError | None:
    """The error for a server at ``location`` that does not speak PostgreSQL, from libpq's
    words ``said`` about the connection that failed; None when they tell of another cause, or
    the address is not one host and port (a Unix socket, several hosts)."""
    if location.host.startswith("/") or "," in location.at:
        return None
    low = said.lower()
    garbled = _GARBLED.search(said)
    closed = "server closed the connection unexpectedly" in low
    silent = "timeout expired" in low
    if not (garbled or closed or silent):
        return None
    greeting = _greeting(location.host, location.port)
    if greeting is None and not garbled:
        return None  # the address does not take a connection now: out of reach, not foreign
    if (closed or silent) and not _name(greeting or b"") and location.port not in USUAL_PORTS:
        return None  # as likely a PostgreSQL server restarting, or too busy to answer
    at, port = location.at, location.port
    hint = (
        "give the port PostgreSQL listens on in the state URL (5432 unless its server sets "
        "another)"
        + (f"; {port} is the usual port of {USUAL_PORTS[port]}" if port in USUAL_PORTS else "")
    )
    letter = next((g for g in garbled.groups() if g), "") if garbled else ""
    name = _name(greeting or b"") or _SAID.get(letter)
    if name:
        return StateError(f"{at} is not a PostgreSQL server: {name} answers there", hint=hint)
    if garbled:
        return StateError(
            f"the server at {at} does not speak PostgreSQL's protocol: it "
            f"answered {letter!r} to PostgreSQL's first message",
            hint=hint,
        )
    # a connection taken, then closed or left unanswered, on another server's usual port: a
    # PostgreSQL server moved there could be restarting or too busy to answer, so the store is
    # taken for away, as when it cannot be reached
    if closed:
        return StateUnavailable(
            f"the server at {at} took the connection and closed it without "
            "answering as PostgreSQL does: is it a PostgreSQL server?",
            hint=hint,
        )
    return StateUnavailable(
        f"the server at {at} took the connection but gave no answer "
        "within the connect_timeout: is it a PostgreSQL server?",
        hint=hint + "; a PostgreSQL server too busy to answer keeps silent too",
    )


def _greeting(host: str, port: int) -> bytes | None:
    """What the server at host:port says first (b"" when it waits to be spoken to), or None
    when it takes no connection now."""
    try:
        connection = socket.create_connection((host.strip("[]"), port), timeout=PROBE_TIMEOUT)
    except OSError:
        return None
    with connection:
        connection.settimeout(GREETING_TIMEOUT)
        try:
            return connection.recv(512)
        except OSError:  # a timeout: it waits for the client, as PostgreSQL and Redis do
            return b""


def _name(greeting: bytes) -> str | None:
    """The server a first message comes from, where it says so."""
    if greeting.startswith(b"SSH-"):
        return "an SSH server"
    if greeting.startswith(b"INFO {"):
        return "a NATS server"
    if greeting.startswith(b"HTTP/"):
        return "an HTTP server"
    # MySQL's handshake: a 3-byte length, a sequence number 0, protocol version 10, the version
    if len(greeting) > 5 and greeting[3] == 0 and greeting[4] == 10:
        version = greeting[5:].split(b"\0", 1)[0]
        return "MariaDB" if b"mariadb" in version.lower() else "MySQL"
    return None
