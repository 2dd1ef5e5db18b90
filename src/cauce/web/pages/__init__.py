"""One module per group of pages; each gives its routes with ``routes(ui)``."""

from __future__ import annotations

from starlette.requests import Request

from ...errors import CauceError

LARGEST = 2**63 - 1  # ids are 64-bit integers in every state engine


def cursor(request: Request, name: str) -> int | None:
    """The whole number in query parameter ``name`` (a paging cursor: a log line's or a
    message's id), None when absent or empty; anything else is refused with a 400 page."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > LARGEST:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise CauceError(f"{name}={shown!r} is not a whole number of 0 or more",
                         hint=f"{name} is the id the page's own links put there; "
                         "drop it to start from the first page")
    return int(text)
