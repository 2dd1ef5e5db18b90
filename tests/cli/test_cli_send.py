"""`cauce send`, `publish` and `put`: put work into an app's queues, topics and buckets by hand."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest


def depths(cli) -> dict[str, int]:
    return {row["queue"]: row["visible"] for row in cli("queues", "example", "--json").json()}


def test_send_a_message_to_a_queue(cli) -> None:
    result = cli("send", "example", "work", '{"key": "in/a.csv"}')
    assert result.status == 0, result.err
    assert result.out.startswith("sent message ")
    assert depths(cli)["work"] == 1


def test_publish_to_a_topic_reaches_its_handlers(cli) -> None:
    result = cli("publish", "example", "events", '{"key": "in/a.csv", "rows": 3}')
    assert result.status == 0, result.err
    assert result.out.startswith("published event ")
    assert depths(cli)["topic events → notify"] == 1


def test_put_a_file_into_a_bucket_emits_object_created(cli, tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_text("id\n1\n2\n")
    result = cli("put", "example", "inbox", "in/a.csv", str(local))
    assert result.status == 0, result.err
    assert result.out.strip() == "stored in/a.csv (7 bytes) in bucket inbox"
    stored = tmp_path / ".cauce" / "buckets" / "example" / "inbox" / "in" / "a.csv"
    assert stored.read_text() == "id\n1\n2\n"
    assert local.exists()  # copied, not moved
    assert depths(cli)["bucket inbox → on_file"] == 1
    # outside the handler's prefix and suffix
    cli("put", "example", "inbox", "notes/readme.txt", str(local))
    assert depths(cli)["bucket inbox → on_file"] == 1


def test_names_that_look_like_markup_are_printed_as_they_are(cli, tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_text("x")
    for key in ("[/bold]x.csv", "[red]y.csv"):
        result = cli("put", "example", "inbox", key, str(local))
        assert (result.status, result.out.strip()) == (0, f"stored {key} (1 bytes) in bucket inbox")
    home = tmp_path / "[/x]home"
    shown = cli("--home", str(home), "config", "example")
    assert shown.status == 0, shown.err
    assert f"home {home} " in shown.out
    logs = tmp_path / "[" / "b]" / "general.log"
    logs.parent.mkdir(parents=True)
    assert cli("--home", str(home), "run", "example", "heartbeat").status == 0
    written = cli("--home", str(home), "logs", "general", "--app", "example", "-o", str(logs))
    assert written.status == 0, written.err
    assert f"wrote {logs}" in written.err


def test_put_refuses_bad_keys_and_missing_files(cli, tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_text("x")
    bad_key = cli("put", "example", "inbox", "../escape.csv", str(local))
    assert bad_key.status == 1
    assert bad_key.err.startswith("error: object key '../escape.csv' has an empty, '.' or '..' "
                                  "segment")
    missing = cli("put", "example", "inbox", "in/b.csv", str(tmp_path / "nope.csv"))
    assert missing.status == 1
    assert missing.err.startswith(f"error: no file {tmp_path / 'nope.csv'}")


def test_put_of_a_folder_says_it_is_a_folder(cli, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    result = cli("put", "example", "inbox", "in/b.csv", str(tmp_path / "in"))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: {tmp_path / 'in'} is a folder, not a file",
        "hint: pass the path of a file; store a folder's files one by one"]


def test_put_of_a_broken_link_says_where_it_leads(cli, tmp_path: Path) -> None:
    # both were "no file", as if nothing were there
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    (tmp_path / "moved.csv").symlink_to("gone.csv")
    loop = cli("put", "example", "inbox", "in/b.csv", str(tmp_path / "loop.csv"))
    assert loop.err.splitlines()[0] == (f"error: {tmp_path / 'loop.csv'} is a link that leads "
                                        "back to itself (a loop of symbolic links)")
    moved = cli("put", "example", "inbox", "in/b.csv", str(tmp_path / "moved.csv"))
    assert moved.err.splitlines()[0] == (f"error: {tmp_path / 'moved.csv'} is a link to "
                                         "gone.csv, which does not exist")


def test_a_file_whose_name_starts_with_a_dash_is_told_how_to_be_named(cli,
                                                                       tmp_path: Path) -> None:
    # click took it for the options -l -e -a ...: "see `cauce put --help`", which says nothing
    # of it
    (tmp_path / "-lead.csv").write_text("x")
    result = cli("put", "example", "inbox", "in/b.csv", "-lead.csv")
    assert (result.status, result.err.splitlines()) == (2, [
        "error: No such option: -l",
        "hint: -lead.csv is a file here: write ./-lead.csv, or put -- before it"])
    assert cli("put", "example", "inbox", "in/b.csv", "--", "-lead.csv").status == 0


def test_put_of_stdin_into_a_bucket_says_it_takes_a_file(cli) -> None:
    # "no file -", hint "check the path"
    result = cli("put", "example", "inbox", "in/b.csv", "-")
    assert (result.status, result.err.splitlines()) == (1, [
        "error: cauce put BUCKET stores a file, not standard input",
        "hint: write it to a file first, then cauce put APP BUCKET KEY FILE"])


def test_put_of_a_pipe_says_it_is_not_a_regular_file(cli, tmp_path: Path) -> None:
    """Said as what it is, not as "no file", and never read (a FIFO or /dev/zero may not end)."""
    os.mkfifo(tmp_path / "pipe")
    result = cli("put", "example", "inbox", "in/b.csv", str(tmp_path / "pipe"))
    assert result.status == 1
    assert result.err.splitlines()[0] == (
        f"error: {tmp_path / 'pipe'} is not a regular file (a device or a pipe)")


def test_json_that_is_a_plain_value_is_fine(cli) -> None:
    assert cli("send", "example", "work", "42").status == 0
    assert cli("send", "example", "work", '"text"').status == 0
    assert depths(cli)["work"] == 2


def test_json_nested_too_deeply_is_one_line(cli) -> None:
    result = cli("send", "example", "work", "[" * 50_000 + "]" * 50_000)
    assert result.status == 1
    assert result.err.splitlines()[0] == "error: the message nests too deeply to read"


def test_a_message_given_as_its_files_name_is_told_how_to_give_the_text(cli, tmp_path) -> None:
    # "not valid JSON: Expecting value at character 0", and a hint to quote it for the shell
    (tmp_path / "msg.json").write_text('{"key": "in/a.csv"}\n')
    result = cli("send", "example", "work", "msg.json")
    assert (result.status, result.err.splitlines()) == (1, [
        "error: the message is not valid JSON: Expecting value at character 0",
        'hint: msg.json is a file: give its text, "$(cat msg.json)"'])


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_send_and_publish_take_json_lines_from_stdin(cli, monkeypatch) -> None:
    # `-` was sent as the message text and refused as "not valid JSON"
    _stdin(monkeypatch, '{"key": "in/a.csv"}\n\n{"key": "in/b.csv"}\r\n{"key": "in/c.csv"}')
    sent = cli("send", "example", "work", "-")
    assert sent.status == 0, sent.err
    assert re.fullmatch(r"sent 3 messages \(\S+ to \S+\)", sent.out.strip())
    _stdin(monkeypatch, '{"key": "x", "rows": 1}\n{"key": "y", "rows": 2}\n')
    published = cli("publish", "example", "events", "-")
    assert re.fullmatch(r"published 2 events \(\S+ to \S+\)", published.out.strip())
    assert depths(cli)["work"] == 3
    assert depths(cli)["topic events → notify"] == 2


def test_a_pretty_printed_document_on_stdin_is_one_message(cli, monkeypatch) -> None:
    _stdin(monkeypatch, '\n{\n  "key": "in/a.csv",\n  "rows": [1,\n 2]\n}\n')
    sent = cli("send", "example", "work", "-")
    assert sent.status == 0, sent.err
    assert sent.out.startswith("sent message ")
    assert depths(cli)["work"] == 1


@pytest.mark.parametrize(("text", "error"), [
    ('{"key": "a"}\n{"key": \n', "the message (line 2 of standard input) is not valid JSON: "
     "Expecting value at character 8"),
    ('{"key": a}\n{"key": "b"}\n', "the message (line 1 of standard input) is not valid JSON: "
     "Expecting value at character 8"),
    ('\n{\n  "key": "a",\n  "rows": 1,\n}\n', "the message (standard input, one JSON "
     "document) is not valid JSON: Expecting property name enclosed in double quotes at line "
     "5 column 1"),
    ("[" * 50_000 + "]" * 50_000 + "\n", "the message (line 1 of standard input) nests too "
     "deeply to read"),
], ids=["a line cut short", "a bad first line", "a document", "a line nested too deeply"])
def test_bad_json_on_stdin_names_where(cli, monkeypatch, text: str, error: str) -> None:
    _stdin(monkeypatch, text)
    result = cli("send", "example", "work", "-")
    assert (result.status, result.err.splitlines()[0]) == (1, f"error: {error}")
    assert depths(cli)["work"] == 0  # nor the good lines of its chunk of 5,000


def test_an_empty_stdin_sends_nothing_and_says_so(cli, monkeypatch) -> None:
    _stdin(monkeypatch, "\n \n")
    result = cli("send", "example", "work", "-")
    assert (result.status, result.out.strip()) == (
        0, "sent no message: standard input held no JSON")


def test_a_bad_line_says_what_went_out_before_it(cli, monkeypatch) -> None:
    # published one by one: the two events before the bad line were out, and nothing said so
    _stdin(monkeypatch, '{"key": "x", "rows": 1}\n{"key": "y", "rows": 2}\nnot json\n')
    result = cli("publish", "example", "events", "-")
    assert result.status == 1
    assert re.fullmatch(r'hint: give one JSON value a line \(JSON Lines\), e\.g\. \{"id": "a", '
                        r'"v": 1\}; published 2 events \(\S+ to \S+\) before it',
                        result.err.splitlines()[1])
    assert depths(cli)["topic events → notify"] == 2


def test_a_number_too_long_for_python_is_one_line(cli, monkeypatch) -> None:
    # "unexpected ValueError: Exceeds the limit (4300 digits) for integer string conversion"
    result = cli("send", "example", "work", '{"n": ' + "7" * 5000 + "}")
    assert (result.status, result.err.splitlines()) == (1, [
        "error: the message holds a whole number of more than 4,300 digits, more than Python "
        "reads",
        "hint: write it as text, in quotes, and convert it where it is used"])
    _stdin(monkeypatch, "7" * 5000 + "\n")
    piped = cli("publish", "example", "events", "-")
    assert piped.err.splitlines()[0] == (
        "error: the message (line 1 of standard input) holds a whole number of more than 4,300 "
        "digits, more than Python reads")
    assert depths(cli)["work"] == 0


def test_a_key_given_twice_is_refused_rather_than_dropped(cli, monkeypatch) -> None:
    # sent as {"key": "b"}: the first value was gone, and nothing said so
    result = cli("send", "example", "work", '{"key": "a", "rows": {"n": 1, "n": 2}, "key": "b"}')
    assert (result.status, result.err.splitlines()) == (1, [
        "error: the message has the key 'n' twice in one object: JSON would keep only the last",
        "hint: give each key once"])
    _stdin(monkeypatch, '{"key": "a"}\n{"key": "a", "key": "b"}\n')
    piped = cli("publish", "example", "events", "-")
    assert piped.err.splitlines()[0] == (
        "error: the message (line 2 of standard input) has the key 'key' twice in one object: "
        "JSON would keep only the last")
    assert depths(cli)["work"] == 0


UNHEARD_APP = """
from cauce import App

app = App("unheard")
notes = app.topic("notes")
heard = app.topic("heard", subscribers=[app.queue("inbox")])
"""


def test_publishing_to_a_topic_nobody_subscribes_to_is_refused(cli, app_file) -> None:
    # "published event …": a copy for each of no subscriber, so nothing was kept anywhere
    ref = app_file(UNHEARD_APP)
    result = cli("publish", ref, "notes", '{"n": 1}')
    assert (result.status, result.err.splitlines()) == (1, [
        "error: topic 'notes' has no subscriber: a message published there reaches nobody and "
        "is not kept",
        "hint: subscribe a handler to it (@app.on(topic)) or a queue (subscribers=[queue]), "
        "then publish"])
    assert cli("publish", ref, "heard", '{"n": 1}').status == 0
