"""The web application: routes of every page group, security, static files, errors as pages."""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import threading
import traceback
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from .. import causes
from ..errors import (
    CauceError,
    Conflict,
    InvalidKey,
    NotFound,
    ObjectNotFound,
    StateError,
    StateUnavailable,
    first_line,
)
from ..runtime.runtime import Runtime
from . import security, sqlbox
from .base_path import BasePath, parse_base_path
from .executor import Executor
from .home import Home
from .pages import apps, dashboards, data, overview, partitions, queues, runs
from .render import Pages

STATIC = Path(__file__).with_name("static")
VENDOR = Path(__file__).parent.parent / "vendor"


class UI:
    """What the pages share: the home, the templates, the background executor, the SQL box's
    time limit and connections, and whether the UI is shared (has a token)."""

    def __init__(self, home: Home, sql_timeout: float = sqlbox.TIMEOUT,
                 shared: bool = False) -> None:
        self.home = home
        self.pages = Pages(home)
        self.executor = Executor(home)
        self.sql_timeout = sql_timeout
        self.shared = shared
        self._readers: dict[str, Any] = {}
        self._readers_lock = threading.Lock()

    def sql_backend(self, app: str, name: str) -> tuple[Any, str | None]:
        """The backend the SQL box of warehouse ``name`` uses, and where its URL was set: the
        connection configured for it (CAUCE_<APP>_<WAREHOUSE>_SQLBOX_URL), else the
        warehouse's own (and None)."""
        configured = self.home.runtime(app).config.sqlbox_url(app, name)
        if configured is None:
            return self.home.warehouse_backend(app, name), None
        url, where = configured
        with self._readers_lock:
            reader = self._readers.get(url)
            if reader is None:
                from ..warehouse import connect

                try:
                    reader = self._readers[url] = connect(url)
                except CauceError as err:
                    raise CauceError(f"the SQL box's URL ({where}) cannot be used: "
                                     f"{err.message}", hint=err.hint) from None
        return reader, where

    def close(self) -> None:
        self.executor.shutdown()
        with self._readers_lock:
            for reader in self._readers.values():
                with contextlib.suppress(Exception):
                    reader.close()
            self._readers.clear()


def create_app(home: Home, *, token: str | None = None,
               sql_timeout: float = sqlbox.TIMEOUT, base_path: str = "") -> Starlette:
    """The Starlette application over ``home``; with ``token``, every request must carry it.
    ``sql_timeout``: seconds a warehouse page's queries (table list, description, SQL box)
    and waits to open its file may take together (tests lower it to stay fast).
    ``base_path``: the path prefix a reverse proxy serves it under (`parse_base_path`)."""
    ui = UI(home, sql_timeout, shared=token is not None)
    routes: list[Any] = [
        Mount("/static/vendor", app=StaticFiles(directory=VENDOR), name="vendor"),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    for group in (overview, apps, runs, partitions, queues, data, dashboards):
        routes.extend(group.routes(ui))

    async def not_found(request: Request, exc: Exception) -> Response:
        message = getattr(exc, "message", None) or "no such page"
        return ui.pages.render(request, "error.html", 404, title="Not found", message=message,
                               hint=getattr(exc, "hint", ""))

    async def gone_object(request: Request, exc: Exception) -> Response:
        # a bucket object linked from a listing and removed since (by a job, a lifecycle
        # rule), or a key edited by hand: not found, not a request that could never work
        assert isinstance(exc, CauceError)
        return ui.pages.render(request, "error.html", 404, title="Not found",
                               message=exc.message,
                               hint=exc.hint or "it may have been removed since the listing "
                               "was drawn; the bucket's page lists what is there now")

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CauceError)
        if causes.of(exc) is not None:  # the machine's limit
            return await limited(request, exc)
        return ui.pages.render(request, "error.html", 400, title="Cannot do that",
                               message=exc.message, hint=exc.hint or "")

    async def limited(request: Request, exc: Exception) -> Response:
        # a limit of this process (open files, memory, threads), not a defect: one line on
        # the terminal and a page saying it, not a traceback and a request to report it
        cause = causes.of(exc)
        if cause is None:
            raise exc  # a defect after all: `crashed` shows its page, uvicorn its traceback
        message = exc.message if isinstance(exc, CauceError) else cause.reason
        logging.getLogger("uvicorn.error").error("%s %s: %s (%s: %s)", request.method,
                                            request.url.path, message, type(exc).__name__,
                                            first_line(str(exc)))
        response = ui.pages.render(request, "error.html", 503, title="Out of a resource",
                                   message=message, hint=cause.hint)
        response.headers["Retry-After"] = "5"
        return response

    async def clash(request: Request, exc: Exception) -> Response:
        # the thing changed since its page was drawn (a run ended), or the work is under way
        assert isinstance(exc, CauceError)
        return ui.pages.render(request, "error.html", 409, title="Already done or under way",
                               message=exc.message, hint=exc.hint or "")

    async def away(request: Request, exc: Exception) -> Response:
        # the state store cannot be used: not the user's doing; worth another try soon when
        # it cannot be reached for now (StateUnavailable), else once it is put right (a state
        # file removed while the UI runs, a full disk)
        assert isinstance(exc, StateError)
        response = ui.pages.render(request, "error.html", 503, title="State store unavailable",
                                   message=exc.message, hint=exc.hint or "")
        if isinstance(exc, StateUnavailable):
            response.headers["Retry-After"] = "5"
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        return ui.pages.render(request, "error.html", exc.status_code, title="Error",
                               message=str(exc.detail), hint="")

    async def crashed(request: Request, exc: Exception) -> Response:
        # a defect, not the user's input: a page, never a traceback (uvicorn logs that)
        response = ui.pages.render(
            request, "error.html", 500, title="Unexpected error",
            message="the UI met an unexpected error and could not show this page",
            hint="the terminal running `cauce ui` shows the details; please report them")
        security.harden(response)
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        ui.close()

    guard = security.Guard(token)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BasePath, base=parse_base_path(base_path)),
                    Middleware(BaseHTTPMiddleware, dispatch=security.middleware(guard))],
        exception_handlers={NotFound: not_found, ObjectNotFound: gone_object,
                            InvalidKey: refused, Conflict: clash,
                            StateError: away, CauceError: refused,
                            OSError: limited, MemoryError: limited, RuntimeError: limited,
                            HTTPException: http_error, Exception: crashed},
        lifespan=lifespan)
    app.state.ui = ui
    return app


# what to do when the UI's address cannot be bound, by the error's number
_BIND_HINTS = {
    errno.EADDRINUSE: "another program uses that port: choose another, or --port 0 for a free one",
    errno.EADDRNOTAVAIL: "that address is not one of this machine's: give one of its addresses "
                         "to --host",
    errno.EACCES: "ports below 1024 need privileges: choose one from 1024 up, or --port 0",
}


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to the UI's address. A refusal (a port taken, an address not this
    machine's, a host name that names none) is one CauceError saying which: left to uvicorn,
    it was logged as uvicorn's own error line and then blamed on a taken port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        hint = ("no address has that name: give an address such as 127.0.0.1 to --host"
                if isinstance(err, socket.gaierror)
                else _BIND_HINTS.get(err.errno or 0, "check --host and --port"))
        raise CauceError(f"the UI could not listen on {host}:{port}: {err.strerror or err}",
                         hint=hint) from None
    sock.set_inheritable(True)
    return sock


def _not_started(host: str, port: int, failed: list[BaseException]) -> CauceError:
    """Why the UI's thread ended before it served: the error it raised (its traceback shown
    with --debug), named by the machine's limit it ran into when it is one (too many open
    files, no memory)."""
    where = f"the UI could not start on {host}:{port}"
    if not failed:  # uvicorn said why in its own log line, above
        return CauceError(where, hint="its error is above; run again with --debug for more")
    error = failed[0]
    if _debugging():
        traceback.print_exception(error)
    cause = causes.of(error)
    if cause is not None:
        return CauceError(f"{where}: {cause.reason}", hint=cause.hint)
    return CauceError(f"{where}: {type(error).__name__}: {first_line(str(error))}",
                      hint="run again with --debug for its traceback")


def _debugging() -> bool:
    from ..cli.console import debugging

    return debugging()


class Server:
    """The UI served by uvicorn in a thread of this process (for `cauce serve --ui` and
    tests), or in the foreground (`cauce ui`)."""

    def __init__(self, home: Home, *, host: str = "127.0.0.1", port: int = 8765,
                 token: str | None = None, base_path: str = "") -> None:
        import uvicorn

        security.check_bind(host, token)
        self.home = home
        self.base_path = parse_base_path(base_path)
        self.app = create_app(home, token=token, base_path=self.base_path)
        self.config = uvicorn.Config(self.app, host=host, port=port, log_level="warning",
                                     access_log=False, lifespan="on")
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None
        self.token = token

    @property
    def url(self) -> str:
        host = self.config.host
        port = self.port
        shown = f"[{host}]" if ":" in host else host
        address = f"http://{shown}:{port}{self.base_path}/"
        return address + (f"?token={self.token}" if self.token else "")

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", None) or []
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self.config.port)

    def _sockets(self) -> list[socket.socket]:
        return [listening_socket(self.config.host, self.config.port)]

    def run(self) -> None:
        """Serve in the foreground until interrupted."""
        self.server.run(sockets=self._sockets())

    def start(self) -> Server:
        """Serve from a background thread; returns once it accepts connections."""
        sockets = self._sockets()
        failed: list[BaseException] = []

        def serve() -> None:
            # an error of its start is said by start(), in one line: left to the thread, it
            # was Python's traceback on the terminal
            try:
                self.server.run(sockets)
            except Exception as err:
                failed.append(err)

        self._thread = threading.Thread(target=serve, name="cauce-ui", daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise _not_started(self.config.host, self.config.port, failed)
            self._thread.join(0.02)
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C reaches this thread as KeyboardInterrupt)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_ui(home_path: Path, references: Sequence[str] | None = None, *,
            attached: Sequence[Runtime] = (),
            host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
            state: str | None = None, base_path: str = "") -> Server:
    """A server over the home at ``home_path`` (its state at ``state``, if given) showing the
    named apps (every bundled one for None) and the ``attached`` runtimes' apps, not yet
    started; close its home with ``server.home.close()`` after use. ``base_path``: the path
    prefix a reverse proxy serves it under (``/cauce``), which its links carry."""
    security.check_bind(host, token)
    parse_base_path(base_path)  # refused before the home is opened
    home = Home.open(home_path, references, attached, state=state)
    try:
        return Server(home, host=host, port=port, token=token, base_path=base_path)
    except BaseException:
        with contextlib.suppress(Exception):
            home.close()
        raise
