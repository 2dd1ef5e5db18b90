"""A command group whose commands typer builds when one is named, not all of them at each start.

typer builds every command of a group before the group itself, reading each function's
signature and type hints (twice): about 30 ms for cauce's commands, on every invocation.
`cauce --help` needs only their names and first paragraphs, which the declarations hold, and
`cauce logs` needs only `logs`. This is click's lazy group: the group lists the names it was
declared with and builds a command the first time it is looked up.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.models import CommandInfo, TyperInfo

from .helptext import PlainHelpGroup, summary

if TYPE_CHECKING:
    from typer._click import Command, Context


class DeclaredCommands(MutableMapping[str, "Command"]):
    """The commands and groups declared on a `typer.Typer`, by name, in the order typer lists
    them (commands, then groups); each is built as `typer.main.get_command` would build it, the
    first time it is looked up."""

    def __init__(self, declared: typer.Typer) -> None:
        self.typer = declared
        self.entries: dict[str, Command | CommandInfo | TyperInfo] = {}
        for command in declared.registered_commands:
            name = command.name or typer.main.get_command_name(command.callback.__name__)
            self.entries[name] = command
        for group in declared.registered_groups:
            self.entries[typer.main.solve_typer_info_defaults(group).name] = group

    def __getitem__(self, name: str) -> Command:
        entry = self.entries[name]
        if isinstance(entry, CommandInfo):
            entry = typer.main.get_command_from_info(
                command_info=entry, pretty_exceptions_short=self.typer.pretty_exceptions_short,
                rich_markup_mode=self.typer.rich_markup_mode)
        elif isinstance(entry, TyperInfo):
            entry = typer.main.get_group_from_info(
                entry, pretty_exceptions_short=self.typer.pretty_exceptions_short,
                suggest_commands=self.typer.suggest_commands,
                rich_markup_mode=self.typer.rich_markup_mode)
        self.entries[name] = entry
        return entry

    def __setitem__(self, name: str, command: Command) -> None:
        self.entries[name] = command

    def __delitem__(self, name: str) -> None:
        del self.entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def described(self, name: str) -> tuple[str | None, str | None, bool]:
        """The help, short help and hidden flag of command ``name``, read from its declaration
        if it is not built yet (as typer reads them when it builds it)."""
        entry = self.entries[name]
        if isinstance(entry, CommandInfo):
            if entry.help is None:
                return inspect.getdoc(entry.callback), entry.short_help, entry.hidden
            return inspect.cleandoc(entry.help), entry.short_help, entry.hidden
        if isinstance(entry, TyperInfo):
            solved = typer.main.solve_typer_info_defaults(entry)
            return solved.help, solved.short_help, solved.hidden
        return entry.help, entry.short_help, entry.hidden


class LazyGroup(PlainHelpGroup):
    """A `PlainHelpGroup` whose commands are those declared on the class's ``declared``, each
    built when first named; its help lists them without building any."""

    declared: ClassVar[typer.Typer]

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        commands = DeclaredCommands(self.declared)
        commands.update(self.commands)  # any built by typer, declared on the group's own Typer
        self.commands: DeclaredCommands = commands

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # typer's reads each command too, which would build it

    def summary_of(self, ctx: Context, name: str) -> str | None:
        help_text, short_help, hidden = self.commands.described(name)
        return None if hidden else summary(help_text, short_help)
