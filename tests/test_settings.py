"""Settings: typed, documented, resolved from cauce.toml, .env, the environment and options."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from cauce import App, ConfigError, DeclarationError, Settings
from cauce.settings import ConfigSources, parse_dotenv, resolve
from cauce.testing import TestRuntime


@pytest.fixture
def warnings(caplog, monkeypatch):
    """The warnings of cauce.config from now on: none said yet in this process, and seen by
    caplog even where a command has sent them to stderr instead."""
    monkeypatch.setattr("cauce.settings._SAID", set())
    monkeypatch.setattr(logging.getLogger("cauce.config"), "propagate", True)
    caplog.clear()
    return lambda: [r.getMessage() for r in caplog.records if r.name == "cauce.config"]


def sources(tmp_path: Path, environ: dict[str, str] | None = None, **files: str) -> ConfigSources:
    """Write the given files (cauce_toml=..., pyproject_toml=..., env=...) and discover them."""
    names = {"cauce_toml": "cauce.toml", "pyproject_toml": "pyproject.toml", "env": ".env"}
    for key, text in files.items():
        (tmp_path / names[key]).write_text(text, encoding="utf-8")
    return ConfigSources.discover(tmp_path, environ=environ or {})


def test_declared_defaults_are_used_when_nothing_is_configured(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("chunk_size", int, default=1000, help="rows per chunk")
    settings = resolve(app.settings, sources(tmp_path))
    assert settings.chunk_size == 1000
    assert settings["chunk_size"] == 1000
    assert settings.origin("chunk_size") == "default"


@pytest.mark.parametrize(
    ("annotation", "text", "value"),
    [
        (int, "250", 250),
        (float, "0.5", 0.5),
        (bool, "true", True),
        (bool, "0", False),
        (str, "  spaced  ", "  spaced  "),
        (list[str], "a.csv, b.csv,,", ["a.csv", "b.csv"]),
        (list[str], '["a,1", "b"]', ["a,1", "b"]),
        (list[int], "1,2,3", [1, 2, 3]),
        (str | None, "", None),
        (str | None, "x", "x"),
        (int | None, "", None),
        (list[str] | None, "a,b", ["a", "b"]),
    ],
)
def test_environment_text_is_parsed_to_the_declared_type(tmp_path: Path, annotation, text: str,
                                                         value) -> None:
    app = App("demo")
    app.setting("value", annotation, default=None)
    settings = resolve(app.settings, sources(tmp_path, {"CAUCE_DEMO_VALUE": text}))
    assert settings.value == value
    assert settings.origin("value") == "environment CAUCE_DEMO_VALUE"


def test_every_missing_required_setting_is_listed_in_one_error(tmp_path: Path) -> None:
    app = App("miner")
    app.setting("db", str, help="target database URL")
    app.setting("api_key", str, secret=True, env="MINER_KEY", help="key of the data API")
    app.setting("chunk_size", int, default=100)
    with pytest.raises(ConfigError) as info:
        resolve(app.settings, sources(tmp_path))
    assert info.value.message == (
        "2 settings need attention:\n"
        "  db (target database URL): missing — set CAUCE_MINER_DB, --db or [apps.miner] db\n"
        "  api_key (key of the data API): missing — set MINER_KEY, --api-key "
        "or [apps.miner] api_key"
    )
    assert "cauce config APP" in (info.value.hint or "")


def test_one_problem_is_one_line(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("chunk_size", int, default=10)
    with pytest.raises(ConfigError, match=r"^chunk_size: 'lots' from environment "
                       r"CAUCE_DEMO_CHUNK_SIZE is invalid \(Input should be a valid integer"):
        resolve(app.settings, sources(tmp_path, {"CAUCE_DEMO_CHUNK_SIZE": "lots"}))


def test_missing_and_invalid_settings_are_reported_together(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("db", str)
    app.setting("chunk_size", int, default=10)
    app.setting("sources", list[str], default=[])
    environ = {"CAUCE_DEMO_CHUNK_SIZE": "x", "CAUCE_DEMO_SOURCES": "[not json"}
    with pytest.raises(ConfigError, match="3 settings need attention") as info:
        resolve(app.settings, sources(tmp_path, environ))
    lines = info.value.message.splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == ["db (no description)", "chunk_size",
                                                             "sources"]


def test_an_invalid_secret_is_not_shown(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("port", int, secret=True, default=1)
    with pytest.raises(ConfigError,
                       match=r"port: \*\*\*\*\*\*\*\* from environment CAUCE_DEMO_PORT") as info:
        resolve(app.settings, sources(tmp_path, {"CAUCE_DEMO_PORT": "hunter2"}))
    assert "hunter2" not in info.value.message


def test_a_setting_written_both_ways_in_the_file_is_refused(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("chunk_size", int, default=1)
    config = sources(tmp_path, {}, cauce_toml="[apps.demo]\nchunk_size = 2\nchunk-size = 3\n")
    with pytest.raises(ConfigError, match="sets chunk_size twice, as chunk_size and chunk-size"):
        resolve(app.settings, config)


def test_a_mistyped_key_of_the_app_section_is_refused_with_the_closest_name(
        tmp_path: Path) -> None:
    app = App("demo")
    app.setting("chunk_size", int, default=1)
    app.bucket("sources")
    config = sources(tmp_path, {}, cauce_toml=(
        "[apps.demo]\nchunk-sise = 2\nzzz = 1\n[apps.demo.resources]\nsource = 'file:///x'\n"))
    with pytest.raises(ConfigError) as info:
        resolve(app.settings, config, app="demo", resources=app.resources)
    assert info.value.message.splitlines()[1:] == [
        "  chunk-sise: set in cauce.toml [apps.demo], but demo has no such setting "
        "(did you mean chunk_size?)",
        "  zzz: set in cauce.toml [apps.demo], but demo has no such setting",
        "  source: set in cauce.toml [apps.demo.resources], but demo has no such resource "
        "(did you mean sources?)",
    ]
    # both spellings of a declared setting, and a declared resource, are known keys
    config = sources(tmp_path, {}, cauce_toml=(
        "[apps.demo]\nchunk-size = 2\n[apps.demo.resources]\nsources = 'file:///x'\n"))
    assert resolve(app.settings, config, app="demo", resources=app.resources).chunk_size == 2
    # commands that only look at the state go on with the keys they know
    config = sources(tmp_path, {}, cauce_toml="[apps.demo]\nchunk_size = 3\nzzz = 1\n")
    assert resolve(app.settings, config, lenient=True, app="demo",
                   resources=app.resources).chunk_size == 3


def test_a_runtime_does_not_start_with_a_mistyped_setting(tmp_path: Path, monkeypatch) -> None:
    from cauce import Runtime

    app = App("demo")
    app.setting("chunk_size", int, default=1)
    (tmp_path / "cauce.toml").write_text("[apps.demo]\nchunk_sise = 2\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"chunk_sise: set in cauce.toml \[apps.demo\], but "
                       r"demo has no such setting \(did you mean chunk_size\?\)"):
        Runtime(app, home=tmp_path / "home").open()


def test_precedence_default_file_dotenv_environment_option(tmp_path: Path) -> None:
    app = App("demo")
    for name in ("a", "b", "c", "d", "e"):
        app.setting(name, str, default="default")
    config = sources(
        tmp_path,
        {"CAUCE_DEMO_D": "environment", "CAUCE_DEMO_E": "environment"},
        cauce_toml='[apps.demo]\nb = "file"\nc = "file"\nd = "file"\ne = "file"\n',
        env="CAUCE_DEMO_C=dotenv\nCAUCE_DEMO_D=dotenv\nCAUCE_DEMO_E=dotenv\n",
    )
    settings = resolve(app.settings, config, {"e": "option"})
    assert dict(settings) == {"a": "default", "b": "file", "c": "dotenv", "d": "environment",
                              "e": "option"}
    assert [settings.origin(n) for n in "abcde"] == [
        "default", "cauce.toml [apps.demo] b", ".env CAUCE_DEMO_C", "environment CAUCE_DEMO_D",
        "option --e"]


def test_pyproject_tool_cauce_is_read_when_there_is_no_cauce_toml(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("db", str)
    config = sources(tmp_path, pyproject_toml='[project]\nname = "x"\n\n'
                                              '[tool.cauce.apps.demo]\ndb = "from-pyproject"\n')
    settings = resolve(app.settings, config)
    assert settings.db == "from-pyproject"
    assert settings.origin("db") == "pyproject.toml [tool.cauce] [apps.demo] db"


def test_cauce_toml_wins_over_pyproject(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("db", str)
    config = sources(tmp_path, cauce_toml='[apps.demo]\ndb = "from-cauce-toml"\n',
                     pyproject_toml='[tool.cauce.apps.demo]\ndb = "from-pyproject"\n')
    assert resolve(app.settings, config).db == "from-cauce-toml"


def test_file_keys_may_use_dashes_and_keep_their_toml_types(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("chunk_size", int, default=1)
    app.setting("sources", list[str], default=[])
    config = sources(tmp_path, cauce_toml='[apps.demo]\nchunk-size = 50\nsources = ["a", "b"]\n')
    settings = resolve(app.settings, config)
    assert (settings.chunk_size, settings.sources) == (50, ["a", "b"])


def test_toml_numbers_are_text_for_text_settings(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("every", str, default="10s")
    app.setting("codes", list[str], default=[])
    app.setting("ratio", float, default=1.0)
    config = sources(tmp_path,
                     cauce_toml="[apps.demo]\nevery = 0\ncodes = [13101, \"13102\"]\nratio = 2\n")
    settings = resolve(app.settings, config)
    assert (settings.every, settings.codes, settings.ratio) == ("0", ["13101", "13102"], 2.0)


def test_a_custom_environment_name_and_app_names_with_dashes(tmp_path: Path) -> None:
    app = App("open-data")
    token = app.setting("token", str | None, default=None, env="SODA_APP_TOKEN")
    limit = app.setting("limit", int, default=1)
    assert (token.env_name, limit.env_name, limit.option) == ("SODA_APP_TOKEN",
                                                              "CAUCE_OPEN_DATA_LIMIT", "--limit")
    settings = resolve(app.settings, sources(tmp_path, {"SODA_APP_TOKEN": "t",
                                                        "CAUCE_OPEN_DATA_LIMIT": "3"}))
    assert (settings.token, settings.limit) == ("t", 3)


def test_unknown_overrides_are_problems(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("db", str, default="x")
    with pytest.raises(ConfigError, match="dbb: not a setting of this app"):
        resolve(app.settings, sources(tmp_path), {"dbb": "y"})


def test_none_overrides_mean_not_given(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("db", str, default="x")
    settings = resolve(app.settings, sources(tmp_path, {"CAUCE_DEMO_DB": "env"}), {"db": None})
    assert settings.db == "env"


def test_lenient_resolution_leaves_problems_unresolved(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("db", str)
    app.setting("chunk_size", int, default=10)
    settings = resolve(app.settings, sources(tmp_path, {"CAUCE_DEMO_CHUNK_SIZE": "x"}),
                       lenient=True)
    assert (settings.db, settings.chunk_size) == (None, 10)
    assert settings.origin("db") == "unresolved"


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cauce\.toml is not valid TOML") as info:
        sources(tmp_path, cauce_toml="[apps.demo\n")
    assert str(tmp_path / "cauce.toml") in (info.value.hint or "")


@pytest.mark.parametrize("encoded", [
    pytest.param(lambda text: b"\xef\xbb\xbf" + text.encode(), id="utf-8 with a mark"),
    pytest.param(lambda text: text.replace("\n", "\r\n").encode(), id="crlf"),
    pytest.param(lambda text: text.encode("cp1252"), id="cp1252"),
    pytest.param(lambda text: text.encode("utf-16"), id="utf-16 with a mark"),
    pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16 without a mark"),
    pytest.param(lambda text: text.replace("\n", "\r").encode(), id="cr alone"),
])
def test_configuration_files_are_read_as_editors_save_them(tmp_path: Path, encoded) -> None:
    app = App("demo")
    app.setting("greeting", str, default="hola")
    app.setting("farewell", str, default="chao")
    (tmp_path / "cauce.toml").write_bytes(encoded('home = "cañada"\n[apps.demo]\n'
                                                  'greeting = "olé"\n'))
    (tmp_path / ".env").write_bytes(encoded("CAUCE_DEMO_FAREWELL=adiós\n"))
    config = ConfigSources.discover(tmp_path, environ={})
    assert config.home() == ("cañada", "cauce.toml")
    settings = resolve(app.settings, config)
    assert (settings.greeting, settings.farewell) == ("olé", "adiós")


@pytest.mark.parametrize(("toml", "message"), [
    ('home = 5', "cauce.toml: home is 5, not text"),
    ('state = ["a"]', "cauce.toml: state is an array, not text"),
    ('apps = "x"', "cauce.toml: apps is 'x', not a table"),
    ("[apps]\ndemo = 3", "cauce.toml: apps.demo is 3, not a table"),
    ('[apps.demo]\nresources = "x"', "cauce.toml: apps.demo.resources is 'x', not a table"),
    ("[apps.demo.resources]\ninbox = 1", "cauce.toml: apps.demo.resources.inbox is 1, not a URL"),
])
def test_a_configuration_of_the_wrong_shape_is_one_error_naming_the_key(
        tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        sources(tmp_path, cauce_toml=toml + "\n")
    assert str(info.value).startswith(message)
    assert str(tmp_path / "cauce.toml") in (info.value.hint or "")


def test_a_pyproject_tool_cauce_that_is_no_table_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pyproject\.toml \[tool\.cauce\]: the section is 3"):
        sources(tmp_path, pyproject_toml="[tool]\ncauce = 3\n")


def test_dotenv_files_like_the_originals_write_them() -> None:
    text = """
# database
export DB_URL=postgresql://u@h/db
NAME = "Santiago de Chile"   
SINGLE='no $expansion # here'
ESCAPED="line\\nbreak"
INLINE=value # a comment
EMPTY=
not a line
"""
    assert parse_dotenv(text) == {
        "DB_URL": "postgresql://u@h/db",
        "NAME": "Santiago de Chile",
        "SINGLE": "no $expansion # here",
        "ESCAPED": "line\nbreak",
        "INLINE": "value",
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'DOUBLE="a b" # the note\nSINGLE=\'x y\'   # note\nQUOTES="a" # say "hi"\n'
            'INNER="a\\"b" # c\nHASH="a # b"\nOPEN="unterminated\n',
            {"DOUBLE": "a b", "SINGLE": "x y", "QUOTES": "a", "INNER": 'a"b', "HASH": "a # b",
             "OPEN": '"unterminated'},
            id="quoted values may be followed by a comment",
        ),
        pytest.param(
            'COMUNA="Ñuñoa"\nPLAIN=Peñalolén\nPATH_WIN="C:\\\\data\\tsub"\n'
            'RAW=\'a\\nb\'\nODD="keep \\x as is"\n',
            {"COMUNA": "Ñuñoa", "PLAIN": "Peñalolén", "PATH_WIN": "C:\\data\tsub",
             "RAW": "a\\nb", "ODD": "keep \\x as is"},
            id="accents kept, escapes read only in double quotes",
        ),
    ],
)
def test_dotenv_values(text: str, expected: dict[str, str]) -> None:
    assert parse_dotenv(text) == expected


def test_a_home_that_is_a_url_is_refused(tmp_path: Path) -> None:
    config = sources(tmp_path, {"CAUCE_HOME": "s3://bucket/home"})
    with pytest.raises(ConfigError, match="the cauce home from environment CAUCE_HOME is a "
                       "URL, s3://bucket/home"):
        config.home()


def test_the_home_comes_from_environment_then_dotenv_then_file(tmp_path: Path) -> None:
    assert sources(tmp_path).home() == (None, "default")
    (tmp_path / "cauce.toml").write_text('home = "from-file"\n')
    assert ConfigSources.discover(tmp_path, environ={}).home() == ("from-file", "cauce.toml")
    (tmp_path / ".env").write_text("CAUCE_HOME=from-dotenv\n")
    assert ConfigSources.discover(tmp_path, environ={}).home() == ("from-dotenv", ".env CAUCE_HOME")
    both = ConfigSources.discover(tmp_path, environ={"CAUCE_HOME": "from-env"})
    assert both.home() == ("from-env", "environment CAUCE_HOME")


def test_resource_urls_are_configured_per_app(tmp_path: Path) -> None:
    config = sources(tmp_path, {"CAUCE_DEMO_MAIN_URL": "sqlite:///env.db"},
                     cauce_toml='[apps.demo.resources]\nmain = "duckdb:///file.duckdb"\n'
                                'raw = "/data/raw"\n')
    assert config.resource_url("demo", "main") == ("sqlite:///env.db",
                                                   "environment CAUCE_DEMO_MAIN_URL")
    assert config.resource_url("demo", "raw") == ("/data/raw",
                                                  "cauce.toml [apps.demo.resources] raw")
    assert config.resource_url("demo", "other") is None


def test_every_setting_reads_as_an_attribute_even_when_named_like_a_method() -> None:
    app = App("demo")
    app.setting("source", list[str], default=["a.csv"])
    app.setting("description", str, default="d")
    settings = resolve(app.settings, ConfigSources(environ={}))
    assert (settings.source, settings["source"], settings.description) == (["a.csv"], ["a.csv"],
                                                                           "d")
    assert settings.origin("source") == "default"
    assert dict(settings) == {"source": ["a.csv"], "description": "d"}


@pytest.mark.parametrize("name", ["origin", "secrets", "keys", "get"])
def test_names_that_settings_need_for_themselves(name: str) -> None:
    with pytest.raises(DeclarationError,
                       match=f"setting name '{name}' is taken by ctx.settings itself"):
        App("demo").setting(name, str, default="x")


def test_settings_mask_secrets_when_shown() -> None:
    app = App("demo")
    app.setting("db", str, default="sqlite:///x.db")
    app.setting("token", str, secret=True, default="s3cr3t")
    app.setting("unset", str | None, secret=True, default=None)
    settings = resolve(app.settings, ConfigSources(environ={}))
    assert isinstance(settings, Settings)
    assert repr(settings) == "Settings(db='sqlite:///x.db', token=********, unset=None)"
    assert settings.secrets() == ["s3cr3t"]
    assert settings.public() == {"db": "sqlite:///x.db"}
    with pytest.raises(AttributeError, match="no setting named 'tokn'"):
        settings.tokn  # noqa: B018


def test_a_runtime_resolves_settings_before_anything_runs() -> None:
    app = App("demo")
    app.setting("db", str, help="target database URL")
    ran = []

    @app.job
    def load(ctx) -> None:
        ran.append(ctx.settings.db)

    with (pytest.raises(ConfigError, match="db \\(target database URL\\): missing"),
          TestRuntime(app)):
        pass
    assert app.runtime is None
    with TestRuntime(app, settings={"db": "sqlite:///t.db"}) as rt:
        rt.run(load)
        assert rt.settings.origin("db") == "option --db"
    assert ran == ["sqlite:///t.db"]


def test_the_test_runtime_ignores_the_developers_environment(monkeypatch) -> None:
    monkeypatch.setenv("CAUCE_DEMO_DB", "from-the-shell")
    app = App("demo")
    app.setting("db", str, default="default")
    with TestRuntime(app) as rt:
        assert rt.settings.db == "default"


def test_a_failed_start_leaves_no_temporary_home(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    app = App("demo")
    app.setting("db", str)
    with pytest.raises(ConfigError), TestRuntime(app):
        pass
    assert list(tmp_path.iterdir()) == []


def test_configure_changes_settings_for_what_runs_next(tmp_path: Path) -> None:
    app = App("demo")
    app.setting("portal", str, default="www.datos.gov.co", help="where to harvest")
    app.setting("limit", int, default=10, help="rows")
    seen: list[str] = []

    @app.job
    def look(ctx) -> None:
        seen.append(ctx.settings.portal)

    with TestRuntime(app, home=tmp_path / "home") as rt:
        rt.run(look)
        rt.configure(portal="http://127.0.0.1:8080")
        rt.run(look)
        assert rt.settings.origin("portal") == "option --portal"
        with pytest.raises(ConfigError):
            rt.configure(limit="many")
        assert rt.settings.limit == 10
    assert seen == ["www.datos.gov.co", "http://127.0.0.1:8080"]


def test_a_configuration_file_that_cannot_be_read_is_one_error(tmp_path: Path,
                                                               monkeypatch) -> None:
    (tmp_path / "cauce.toml").write_text("[apps.demo]\n")
    read_bytes = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self.name == "cauce.toml":
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError, match=r"cannot read .*cauce\.toml: Permission denied"):
        ConfigSources.discover(tmp_path, environ={})


@pytest.mark.parametrize(("name", "make", "said"), [
    ("cauce.toml", lambda p: p.mkdir(), "is a folder, not a file"),
    ("cauce.toml", lambda p: p.symlink_to(p.name),
     "is a link that leads back to itself (a loop of symbolic links)"),
    ("cauce.toml", lambda p: p.symlink_to("gone.toml"),
     "is a link to gone.toml, which does not exist"),
    (".env", lambda p: p.mkdir(), "is a folder, not a file"),
    (".env", lambda p: os.mkfifo(p), "is not a regular file (a device, a pipe or a socket)"),
])
def test_a_configuration_file_that_is_no_file_is_one_error_not_ignored(
        tmp_path: Path, name: str, make, said: str) -> None:
    # Path.is_file() is False for each of these: the file was skipped, and the settings it
    # was meant to hold quietly left at their defaults
    (tmp_path / "pyproject.toml").write_text('[tool.cauce]\nhome = "from-pyproject"\n')
    make(tmp_path / name)
    with pytest.raises(ConfigError) as info:
        ConfigSources.discover(tmp_path, environ={})
    assert str(info.value) == f"{tmp_path / name} {said}"


def test_environment_values_are_read_without_the_carriage_return_of_a_crlf_file(
        tmp_path: Path, warnings) -> None:
    # `set -a; . ./vars.env` or `docker --env-file` of a file with Windows line ends: each value
    # ended in \r, which went into the setting, the home folder's name, the state URL
    app = App("demo")
    app.setting("db", str, default="x")
    environ = {"CAUCE_DEMO_DB": "sqlite:///c.db\r", "CAUCE_HOME": "/srv/cauce\r\r",
               "CAUCE_DEMO_MAIN_URL": "/data/main\r"}
    config = ConfigSources.discover(tmp_path, environ=environ)
    assert resolve(app.settings, config).db == "sqlite:///c.db"
    assert config.home() == ("/srv/cauce", "environment CAUCE_HOME")
    assert config.resource_url("demo", "main") == ("/data/main",
                                                   "environment CAUCE_DEMO_MAIN_URL")
    warned = [message for message in warnings() if "carriage return" in message]
    assert warned == [f"environment {name} ends in a carriage return (set from a file with "
                      "Windows line ends?): read without it"
                      for name in ("CAUCE_DEMO_DB", "CAUCE_HOME", "CAUCE_DEMO_MAIN_URL")]


def test_dotenv_lines_with_a_nul_are_skipped_and_a_joined_files_mark_is_no_part_of_a_name(
        warnings) -> None:
    # the NUL went into the value (and a program given it refused the environment); the line
    # after the join was "'\ufeffB' is not a variable name", skipped
    assert parse_dotenv("A=x\x00y\n\ufeffB=2\nC=3\n") == {"B": "2", "C": "3"}
    assert warnings() == [".env line 1 skipped: it holds a NUL byte"]


def test_a_file_of_another_kind_saved_as_dotenv_says_ten_lines_and_counts_the_rest(
        warnings) -> None:
    assert parse_dotenv("id;name\n" * 1000 + "A=1\n") == {"A": "1"}
    said = warnings()
    assert said[:2] == [f".env line {n} skipped: it has no `=` (KEY=value)" for n in (1, 2)]
    assert said[10:] == [".env: 990 more lines skipped, none of them KEY=value either: is it "
                         "a .env file?"]


@pytest.mark.parametrize(("toml", "message"), [
    ('hme = "/srv/cauce"', "'hme' is no key cauce reads (did you mean home?)"),
    ('[app.demo]\ngreeting = "x"', "'app' is no key cauce reads (did you mean apps?)"),
    ('[demo]\ngreeting = "x"', "'demo' is no key cauce reads (settings of app demo go in "
     "[apps.demo])"),
    ("retries = 3", "'retries' is no key cauce reads (the keys are home, state, executor, "
     "buckets and [apps.APP] tables)"),
    ('"\ufeffhome" = "/srv/cauce"', "'\\ufeffhome' is no key cauce reads (did you mean home?)"),
])
def test_a_top_level_key_cauce_does_not_read_is_an_error_not_ignored(
        tmp_path: Path, toml: str, message: str) -> None:
    # each was ignored, and what it set left at its default: the home, the app's settings
    with pytest.raises(ConfigError) as info:
        sources(tmp_path, cauce_toml=toml + "\n")
    assert str(info.value) == f"cauce.toml: {message}"


def test_a_pyproject_tool_cauce_key_cauce_does_not_read_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^pyproject\.toml \[tool\.cauce\]: 'hme' is no key"):
        sources(tmp_path, pyproject_toml='[tool.cauce]\nhme = "/srv/cauce"\n')


def test_the_mark_of_a_file_joined_to_cauce_toml_is_no_part_of_it(tmp_path: Path) -> None:
    # `type base.toml local.toml > cauce.toml` of two Notepad files: "Invalid statement (at
    # line 3, column 1)"
    (tmp_path / "cauce.toml").write_bytes(b'\xef\xbb\xbfhome = "h"\n'
                                          b'\xef\xbb\xbf[apps.demo]\ngreeting = "x"\n')
    config = ConfigSources.discover(tmp_path, environ={})
    assert (config.home()[0], config.app_section("demo")) == ("h", {"greeting": "x"})


def test_a_nul_byte_in_cauce_toml_is_named_as_such(tmp_path: Path) -> None:
    # "Expected newline or end of document after a statement (at line 1, column 12)"
    (tmp_path / "cauce.toml").write_bytes(b'home = "h"\n[apps.demo]\x00\n')
    with pytest.raises(ConfigError) as info:
        ConfigSources.discover(tmp_path, environ={})
    assert str(info.value) == "cauce.toml holds a NUL byte on line 2"
    assert info.value.hint == (f"remove it from {tmp_path / 'cauce.toml'} (was the file cut "
                               "short, or joined with another?)")


@pytest.mark.parametrize(("toml", "message", "advice"), [
    ('home = "C:\\temp\\new"', "cauce.toml: home holds a tab, which no folder or URL has",
     ": a backslash starts an escape between double quotes; write a Windows path between "
     "single quotes ('C:\\temp\\new') or with forward slashes"),
    ('[apps.demo.resources]\ninbox = "D:\\new"', "cauce.toml: apps.demo.resources.inbox "
     "holds a line feed, which no folder or URL has", ": a backslash starts an escape between "
     "double quotes; write a Windows path between single quotes ('C:\\temp\\new') or with "
     "forward slashes"),
    ('home = "C:\\data\\cauce"', "cauce.toml is not valid TOML: Unescaped '\\' in a string (at "
     "line 1, column 13)", ": a backslash starts an escape between double quotes; write a "
     "Windows path between single quotes ('C:\\data') or with forward slashes"),
    ("[apps.demo]\ngreeting = hola", "cauce.toml is not valid TOML: Invalid value (at line 2, "
     "column 12)", ': text goes between quotes (name = "value")'),
])
def test_a_windows_path_between_double_quotes_is_caught_with_advice(
        tmp_path: Path, toml: str, message: str, advice: str) -> None:
    # "C:\temp\new" was the home C:<tab>emp<line feed>ew, quietly
    with pytest.raises(ConfigError) as info:
        sources(tmp_path, cauce_toml=toml + "\n")
    assert (str(info.value), info.value.hint) == (message,
                                                 f"fix {tmp_path / 'cauce.toml'}{advice}")


def test_a_windows_path_between_single_quotes_is_read_as_written(tmp_path: Path) -> None:
    assert sources(tmp_path, cauce_toml="home = 'C:\\temp\\new'\n").home()[0] == "C:\\temp\\new"


def test_a_cauce_variable_in_lower_case_in_dotenv_is_said(warnings) -> None:
    # on Windows, where variable names fold case, cauce_demo_db works in the shell; here it was
    # quietly no setting at all
    assert parse_dotenv("cauce_demo_db=x\nCAUCE_DEMO_DB=y\nOTHER_db=z\n") == {
        "cauce_demo_db": "x", "CAUCE_DEMO_DB": "y", "OTHER_db": "z"}
    assert warnings() == [".env line 1: cauce_demo_db is not CAUCE_DEMO_DB: cauce reads its "
                          "variables in upper case, as they are written"]


def test_a_configuration_file_too_large_to_be_one_is_refused_unread(tmp_path: Path,
                                                                    monkeypatch) -> None:
    # a data file saved as cauce.toml was read whole, decoded and parsed, gigabytes of it
    monkeypatch.setattr("cauce.settings.CONFIG_FILE_LIMIT", 100)
    (tmp_path / "cauce.toml").write_text("# x\n" * 30)
    with pytest.raises(ConfigError) as info:
        ConfigSources.discover(tmp_path, environ={})
    assert str(info.value) == (f"{tmp_path / 'cauce.toml'} is 120 bytes, more than such a file "
                               "ever is (100 at most)")


def test_a_dotenv_line_in_a_windows_shells_syntax_says_how_to_write_it(warnings) -> None:
    # "'set CAUCE_DEMO_DB' is not a variable name (letters, digits and _ ...)"
    assert parse_dotenv('set CAUCE_DEMO_DB=x\n$env:CAUCE_DEMO_DB="y"\n') == {}
    assert warnings() == [
        ".env line 1 skipped: 'set CAUCE_DEMO_DB' is cmd.exe's way to set a variable: write "
        "CAUCE_DEMO_DB=value",
        ".env line 2 skipped: '$env:CAUCE_DEMO_DB' is PowerShell's way to set a variable: write "
        "CAUCE_DEMO_DB=value"]


def test_a_quoted_value_over_several_lines_is_read_as_dotenv_reads_it(warnings) -> None:
    # a PEM key between quotes was its first line and a quote, its other lines skipped one by
    # one as having no `=` (the base64 line ending in `=` read as a variable)
    text = ('KEY="-----BEGIN PRIVATE KEY-----\r\nMIIBVgIBADANBgkqhkiG9w0B\r\n'
            'AQEFAASCAUAwggE8AgEA=\r\n-----END PRIVATE KEY-----"  # the key\r\n'
            'NOTE=\'one\n  two\'\nESC="a\\"\nb\\n"\n'
            'AFTER=1\n')
    assert parse_dotenv(text) == {
        "KEY": "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0B\nAQEFAASCAUAwggE8AgEA=\n"
               "-----END PRIVATE KEY-----",
        "NOTE": "one\n  two", "ESC": 'a"\nb\n', "AFTER": "1"}
    assert warnings() == []


def test_a_quote_left_open_takes_no_later_variable(warnings) -> None:
    # the next value's opening quote is not the one closing it: B and C stay variables
    assert parse_dotenv('A="open\nB=2\nC="c"\n') == {"A": '"open', "B": "2", "C": "c"}
    assert warnings() == [".env line 1: the quote opened in A's value is never closed: read as "
                          "part of the value"]
