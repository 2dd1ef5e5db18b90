"""``cauce streams``: each stream of an app — shards, records kept, consumers' checkpoints and
lag (what Kinesis shows as DescribeStream and a consumer's iterator age)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..durations import format_duration
from . import console
from .home import HomeOption, JsonOption, StateOption, attached

if TYPE_CHECKING:
    from ..resources.stream import StreamInfo


def streams_command(
    app_ref: str = typer.Argument(..., metavar="APP"),
    as_json: bool = JsonOption,
    home: Path = HomeOption, state_option: str = StateOption,
) -> None:
    """Shards, records kept, and every consumer's checkpoint and lag, per stream of an app.

    Example: cauce streams contracting --json
    """
    from ..resources.stream import Stream

    with attached(app_ref, home, state_option) as rt:
        found = [r.describe() for r in rt.app.resources.values() if isinstance(r, Stream)]
    if as_json:
        console.print_json([info.as_dict() for info in found])
        return
    if not found:
        console.err.print(f"app {app_ref} declares no stream", markup=False)
    for info in found:
        _show(info)


def _show(info: StreamInfo) -> None:
    kept = f"kept {format_duration(info.retention)}"
    if info.max_records:
        kept += f" or {info.max_records:,} records a shard"
    lag = ", ".join(f"{name} {count:,} behind" for name, count in info.lag.items())
    console.out.print(
        f"[bold]{info.stream}[/]  {len(info.shards)} shard(s), {kept}"
        + (f"  ({lag})" if lag else "  (no consumer)")
    )
    table = console.table(box=None)
    numbers = ("shard", "records", "checkpoint", "lag", "behind")
    for column in (
        "shard",
        "records",
        "sequence",
        "newest record",
        "consumer",
        "checkpoint",
        "lag",
        "behind",
    ):
        table.add_column(column, no_wrap=True, justify="right" if column in numbers else "left")
    for shard in info.shards:
        span = f"{shard.first_seq}..{shard.last_seq}" if shard.records else f"..{shard.last_seq}"
        newest = console.local(shard.newest) if shard.newest else "-"
        consumers = list(shard.consumers.items()) or [("-", None)]
        for i, (name, where) in enumerate(consumers):
            head = (
                [str(shard.shard), f"{shard.records:,}", span, newest]
                if i == 0
                else ["", "", "", ""]
            )
            if where is None:
                table.add_row(*head, name, "", "", "")
                continue
            lag = f"[red]{where.lag:,}[/]" if where.lag else "0"
            table.add_row(
                *head,
                name,
                str(where.checkpoint),
                lag,
                format_duration(where.behind_seconds) if where.lag else "-",
            )
    console.print_table(table)
