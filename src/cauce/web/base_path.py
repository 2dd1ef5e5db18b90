"""The UI under a path prefix (``https://example.org/cauce/``), as a reverse proxy serves it.

Every link, form, script and redirect of the pages starts with the request's ``root_path``
(ASGI's name for the prefix), and the pages are found whether the proxy passes the prefix on
(nginx ``proxy_pass http://127.0.0.1:8765;``) or takes it off (``proxy_pass
http://127.0.0.1:8765/;``): a path without it is read as under it.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import CauceError

# what a part of the prefix may hold: RFC 3986's unreserved characters, which no address,
# HTML attribute or script escapes, so the prefix is the same text in each
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def parse_base_path(text: str) -> str:
    """``text`` as a prefix: ``/cauce`` from ``/cauce``, ``/cauce/``, ``cauce``; ``""`` for
    ``/`` or nothing. A prefix no address could hold is refused in one line."""
    segments = [segment for segment in text.strip().split("/") if segment]
    bad = next((s for s in segments if not _SEGMENT.fullmatch(s) or s in (".", "..")), None)
    if bad is not None:
        raise CauceError(
            f"the UI's base path {text!r} is not a path of an address: {bad!r} cannot be one "
            "of its parts",
            hint="give the path the proxy serves the UI under, e.g. --base-path /cauce "
            "(letters, digits and - . _ ~)")
    return "".join("/" + segment for segment in segments)


class BasePath:
    """ASGI middleware serving an application under ``base`` (from `parse_base_path`)."""

    def __init__(self, app: ASGIApp, base: str) -> None:
        self.app = app
        self.base = base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.base:
            scope = {**scope, "root_path": self.base, "path": self._under(scope["path"])}
            if scope.get("raw_path") is not None:  # the prefix is ASCII: the same bytes
                scope["raw_path"] = self._under(scope["raw_path"].decode("latin-1")).encode(
                    "latin-1")
        await self.app(scope, receive, send)

    def _under(self, path: str) -> str:
        if path == self.base or path.startswith(self.base + "/"):
            return path
        return self.base + path  # the proxy took the prefix off


def root(scope: Scope) -> str:
    """The prefix of the request whose ``scope`` this is (``""`` at the root)."""
    return str(scope.get("root_path", ""))


def see_page(request: Request, address: str) -> RedirectResponse:
    """The 303 after a form: to ``address`` (``/runs/ID?...``) of this UI, under its prefix."""
    return RedirectResponse(root(request.scope) + address, 303)
