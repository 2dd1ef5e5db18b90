"""A SODA-compatible HTTP server for tests and the offline demo, on the standard library.

It answers the parts of the API the client uses, as Socrata does:

- ``GET /resource/{id}.csv`` and ``.json`` with ``$select``, ``$where``, ``$order``, ``$limit``
  (default 1,000, at most 50,000 as on 2.0 endpoints), ``$offset`` and simple ``column=value``
  filters; the CSV repeats its header on every page; JSON sends every value as text and leaves
  out nulls; ``X-SODA2-Fields``, ``X-SODA2-Types`` and ``Last-Modified`` headers.
- ``GET /api/views/{id}.json``: name, owner, category, ``rowsUpdatedAt`` and ``columns[]``.
- ``GET /files/{name}``: a plain file of ``PortalState.files`` (files some publishers put next to
  their portal, such as PACO's CSVs), 404 for any other name.
- 404 for an unknown or dropped dataset, 403 for a forbidden one, 400 for a bad query, each with
  Socrata's JSON error body; injected 5xx, 429 with ``Retry-After``, and cut-off responses.

Controls for a running portal (the same as `PortalState`'s methods), e.g.
``curl -X POST localhost:8080/_portal/fail -d '{"dataset": "jbjy-vk9h", "times": 2}'``:
``fail``, ``throttle``, ``cut``, ``drop``, ``restore``, ``change``, ``retype``, ``touch``,
``clear``; ``GET /_portal/requests`` lists the requests answered so far.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import polars as pl

from cauce.connectors.soda.portal import soql
from cauce.connectors.soda.portal.datasets import wire_frame
from cauce.connectors.soda.portal.state import (
    ROW_ID,
    Fault,
    PortalState,
    RequestRecord,
    Unavailable,
)
from cauce.errors import CauceError

log = logging.getLogger("cauce.connectors.soda.portal")

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 50_000
_RESOURCE = re.compile(r"^/resource/(?P<id>[a-z0-9]{4}-[a-z0-9]{4})\.(?P<format>csv|json)$")
_VIEW = re.compile(r"^/api/views/(?P<id>[a-z0-9]{4}-[a-z0-9]{4})\.json$")
_CONTROL = re.compile(r"^/_portal/(?P<action>[a-z]+)$")
_FILES = "/files/"
CONTROLS = ("fail", "throttle", "cut", "drop", "restore", "change", "retype", "touch", "clear")


class Portal:
    """The local portal: ``with Portal(state) as portal: portal.url`` serves on a free loopback
    port."""

    def __init__(self, state: PortalState, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as err:
            raise CauceError(
                f"cannot listen on {host}:{port}: {err.strerror or err}",
                hint="choose another --port (0: any free port)",
            ) from None
        self._server.daemon_threads = True
        self._server.portal_state = state  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> Portal:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"soda-portal-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def serve(self, until: Callable[[], bool] = lambda: False, poll: float = 0.5) -> None:
        """Serve until ``until()`` is true or the process is interrupted (Ctrl-C)."""
        self.start()
        try:
            while not until():
                time.sleep(poll)
        finally:
            self.stop()

    def __enter__(self) -> Portal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    """The standard library's server, with one log line instead of a printed traceback for a
    request that failed outside a handler's own catch: mostly a client that went away (a
    harvest killed mid-page resets its connections)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        client = ":".join(str(part) for part in client_address)
        if isinstance(error, ConnectionError | TimeoutError):
            log.info("client %s went away mid-request (%s)", client, type(error).__name__)
        else:
            log.error("a request from %s failed: %s: %s", client, type(error).__name__, error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cauce-soda-portal"
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def state(self) -> PortalState:
        return self.server.portal_state  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- routing ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        try:
            self._get()
        except Exception:  # a bug in the portal answers 500, as a real server would
            log.exception("GET %s failed", self.path)
            self._error(500, "internal_error", "Internal error")

    def _get(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if match := _RESOURCE.match(path):
            self._resource(path, match["id"], match["format"], params)
        elif match := _VIEW.match(path):
            self._view(path, match["id"], params)
        elif path.startswith(_FILES) and path[len(_FILES) :] in self.state.files:
            self._send(200, self.state.files[path[len(_FILES) :]], "text/csv; charset=utf-8")
        elif path == "/_portal/requests":
            rows = [r.__dict__ for r in self.state.requests]
            self._send(200, json.dumps(rows).encode(), "application/json")
        else:
            self._error(404, "not_found", f"No route for {path}")

    def do_POST(self) -> None:
        match = _CONTROL.match(urlsplit(self.path).path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if match is None or match["action"] not in CONTROLS:
            self._error(
                404, "not_found", f"No control at {self.path}; use one of: {', '.join(CONTROLS)}"
            )
            return
        try:
            options = json.loads(body or b"{}")
            if not isinstance(options, dict):
                raise TypeError(f"the body must be a JSON object, not {body[:80]!r}")
            _control(self.state, match["action"], options)
        except (ValueError, KeyError, TypeError) as err:
            self._error(400, "invalid_request", str(err))
            return
        self._send(
            200, json.dumps({"ok": True, "action": match["action"]}).encode(), "application/json"
        )

    # -- endpoints ----------------------------------------------------------------------------
    def _view(self, path: str, dataset: str, params: dict[str, str]) -> None:
        try:
            view = self.state.view(dataset)
            fault = self.state.take_fault(dataset, 0)
            if fault is not None and fault.kind != "cut":
                self._fault(path, dataset, params, fault)
                return
            body = json.dumps(view).encode()
        except (Unavailable, KeyError) as missing:
            self._missing(path, dataset, params, missing)
            return
        self._record(path, dataset, params, 200)
        self._send(200, body, "application/json; charset=utf-8", cut=fault is not None)

    def _resource(self, path: str, dataset: str, fmt: str, params: dict[str, str]) -> None:
        try:
            current = self.state.resource(dataset)
        except (Unavailable, KeyError) as missing:
            self._missing(path, dataset, params, missing)
            return
        try:
            offset = _whole(params.get("$offset", "0"), "$offset")
            limit = _whole(params.get("$limit", str(DEFAULT_LIMIT)), "$limit")
            if limit > MAX_LIMIT:
                raise soql.SoqlError(f"$limit must be at most {MAX_LIMIT:,} on this endpoint")
            fault = self.state.take_fault(dataset, offset)
            if fault is not None and fault.kind != "cut":
                self._fault(path, dataset, params, fault)
                return
            page, types = _query(current.frame, current.columns, params, offset, limit)
        except soql.SoqlError as err:
            self._record(path, dataset, params, 400)
            self._error(400, "query.compiler.malformed", str(err))
            return
        headers = {
            "X-SODA2-Fields": json.dumps(page.columns),
            "X-SODA2-Types": json.dumps(types),
            "Last-Modified": formatdate(current.rows_updated_at, usegmt=True),
        }
        if fmt == "csv":
            body = wire_frame(page).write_csv(quote_style="non_numeric").encode()
            content_type = "text/csv; charset=UTF-8"
        else:
            rows = wire_frame(page).to_dicts()
            body = json.dumps(
                [{k: v for k, v in row.items() if v is not None} for row in rows],
                ensure_ascii=False,
            ).encode()
            content_type = "application/json; charset=utf-8"
        self._record(path, dataset, params, 200)
        self._send(200, body, content_type, headers, cut=fault is not None)

    # -- answers ------------------------------------------------------------------------------
    def _fault(self, path: str, dataset: str, params: dict[str, str], fault: Fault) -> None:
        self._record(path, dataset, params, fault.status)
        if fault.kind == "throttle":
            retry = (
                {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            )
            self._error(
                429, "throttled", "Too many requests; make sure you are using an app token", retry
            )
        else:
            self._error(fault.status, "internal_error", "Internal error")

    def _missing(
        self, path: str, dataset: str, params: dict[str, str], missing: Unavailable | KeyError
    ) -> None:
        """A dataset that was dropped (403 or 404, as told) or never existed (404)."""
        status = missing.status if isinstance(missing, Unavailable) else 404
        self._record(path, dataset, params, status)
        if status == 403:
            self._error(403, "permission_denied", f"You do not have permission to view {dataset}")
        else:
            self._error(404, "not_found", f"Cannot find view with id {dataset}")

    def _record(self, path: str, dataset: str | None, params: dict[str, str], status: int) -> None:
        self.state.record(
            RequestRecord(
                "GET",
                path,
                dataset,
                dict(params),
                status,
                token=bool(self.headers.get("X-App-Token")),
            )
        )

    def _error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps({"code": code, "error": True, "message": message}).encode()
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        cut: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if cut else body)
        if cut:
            self.close_connection = True


def _whole(text: str, name: str) -> int:
    if not text.isdigit():
        raise soql.SoqlError(f"{name} must be a whole number, got {text!r}")
    return int(text)


def _query(
    frame: pl.DataFrame, columns: list[Any], params: dict[str, str], offset: int, limit: int
) -> tuple[pl.DataFrame, list[str]]:
    """Run a SODA query on a dataset's rows; returns the page and its columns' SODA types."""
    fields = [c.field for c in columns]
    declared = {c.field: c.type for c in columns}
    rows = frame.with_row_index(ROW_ID).with_columns(
        pl.format("row-{}", pl.col(ROW_ID).cast(pl.String).str.zfill(8)).alias(ROW_ID)
    )
    schema = rows.schema
    for name, value in params.items():
        if not name.startswith("$"):
            if name not in schema:
                raise soql.SoqlError(f"No such column: {name}")
            rows = rows.filter(pl.col(name) == pl.lit(soql.coerce_literal(value, schema[name])))
    if params.get("$where"):
        rows = rows.filter(soql.where(params["$where"], schema))
    if params.get("$order"):
        names, descending = soql.order(params["$order"], schema)
        rows = rows.sort(names, descending=descending, nulls_last=True, maintain_order=True)
    selection = soql.select(params.get("$select") or "*", schema, fields)
    if selection.count_as is not None:
        return pl.DataFrame({selection.count_as: [rows.height]}).slice(offset, limit), ["number"]
    page = rows.slice(offset, limit).select(
        pl.col(c).alias(alias) for c, alias in selection.columns
    )
    return page, [declared.get(c, "text") for c, _ in selection.columns]


def _control(state: PortalState, action: str, options: dict[str, Any]) -> None:
    dataset = options.get("dataset")
    if action == "fail":
        state.fail(
            dataset,
            status=int(options.get("status", 500)),
            times=options.get("times", 1),
            from_offset=int(options.get("from_offset", 0)),
        )
    elif action == "throttle":
        state.throttle(
            dataset, times=options.get("times", 1), retry_after=float(options.get("retry_after", 1))
        )
    elif action == "cut":
        state.cut(
            dataset, times=options.get("times", 1), from_offset=int(options.get("from_offset", 0))
        )
    elif action == "drop":
        state.drop(options["dataset"], int(options.get("status", 404)))
    elif action == "restore":
        state.restore(options["dataset"])
    elif action == "change":
        state.change(
            options["dataset"],
            share=float(options.get("share", 0.1)),
            added=int(options.get("added", 5)),
        )
    elif action == "retype":
        state.retype(options["dataset"], options["column"], options.get("to", "text"))
    elif action == "touch":
        state.touch(options["dataset"], at=options.get("at"))
    elif action == "clear":
        state.clear_faults(dataset)
