"""`import cauce`, `cauce --help` and loading a bundled app stay light: the heavy libraries
load when first used.

Each case runs in a fresh interpreter and looks at ``sys.modules`` afterwards; the figures
themselves are in benchmarks/cli_startup.py and docs/benchmarks.md.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Libraries that cost tens of milliseconds each to import, and the stdlib modules that
# pull in a lot (asyncio, via fsspec; importlib.metadata scans every installed distribution).
HEAVY = (
    "adbc_driver_manager",
    "altair",
    "asyncio",
    "croniter",
    "ctypes",
    "duckdb",
    "fsspec",
    "httpx",
    "ibis",
    "importlib.metadata",
    "jinja2",
    "numpy",
    "pandas",
    "polars",
    "psycopg",
    "pyarrow",
    "pydantic",
    "sqlalchemy",
    "starlette",
    "uvicorn",
)
# What typer's rich help would add to `cauce --help` (markdown parsing, syntax colouring), and
# rich itself: the help is click's plain text, and cauce's output loads rich with its first line.
# Nor does it need the standard library's logging and json, which the commands use: they load
# them when they run (logging when a command starts, in cauce.cli.waits).
HEAVY_FOR_HELP = (*HEAVY, "json", "logging", "markdown_it", "pygments", "rich")
# What the help pages do not need of cauce itself: the runtime, the state backends, the app and
# resource declarations, settings, and click with the options built per app and job (typer parses
# the command line with its own copy). Each command imports them when it runs.
CAUCE_FOR_COMMANDS = (
    "cauce.app",
    "cauce.backends",
    "cauce.cli.execution",
    "cauce.cli.options",
    "cauce.logs",
    "cauce.resources",
    "cauce.runs",
    "cauce.runtime",
    "cauce.settings",
    "click",
)

IMPORT = "import cauce"
HELP = """
import contextlib, io
from cauce.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as shown:
    assert main(["--help"]) == 0
assert "Usage:" in shown.getvalue()
"""


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    report = "\nimport sys\nprint(*sys.modules)"  # names hold no spaces; as JSON, json would load
    done = subprocess.run(
        [sys.executable, "-c", code + report], capture_output=True, text=True, check=True
    )
    return set(done.stdout.splitlines()[-1].split())


@pytest.mark.parametrize(
    ("code", "heavy"),
    [(IMPORT, (*HEAVY, *CAUCE_FOR_COMMANDS)), (HELP, (*HEAVY_FOR_HELP, *CAUCE_FOR_COMMANDS))],
    ids=["import cauce", "cauce --help"],
)
def test_no_heavy_module_is_imported(code: str, heavy: tuple[str, ...]) -> None:
    loaded = loaded_after(code)
    assert "cauce" in loaded
    assert sorted(set(heavy) & loaded) == []

# A command that looks at a home's state (`cauce runs`, `logs`, `queues`, `dlq`) parses its
# options and reads SQLite: typer 0.29 and later check every option through pydantic, about 0.15 s
# more per command, which is why pyproject.toml keeps typer below 0.29.
RUNS = """
import contextlib, io
from cauce.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as shown:
    assert main(["--home", {home!r}, "runs", "--limit", "5", "--status", "failed"]) == 0
"""


def test_a_state_command_parses_its_options_without_heavy_modules(tmp_path) -> None:
    from cauce.backends.state import open_state, sqlite_url

    open_state(sqlite_url(tmp_path / "state.db")).close()
    loaded = loaded_after(RUNS.format(home=str(tmp_path)))
    assert "cauce.cli.runs" in loaded
    assert sorted(set(HEAVY) & loaded) == []


# A SQLite warehouse binds its values and loads its rows without pyarrow.dataset (which ADBC's
# DB-API module imports) and without pandas (which pyarrow's conversion of Python values imports
# when it is installed): about 0.4 s of every process that opens one.
SQLITE_LOAD = """
import polars as pl
from cauce.warehouse import Checkpoint, connect
with connect("sqlite:///{path}") as warehouse:
    warehouse.load("t", pl.DataFrame({{"a": [1, 2]}}), checkpoint=Checkpoint("t", {{"n": 2}}))
    assert warehouse.query("SELECT count(*) FROM t WHERE a > ?", [0]).column(0)[0].as_py() == 2
    assert warehouse.checkpoint("t") == {{"n": 2}}
"""


def test_a_sqlite_warehouse_loads_without_pandas(tmp_path) -> None:
    loaded = loaded_after(SQLITE_LOAD.format(path=tmp_path / "w.db"))
    assert "cauce.warehouse.sqlite" in loaded
    assert sorted({"pandas", "pyarrow.dataset"} & loaded) == []


# Loading an app's declarations (`cauce apps`, `cauce run APP JOB --help`, every worker's start)
# reads the entry points (importlib.metadata) and checks cron expressions as they are declared
# (croniter); the data libraries wait for the first run that needs them.
HEAVY_FOR_APPS = (*(m for m in HEAVY if m not in ("croniter", "importlib.metadata")), "pyspark")
BUNDLED_APPS = ("census", "contracting", "example", "opendata", "transit")
LOAD_APP = """
from cauce.cli.loading import load_app
app, _ = load_app({name!r})
assert app.name == {name!r} and app.jobs
"""


@pytest.mark.parametrize("name", BUNDLED_APPS)
def test_no_heavy_module_is_imported_by_loading_an_app(name: str) -> None:
    loaded = loaded_after(LOAD_APP.format(name=name))
    assert f"cauce.apps.{name}" in loaded
    assert sorted(set(HEAVY_FOR_APPS) & loaded) == []


def test_the_check_sees_a_heavy_import() -> None:
    assert "pyarrow" in loaded_after("import cauce.warehouse.base")


def test_public_names_still_resolve_when_first_used() -> None:
    loaded = loaded_after("import cauce\nassert cauce.Runtime.__name__ == 'Runtime'")
    assert "cauce.runtime.runtime" in loaded
    import cauce

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        cauce.nothing  # noqa: B018


def test_help_of_a_job_still_builds_its_options_with_click() -> None:
    code = HELP.replace('["--help"]', '["run", "example", "heartbeat", "--help"]')
    assert {"click", "cauce.cli.execution", "cauce.runtime"} <= loaded_after(code)


def test_warehouse_names_still_resolve_when_first_used() -> None:
    loaded = loaded_after("import cauce.warehouse as w\nassert callable(w.connect)")
    assert {"cauce.warehouse.urls", "pyarrow"} <= loaded
    import cauce.warehouse

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        cauce.warehouse.nothing  # noqa: B018
