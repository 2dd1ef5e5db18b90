"""Read the text files users hand over in the encoding their tools wrote.

Users' CSV and text files come from editors, spreadsheets and exports: UTF-8, UTF-8 with a
byte-order mark (Excel's "CSV UTF-8", Notepad), UTF-16 with a mark (Excel's "Unicode text"),
or a single-byte Windows encoding (Excel's plain "CSV" on a Western-European Windows writes
cp1252). :func:`detect_encoding` tells which from the bytes, :func:`decode` turns them into
text without the mark (a ``\\ufeff`` left at the start would end up glued to the first
field), and ``encoding=`` overrides the guess, as a ``--encoding`` option would.

Detection, in order: a byte-order mark names its encoding; else a head whose NUL bytes fall
on every other byte is UTF-16 without a mark (as some Windows tools export it: Latin text
has a NUL as the high byte of each character, after it in little-endian, before it in
big-endian; see :func:`utf16_without_bom`); else bytes that are valid UTF-8 are UTF-8 (ASCII
is too); else, when most bytes above ASCII still form UTF-8 characters (:func:`mostly_utf8`:
a UTF-8 file with a damaged line), UTF-8 with U+FFFD for the bad bytes; else cp1252 when every
byte is one cp1252 defines, else Latin-1, which decodes any byte. A file has one encoding: a
guess per line would turn the same word into different text. Not detected: UTF-16 without
a mark whose text has few Latin letters (Chinese, say), UTF-32 (its mark reads as UTF-16's).

Line ends: CRLF and LF end lines; a file with no LF at all whose lines end in CR alone (old
Mac editors, Excel's "CSV (Macintosh)") is told by :func:`cr_line_ends`.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cauce.errors import CauceError

UTF8 = "utf-8"
CP1252 = "cp1252"
LATIN1 = "latin-1"
#: The bytes cp1252 leaves undefined; Latin-1 decodes them (as C1 control characters).
CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"

#: Byte-order marks and the encoding each one names; the mark itself is not text.
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: The head judged for UTF-16 without a mark: enough lines to be sure, little to scan.
UTF16_SAMPLE = 4096
#: The share of characters whose high byte must be NUL (Latin text: nearly all of them),
#: and the most the other byte may be: a NUL in a text or binary file falls on either side.
UTF16_NUL_SHARE, UTF16_OTHER_SHARE = 0.5, 0.05

#: The bytes above ASCII, which a UTF-8 character of more than one byte is made of.
_HIGH_BYTES = bytes(range(0x80, 0x100))
#: How surrogateescape writes a byte that is not UTF-8 (U+DC80 to U+DCFF).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
#: The longest a UTF-8 character can be: a sample cut inside one is not invalid.
_UTF8_MAX_BYTES = 4


class TextDecodeError(CauceError):
    """A file's bytes are not text in the encoding it was read with."""


class UnreadableFile(CauceError):
    """A file a user named cannot be read: a folder, a broken or looping link, no permission."""


def file_problem(path: Path) -> str | None:
    """What keeps ``path`` from being a regular file to read, said for people after its name
    (``is a folder, not a file``, ``is a link to x.toml, which does not exist``, ``is a link
    that leads back to itself``...); None when it is one.

    ``Path.is_file()`` is False for all of these alike, which left a folder, a looping link or a
    pipe named like a configuration file quietly unread."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a link that leads back to itself (a loop of symbolic links)"
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            if path.is_symlink():
                return f"is a link to {os.readlink(path)}, which does not exist"
            return "does not exist"
        return f"cannot be read: {err.strerror or err}"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, a pipe or a socket)"
    return None


def user_path(path: str | Path) -> Path:
    """``path`` as a user wrote it, a leading ``~`` (``~/cauce``, ``~ana/cauce``) read as that
    home folder, as a shell makes it where it expands one: not after ``--home=``, nor between
    quotes, nor in ``.env`` or ``cauce.toml``, which made a folder named ``~`` in the working
    folder. An unknown user's ``~name`` stays as written."""
    return Path(os.path.expanduser(path))


def real_path(path: str | Path) -> Path:
    """`user_path` made absolute, its links followed, as ``Path.resolve()`` makes it, but for a
    loop of links: Python before 3.13 raises RuntimeError there, which reached users as an
    unexpected error. The path is left as it is from the loop on, and opening it fails as any
    unreachable file does (``OSError``, errno ELOOP)."""
    return Path(os.path.realpath(user_path(path)))


def read_text_file(path: Path, *, universal_newlines: bool = False,
                   limit: int | None = None) -> str:
    """The text of the file a user wrote at ``path``, decoded as :func:`decode` does (its
    encoding detected, its byte-order mark dropped).

    Raises :class:`UnreadableFile`, one line naming the path and why, for a file that is no
    regular file (see :func:`file_problem`), that cannot be read (permissions), or that is
    larger than ``limit`` bytes (another kind of file in its place, read whole otherwise)."""
    if (problem := file_problem(path)) is not None:
        raise UnreadableFile(f"{path} {problem}", hint=f"make {path} a text file, or remove it")
    try:
        if limit is not None and (size := path.stat().st_size) > limit:
            raise UnreadableFile(f"{path} is {size:,} bytes, more than such a file ever is "
                                 f"({limit:,} at most)",
                                 hint=f"is {path} the file you meant? another kind of file "
                                 "may have taken its name")
        data = path.read_bytes()
    except OSError as err:
        raise UnreadableFile(f"cannot read {path}: {err.strerror or err}",
                             hint=f"check the permissions of {path}, or remove it") from None
    return decode(data, universal_newlines=universal_newlines, name=str(path))


def detect_encoding(data: bytes, *, complete: bool = True) -> str:
    """The encoding ``data`` is written in: ``utf-8``, ``utf-16-le``, ``utf-16-be``,
    ``cp1252`` or ``latin-1``.

    With ``complete=False``, ``data`` is the head of a longer file (a sample): a character
    cut by the end of the sample does not count as an invalid byte.
    """
    for mark, encoding in BOMS:
        if data.startswith(mark):
            return encoding
    if unmarked := utf16_without_bom(data):
        return unmarked
    try:
        data.decode(UTF8)
    except UnicodeDecodeError as error:
        cut_at_end = error.reason == "unexpected end of data"
        if complete or not (cut_at_end and error.start >= len(data) - _UTF8_MAX_BYTES + 1):
            return single_byte_encoding(data)
    return UTF8


def utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` when ``data`` (a whole file or its head) is UTF-16 text
    without a byte-order mark, else None.

    Judged on the first :data:`UTF16_SAMPLE` bytes: at least half the two-byte characters
    have a NUL high byte (after the low byte in little-endian, before it in big-endian), at
    most one in twenty a NUL low byte, and at most one in twenty decodes to a control
    character (tab and line ends aside) or to no character. A UTF-8 or single-byte file has no
    NUL, or a few anywhere (a stray one in a value); UTF-32 has NULs on both sides; binary
    data that has the NULs decodes to control characters and unpaired surrogates."""
    characters = min(len(data), UTF16_SAMPLE) // 2
    sample = data[: characters * 2]
    if characters < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    most = characters * UTF16_OTHER_SHARE
    for encoding, high, low in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if high >= characters * UTF16_NUL_SHARE and low <= most:
            text = sample.decode(encoding, "replace")
            return encoding if sum(map(_not_text, text)) <= most else None
    return None


def _not_text(character: str) -> bool:
    """A control character other than tab and line ends, or U+FFFD for bytes that decode to
    no character."""
    return (character < " " and character not in "\t\n\r") or character == "\ufffd"


def cr_line_ends(text: str | bytes) -> bool:
    """Whether the lines of ``text`` end in CR alone: it has a CR and no LF at all (old Mac
    editors, Excel's "CSV (Macintosh)"). A CR in a file that has LFs is no line end (a
    value's, or CR CR LF; see :func:`stray_carriage_return`)."""
    cr, lf = ("\r", "\n") if isinstance(text, str) else (b"\r", b"\n")
    return lf not in text and cr in text


def decode(
    data: bytes,
    encoding: str | None = None,
    *,
    universal_newlines: bool = False,
    errors: str = "strict",
    name: str = "the file",
) -> str:
    """The text of ``data`` without its byte-order mark.

    ``encoding`` None detects it (see :func:`detect_encoding`), which never fails (a UTF-16
    file cut inside a character ends with U+FFFD); a named encoding (any Python codec name,
    e.g. from ``--encoding``) is used as given, and bytes it cannot decode raise
    :class:`TextDecodeError` naming ``name`` and the line, unless ``errors`` is
    ``"replace"`` (U+FFFD marks each bad byte). ``universal_newlines`` turns CRLF and lone
    CR line ends into LF, as Python's text mode does.
    """
    if encoding is None:
        text = _detected_text(data)
    else:
        text = _decoded(data, check_encoding(encoding), errors, name)
    text = text.removeprefix("\ufeff")
    if universal_newlines:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _detected_text(data: bytes) -> str:
    """``data`` decoded in its detected encoding, decoding a UTF-8 file only once."""
    for mark, encoding in BOMS:
        if data.startswith(mark):
            return data.decode(encoding, "replace")
    if unmarked := utf16_without_bom(data):
        return data.decode(unmarked, "replace")
    try:
        return data.decode(UTF8)
    except UnicodeDecodeError:
        damaged = data.decode(UTF8, "replace")
        return damaged if mostly_utf8(data, damaged) else data.decode(single_byte_encoding(data))


def escaped_bytes_decoded(text: str) -> str:
    """``text`` that Python decoded with surrogateescape (a command-line argument, an
    environment value) from bytes that were not UTF-8, decoded as :func:`decode` decodes a
    file's bytes: ``"S\\udce3o"`` from a cp1252 script is ``"São"``. Text with no such escape is
    returned as it is. Not for file names, whose escapes give the file's bytes back."""
    if _ESCAPED_BYTE.search(text) is None:
        return text
    try:
        return decode(text.encode(UTF8, "surrogateescape"))
    except UnicodeEncodeError:  # another lone surrogate: not Python's escape of a byte
        return text


def mostly_utf8(data: bytes, decoded: str | None = None) -> bool:
    """Whether most bytes of ``data`` above ASCII form UTF-8 characters (``decoded``: its UTF-8
    decoding with U+FFFD for bad bytes, when at hand): a UTF-8 file with a damaged line (a
    download cut inside a character, a line pasted from a cp1252 file), which read as cp1252
    would have every accent of every line garbled. In a cp1252 or Latin-1 file nearly every
    such byte is invalid UTF-8 (``Ó`` then ``´`` is a rare exception). Counted in C: the bytes
    above ASCII, and the UTF-8 length of the decoding less its ASCII and its U+FFFD."""
    text = data.decode(UTF8, "replace") if decoded is None else decoded
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    in_characters = len(text.encode(UTF8, "surrogatepass")) - (len(data) - high) \
        - 3 * text.count("\ufffd")
    return in_characters * 2 > high


def _decoded(data: bytes, encoding: str, errors: str, name: str) -> str:
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TextDecodeError(
            f"{name} is not {encoding} text: byte {data[error.start]:#04x} on line {line:,} "
            f"({error.reason})",
            hint="give the encoding the file was saved in (e.g. --encoding cp1252 or "
            "--encoding latin-1 for a spreadsheet's CSV), or leave it out to detect it",
        ) from None


#: The head of a stream whose encoding is judged (a read blocks until it has it, or the end).
STREAM_HEAD = 64 << 10


HEAD_PAUSE = 0.2  # seconds: a producer quiet this long has written what it has for now


def _head(stream: BinaryIO) -> bytes:
    """The first :data:`STREAM_HEAD` bytes of ``stream``, or what has come when a pipe's
    producer pauses (``tail -f log | cauce put APP STREAM -``): waiting for a whole head held
    back the lines already written, and a Ctrl-C lost them."""
    read1 = getattr(stream, "read1", None)
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a BytesIO: all of it is there
        fd = None
    if read1 is None or fd is None:
        return stream.read(STREAM_HEAD)
    import select

    data = b""
    while len(data) < STREAM_HEAD:
        if data:
            try:
                ready, _, _ = select.select([fd], [], [], HEAD_PAUSE)
            except (OSError, ValueError):  # not a thing select takes: read on
                ready = [fd]
            if not ready:
                break
        block = read1(STREAM_HEAD - len(data))
        if not block:
            break
        data += block
    return data


def read_lines(stream: BinaryIO, name: str = "standard input") -> Iterator[str]:
    """The lines of a text ``stream`` (standard input, a pipe), each without its line end (LF,
    CRLF, or CR alone when the head has no LF: :func:`cr_line_ends`), a last line without one
    included, a block at a time: never the whole stream in memory. After the head, a block is
    what has come (``read1``), so that lines a slow producer wrote are not held back.

    The encoding is told from the first :data:`STREAM_HEAD` bytes (or fewer: what a pipe's
    producer wrote before a pause of :data:`HEAD_PAUSE`) as :func:`detect_encoding`
    tells it (a byte-order mark, which is dropped, UTF-16 with or without one, else UTF-8, or
    cp1252 / Latin-1 when the head is no UTF-8, nor mostly UTF-8). A byte the encoding cannot
    decode raises :class:`TextDecodeError` naming ``name`` and the line, rather than a
    character the user never wrote (Python's ``sys.stdin`` gives a lone surrogate for it)."""
    data = _head(stream)
    encoding = detect_encoding(data, complete=False)
    if encoding in (CP1252, LATIN1) and mostly_utf8(data):
        encoding = UTF8  # a damaged UTF-8 line: said where, not every accent garbled
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    end = "\r" if cr_line_ends(data) else "\n"  # old Mac editors end lines in CR alone
    # after the head, what has come (a pipe's producer writes as it goes): read() would wait
    # for a whole block, holding back the lines that came, lost with it to a Ctrl-C
    more = getattr(stream, "read1", stream.read)
    # the text after the last line end, in pieces: joined once its line ends (joining each
    # block to it and splitting again took time and memory growing with the square of a long
    # line's length: 20 s for a 50 MB line)
    pending: list[str] = []
    line, first = 1, True
    while True:
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            # `pending`, the text after the last line end, holds none
            at = line + data.count(end.encode(), 0, max(error.start, 0))
            raise TextDecodeError(
                f"{name} is not {encoding} text: byte {error.object[error.start]:#04x} on line "
                f"{at:,} ({error.reason})",
                hint="convert it to UTF-8 first, e.g. iconv -f cp1252 -t utf-8") from None
        if first and text:  # the mark, once decoded
            text, first = text.removeprefix("\ufeff"), False
        if end in text:
            head, *ended, tail = text.split(end)
            whole = "".join([*pending, head])
            pending = [tail]  # its pieces let go before the line's CR is cut off
            for piece in [whole, *ended]:
                yield piece.removesuffix("\r")
            line += 1 + len(ended)
        else:
            pending.append(text)
        if not data:
            break
        data = more(STREAM_HEAD)
    if any(pending):
        yield "".join(pending)


def stray_carriage_return(path: Path, encoding: str = UTF8) -> int | None:
    """The line (1-based, counted by line feeds) of the first carriage return that ends no
    line the way the file's other lines end: inside a value (``x\\ry``) or doubled before a line
    feed (``\\r\\r\\n``, a CRLF file converted once more). None when there is none, and for a file
    without line feeds, whose lines end in CR alone (Excel's "CSV (Macintosh)").

    Strict CSV readers (DuckDB's) stop at such a byte without saying where; this says where."""
    found, line, line_feeds = None, 1, False
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        # newline="": each piece ends in LF, CRLF or a CR alone, as it is in the file
        for piece in handle:
            if piece.endswith("\n"):
                line_feeds = True
                if found is not None:
                    return found
                line += 1
            elif piece.endswith("\r") and found is None:
                found = line
    return found if line_feeds else None


def mixed_line_ends(path: Path, encoding: str = UTF8) -> int | None:
    """The line (1-based, counted by line feeds) of the first record that ends in LF where the
    first record ends in CRLF, or the other way round; None when all end alike. A line break
    inside a quoted value (after an odd number of quotes) is the value's, not a record's end.

    Strict CSV readers (DuckDB's) stop at a file with both without saying where (lines added
    in another editor, two exports joined); this says where."""
    first, line, quotes = None, 1, 0
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        for piece in handle:  # newline="": each piece ends as it does in the file
            quotes += piece.count('"')
            if not piece.endswith("\n"):
                continue
            if quotes % 2 == 0:
                crlf = piece.endswith("\r\n")
                if first is None:
                    first = crlf
                elif crlf != first:
                    return line
            line += 1
    return None


def write_utf8_copy(
    source: Path, target: Path, encoding: str, *, errors: str = "strict", block: int = 8 << 20
) -> None:
    """Write ``source``, text in ``encoding``, to ``target`` as UTF-8 without a byte-order
    mark, ``block`` bytes at a time (never the whole file in memory), line ends as they are,
    so the copy's line numbers are the source's: how a file goes to a reader that knows only
    UTF-8 (DuckDB reads neither cp1252 nor, past 0x7F, Latin-1).

    Raises UnicodeDecodeError, leaving no ``target``, when a byte is not text in ``encoding``
    (``errors="replace"`` writes U+FFFD for it instead).
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    try:
        with source.open("rb") as raw, target.open("w", encoding=UTF8, newline="") as out:
            first = True
            while data := raw.read(block):
                text = decoder.decode(data)
                out.write(text.removeprefix("\ufeff") if first else text)
                first = False
            out.write(decoder.decode(b"", final=True))
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def check_encoding(encoding: str) -> str:
    """``encoding`` as Python's canonical codec name; a one-line error when it is unknown."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise CauceError(
            f"unknown text encoding {encoding!r}",
            hint="use utf-8, utf-8-sig, utf-16, cp1252 or latin-1 (any Python codec name), "
            "or leave it out to detect the encoding from the file",
        ) from None
    if not _is_text_codec(info):
        raise CauceError(
            f"{encoding!r} is not a text encoding",
            hint="use utf-8, utf-16, cp1252 or latin-1",
        )
    # utf-8-sig is UTF-8 whose mark decode() strips anyway: one name for one encoding.
    return UTF8 if info.name == "utf-8-sig" else info.name


_NOT_FOR_FILES = frozenset({"idna", "punycode", "undefined"})


def _is_text_codec(info: codecs.CodecInfo) -> bool:
    # Codecs such as base64 or rot13 are bytes-to-bytes or str-to-str transforms; idna and
    # punycode encode domain names (no file's text: they refuse U+FFFD for a bad byte), and
    # undefined refuses everything.
    return getattr(info, "_is_text_encoding", True) and info.name not in _NOT_FOR_FILES


def single_byte_encoding(data: bytes) -> str:
    """``cp1252`` when every byte of ``data`` is one cp1252 defines, else ``latin-1``, which
    decodes any byte: the encoding of a file that is not UTF-8.

    A large file can be judged block by block: it is cp1252 when every block is. The check
    looks for the five undefined bytes without decoding, so it costs little on each block."""
    return LATIN1 if any(byte in data for byte in CP1252_UNDEFINED) else CP1252
