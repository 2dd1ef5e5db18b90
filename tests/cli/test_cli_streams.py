"""`cauce put APP STREAM` and `cauce streams APP`: records in by hand, shards and lag out."""

from __future__ import annotations

import codecs
import io
import subprocess
import sys

import pytest

STREAM_APP = """
from cauce import App

app = App("sensors")
readings = app.stream("readings", shards=2, max_records=1000)

@app.on(readings, batch_size=10)
def collect(records, ctx):
    pass
"""


def test_put_records_then_see_them_waiting(cli, app_file, tmp_path) -> None:
    ref = app_file(STREAM_APP)
    one = cli("put", ref, "readings", "--key", "station-7", '{"v": 1.5}')
    assert one.status == 0, one.err
    assert one.out.strip() == "put 1 record(s) into stream readings (shard 1, sequence 1)"
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"id": "a", "v": 1}\n\n{"id": "d", "v": 2}\n')
    many = subprocess.run(
        [sys.executable, "-m", "cauce.cli.main", "put", ref, "readings", "--key-field", "id", "-"],
        stdin=lines.open(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert many.stdout.strip() == "put 2 record(s) into stream readings", many.stderr
    [info] = cli("streams", ref, "--json").json()
    assert info["lag"] == {"collect": 3}
    assert [(s["shard"], s["records"], s["last_seq"]) for s in info["shards"]] == [
        (0, 1, 1),
        (1, 2, 2),
    ]
    table = cli("streams", ref)
    assert "readings  2 shard(s), kept 7d or 1,000 records a shard  (collect 3 behind)" in table.out


def test_put_explains_what_is_missing(cli, app_file) -> None:
    ref = app_file(STREAM_APP)
    no_key = cli("put", ref, "readings", '{"v": 1}')
    assert (no_key.status, no_key.err.splitlines()[0]) == (
        1,
        "error: stream 'readings': give --key K or --key-field FIELD",
    )
    both = cli("put", ref, "readings", "--key", "k", "--key-field", "id", '{"id": 1}')
    assert (both.status, both.err.splitlines()) == (2, [
        "error: --key and --key-field cannot be used together: give one of them",
        "hint: see `cauce put --help`",
    ])
    bad = cli("put", ref, "readings", "--key", "k", '{"v": ')
    assert bad.err.startswith("error: the message is not valid JSON")
    unknown = cli("put", ref, "reading", "a.csv")
    assert "readings" in unknown.err, "the closest name is suggested"
    empty = cli("put", ref, "readings", "--key", "", '{"v": 1}')
    assert empty.err.splitlines()[0] == (
        "error: stream 'readings': partition_key must be non-empty text, got ''")
    blank = cli("put", ref, "readings", "--key-field", "id", '{"id": ""}')
    assert blank.err.splitlines()[0] == (
        "error: record 1 has an empty field 'id' for its partition key")


POISON_APP = """
from pathlib import Path

from cauce import App

app = App("poisoned")
readings = app.stream("readings")
done = app.table("done", key="v")


@app.on(readings, batch_size=10, max_attempts=2, retry_delay="50ms")
def check(records, ctx):
    if any(r.data.get("poison") for r in records) and not Path("fixed").exists():
        raise ValueError("cannot read this batch")
    for r in records:
        done.put({"v": r.data["v"]})
"""


def test_a_failing_stream_batch_is_listed_and_replayed_like_a_queue_message(
    cli, app_file, tmp_path
) -> None:
    ref = app_file(POISON_APP)
    assert cli("put", ref, "readings", "--key", "k", '{"v": 1, "poison": true}').status == 0
    assert cli("serve", ref, "--for", "1s").status == 0
    [dead] = cli("dlq", "list", ref, "check", "--json").json()
    assert dead["receives"] == 2
    assert dead["error"].startswith("ValueError: cannot read this batch\n")
    assert [r["seq"] for r in dead["body"]["records"]] == [1]
    [info] = cli("streams", ref, "--json").json()
    assert info["lag"] == {"check": 0}, "the stream moved on past the dead letter"
    (tmp_path / "fixed").touch()
    assert cli("dlq", "replay", ref, "check").out.startswith("replayed 1 message(s)")
    assert cli("serve", ref, "--for", "1s").status == 0
    assert cli("dlq", "list", ref, "check", "--json").json() == []
    runs = cli("runs", "--job", "check", "--json").json()
    assert sorted(r["status"] for r in runs) == ["dead-lettered", "failed", "succeeded"]


RECORDS = '{"id": "São", "v": 1}\n{"id": "b", "v": 2}\n'


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF8 + RECORDS.encode(),
    RECORDS.replace("\n", "\r\n").encode(),
    RECORDS.encode("utf-16"),
    RECORDS.encode("utf-16-le"),
    RECORDS.encode("cp1252"),
    RECORDS.encode().rstrip(b"\n"),
    RECORDS.replace("\n", "\r").encode(),
], ids=["utf-8 with a mark", "crlf", "utf-16 with a mark", "utf-16 without a mark", "cp1252",
        "no line end at the end", "cr alone"])
def test_json_lines_on_stdin_are_read_as_editors_save_them(cli, app_file, monkeypatch,
                                                          data: bytes) -> None:
    # a mark was "not valid JSON: Expecting value", UTF-16 too, and cp1252 put the key
    # 'S\udce3o', which the state refused
    ref = app_file(STREAM_APP)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = cli("put", ref, "readings", "--key-field", "id", "-")
    assert result.out.strip() == "put 2 record(s) into stream readings", result.err
    [info] = cli("streams", ref, "--json").json()
    assert info["lag"] == {"collect": 2}


@pytest.mark.parametrize(("data", "error", "hint"), [
    ('{"id": "Bogotá"}\n'.encode() * 3 + '{"id": "São"}\n'.encode("cp1252"),
     "standard input is not utf-8 text: byte 0xe3 on line 4 (invalid continuation byte)",
     "convert it to UTF-8 first, e.g. iconv -f cp1252 -t utf-8"),
    (b'{"id": "a"}\n{"id": "b"',
     "the message (line 2 of standard input) is not valid JSON: Expecting ',' delimiter at "
     "character 10", 'give one JSON value a line (JSON Lines), e.g. {"id": "a", "v": 1}'),
    (b'{"id": "a"}\n\0\0\n', "the message (line 2 of standard input) holds a NUL byte at "
     "character 0, which JSON text cannot",
     "remove it (was the input cut short, or joined with another?)"),
], ids=["a cp1252 line in utf-8", "a last line cut short", "nul"])
def test_a_stdin_line_that_cannot_be_read_is_named(cli, app_file, monkeypatch, data: bytes,
                                                   error: str, hint: str) -> None:
    # the hint said to quote the message for the shell, and a cp1252 byte after UTF-8 lines
    # became a lone surrogate in the record
    ref = app_file(STREAM_APP)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = cli("put", ref, "readings", "--key-field", "id", "-")
    assert (result.status, result.err.splitlines()) == (1, [f"error: {error}", f"hint: {hint}"])


def test_a_closed_stdin_is_said(cli, app_file, monkeypatch) -> None:
    ref = app_file(STREAM_APP)
    monkeypatch.setattr(sys, "stdin", None)  # what Python has when started with `<&-`
    result = cli("put", ref, "readings", "--key-field", "id", "-")
    assert result.err.splitlines() == [
        "error: there is no standard input to read JSON lines from (it is closed)",
        "hint: pipe them in: cauce put APP STREAM --key-field F - < records.jsonl"]


def test_a_message_saved_with_a_byte_order_mark_is_sent(cli) -> None:
    # "$(cat msg.json)" of a file Notepad saved: "Unexpected UTF-8 BOM"
    assert cli("send", "example", "work", '\ufeff{"key": "in/a.csv"}').status == 0
    assert cli("publish", "example", "events", '\ufeff{"key": "x"}').status == 0



def test_a_message_from_a_cp1252_script_is_read_as_it_was_written() -> None:
    # the argument's byte 0xe3 reached the message or record as the lone surrogate U+DCE3
    from cauce.cli.feed import _json_arg

    argument = b'{"city": "S\xe3o Paulo"}'.decode("utf-8", "surrogateescape")  # as Python has it
    assert _json_arg(argument) == {"city": "São Paulo"}


def test_records_given_as_their_files_name_are_told_how_to_be_piped(cli, app_file,
                                                                   tmp_path) -> None:
    ref = app_file(STREAM_APP)
    (tmp_path / "in.jsonl").write_text('{"id": "a"}\n')
    result = cli("put", ref, "readings", "--key-field", "id", "in.jsonl")
    assert result.err.splitlines()[1] == (
        "hint: in.jsonl is a file: give - and pipe its JSON lines in, - < in.jsonl")
