"""Plain `--help` pages that still list each command with its whole first paragraph.

typer's rich help imports markdown-it and pygments: about 100 ms before the page shows. click's
plain help costs nothing extra but cuts each command's description at the first sentence;
this group shows the first paragraph, as the rich pages did.
"""

from __future__ import annotations

import inspect

import click
from typer.core import TyperGroup


def summary(command: click.Command) -> str:
    """A command's line in its group's listing: its short help, or its help's first paragraph
    on one line."""
    if command.short_help:
        return command.short_help
    return " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())


class PlainHelpGroup(TyperGroup):
    """A command group whose help lists its commands with their first paragraphs."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
