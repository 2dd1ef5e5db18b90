"""``cauce send``, ``publish`` and ``put``: put work into an app from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import CauceError
from . import console
from .home import HomeOption, StateOption, attached, exclusive, text_argument

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..resources.stream import Stream


def send_command(app_ref: str = typer.Argument(..., metavar="APP"),
                 queue: str = typer.Argument(..., metavar="QUEUE"),
                 body: str = typer.Argument(..., metavar="JSON"),
                 home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Send one JSON message to a queue. Example: cauce send demo work '{"key": "in/a.csv"}'"""
    from ..resources.queue import Queue

    with attached(app_ref, home, state_option) as rt:
        message_id = rt.app.get_resource(queue, Queue).send(_json_arg(body))
    console.out.print(f"sent message {message_id}")


def publish_command(app_ref: str = typer.Argument(..., metavar="APP"),
                    topic: str = typer.Argument(..., metavar="TOPIC"),
                    body: str = typer.Argument(..., metavar="JSON"),
                    home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Publish one JSON message to a topic. Example: cauce publish demo events '{"n": 1}'"""
    from ..resources.topic import Topic

    with attached(app_ref, home, state_option) as rt:
        event_id = rt.app.get_resource(topic, Topic).publish(_json_arg(body))
    console.out.print(f"published event {event_id}")


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
    """Put one JSON record, or (``-``) every JSON line of stdin, in chunks of `PUT_CHUNK`."""
    if partition_key is None and key_field is None:
        raise CauceError(f"stream {stream.name!r}: give --key K or --key-field FIELD",
                         hint="records with one partition key keep their order in one shard")
    lines = _stdin_lines() if text == "-" else [text]
    placed: list[tuple[int, int]] = []
    chunk: list[tuple[Any, str]] = []
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if text == "-":
                record = _json_arg(line, f" (line {number} of standard input)", STDIN_HINT,
                                   None)
            else:
                record = _json_arg(line, file_hint=RECORDS_FILE_HINT)
            chunk.append((record, partition_key if partition_key is not None
                          else _field(record, key_field or "", number)))
            if len(chunk) >= PUT_CHUNK:
                placed += stream.put_many(chunk)
                chunk = []
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM while stdin is read (a producer that runs until stopped): the
        # records read are gone from the pipe, so they are put, not dropped with the chunk
        placed += stream.put_many(chunk)
        console.err.print(f"put {len(placed):,} record(s) into stream {stream.name} before "
                          "the interrupt", markup=False)
        raise
    return placed + stream.put_many(chunk)


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


def _json_arg(text: str, where: str = "", hint: str = SHELL_HINT,
              file_hint: str | None = MESSAGE_FILE_HINT) -> Any:
    """A message or record given as JSON text; a byte-order mark before it (a file saved by
    Notepad or PowerShell, given as ``"$(cat msg.json)"``) is no part of it, and bytes that
    were not UTF-8 (a script saved as cp1252) are read as a file's would be."""
    import json  # not at start-up: `cauce --help` does without it

    from ..textfiles import escaped_bytes_decoded

    text = escaped_bytes_decoded(text)
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as err:
        if "\0" in text:  # said as what it is: JSON's words for it are about the next character
            raise CauceError(f"the message{where} holds a NUL byte at character "
                             f"{text.index(chr(0))}, which JSON text cannot",
                             hint="remove it (was the input cut short, or joined with "
                             "another?)") from None
        if file_hint and _names_a_file(text):  # the message's file, given for its text
            hint = file_hint.format(text)
        raise CauceError(f"the message{where} is not valid JSON: {err.msg} at character "
                         f"{err.pos}", hint=hint) from None
    except RecursionError:
        raise CauceError(f"the message{where} nests too deeply to read",
                         hint="send a flatter JSON value (lists in lists, a few hundred deep "
                         "at most)") from None
