"""Who may use the UI, and proof that an action came from one of its own pages.

- **Address.** The UI listens on loopback unless a token is set; `check_bind` refuses any other
  address without one.
- **Token.** With a token, every request must carry it: ``Authorization: Bearer <token>``, or a
  ``?token=`` link once, which sets an HttpOnly, SameSite=Strict cookie for the pages after it.
- **Host.** Without a token only loopback host names are served, so a web page elsewhere
  cannot reach the UI through DNS rebinding.
- **CSRF.** Every action is a POST carrying ``csrf`` (form field or ``X-CSRF-Token`` header):
  an HMAC of the browser's session cookie with a key made when the server starts. A POST from
  another origin is refused too. GET requests change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from ..errors import ConfigError
from .base_path import root

SESSION_COOKIE = "cauce_session"
TOKEN_COOKIE = "cauce_token"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token."""
    if not is_loopback(host) and not token:
        # an empty host is every address of the machine, as 0.0.0.0 is
        where = host or 'every address (an empty --host, as 0.0.0.0)'
        raise ConfigError(f"the UI would listen on {where}, reachable from other machines, "
                          "without a token",
                          hint="set --token (or CAUCE_UI_TOKEN), or keep the default "
                          "--host 127.0.0.1")
    if token is not None and len(token) < 16:
        raise ConfigError("the UI token is shorter than 16 characters",
                          hint="use a long random value, e.g. `python -c \"import secrets; "
                          "print(secrets.token_urlsafe(24))\"`")


class Guard:
    """The checks every request goes through (a pure-ASGI-free helper used by the middleware)."""

    def __init__(self, token: str | None, *, key: bytes | None = None) -> None:
        self.token = token
        self._key = key or secrets.token_bytes(32)

    # -- CSRF -------------------------------------------------------------------------------
    def csrf_for(self, session: str) -> str:
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str | None, given: str | None) -> bool:
        if not session or not given:
            return False
        return hmac.compare_digest(self.csrf_for(session), given)

    # -- token ------------------------------------------------------------------------------
    def token_ok(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = [request.cookies.get(token_cookie(request)), request.query_params.get("token")]
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given.append(header[7:].strip())
        return any(value and hmac.compare_digest(value.encode(), self.token.encode())
                   for value in given)

    def host_ok(self, request: Request) -> bool:
        if self.token is not None:
            return True
        host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        return is_loopback(host)

    @staticmethod
    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin") or request.headers.get("referer")
        if not origin:
            return True  # not a browser's cross-site request; the CSRF token still applies
        return urlsplit(origin).netloc == request.headers.get("host", "")


def token_cookie(request: Request) -> str:
    """The token cookie's name for the port the browser reached the UI on: a browser keeps
    one set of cookies per host whatever the port, so two UIs with their own tokens on one
    host (two homes, two `cauce serve --ui`) overwrote each other's cookie, and each
    tab asked for its token again after the other was opened."""
    port = request.url.port or (443 if request.url.scheme == "https" else 80)
    return f"{TOKEN_COOKIE}_{port}"


def cookie_path(request: Request) -> str:
    """The path the UI's cookies are sent for: its prefix, so two UIs a proxy serves on one
    host under two prefixes keep a session each."""
    return root(request.scope) + "/"


def middleware(guard: Guard) -> Callable[[Request, Callable[[Request], Awaitable[Response]]],
                                         Awaitable[Response]]:
    """Starlette HTTP middleware applying `Guard` to every request."""

    async def check(request: Request,
                    call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not guard.host_ok(request):
            return PlainTextResponse("this UI only answers on its loopback address", 421)
        if not guard.token_ok(request):
            return PlainTextResponse(
                "a token is required: open the address `cauce ui` printed (it ends in "
                "?token=...), or send Authorization: Bearer <token>", 401)
        session = request.cookies.get(SESSION_COOKIE)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            form_token = request.headers.get(CSRF_HEADER)
            if form_token is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                await request.body()  # cached, so the endpoint reads the same form again
                try:
                    form = await request.form()
                except HTTPException as err:  # a field over 1 MB, a broken multipart body
                    return PlainTextResponse(f"refused: the form could not be read: "
                                             f"{err.detail}", err.status_code)
                value = form.get(CSRF_FIELD)
                form_token = value if isinstance(value, str) else None
            if not guard.same_origin(request):
                return PlainTextResponse(
                    "refused: this action came from a page of another site (CSRF check); "
                    "open the UI itself and act from its pages", 403)
            if not guard.csrf_ok(session, form_token):
                # a page drawn before the UI restarted (a new key), or before the browser's
                # cookies were cleared, is the daily case; a forged form the rarer one
                return PlainTextResponse(
                    "refused: this form is not from a page of this UI's current session (CSRF "
                    "check): the UI restarted, or the browser's cookies were cleared, since the "
                    "page was drawn; reload the page and try again", 403)
        new_session = None
        if not session:
            session = new_session = secrets.token_urlsafe(24)
        request.state.csrf = guard.csrf_for(session)
        response = await call_next(request)
        if new_session:
            response.set_cookie(SESSION_COOKIE, new_session, path=cookie_path(request),
                                httponly=True, samesite="strict")
        if guard.token is not None and request.query_params.get("token"):
            response.set_cookie(token_cookie(request), guard.token, path=cookie_path(request),
                                httponly=True, samesite="strict")
            if request.method == "GET" and not isinstance(response, RedirectResponse):
                # drop the token from the address bar and the history
                clean = request.url.remove_query_params("token")
                redirect = RedirectResponse(str(clean), 303)
                for cookie in response.headers.getlist("set-cookie"):
                    redirect.headers.append("set-cookie", cookie)
                return redirect
        harden(response)
        return response

    return check


# Scripts and styles only from the UI's own files: no inline script, event attribute, style
# element or style attribute runs, and nothing compiles code from text (Vega draws through its
# expression interpreter, htmx runs without eval). Nothing loads from elsewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")


def harden(response: Response) -> None:
    headers: dict[str, Any] = {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
        # another site's page may not load the UI's answers as images, scripts or media (a
        # bucket object, a page), nor keep a handle on a UI window it opened
        "cross-origin-resource-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
        "content-security-policy": CSP,
    }
    for name, value in headers.items():
        response.headers.setdefault(name, value)
