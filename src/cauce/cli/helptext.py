"""Plain `--help` pages that still list each command with its whole first paragraph.

typer's rich help imports markdown-it and pygments: about 100 ms before the page shows. click's
plain help costs nothing extra but cuts each command's description at the first sentence;
this group shows the first paragraph, as the rich pages did.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # the click that TyperGroup is built on: typer's own copy, read here by type checkers only
    from typer._click import Context, HelpFormatter


def summary(help_text: str | None, short_help: str | None) -> str:
    """A command's line in its group's listing: its short help, or its help's first paragraph
    on one line."""
    if short_help:
        return short_help
    return " ".join(inspect.cleandoc(help_text or "").split("\n\n")[0].split())


class CommandInterrupted(BaseException):
    """A Ctrl-C no command handled itself, on its way to `cauce.cli.main.main` (typer would turn a
    KeyboardInterrupt into a silent exit 130)."""


class PlainHelpGroup(TyperGroup):
    """A command group whose help lists its commands with their first paragraphs.

    A group named with nothing after it (`cauce`, `cauce dlq`) prints its help on stderr and
    exits 2, as click does, but without the `error:` line click's usage error would become:
    the help is the answer, not a complaint."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), err=True)
            raise typer.Exit(2)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as stop:
            raise CommandInterrupted from stop

    def summary_of(self, ctx: Context, name: str) -> str | None:
        """Command ``name``'s line in the listing; None for a command not listed."""
        command = self.get_command(ctx, name)
        if command is None or command.hidden:
            return None
        return summary(command.help, command.short_help)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, line) for name in self.list_commands(ctx)
                if (line := self.summary_of(ctx, name)) is not None]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
