"""`cauce dlq list`, `replay` and `drop`: dead letters, with their error, sent back once fixed
or dropped."""

from __future__ import annotations

import io

import pytest

from cauce import CauceError
from cauce.cli.loading import load_app
from cauce.testing import TestRuntime

APP = """
from cauce import App

app = App("poison")
work = app.queue("work", max_receives=2)


@app.on(work, retry_delay="50ms")
def handle(msg, ctx):
    if msg.body.get("poison"):
        raise ValueError(f"cannot handle {msg.body}")
"""


def test_a_poison_message_is_listed_with_its_error_and_replayed(cli, app_file) -> None:
    ref = app_file(APP)
    assert cli("send", ref, "work", '{"poison": true}').status == 0
    assert cli("send", ref, "work", '{"poison": false}').status == 0
    assert cli("serve", ref, "--for", "1s").status == 0

    listed = cli("dlq", "list", ref, "work", "--json").json()
    assert [(m["body"], m["receives"]) for m in listed] == [({"poison": True}, 2)]
    error = listed[0]["error"]
    assert error.startswith("ValueError: cannot handle {'poison': True}\n"
                            "Traceback (most recent call last):")
    text = cli("dlq", "list", ref, "work")
    assert "ValueError: cannot handle {'poison': True}" in text.out
    assert "receives=2" in text.out

    runs = cli("runs", "--job", "handle", "--json").json()
    assert sorted(r["status"] for r in runs) == ["dead-lettered", "failed", "succeeded"]

    replayed = cli("dlq", "replay", ref, "work")
    assert replayed.status == 0
    assert replayed.out.startswith("replayed 1 message(s)")
    assert cli("dlq", "list", ref, "work", "--json").json() == []
    (row,) = [r for r in cli("queues", ref, "--json").json() if r["queue"] == "work"]
    assert (row["visible"], row["dlq"]) == (1, 0)


def test_an_empty_dead_letter_queue(cli, app_file) -> None:
    ref = app_file(APP)
    cli("send", ref, "work", "{}")
    result = cli("dlq", "list", ref, "handle")
    assert result.status == 0
    assert "the dead-letter queue is empty" in result.err
    assert cli("dlq", "replay", ref, "work").out.startswith("replayed 0 message(s)")


def test_message_ids_that_cannot_be_ids_are_usage_errors(cli, app_file) -> None:
    ref = app_file(APP)
    for bad in ("abc", "0", "-1", str(2**63)):
        result = cli("dlq", "replay", ref, "work", "--id", bad)
        assert result.status == 2, (bad, result.err)
        assert result.err.startswith("error: Invalid value for '--id'"), result.err
    assert cli("runs", "--limit", str(2**64)).status == 2


def test_the_runtime_refuses_message_ids_that_are_no_numbers(cli, app_file) -> None:
    app, _ = load_app(app_file(APP))
    with TestRuntime(app) as rt, pytest.raises(CauceError, match="positive whole numbers"):
        rt.runtime.replay("work", ["abc"])


def test_replaying_an_id_not_in_the_dead_letter_queue_names_it(cli, app_file) -> None:
    ref = app_file(APP)
    assert cli("send", ref, "work", '{"poison": true}').status == 0
    assert cli("serve", ref, "--for", "1s").status == 0
    [held] = [m["id"] for m in cli("dlq", "list", ref, "work", "--json").json()]
    result = cli("dlq", "replay", ref, "work", "--id", str(held), "--id", "424242")
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: message 424242 is not in the dead-letter queue of work; nothing was replayed",
        "hint: `cauce dlq list APP QUEUE` shows the ids"]
    assert [m["id"] for m in cli("dlq", "list", ref, "work", "--json").json()] == [held]
    assert cli("dlq", "replay", ref, "work", "--id", str(held)).out.startswith(
        "replayed 1 message(s)")


SAYS = """
from cauce import App

app = App("says")
work = app.queue("work", max_receives=1)


@app.on(work)
def handle(msg, ctx):
    raise ValueError(msg.body)
"""


def test_a_dead_letters_error_is_listed_up_to_its_first_line_feed(cli, app_file) -> None:
    # a carriage return ended the line shown: "ValueError: 50%" was all that was left
    ref = app_file(SAYS)
    assert cli("send", ref, "work", '"50%\\rdone: row 7 is bad\\nsee rows.csv"').status == 0
    assert cli("serve", ref, "--for", "1s").status == 0
    shown = cli("dlq", "list", ref, "work").out
    assert "  ValueError: 50%\\x0ddone: row 7 is bad" in shown.split("\n")


class Terminal(io.StringIO):
    """Standard input typed at a terminal: `dlq drop --all` asks there."""

    def isatty(self) -> bool:
        return True


def test_dead_letters_are_dropped_by_id_or_all_after_a_yes(cli, app_file, monkeypatch) -> None:
    ref = app_file(SAYS)
    for n in range(4):
        assert cli("send", ref, "work", str(n)).status == 0
    assert cli("serve", ref, "--for", "1s").status == 0
    ids = [m["id"] for m in cli("dlq", "list", ref, "work", "--json").json()]
    assert len(ids) == 4
    dropped = cli("dlq", "drop", ref, "work", "--id", str(ids[0]), "--id", str(ids[2]))
    assert (dropped.status, dropped.out) == (0, "dropped 2 message(s)\n")
    assert [m["id"] for m in cli("dlq", "list", ref, "work", "--json").json()] == [ids[1], ids[3]]

    unasked = cli("dlq", "drop", ref, "work", "--all")  # no terminal: nobody to ask
    assert (unasked.status, unasked.err.splitlines()) == (1, [
        "error: dropping every dead-lettered message needs a yes, and there is no terminal to "
        "ask on", "hint: pass --yes to drop them without asking"])
    monkeypatch.setattr("sys.stdin", None)  # started with stdin closed: an AttributeError
    closed = cli("dlq", "drop", ref, "work", "--all")
    assert (closed.status, closed.err.splitlines()) == (unasked.status, unasked.err.splitlines())
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    declined = cli("dlq", "drop", ref, "work", "--all")
    assert declined.status == 130
    assert "drop every dead-lettered message of work (2 now)? [y/N]" in declined.err
    assert len(cli("dlq", "list", ref, "work", "--json").json()) == 2
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    # (the prompt's last space is echoed by input() on standard output)
    assert cli("dlq", "drop", ref, "work", "--all").out.strip() == "dropped 2 message(s)"
    assert cli("dlq", "drop", ref, "work", "--all", "--yes").out == "dropped 0 message(s)\n"


@pytest.mark.parametrize("args", [(), ("--all", "--id", "1")])
def test_dropping_needs_ids_or_all_and_not_both(cli, app_file, args) -> None:
    result = cli("dlq", "drop", app_file(SAYS), "work", *args)
    assert (result.status, result.err.splitlines()[0]) == (
        2, "error: Invalid value for '--id' / '--all': give the ids to drop (--id N, repeated "
        "for several) or --all, one of the two")


def test_dropping_an_id_not_in_the_dead_letter_queue_names_it(cli, app_file) -> None:
    ref = app_file(SAYS)
    assert cli("send", ref, "work", '"x"').status == 0
    assert cli("serve", ref, "--for", "1s").status == 0
    [held] = [m["id"] for m in cli("dlq", "list", ref, "work", "--json").json()]
    result = cli("dlq", "drop", ref, "work", "--id", str(held), "--id", "424242")
    assert result.err.splitlines() == [
        "error: message 424242 is not in the dead-letter queue of work; nothing was dropped",
        "hint: `cauce dlq list APP QUEUE` shows the ids"]
    assert [m["id"] for m in cli("dlq", "list", ref, "work", "--json").json()] == [held]


def test_a_long_dead_letter_queue_is_listed_up_to_the_limit(cli, app_file, tmp_path) -> None:
    """10,000 dead letters took 3.8 s and printed 30,000 lines: the first 100 by default now,
    with a word saying more are left, and all with --limit 0."""
    from cauce.backends.state import open_state, sqlite_url

    ref = app_file(APP)
    assert cli("queues", ref).status == 0  # the home and its state file
    state = open_state(sqlite_url(tmp_path / ".cauce" / "state.db"))
    state.queues.send("poison:work.dlq", [f'{{"n": {n}}}' for n in range(5)], now=1.0)
    state.close()
    first = cli("dlq", "list", ref, "work", "--limit", "2", "--json")
    assert [m["body"] for m in first.json()] == [{"n": 0}, {"n": 1}]
    assert "the first 2 dead letters; --limit 0 shows them all" in first.err
    every = cli("dlq", "list", ref, "work", "--limit", "0", "--json")
    assert [m["body"]["n"] for m in every.json()] == [0, 1, 2, 3, 4]
    assert len(cli("dlq", "list", ref, "work", "--json").json()) == 5
    assert "dead letters" not in cli("dlq", "list", ref, "work", "--limit", "5").err


def test_dead_letters_are_printed_a_hundred_at_a_time_as_one_by_one(
        cli, app_file, tmp_path, monkeypatch) -> None:
    """Three rich prints a dead letter took 5.7 s for 10,000 (--limit 0); a hundred letters
    are one print now, and show as they did: brackets in a body are text, not markup."""
    from rich.console import Console

    from cauce.backends.state import open_state, sqlite_url

    ref = app_file(APP)
    assert cli("queues", ref).status == 0  # the home and its state file
    state = open_state(sqlite_url(tmp_path / ".cauce" / "state.db"))
    bodies = ['{"a": "[bold]x[/bold] ünï 漢字 \\\\ [red]"}'] + [f'{{"n": {n}}}' for n in range(249)]
    state.queues.send("poison:work.dlq", bodies, now=1.0)
    state.close()
    printed = []
    real = Console.print

    def counted(self: Console, *objects: object, **options: object) -> None:
        printed.append(objects)
        real(self, *objects, **options)

    monkeypatch.setattr(Console, "print", counted)
    shown = cli("dlq", "list", ref, "work", "--limit", "0").out.splitlines()
    assert len(printed) == 3, "a print a hundred"
    assert len(shown) == 750
    assert shown[1] == '  body: {"a": "[bold]x[/bold] ünï 漢字 \\\\ [red]"}'
    assert shown[3].startswith("2 receives=0 sent=")
    assert shown[-2] == '  body: {"n": 248}'
