"""A deadline for a whole HTTP request (connect, sending, status line and headers, body).

httpx bounds each read, write and connect, never a whole request: a server trickling a byte of
its headers now and then, under the read timeout, holds a request for as long as it likes (h11
waits for up to 16 KiB of header block). `DeadlineTransport` is an httpx transport over an
httpcore connection pool whose network backend bounds every connect, read, write and TLS
handshake by the deadline of the request under way: the `Attempt` that `attempt()` sets in a
context variable, in the thread that sends the request (httpcore's sync pool does all its I/O
in the caller's thread). Connections are pooled and reused as by `httpx.HTTPTransport`; a
reused connection reads under the deadline of the request that reuses it.

An httpx client given a transport ignores the proxies of the environment (``HTTPS_PROXY``,
``ALL_PROXY``, ``NO_PROXY``...): `environment_mounts` gives it the same routes with transports
of this kind, so a portal behind a proxy is reached as before, under the same deadline.

Only public APIs: `httpx.BaseTransport`, `httpcore.ConnectionPool(network_backend=...)`,
`httpcore.NetworkBackend` and `httpcore.NetworkStream`.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import ssl
import time
import typing
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpcore
import httpx


@dataclass(frozen=True)
class Attempt:
    """One attempt at a request: when it must be done by."""

    deadline: float  # on time.monotonic()
    seconds: float  # the deadline's length, for messages

    def passed(self) -> bool:
        return time.monotonic() >= self.deadline


_ATTEMPT: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "cauce_http_attempt", default=None
)


@contextlib.contextmanager
def attempt(seconds: float) -> Iterator[Attempt]:
    """Requests sent in this block (in this thread) must be done within ``seconds`` in all."""
    current = Attempt(time.monotonic() + seconds, seconds)
    token = _ATTEMPT.set(current)
    try:
        yield current
    finally:
        _ATTEMPT.reset(token)


def current_attempt() -> Attempt | None:
    return _ATTEMPT.get()


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the current attempt's deadline; ``expired`` raised
    when nothing is left."""
    current = _ATTEMPT.get()
    if current is None:
        return timeout
    left = current.deadline - time.monotonic()
    if left <= 0:
        raise expired(f"the answer did not arrive whole within {current.seconds:g} s")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# httpcore's errors and the httpx errors they are raised as, the most specific first (as
# httpx.HTTPTransport does): callers catch httpx's.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as err:
        for theirs, ours in _ERRORS:
            if isinstance(err, theirs):
                raise ours(str(err)) from err
        raise


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """`httpx.HTTPTransport` (HTTP/1.1, pooled connections) whose every request is bounded
    as a whole by the deadline of the `attempt()` it is sent in (none outside one)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        through = None
        if proxy is not None:
            if proxy.url.scheme in ("socks5", "socks5h"):  # refused here, as httpx does
                try:
                    import socksio  # noqa: F401
                except ImportError:
                    raise ImportError(
                        "Using SOCKS proxy, but the 'socksio' package is not installed. "
                        "Make sure to install httpx using `pip install httpx[socks]`."
                    ) from None
            through = httpcore.Proxy(
                url=httpcore.URL(
                    scheme=proxy.url.raw_scheme,
                    host=proxy.url.raw_host,
                    port=proxy.url.port,
                    target=proxy.url.raw_path,
                ),
                auth=proxy.raw_auth,
                headers=proxy.headers.raw,
                ssl_context=proxy.ssl_context,
            )
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            proxy=through,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(httpcore.SyncBackend()),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        sent = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = self._pool.handle_request(sent)
        assert isinstance(answer.stream, Iterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def environment_mounts(
    ssl_context: ssl.SSLContext, limits: httpx.Limits
) -> dict[str, DeadlineTransport | None]:
    """httpx ``mounts`` for the proxies of the environment, as httpx reads them for a client
    without a transport of its own: ``{scheme}_PROXY`` and ``ALL_PROXY`` route through a proxy,
    a ``NO_PROXY`` host goes direct (None: the client's own transport)."""
    mounts: dict[str, DeadlineTransport | None] = {}
    found = urllib.request.getproxies()
    for scheme in ("http", "https", "all"):
        if url := found.get(scheme):
            proxy = httpx.Proxy(url=url if "://" in url else f"http://{url}")
            mounts[f"{scheme}://"] = DeadlineTransport(
                ssl_context=ssl_context, limits=limits, proxy=proxy
            )
    for host in (host.strip() for host in found.get("no", "").split(",")):
        if host == "*":  # no proxy at all
            for transport in mounts.values():
                if transport is not None:
                    transport.close()
            return {}
        if not host:
            continue
        if "://" in host:
            mounts[host] = None
        elif _is_address(host):
            mounts[f"all://[{host}]" if ":" in host else f"all://{host}"] = None
        elif host.lower() == "localhost":
            mounts[f"all://{host}"] = None
        else:  # curl's rule: example.com also covers www.example.com, not wwwexample.com
            mounts[f"all://*{host}"] = None
    return mounts


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("/")[0])
    except ValueError:
        return False
    return True
