"""`cauce` builds a command when it is named: its help lists them all from their declarations."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from cauce.cli.lazygroup import DeclaredCommands
from cauce.cli.main import commands


def test_a_command_is_built_only_when_named(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str | None] = []
    build = typer.main.get_command_from_info

    def recorded(command_info: Any, **settings: Any) -> Any:
        built.append(command_info.name)
        return build(command_info=command_info, **settings)

    monkeypatch.setattr(typer.main, "get_command_from_info", recorded)
    assert cli("--help").status == 0
    assert built == []
    assert cli("logs", "--help").status == 0
    assert built == ["logs"]


def test_the_listing_says_what_each_built_command_says() -> None:
    declared = DeclaredCommands(commands)
    assert list(declared)[:4] == ["run", "serve", "worker", "backfill"]
    assert list(declared)[-3:] == ["runs", "dlq", "state"]  # groups after commands, as typer
    for name in declared:
        described = declared.described(name)
        command = declared[name]
        assert command.name == name
        assert described == (command.help, command.short_help, command.hidden)
        assert declared.described(name) == described  # and from the built command, the same
