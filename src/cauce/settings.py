"""App settings: declared with a type and a purpose, resolved from files, environment and CLI.

Precedence, lowest first: the declared default, ``cauce.toml`` (or ``[tool.cauce]`` in
``pyproject.toml``), the ``.env`` file, the process environment, then command-line options.
A missing or invalid setting fails at start with one message listing every problem. Secret
settings are masked wherever cauce shows them and never stored in state.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, DeclarationError
from .names import checked

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
MASK = "********"
# What `Settings` itself offers; every other name reads as the declared setting's value.
RESERVED_NAMES = frozenset({"origin", "secrets", "shown", "public", "keys", "items", "values",
                            "get"})


@dataclass(frozen=True, eq=False)
class Setting:
    """A value an app needs, declared with `App.setting`."""

    app: str
    name: str
    type: Any
    default: Any = REQUIRED
    help: str = ""
    secret: bool = False
    env: str | None = None

    def __post_init__(self) -> None:
        checked("setting name", self.name, _NAME,
                "use lower case letters, digits and underscores, e.g. chunk_size")
        if self.name in RESERVED_NAMES:
            raise DeclarationError(f"setting name {self.name!r} is taken by ctx.settings itself",
                                   hint=f"choose another name, e.g. {self.name}_setting")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def env_name(self) -> str:
        """The environment variable that sets it."""
        return self.env or f"CAUCE_{_upper(self.app)}_{self.name.upper()}"

    @property
    def option(self) -> str:
        """The command-line option that sets it."""
        return "--" + self.name.replace("_", "-")

    def convert(self, value: Any) -> Any:
        """``value`` as the declared type; strings from the environment are parsed."""
        if isinstance(value, str):
            value = _from_text(value, self.type)
        from pydantic import TypeAdapter, ValidationError  # when settings are resolved

        adapter = TypeAdapter(self.type)
        try:
            return adapter.validate_python(value)
        except ValidationError:
            # A TOML number for a text setting (``every = 0``) means its text.
            if isinstance(value, int | float) and not isinstance(value, bool):
                return adapter.validate_python(str(value))
            if isinstance(value, list) and any(isinstance(v, int | float) for v in value):
                return adapter.validate_python([str(v) if isinstance(v, int | float) else v
                                                for v in value])
            raise


def _upper(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def resource_env(app: str, resource: str) -> str:
    """The environment variable that gives a resource of ``app`` its URL."""
    return f"CAUCE_{_upper(app)}_{_upper(resource)}_URL"


def sqlbox_env(app: str, warehouse: str) -> str:
    """The environment variable that gives the web UI's SQL box its own connection URL for a
    warehouse of ``app`` (a read-only user's, say)."""
    return f"CAUCE_{_upper(app)}_{_upper(warehouse)}_SQLBOX_URL"


def _from_text(text: str, annotation: Any) -> Any:
    """Make environment text fit list and optional types (JSON or comma-separated lists)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args and text.strip() == "":
        return None
    if origin in (list, tuple, set, frozenset) or any(
        typing.get_origin(a) in (list, tuple, set, frozenset) for a in args
    ):
        stripped = text.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return text


@dataclass
class ConfigSources:
    """What the configuration files and environment say, before any app reads them."""

    files: dict[str, Any] = field(default_factory=dict)
    file_name: str | None = None
    dotenv: dict[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @classmethod
    def discover(cls, directory: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> ConfigSources:
        """Read ``cauce.toml`` or ``pyproject.toml`` and ``.env`` from ``directory``
        (default: cwd)."""
        if directory is None:
            directory = working_folder()
        sources = cls(environ=os.environ if environ is None else environ)
        toml_path = directory / "cauce.toml"
        pyproject = directory / "pyproject.toml"
        if os.path.lexists(toml_path):  # a folder or a broken link of that name is an error
            sources.files = _checked(_read_toml(toml_path), "cauce.toml", toml_path)
            sources.file_name = "cauce.toml"
        elif os.path.lexists(pyproject):
            tool = _read_toml(pyproject).get("tool", {})
            section = tool.get("cauce") if isinstance(tool, dict) else None
            if section:
                where = "pyproject.toml [tool.cauce]"
                sources.files, sources.file_name = _checked(section, where, pyproject), where
        dotenv = directory / ".env"
        if os.path.lexists(dotenv):
            sources.dotenv = parse_dotenv(_read_text(dotenv), where=str(dotenv))
        return sources

    def home(self) -> tuple[str | None, str]:
        """The configured home folder and where it came from (None: not configured)."""
        value, where = self._top_level("home", "CAUCE_HOME")
        if value is not None and looks_like_url(value):  # as a path, a local folder "s3:"
            raise ConfigError(f"the cauce home from {where} is a URL, {value}",
                              hint='the home is a folder on this machine (buckets may live in '
                              'object storage: buckets = "s3://..." in cauce.toml)')
        return value, where

    def state(self) -> tuple[str | None, str]:
        """The configured state URL and where it came from (None: ``<home>/state.db``)."""
        return self._top_level("state", "CAUCE_STATE")

    def executor(self) -> tuple[str | None, str]:
        """The configured executor URL and where it came from (None: not configured)."""
        return self._top_level("executor", "CAUCE_EXECUTOR")

    def buckets(self) -> tuple[str | None, str]:
        """Where the buckets of a home live when not configured one by one (None: folders of
        the home): a folder or fsspec URL (``s3://bucket/prefix``), under which each bucket is
        ``<app>/<bucket>``."""
        return self._top_level("buckets", "CAUCE_BUCKETS")

    def _top_level(self, key: str, env: str) -> tuple[str | None, str]:
        for where, value in (
            (f"environment {env}", self._environment(env)),
            (f".env {env}", self.dotenv.get(env)),
            (self.file_name or "", self.files.get(key)),
        ):
            if value:
                return str(value), where
        return None, "default"

    def _environment(self, name: str) -> str | None:
        """The process environment's ``name``, without the carriage returns it ends in."""
        value = self.environ.get(name)
        return None if value is None else environment_text(name, value)

    def app_section(self, app: str) -> dict[str, Any]:
        return dict(self.files.get("apps", {}).get(app, {}))

    def unknown_keys(self, app: str, declared: Collection[str],
                     resources: Collection[str]) -> list[str]:
        """What ``[apps.APP]`` (and its ``resources`` table) set that the app does not declare,
        each as one line with the closest name: a mistyped key would otherwise be ignored, and
        the app run with the default instead."""
        section = self.app_section(app)
        named = {spelling: name for name in declared
                 for spelling in (name, name.replace("_", "-"))}
        urls = section.get("resources", {})
        return [
            *_unknown([k for k in section if k != "resources"], named,
                      f"{self.file_name} [apps.{app}]", f"{app} has no such setting"),
            *_unknown(list(urls) if isinstance(urls, dict) else [],
                      {name: name for name in resources},
                      f"{self.file_name} [apps.{app}.resources]", f"{app} has no such resource"),
        ]

    def lookup(self, setting: Setting) -> tuple[Any, str] | None:
        """The highest-precedence raw value for ``setting`` and its source, if any is given."""
        env_name = setting.env_name
        if (value := self._environment(env_name)) is not None:
            return value, f"environment {env_name}"
        if env_name in self.dotenv:
            return self.dotenv[env_name], f".env {env_name}"
        section = self.app_section(setting.app)
        given = [key for key in dict.fromkeys((setting.name, setting.name.replace("_", "-")))
                 if key in section]
        if len(given) > 1:  # which one would win is nowhere written
            raise ConfigError(f"{self.file_name} [apps.{setting.app}] sets {setting.name} twice, "
                              f"as {given[0]} and {given[1]}", hint="keep one of them")
        if given:
            return section[given[0]], f"{self.file_name} [apps.{setting.app}] {given[0]}"
        return None

    def resource_url(self, app: str, resource: str) -> tuple[str, str] | None:
        """A backend URL configured for one resource of an app, and its source."""
        env_name = resource_env(app, resource)
        if (value := self._environment(env_name)) is not None:
            return value, f"environment {env_name}"
        if env_name in self.dotenv:
            return self.dotenv[env_name], f".env {env_name}"
        urls = self.app_section(app).get("resources", {})
        if resource in urls:
            return str(urls[resource]), f"{self.file_name} [apps.{app}.resources] {resource}"
        return None

    def sqlbox_url(self, app: str, warehouse: str) -> tuple[str, str] | None:
        """The URL the web UI's SQL box connects with for a warehouse, and its source: from the
        environment or .env only, as secrets are (it names a user and often a password)."""
        env_name = sqlbox_env(app, warehouse)
        if (value := self._environment(env_name)) is not None and value.strip():
            return value.strip(), f"environment {env_name}"
        if self.dotenv.get(env_name, "").strip():
            return self.dotenv[env_name].strip(), f".env {env_name}"
        return None


def working_folder() -> Path:
    """The working folder, where cauce.toml and .env are; one line when it is gone (removed, or
    renamed, since the shell entered it), where Python's error names no file."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise ConfigError("the working folder no longer exists (it was removed or renamed "
                          "after the shell entered it), and cauce.toml and .env are read there",
                          hint='cd to a folder that exists (cd "$PWD" if it was made again), '
                          "then run the command again") from None


def environment_text(name: str, value: str) -> str:
    """The value of environment variable ``name`` without the carriage returns it ends in,
    said once in a warning: a shell that sources, or ``docker --env-file`` that reads, a file
    with Windows line ends gives every value a CR at its end, which no setting means (a home
    folder ``/srv/cauce\\r``, a password one character too long)."""
    if not value.endswith("\r"):
        return value
    _warn_once(f"environment {name} ends in a carriage return (set from a file with Windows "
               "line ends?): read without it")
    return value.rstrip("\r")


def _unknown(keys: list[str], known: Mapping[str, str], where: str, absent: str) -> list[str]:
    """A line for each of ``keys`` that is none of ``known`` (spelling → name), with the name
    of the closest."""
    import difflib  # only on the way to an error message

    lines = []
    for key in (k for k in keys if k not in known):
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
        lines.append(f"{key}: set in {where}, but {absent}"
                     + (f" (did you mean {known[close[0]]}?)" if close else ""))
    return lines


#: The largest cauce.toml, pyproject.toml or .env read: larger, it is another kind of file.
CONFIG_FILE_LIMIT = 16 << 20


def _read_text(path: Path) -> str:
    """A configuration file's text as an editor saved it: a byte-order mark, Windows line ends
    or a cp1252/Latin-1 file (Notepad's defaults) read as the user sees it, not as an error; a
    folder, a broken or looping link or an unreadable file of its name is one error."""
    from .textfiles import UnreadableFile, read_text_file

    try:
        return read_text_file(path, universal_newlines=True, limit=CONFIG_FILE_LIMIT)
    except UnreadableFile as err:
        raise ConfigError(err.message, hint=err.hint) from None


def _read_toml(path: Path) -> dict[str, Any]:
    # a mark at the start of a line is that of a file joined to this one: no part of the TOML
    text = re.sub("^\ufeff", "", _read_text(path), flags=re.MULTILINE)
    if "\0" in text:  # tomllib's words for it depend on where it is, and may not name it
        line = text.count("\n", 0, text.index("\0")) + 1
        raise ConfigError(f"{path.name} holds a NUL byte on line {line}",
                          hint=f"remove it from {path} (was the file cut short, or joined with "
                          "another?)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path.name} is not valid TOML: {err}",
                          hint=f"fix {path}{_toml_advice(str(err))}") from None


_CONTROLS = {"\t": "a tab", "\n": "a line feed", "\r": "a carriage return"}


def _no_control_character(value: str, said: str, path: Path) -> None:
    """Refuse a folder or URL ``value`` that holds a control character: ``"C:\\temp\\new"``
    between double quotes is a tab and a line feed, a path nobody meant."""
    if control := re.search(r"[\x00-\x1f]", value):
        what = _CONTROLS.get(control[0], f"the control character U+{ord(control[0]):04X}")
        raise ConfigError(f"{said} holds {what}, which no folder or URL has",
                          hint=f"fix {path}: a backslash starts an escape between double "
                          "quotes; write a Windows path between single quotes "
                          "('C:\\temp\\new') or with forward slashes")


def _toml_advice(error: str) -> str:
    """What usually causes a TOML error users meet, after the hint to fix the file."""
    if error.startswith("Unescaped '\\'"):
        return (": a backslash starts an escape between double quotes; write a Windows path "
                "between single quotes ('C:\\data') or with forward slashes")
    if error.startswith("Invalid value"):
        return ': text goes between quotes (name = "value")'
    return ""


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def looks_like_url(value: str) -> bool:
    """Whether ``value`` starts with a URL scheme (``s3://``, ``file://``): as a path it would
    be a local folder named after the scheme."""
    return _URL.match(value) is not None


# top-level keys of the configuration, each a text value
_TOP_LEVEL_KEYS = ("home", "state", "executor", "buckets")


def _checked(files: Any, where: str, path: Path) -> dict[str, Any]:
    """``files`` when it has the shape cauce reads (text top-level values, an ``[apps.APP]``
    table per app, a ``resources`` table of URLs in each); a one-line error naming the key
    otherwise, rather than a failure wherever the value is first used."""

    def refuse(key: str, value: Any, wanted: str) -> ConfigError:
        return ConfigError(f"{where}: {key} is {_toml_kind(value)}, not {wanted}",
                           hint=f"fix {path} (see docs/configuration.md)")

    if not isinstance(files, dict):
        raise refuse("the section", files, "a table")
    if unknown := [key for key in files if key not in (*_TOP_LEVEL_KEYS, "apps")]:
        raise _unknown_top_level(unknown[0], files[unknown[0]], where, path)
    for key in _TOP_LEVEL_KEYS:
        if key in files and not isinstance(files[key], str):
            raise refuse(key, files[key], 'text (key = "...")')
        if key in files:
            _no_control_character(files[key], f"{where}: {key}", path)
    apps = files.get("apps", {})
    if not isinstance(apps, dict):
        raise refuse("apps", apps, "a table ([apps.APP])")
    for app, section in apps.items():
        if not isinstance(section, dict):
            raise refuse(f"apps.{app}", section, f"a table ([apps.{app}])")
        resources = section.get("resources", {})
        if not isinstance(resources, dict):
            raise refuse(f"apps.{app}.resources", resources,
                         f"a table ([apps.{app}.resources])")
        for resource, url in resources.items():
            if not isinstance(url, str):
                raise refuse(f"apps.{app}.resources.{resource}", url, 'a URL ("...")')
            _no_control_character(url, f"{where}: apps.{app}.resources.{resource}", path)
    return files


def _unknown_top_level(key: str, value: Any, where: str, path: Path) -> ConfigError:
    """A top-level key cauce does not read (``hme``, ``[app.census]``, ``[census]``): an error,
    where it was ignored and what it set left at its default."""
    import difflib  # only on the way to an error message

    if isinstance(value, dict) and not any(isinstance(v, dict) for v in value.values()):
        guess = f"settings of app {key} go in [apps.{key}]"
    else:
        close = difflib.get_close_matches(key, [*_TOP_LEVEL_KEYS, "apps"], n=1, cutoff=0.6)
        guess = (f"did you mean {close[0]}?" if close else
                 f"the keys are {', '.join(_TOP_LEVEL_KEYS)} and [apps.APP] tables")
    return ConfigError(f"{where}: {key!r} is no key cauce reads ({guess})",
                       hint=f"fix {path} (see docs/configuration.md)")


def _toml_kind(value: Any) -> str:
    """A TOML value as the error shows it: ``a table``, ``an array``, or the value itself."""
    if isinstance(value, dict):
        return "a table"
    return "an array" if isinstance(value, list) else repr(value)


# Escapes understood inside double quotes, as shells and python-dotenv read them; other text
# (accents, ñ) is kept as written.
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_dotenv(text: str, where: str = ".env") -> dict[str, str]:
    """``KEY=value`` lines; quotes, ``export`` prefixes, blank lines and ``#`` comments allowed.

    Any other line is skipped with a warning naming ``where`` (the file), its number and what
    is wrong with it, so that a typo does not quietly leave a setting at its default."""
    values: dict[str, str] = {}
    skipped = 0
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].removeprefix("\ufeff")  # the mark of a file joined to this one
        index += 1
        number = index
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match or "\0" in line:
            skipped += 1
            if skipped <= SKIPPED_SAID:
                _say_skipped(where, number, _dotenv_mistake(line))
            continue
        key, raw = match.groups()
        if key.upper().startswith("CAUCE_") and key != key.upper():  # Windows' names fold case
            _warn_once(f"{where} line {number}: {key} is not {key.upper()}: cauce reads its "
                       "variables in upper case, as they are written")
        if raw[:1] in "\"'" and raw and _QUOTED.fullmatch(raw) is None:
            closing = _closing_line(lines, index, raw[0])
            if closing is None:
                _warn_once(f"{where} line {number}: the quote opened in {key}'s value is never "
                           "closed: read as part of the value")
            else:  # a value over several lines (a PEM key, a certificate), as dotenv reads it
                raw = "\n".join([line[match.start(2):], *lines[index:closing + 1]]).rstrip()
                index = closing + 1
        values[key] = _dotenv_value(raw)
    if skipped > SKIPPED_SAID:
        _warn_once(f"{where}: {skipped - SKIPPED_SAID:,} more lines skipped, none of them "
                   "KEY=value either: is it a .env file?")
    return values


#: The skipped lines of one ``.env`` said one by one; the rest are counted (another kind of
#: file saved as .env would say each of its lines).
SKIPPED_SAID = 10


def _dotenv_mistake(line: str) -> str:
    """What keeps a ``.env`` line from being ``KEY=value``, told without its value (a secret,
    often)."""
    if "\0" in line:  # a bad copy, or a file of another kind: no value means one
        return "it holds a NUL byte"
    if "=" not in line:
        return "it has no `=` (KEY=value)"
    name = line.split("=", 1)[0].strip().removeprefix("export ").strip()
    if not name:
        return "it has no name before `=`"
    for shell, prefix in (("cmd.exe", "set "), ("PowerShell", "$env:")):
        if name.lower().startswith(prefix.lower()):
            return (f"{name!r} is {shell}'s way to set a variable: write "
                    f"{name[len(prefix):].strip()}=value")
    return (f"{name!r} is not a variable name (letters, digits and _, not starting with a "
            "digit)")


# the warnings already said: the files are read by each part of a command that needs them
_SAID: set[str] = set()


def _say_skipped(where: str, number: int, mistake: str) -> None:
    """One warning for a skipped ``.env`` line, once in this process."""
    _warn_once(f"{where} line {number} skipped: {mistake}")


def _warn_once(message: str) -> None:
    """``message`` as a warning on stderr, once in this process."""
    if message in _SAID:
        return
    _SAID.add(message)
    import logging  # only when there is something to say: `cauce --help` does without it

    logging.getLogger("cauce.config").warning("%s", message)


# A quoted value, then perhaps a comment: "..." (with backslash escapes) or '...'.
_QUOTED = re.compile(r'(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\')(?:\s+#.*)?', re.DOTALL)


_CLOSES = {'"': re.compile(r'(?:[^"\\]|\\.)*"'), "'": re.compile(r"[^']*'")}


def _closing_line(lines: list[str], start: int, quote: str) -> int | None:
    """The index of the first line from ``start`` on that closes a ``quote`` opened before it
    (for ``"``, a quote no backslash escapes), or None. A line that opens the next quoted
    value (``KEY="...``) closes nothing: the quote before it was left open."""
    closes = _CLOSES[quote]
    for index in range(start, len(lines)):
        if closes.match(lines[index]):
            opens = _DOTENV_LINE.match(lines[index])
            return None if opens and opens.group(2).startswith(quote) else index
    return None


def _dotenv_value(raw: str) -> str:
    """The value of one ``.env`` line, as written after ``=``."""
    quoted = _QUOTED.fullmatch(raw)
    if quoted is None:
        return re.sub(r"\s+#.*$", "", raw)
    if quoted.group(1) is None:
        return quoted.group(2)
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), quoted.group(1))


class Settings(Mapping[str, Any]):
    """Resolved settings of one app: typed values, read as ``ctx.settings.db`` or ``["db"]``."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str],
                 declared: dict[str, Setting]):
        self._values = values
        self._sources = sources
        self._declared = declared

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __getattribute__(self, name: str) -> Any:
        # A declared setting wins over anything else of that name (census declares ``source``).
        if not name.startswith("_"):
            values = object.__getattribute__(self, "_values")
            if name in values:
                return values[name]
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"no setting named {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def origin(self, name: str) -> str:
        """Where the value of ``name`` came from (default, a file, .env, environment, option)."""
        return self._sources[name]

    def secrets(self) -> list[str]:
        """The values of secret settings, to be masked wherever text leaves cauce."""
        return [
            str(v)
            for n, v in self._values.items()
            if self._declared[n].secret and v not in (None, "")
        ]

    def shown(self, name: str) -> str:
        """The value as cauce may print it: secrets masked."""
        value = self._values[name]
        if self._declared[name].secret and value not in (None, ""):
            return MASK
        return repr(value)

    def public(self) -> dict[str, Any]:
        """Every non-secret value, for recording on runs."""
        return {n: v for n, v in self._values.items() if not self._declared[n].secret}

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{n}={self.shown(n)}" for n in self._values) + ")"


def resolve(
    declared: Mapping[str, Setting],
    sources: ConfigSources,
    overrides: Mapping[str, Any] | None = None,
    *,
    lenient: bool = False,
    app: str | None = None,
    resources: Collection[str] = (),
) -> Settings:
    """Resolve every declared setting, or raise one ConfigError listing all that are wrong.

    ``lenient`` (for commands that only inspect state) leaves problem settings at their
    default, or None, instead of failing. With ``app``, a key of its configuration section
    that names neither a setting nor one of its ``resources`` is a problem too.
    """
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        problems.extend(f"{name}: not a setting of this app" for name in unknown)
    if app is not None:
        problems.extend(sources.unknown_keys(app, declared, resources))
    for name, setting in declared.items():
        if name in overrides and overrides[name] is not None:
            raw, where = overrides[name], f"option {setting.option}"
        else:
            found = sources.lookup(setting)
            if found is None:
                if setting.required:
                    problems.append(f"{name} ({setting.help or 'no description'}): missing — set "
                                    f"{setting.env_name}, {setting.option} "
                                    f"or [apps.{setting.app}] {name}")
                    continue
                values[name], origin[name] = setting.default, "default"
                continue
            raw, where = found
        try:
            values[name], origin[name] = setting.convert(raw), where
        except ValueError as err:  # pydantic's ValidationError is one
            from pydantic import ValidationError

            shown = MASK if setting.secret else repr(raw)
            reason = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
            problems.append(f"{name}: {shown} from {where} is invalid ({reason})")
    if problems and lenient:
        for name, setting in declared.items():
            if name not in values:
                values[name] = None if setting.required else setting.default
                origin[name] = "unresolved"
        problems = []
    if problems:
        first = problems[0] if len(problems) == 1 else f"{len(problems)} settings need attention"
        raise ConfigError(
            first if len(problems) == 1 else first + ":\n  " + "\n  ".join(problems),
            hint="see `cauce config APP` for every setting, its value and where it came from",
        )
    return Settings(values, origin, dict(declared))
