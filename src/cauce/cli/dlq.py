"""``cauce dlq``: look at and replay dead-lettered messages."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import first_line
from . import console
from .console import escape
from .home import HomeOption, JsonOption, StateOption, attached

dlq_cli = typer.Typer(rich_markup_mode=None, help="Look at and replay dead-lettered messages.\n\n"
                      "Example: cauce dlq list example work", no_args_is_help=True)


@dlq_cli.command("list")
def dlq_list(app_ref: str = typer.Argument(..., metavar="APP"),
             queue: str = typer.Argument(..., metavar="QUEUE",
                                         help="a queue, handler or job name"),
             as_json: bool = JsonOption, home: Path = HomeOption,
             state_option: str = StateOption) -> None:
    """Dead-lettered messages of a queue (or of a handler or job), with their last error.

    Example: cauce dlq list example work
    """
    with attached(app_ref, home, state_option) as rt:
        messages, errors = rt.dlq(queue), rt.dlq_errors(queue)
    rows = [{"id": m.id, "event_id": m.event_id, "receives": m.receive_count,
             "sent_at": m.sent_at, "body": m.body, "error": e}
            for m, e in zip(messages, errors, strict=True)]
    if as_json:
        console.print_json(rows)
        return
    import json  # not at start-up: `cauce --help` does without it

    if not rows:
        console.err.print("the dead-letter queue is empty")
    for row in rows:
        first = first_line(row["error"] or "")
        console.out.print(f"[bold]{row['id']}[/] receives={row['receives']} "
                          f"sent={console.local(row['sent_at'])}")
        console.out.print(f"  body: {json.dumps(row['body'], ensure_ascii=False)[:200]}",
                          markup=False)
        console.out.print(f"  [red]{escape(first)}[/]")


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
