"""Output readable in any encoding: characters the terminal's encoding cannot show (under
``LANG=es_CL.ISO-8859-1``, ``LC_ALL=C`` with ``PYTHONUTF8=0``, ``PYTHONIOENCODING=ascii``)
are written as their nearest ASCII, as ``iconv -t ASCII//TRANSLIT`` writes them: ``✓`` as
``ok``, an em dash as ``--``, box drawing as ``-``, ``|`` and ``+``, ``Ñuñoa`` as ``Nunoa``.
What has no such form (an emoji, a lone surrogate kept in the state) is its ``\\uXXXX``
escape, and a byte that was not UTF-8 in an argument or a file's name, which Python holds as
a lone surrogate from U+DC80 to U+DCFF, is ``\\xNN`` (in any encoding, UTF-8 too): never a
UnicodeEncodeError.

`ERRORS` is the name of the error handler; `cauce.cli.main` sets it on stdout and stderr, and
so does a process worker's child (`cauce.runtime.processes`).
JSON output does not go through it: it is written all in ASCII escapes where the encoding is
not UTF (`ascii_json`), so that its text is the same text in any encoding.
"""

from __future__ import annotations

import codecs
import contextlib
import unicodedata

ERRORS = "cauce.ascii-fallback"

# Symbols and punctuation cauce's messages use, and rich's table and box characters.
_NEAREST = {
    "✓": "ok", "✔": "ok", "✗": "x", "✘": "x", "■": "-", "—": "--", "–": "-", "…": "...",
    "→": "->", "←": "<-", "↔": "<->", "⇒": "=>", "⏎": "|", "≈": "~", "≤": "<=", "≥": ">=",
    "≠": "!=", "×": "x", "·": ".", "•": "*", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "‘": "'", "’": "'", "‚": "'", "′": "'", "″": '"', "▶": ">", "▸": ">", "▼": "v", "▾": "v",
    "▲": "^", "◀": "<", "€": "EUR", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u200b": "",
    "\ufeff": "", "¿": "?", "¡": "!", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "°": "o",
}
_LINES = {"-": "─━═┄┅┈┉╌╍╴╶╸╺", "|": "│┃║┆┇┊┋╎╏╵╷╹╻"}
for _ascii, _chars in _LINES.items():
    _NEAREST.update(dict.fromkeys(_chars, _ascii))
_NEAREST.update({chr(code): "+" for code in range(0x2500, 0x2580) if chr(code) not in _NEAREST})
_NEAREST.update({chr(code): "#" for code in range(0x2580, 0x25A0)})  # blocks: bars
_NEAREST.update({chr(code): "-" for code in range(0x2800, 0x2900)})  # braille: spinners


def nearest(char: str) -> str | None:
    """The ASCII that stands for ``char``: from the table above, or its letters without their
    accents (``ñ`` → ``n``, ``ﬁ`` → ``fi``); None when it has none."""
    found = _NEAREST.get(char)
    if found is not None:
        return found
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and base.isascii() and base.isprintable() else None


def _fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    shown = []
    for char in error.object[error.start:error.end]:
        found = nearest(char)
        if found is not None:
            # written in the stream's encoding: ASCII is in every one Python writes text in
            shown.append(found)
        else:
            code = ord(char)
            if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's byte that was not UTF-8 (a file
                shown.append(f"\\x{code - 0xDC00:02x}")  # name): the byte, as ls -b shows it
                continue
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                         else f"\\U{code:08x}")
    return "".join(shown), error.end


codecs.register_error(ERRORS, _fallback)


def utf(encoding: str | None) -> bool:
    """Whether ``encoding`` (a stream's) is a UTF, which holds every character; None (a stream
    of text in memory) holds every character too."""
    return encoding is None or codecs.lookup(encoding).name.startswith("utf")


def json_text(value: object, stream: object, **options: object) -> str:
    """``value`` as JSON to write to ``stream``: its characters as they are where its encoding
    holds them all, else as ``\\uXXXX`` escapes (`ascii_json`; a lone surrogate too, which no
    encoding holds and JSON escapes as itself)."""
    import json  # not at start-up: `cauce --help` does without it

    if not ascii_json(stream):
        text = json.dumps(value, ensure_ascii=False, **options)  # type: ignore[arg-type]
        with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate: escaped below
            text.encode("utf-8")
            return text
    return json.dumps(value, ensure_ascii=True, **options)  # type: ignore[arg-type]


def ascii_json(stream: object) -> bool:
    """Whether JSON written to ``stream`` should be all ASCII (``\\u00f1`` for ``ñ``): its
    encoding cannot hold every character, and a fallback inside a JSON string would change the
    text it holds (an emoji's ``\\U0001f600`` is not even JSON)."""
    try:
        return not utf(getattr(stream, "encoding", None))
    except LookupError:  # an encoding Python does not know: be safe
        return True
