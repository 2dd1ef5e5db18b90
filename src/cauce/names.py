"""The names people give apps, resources, jobs and settings, checked once, when declared.

Each name becomes a folder or file name (a bucket's folder, a warehouse's file), a command-line
option, an environment variable or a log stream's name, so it is plain text of a bounded length:
a pattern of letters, digits and a few punctuation marks, matched against the whole name (a
trailing newline included), and at most :data:`MAX_LENGTH` characters (a file name holds 255).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import DeclarationError

#: The longest name: with a suffix (``.duckdb``, ``.dlq``) it still fits in a file name.
MAX_LENGTH = 100


def checked(what: str, name: Any, pattern: re.Pattern[str], hint: str) -> str:
    """``name`` when it is text that ``pattern`` matches whole and no longer than
    :data:`MAX_LENGTH`; a :class:`DeclarationError` saying ``what`` is invalid otherwise."""
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise DeclarationError(f"{what} {name!r} is not valid", hint=hint)
    if len(name) > MAX_LENGTH:
        raise DeclarationError(f"{what} {name[:20]!r}… is {len(name):,} characters long",
                               hint=f"use at most {MAX_LENGTH} characters")
    return name
