"""Terminal output: rich consoles, one-line errors with hints, live log lines, JSON output."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from ..backends.state import redact
from ..errors import CauceError
from ..runs import Run
from ..settings import MASK

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def print_error(error: CauceError) -> None:
    err.print(f"[bold red]error:[/] {escape(redact(error.message))}", markup=True,
              highlight=False, soft_wrap=True)
    if error.hint:
        err.print(f"[yellow]hint:[/] {escape(redact(error.hint))}", soft_wrap=True)


class TerminalLog(RichHandler):
    """Log lines on the terminal, with secret setting values masked as in the stored log streams."""

    secrets: Sequence[str] = ()

    def hide(self, secrets: Sequence[str]) -> None:
        """Mask these values (the runtime's secret settings) in every line from now on."""
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return masked(redact(super().format(record)), self.secrets)


def masked(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def show_logs(level: int = logging.INFO, *, general_only: bool = False,
              general: bool = True) -> TerminalLog:
    """Print log records on stderr while a command runs: all of them, only the general stream's
    lines and warnings (``general_only``), or all but the general stream's (``general=False``)."""
    handler = TerminalLog(console=err, show_path=False, markup=False, rich_tracebacks=False,
                          log_time_format="[%H:%M:%S]")
    handler.setLevel(level)
    if general_only:
        handler.addFilter(lambda r: r.name.startswith("cauce.general")
                          or r.levelno >= logging.WARNING)
    elif not general:
        handler.addFilter(lambda r: not r.name.startswith("cauce.general"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return handler


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=_default, ensure_ascii=False) + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return str(value)


def run_dict(run: Run) -> dict[str, Any]:
    return {
        "id": run.id, "app": run.app, "name": run.name, "kind": run.kind,
        "partition": run.partition, "attempt": run.attempt, "status": run.status.value,
        "trigger": run.trigger,
        "queued_at": run.queued_at, "started_at": run.started_at, "ended_at": run.ended_at,
        "seconds": run.duration, "error": run.error, "params": run.params, "result": run.result,
    }


STATUS_STYLE = {"succeeded": "green", "failed": "yellow", "dead-lettered": "red",
                "cancelled": "magenta", "running": "cyan", "queued": "blue"}


def local(ts: datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def runs_table(rows: list[Run]) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("run", no_wrap=True)
    table.add_column("job/handler", no_wrap=True)
    table.add_column("partition", no_wrap=True)
    table.add_column("try", justify="right")
    table.add_column("status", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("secs", justify="right", no_wrap=True)
    table.add_column("error", overflow="fold")
    for run in rows:
        style = STATUS_STYLE.get(run.status.value, "")
        table.add_row(run.id, f"{run.app}.{run.name}", run.partition or "", str(run.attempt),
                      f"[{style}]{run.status.value}[/]", local(run.started_at or run.queued_at),
                      f"{run.duration:.2f}" if run.duration is not None else "",
                      escape((run.error or "")[:160]))
    return table


def summary_line(run: Run) -> str:
    mark = {"succeeded": "[green]✓[/]", "cancelled": "[magenta]■[/]"}.get(run.status.value,
                                                                          "[red]✗[/]")
    where = f"[{run.partition}]" if run.partition else ""
    took = f" in {run.duration:.2f}s" if run.duration is not None else ""
    text = f"{mark} run {run.id} {run.app}.{run.name}{where} {run.status.value}{took}"
    if run.error:
        text += f": {escape(run.error)}"
    return text


def now_utc() -> datetime:
    return datetime.now(UTC)
