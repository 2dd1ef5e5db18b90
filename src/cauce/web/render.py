"""Templates and the small formatting filters every page uses.

Jinja2 escapes every value by default; nothing user-controlled is marked safe. Times are shown
in the time zone of the app they belong to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..durations import format_duration
from .base_path import root
from .home import Home, local

TEMPLATES = Path(__file__).with_name("templates")
# a lone surrogate (JSON and Python strings may hold one) has no UTF-8: shown as U+FFFD
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# One value (a log line, an error, a parameter, a message) is shown up to this many characters:
# a megabyte-long line would otherwise make every page that shows it a megabyte. As many as an
# object's preview has bytes (`pages.data.PREVIEW`), so a preview is never cut twice.
SHOWN_MAX = 65_536
# characters a browser would act on rather than show: C0 controls (an ANSI colour's ESC, NUL)
# and the bidirectional overrides that make a name read backwards ("txt.exe" as "exe.txt")
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

STATUS_CLASS = {"succeeded": "ok", "failed": "bad", "dead-lettered": "bad", "cancelled": "warn",
                "running": "run", "queued": "wait"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else format_duration(seconds)


def _pretty(value: Any) -> str:
    """JSON of a value, indented; text that is JSON is shown indented too."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def _control(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the control's picture: ␛, ␀
    return "\u2421" if code == 0x7F else f"[U+{code:04X}]"


def shown(value: Any) -> Any:
    """A value as a page shows it: cut at `SHOWN_MAX` characters, controls made visible.

    Applied to every ``{{ ... }}`` of every template; markup the UI made itself is left alone.
    """
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    if len(value) > SHOWN_MAX:
        value = f"{value[:SHOWN_MAX]}… ({len(value) - SHOWN_MAX:,} more characters not shown)"
    return CONTROLS.sub(_control, value)


def _sparkline(counts: list[int], width: int = 120, height: int = 22) -> str:
    """Points of a polyline for a tiny throughput chart (numbers only, nothing to escape)."""
    if not counts:
        return ""
    top = max(counts) or 1
    step = width / max(1, len(counts) - 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (c / top) * (height - 4):.1f}"
                    for i, c in enumerate(counts))


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True, finalize=shown)
    env.filters.update(duration=_duration, pretty=_pretty, sparkline=_sparkline,
                       status_class=lambda s: STATUS_CLASS.get(str(s), ""))
    return env


class Pages:
    """Renders templates with what every page needs (the home, the CSRF token, the nav)."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.env = environment()
        self.env.globals.update(apps=home.app_names, home_path=str(home.path))
        for held in ("base.html", "error.html"):
            # read now: the page that says a file could not be opened (too many open files)
            # must not need one opened
            self.env.get_template(held)
        self._flash_key = secrets.token_bytes(32)

    # A page says what a form did in a banner whose text travels in the redirect's address.
    # The address carries a signature of the text by this UI, and a banner is shown only with
    # it: a link from elsewhere cannot make the UI say what it did not do.
    def flash_query(self, text: str) -> str:
        """The query parameters (``done=...&sig=...``) that show ``text`` on the next page."""
        return urlencode({"done": text, "sig": self._signature(text)})

    def flash(self, request: Request) -> str | None:
        """The banner text of this request's address, if this UI signed it."""
        text, given = request.query_params.get("done"), request.query_params.get("sig")
        if text is None or given is None:
            return None
        return text if hmac.compare_digest(self._signature(text), given) else None

    def _signature(self, text: str) -> str:
        data = text.encode("utf-8", "surrogatepass")
        return hmac.new(self._flash_key, data, hashlib.sha256).hexdigest()

    def when(self, app: str | None, ts: float | datetime | None) -> str:
        return local(ts, self.home.tz(app))

    def render(self, request: Request, template: str, status: int = 200,
               **values: Any) -> HTMLResponse:
        context = {"request": request, "root": root(request.scope),
                   "csrf": getattr(request.state, "csrf", ""), "when": self.when,
                   "url_with": lambda **kw: url_with(request, **kw),
                   "section": values.pop("section", ""), **values}
        page = self.env.get_template(template).render(context)
        return HTMLResponse(LONE_SURROGATE.sub("\ufffd", page), status_code=status)


def url_with(request: Request, **changes: Any) -> str:
    """This page's address with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    params.pop("token", None)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + ("?" + query if query else "")
