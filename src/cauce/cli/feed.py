"""``cauce send``, ``publish`` and ``put``: put work into an app from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ..errors import CauceError
from . import console
from .home import HomeOption, StateOption, attached, exclusive, text_argument

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from ..resources.stream import Stream


T = TypeVar("T")
R = TypeVar("R")

MESSAGE_HELP = "the message (JSON); - reads one JSON document, or JSON lines, from stdin"


def send_command(app_ref: str = typer.Argument(..., metavar="APP"),
                 queue: str = typer.Argument(..., metavar="QUEUE"),
                 body: str = typer.Argument(..., metavar="JSON", help=MESSAGE_HELP),
                 home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Send one JSON message to a queue, or (-) each one on stdin.

    Example: cauce send demo work '{"key": "in/a.csv"}'
    """
    from ..resources.queue import Queue

    with attached(app_ref, home, state_option) as rt:
        target = rt.app.get_resource(queue, Queue)
        if body != "-":
            console.out.print(f"sent message {target.send(_json_arg(body))}")
            return
        ids: list[str] = []
        _deliver(_stdin_values(), target.send_batch, ids, lambda: _fed(ids, "sent", "message"))
    console.out.print(_fed(ids, "sent", "message"))


def publish_command(app_ref: str = typer.Argument(..., metavar="APP"),
                    topic: str = typer.Argument(..., metavar="TOPIC"),
                    body: str = typer.Argument(..., metavar="JSON", help=MESSAGE_HELP),
                    home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Publish one JSON message to a topic, or (-) each one on stdin.

    Example: cauce publish demo events '{"n": 1}'
    """
    from ..resources.topic import Topic

    with attached(app_ref, home, state_option) as rt:
        target = rt.app.get_resource(topic, Topic)
        if not target.subscribed():  # by hand, that is a mistake: said before any is lost
            raise CauceError(f"topic {topic!r} has no subscriber: a message published there "
                             "reaches nobody and is not kept",
                             hint="subscribe a handler to it (@app.on(topic)) or a queue "
                             "(subscribers=[queue]), then publish")
        values = _stdin_values() if body == "-" else [_json_arg(body)]
        ids: list[str] = []
        # one event a transaction: a chunk interrupted midway would be published twice
        _deliver(values, lambda one: [target.publish(one[0])], ids,
                 lambda: _fed(ids, "published", "event"), size=1)
    console.out.print(_fed(ids, "published", "event"))


def _fed(ids: list[str], verb: str, noun: str) -> str:
    """What a send or publish did: the one id, or how many (the first and the last id)."""
    if len(ids) == 1:
        return f"{verb} {noun} {ids[0]}"
    if not ids:
        return f"{verb} no {noun}: standard input held no JSON"
    return f"{verb} {len(ids):,} {noun}s ({ids[0]} to {ids[-1]})"


def put_command(ctx: typer.Context,
                app_ref: str = typer.Argument(..., metavar="APP"),
                target: str = typer.Argument(..., metavar="BUCKET|STREAM"),
                first: str = typer.Argument(..., metavar="KEY|JSON", parser=text_argument,
                                            help="a bucket's object key, or a stream's record "
                                            "(JSON; - reads JSON lines from stdin)"),
                file: Path = typer.Argument(None, metavar="[FILE]",
                                            help="the local file to store in a bucket"),
                partition_key: str = typer.Option(None, "--key", metavar="K",
                                                  parser=text_argument,
                                                  help="a stream record's partition key"),
                key_field: str = typer.Option(None, "--key-field", metavar="FIELD",
                                              parser=text_argument,
                                              help="take each record's partition key from "
                                              "this field"),
                home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Store a local file in a bucket (which emits object-created), or put records into a
    stream.

    Examples: cauce put demo inbox in/a.csv a.csv; cauce put demo readings --key station-7 '{"v": 1.5}'
    """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
    from ..resources.bucket import Bucket
    from ..resources.stream import Stream

    exclusive(ctx, "--key", "--key-field")
    with attached(app_ref, home, state_option) as rt:
        resource = rt.app.get_resource(target)  # an unknown name: the closest one
        if isinstance(resource, Stream):
            placed = _put_records(resource, first, partition_key, key_field)
            console.out.print(f"put {len(placed):,} record(s) into stream {target}"
                              + (f" (shard {placed[0][0]}, sequence {placed[0][1]})"
                                 if len(placed) == 1 else ""))
            return
        bucket = rt.app.get_resource(target, Bucket)
        if file is None:
            raise CauceError("cauce put BUCKET needs a KEY and a FILE",
                             hint="cauce put APP BUCKET KEY FILE, or "
                             "cauce put APP STREAM --key K JSON")
        if str(file) == "-" and not file.exists():  # a stream's `-`, given to a bucket
            raise CauceError("cauce put BUCKET stores a file, not standard input",
                             hint="write it to a file first, then cauce put APP BUCKET KEY FILE")
        ref = bucket.put_file(first, file)
    console.out.print(f"stored {ref.key} ({ref.size:,} bytes) in bucket {target}", markup=False)


PUT_CHUNK = 5000  # records a transaction when reading JSON lines


def _put_records(stream: Stream, text: str, partition_key: str | None,
                 key_field: str | None) -> list[tuple[int, int]]:
    """Put one JSON record, or (``-``) every one on stdin, in chunks of `PUT_CHUNK`."""
    if partition_key is None and key_field is None:
        raise CauceError(f"stream {stream.name!r}: give --key K or --key-field FIELD",
                         hint="records with one partition key keep their order in one shard")
    records = _stdin_values() if text == "-" else [_json_arg(text, file_hint=RECORDS_FILE_HINT)]
    keyed = ((record, partition_key if partition_key is not None
              else _field(record, key_field or "", number))
             for number, record in enumerate(records, start=1))
    placed: list[tuple[int, int]] = []
    _deliver(keyed, stream.put_many, placed,
             lambda: f"put {len(placed):,} record(s) into stream {stream.name}")
    return placed


def _stdin_values() -> Iterator[Any]:
    """The JSON values on standard input: one a line (JSON Lines), or one document written
    over several lines (a pretty-printed file), told by whether its first line is whole."""
    lines = _stdin_lines()
    first = True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f" (line {number} of standard input)"
        try:
            value = _json_arg(line, where, STDIN_HINT, None)
        except CauceError:
            if not first or not _goes_on(line):
                raise
            document = "\n" * (number - 1) + "\n".join([line, *lines])  # its line numbers
            yield _json_arg(document, " (standard input, one JSON document)",
                            "give one JSON document, or one JSON value a line", None)
            return
        first = False
        yield value


def _goes_on(line: str) -> bool:
    """Whether ``line`` is the start of a JSON value that goes on past it (``{``, ``[1,``)."""
    import json

    try:
        json.loads(line)
    except json.JSONDecodeError as err:
        return err.pos >= len(line.rstrip())
    except (ValueError, RecursionError):  # whole but unreadable (too deep): it does not go on
        return False
    return False


def _deliver(values: Iterable[T], deliver: Callable[[list[T]], list[R]], done: list[R],
             said: Callable[[], str], size: int | None = None) -> None:
    """Hand ``values`` to ``deliver`` ``size`` (`PUT_CHUNK`) at a time (a transaction each,
    never the whole input at once), adding what it returns to ``done``. A bad value is said
    with what went out before it; on Ctrl-C or SIGTERM (a producer piping in until stopped)
    the values already read are gone from the pipe, so they are delivered, said, and the
    interrupt goes on."""
    chunk: list[T] = []
    try:
        for value in values:
            chunk.append(value)
            if len(chunk) >= (size or PUT_CHUNK):
                done += deliver(chunk)
                chunk = []
    except KeyboardInterrupt:
        if chunk:
            done += deliver(chunk)
        console.err.print(f"{said()} before the interrupt", markup=False)
        raise
    except CauceError as err:
        if done:
            err.hint = (f"{err.hint}; " if err.hint else "") + f"{said()} before it"
        raise
    if chunk:
        done += deliver(chunk)


def _names_a_file(text: str) -> bool:
    """Whether ``text``, given where JSON was wanted, is the name of a file there."""
    try:
        return "\n" not in text and Path(text).is_file()
    except (OSError, ValueError):  # a name too long, a NUL: no file's
        return False


STDIN_HINT = "give one JSON value a line (JSON Lines), e.g. {\"id\": \"a\", \"v\": 1}"
SHELL_HINT = """quote it for the shell: '{"key": "value"}'"""
# when the text given is the name of a file (the file of the message, the record)
MESSAGE_FILE_HINT = '{0} is a file: give its text, "$(cat {0})"'
RECORDS_FILE_HINT = "{0} is a file: give - and pipe its JSON lines in, - < {0}"


def _stdin_lines() -> Iterator[str]:
    """The lines of standard input, read as textfiles reads a user's file (a byte-order mark,
    UTF-16, CRLF); one line when there is no standard input to read."""
    from ..textfiles import read_lines

    if sys.stdin is None:  # started with standard input closed (`<&-`)
        raise CauceError("there is no standard input to read JSON lines from (it is closed)",
                         hint="pipe them in: cauce put APP STREAM --key-field F - < records.jsonl")
    return read_lines(sys.stdin.buffer)


def _field(record: Any, name: str, number: int) -> str:
    value = record.get(name) if isinstance(record, dict) else None
    if value is None or value == "":
        has = "no field" if value is None else "an empty field"
        raise CauceError(f"record {number} has {has} {name!r} for its partition key",
                         hint="give every record that field, or use --key K")
    return str(value)


class _KeyTwice(Exception):
    """A JSON object names one key twice (``{"a": 1, "a": 2}``)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The dict of a JSON object's pairs, or `_KeyTwice`: a dict would keep the last value of
    a key given twice, and the others would be lost unsaid."""
    made = dict(pairs)
    if len(made) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _KeyTwice(key)
            seen.add(key)
    return made


def _json_arg(text: str, where: str = "", hint: str = SHELL_HINT,
              file_hint: str | None = MESSAGE_FILE_HINT) -> Any:
    """A message or record given as JSON text; a byte-order mark before it (a file saved by
    Notepad or PowerShell, given as ``"$(cat msg.json)"``) is no part of it, and bytes that
    were not UTF-8 (a script saved as cp1252) are read as a file's would be."""
    import json  # not at start-up: `cauce --help` does without it

    from ..textfiles import escaped_bytes_decoded

    text = escaped_bytes_decoded(text)
    try:
        return json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_once_each)
    except _KeyTwice as twice:
        raise CauceError(f"the message{where} has the key {twice.key!r} twice in one object: "
                         "JSON would keep only the last", hint="give each key once") from None
    except json.JSONDecodeError as err:
        if "\0" in text:  # said as what it is: JSON's words for it are about the next character
            raise CauceError(f"the message{where} holds a NUL byte at character "
                             f"{text.index(chr(0))}, which JSON text cannot",
                             hint="remove it (was the input cut short, or joined with "
                             "another?)") from None
        if file_hint and _names_a_file(text):  # the message's file, given for its text
            hint = file_hint.format(text)
        at = (f"line {err.lineno} column {err.colno}" if "\n" in text
              else f"character {err.pos}")
        raise CauceError(f"the message{where} is not valid JSON: {err.msg} at {at}",
                         hint=hint) from None
    except ValueError:  # not a JSONDecodeError: a number longer than Python reads
        raise CauceError(f"the message{where} holds a whole number of more than "
                         f"{sys.get_int_max_str_digits():,} digits, more than Python reads",
                         hint="write it as text, in quotes, and convert it where it is "
                         "used") from None
    except RecursionError:
        raise CauceError(f"the message{where} nests too deeply to read",
                         hint="send a flatter JSON value (lists in lists, a few hundred deep "
                         "at most)") from None
