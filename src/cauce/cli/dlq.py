"""``cauce dlq``: look at, replay and drop dead-lettered messages."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CauceError, first_line
from . import console
from .console import escape
from .home import HomeOption, JsonOption, StateOption, attached

dlq_cli = typer.Typer(rich_markup_mode=None, help="Look at, replay and drop dead-lettered "
                      "messages.\n\n"
                      "Example: cauce dlq list example work", no_args_is_help=True)


@dlq_cli.command("list")
def dlq_list(app_ref: str = typer.Argument(..., metavar="APP"),
             queue: str = typer.Argument(..., metavar="QUEUE",
                                         help="a queue, handler or job name"),
             limit: int = typer.Option(100, "--limit", min=0, max=1_000_000_000,
                                       help="show at most this many, oldest first (0: all)"),
             as_json: bool = JsonOption, home: Path = HomeOption,
             state_option: str = StateOption) -> None:
    """Dead-lettered messages of a queue (or of a handler or job), with their last error.

    Example: cauce dlq list example work
    """
    read = limit + 1 if limit else None  # one more: whether some are left out
    with attached(app_ref, home, state_option) as rt:
        messages, errors = rt.dlq(queue, read), rt.dlq_errors(queue, read)
    rows = [{"id": m.id, "event_id": m.event_id, "receives": m.receive_count,
             "sent_at": m.sent_at, "body": m.body, "error": e}
            for m, e in zip(messages, errors, strict=True)]
    more = bool(limit) and len(rows) > limit
    rows = rows[:limit] if limit else rows
    if more:
        console.err.print(f"the first {limit} dead letters; --limit 0 shows them all",
                          markup=False)
    if as_json:
        console.print_json(rows)
        return
    import json  # not at start-up: `cauce --help` does without it

    from rich.markup import escape as escape_markup

    if not rows:
        console.err.print("the dead-letter queue is empty")
    # a hundred messages a print: three prints a message cost rich 0.2 ms each (10,000
    # dead letters: 5.7 s)
    for start in range(0, len(rows), 100):
        shown = []
        for row in rows[start:start + 100]:
            body = json.dumps(row["body"], ensure_ascii=False)[:200]
            shown += [f"[bold]{row['id']}[/] receives={row['receives']} "
                      f"sent={console.local(row['sent_at'])}",
                      f"  body: {escape_markup(body)}",
                      f"  [red]{escape(first_line(row['error'] or ''))}[/]"]
        console.out.print("\n".join(shown))


MAX_ID = 2**63 - 1  # the largest id either state engine stores


@dlq_cli.command("replay")
def dlq_replay(app_ref: str = typer.Argument(..., metavar="APP"),
               queue: str = typer.Argument(..., metavar="QUEUE",
                                           help="a queue, handler or job name"),
               ids: list[int] = typer.Option(None, "--id", min=1, max=MAX_ID,
                                             help="only these message ids"),
               home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Send dead-lettered messages back to their queue for a fresh round of attempts.

    Example: cauce dlq replay opendata downloaded
    """
    with attached(app_ref, home, state_option) as rt:
        moved = rt.replay(queue, ids or None)
    console.out.print(f"replayed {moved} message(s); a running `cauce serve` picks them up")


@dlq_cli.command("drop")
def dlq_drop(app_ref: str = typer.Argument(..., metavar="APP"),
             queue: str = typer.Argument(..., metavar="QUEUE",
                                         help="a queue, handler or job name"),
             ids: list[int] = typer.Option(None, "--id", min=1, max=MAX_ID,
                                           help="these message ids (repeat for several)"),
             every: bool = typer.Option(False, "--all", help="every dead-lettered message of "
                                        "QUEUE (asks first, unless --yes)"),
             yes: bool = typer.Option(False, "--yes", help="drop --all without asking"),
             home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Delete dead-lettered messages for good: those of --id, or --all of them.

    An id not in the dead-letter queue is refused, and then none is dropped.
    Example: cauce dlq drop opendata downloaded --id 12 --id 15
    """
    if bool(ids) == every:
        raise typer.BadParameter("give the ids to drop (--id N, repeated for several) or --all, "
                                 "one of the two",
                                 param_hint="'--id' / '--all'")
    with attached(app_ref, home, state_option) as rt:
        if every and not yes:
            _confirm(f"drop every dead-lettered message of {queue} "
                     f"({len(rt.dlq(queue))} now)?")
        dropped = rt.purge_dead_letters(queue, ids or None)
    console.out.print(f"dropped {dropped} message(s)")


def _confirm(question: str) -> None:
    """Ask on a terminal; elsewhere (a script, a pipe) there is nobody to ask: say to pass
    --yes rather than wait on input that never comes."""
    import sys  # not at start-up

    if sys.stdin is None or not sys.stdin.isatty():  # None: started with stdin closed
        raise CauceError("dropping every dead-lettered message needs a yes, and there is no "
                         "terminal to ask on", hint="pass --yes to drop them without asking")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Abort()
