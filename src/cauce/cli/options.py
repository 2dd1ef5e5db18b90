"""Command-line options built at run time from an app's settings and a job's parameters.

Settings become options of ``run``, ``serve``, ``worker`` and ``backfill`` (``--chunk-size``);
a job's typed keyword parameters become options of ``run`` (``--source a --source b --all``).
Values are parsed by click (a ``Duration`` as durations are written) and validated by the
runtime against the declared types and constraints; the help shows a parameter's bounds as
click shows a range (``[x>=0]``).
"""

from __future__ import annotations

import datetime as dt
import enum
import pathlib
import types
import typing
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import click

from ..app import Job, Param
from ..durations import Duration
from ..settings import Setting
from .duration_option import refusal


def _scalar(annotation: Any) -> tuple[Any, bool]:
    """(click type, multiple) for an annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:  # a setting's bounds (Gt(0)) are checked when it is read
        return _scalar(typing.get_args(annotation)[0])
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _scalar(args[0])
    if origin in (list, tuple, set, frozenset):
        inner = args[0] if args else str
        return _scalar(inner)[0], True
    if origin is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)]), False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return click.Choice([str(m.value) for m in annotation]), False
    if annotation is Duration:
        return DurationOption(), False
    simple = {int: click.INT, float: click.FLOAT, str: TEXT, bool: click.BOOL,
              pathlib.Path: click.Path(path_type=pathlib.Path), dt.date: TEXT,
              dt.datetime: TEXT}
    return simple.get(annotation, TEXT), False


class TextOption(click.ParamType):
    """Text as typed, where bytes that were not UTF-8 (a terminal or a script in Latin-1 or
    cp1252) are read as a file's bytes are read (``S\\xe3o`` is ``São``): Python hands them
    over as lone surrogates, which the run's parameters would keep in the state, and no text
    the job compares them with holds. A file's name keeps its bytes, which the file system
    needs to find it: a ``Path``, or text that names a file there (census's ``--source``
    takes a path or a URL)."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import os

        from ..textfiles import escaped_bytes_decoded

        if not isinstance(value, str):
            return value
        decoded = escaped_bytes_decoded(value)
        return value if decoded != value and os.path.lexists(value) else decoded


TEXT = TextOption()


class DurationOption(click.ParamType):
    """A duration as written (``30s``, ``1h30m``, seconds), checked and kept as text: the
    runtime reads it again, and a job's bounds name it as the user wrote it. ``positive``
    refuses 0 too, for how long to run."""

    name = "duration"

    def __init__(self, *, positive: bool = False) -> None:
        self.positive = positive

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        why = refusal(value, positive=self.positive)
        if why is not None:
            self.fail(why, param, ctx)
        return value


def _is_bool(annotation: Any) -> bool:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return annotation is bool or (len(args) == 1 and args[0] is bool)


def param_option(param: Param) -> click.Option:
    if _is_bool(param.annotation):
        name = param.option.removeprefix("--")
        if not param.required and not param.default:
            # off unless given: a plain flag, as `--all`, not `--all / --no-all`
            return click.Option([param.option, param.name], is_flag=True, default=False,
                                help=param.help or None)
        return click.Option([f"--{name}/--no-{name}", param.name], default=bool(param.default),
                            show_default=True, help=param.help or None)
    kind, multiple = _scalar(param.annotation)
    if param.required:
        # No default at all: click counts an explicit default=None as given and would not ask
        # for it.
        return click.Option([param.option, param.name], type=kind, multiple=multiple,
                            required=True, help=_help(param.help, None, param.bounds) or None)
    return click.Option([param.option, param.name], type=kind, multiple=multiple, default=None,
                        help=_help(param.help, param.default, param.bounds))


def setting_option(setting: Setting) -> click.Option:
    kind, multiple = _scalar(setting.type)
    if _is_bool(setting.type):
        name = setting.option.removeprefix("--")
        return click.Option([f"--{name}/--no-{name}", setting.name], default=None,
                            help=_help(f"[setting] {setting.help}",
                                       None if setting.required else setting.default))
    default = None if setting.required or setting.secret else setting.default
    return click.Option([setting.option, setting.name], type=kind, multiple=multiple, default=None,
                        help=_help(f"[setting] {setting.help}"
                                   + (" (secret)" if setting.secret else ""), default))


def _help(text: str, default: Any, bounds: str = "") -> str:
    """``text  [default: 1000; x>=0]``, as click shows a default and a range."""
    shown = "; ".join(part for part in (
        f"default: {default}" if default not in (None, [], ()) else "", bounds) if part)
    if shown:
        text = f"{text}  [{shown}]" if text else f"[{shown}]"
    return text


def job_options(job: Job) -> list[click.Option]:
    """A job's parameters as options; one declared without help takes the help of the app's
    setting of the same name (the option then sets the parameter, not the setting)."""
    settings = job.app.settings
    return [param_option(p if p.help or p.name not in settings
                         else replace(p, help=settings[p.name].help))
            for p in job.params.values()]


def settings_options(settings: Iterable[Setting], taken: set[str]) -> list[click.Option]:
    return [setting_option(s) for s in settings if s.name not in taken]


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """Drop options the user did not give (None, or an empty multiple)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()
            if v is not None and v != ()}
