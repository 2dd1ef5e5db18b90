"""The census app: the Adult census files loaded typed, validated and chunked, exactly once.

`cauce run census load` commits the next 1,630 records of Adult.data then Adult.test (valid
rows to the table, the others to `<table>_rejected` with their reason) together with the
cursor; `cauce serve census` does it every 10 seconds until every row is in, then pauses the
schedule. The table follows the `Description` file: the `description` setting, else the one
next to the first local source, else the original's (downloaded once). `demo-data` writes
synthetic files with the real files' quirks and their Description, `report` writes an HTML
report with one chart per breakdown. See README.md next to this file.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any

from annotated_types import Ge, Interval

from cauce import (
    App,
    CauceError,
    CheckpointConflict,
    Context,
    Duration,
    RunCancelled,
    Runtime,
    causes,
)
from cauce.apps.census.description import DESCRIPTION_FILE, Description, read_description
from cauce.apps.census.report import warehouse_sections, write_census_report
from cauce.apps.census.sources import (
    DATA,
    DATA_ROWS,
    DEFAULT_SOURCES,
    DESCRIPTION,
    SYNTHETIC_MAX_ROWS,
    TEST_ROWS,
    Advice,
    SourceFile,
    description_origin,
    fetch,
    is_url,
    source_name,
)
from cauce.reports import Section, writing_into
from cauce.textfiles import check_encoding

# The loader and the synthetic files (Polars, NumPy) load when a job first runs: declaring the
# app (`cauce apps`, every worker's start) imports neither. (`report` is imported above, before
# the job of that name, which would otherwise be replaced by the submodule on its first import.)
if TYPE_CHECKING:
    from cauce.apps.census.loader import ChunkResult, LoadState

app = App(
    "census",
    timezone="America/Sao_Paulo",
    description="Adult census files into SQL: typed, validated, 1,630 rows every 10 s, once",
)

db = app.setting(
    "db", str, default="sqlite:///census.db",
    help="target database: sqlite:///file.db (relative to the current folder, not the home; "
    "sqlite:////abs/file.db is absolute), postgresql://user@host:port/db, duckdb:///file.duckdb",
)
table = app.setting(
    "table", str, default="adult", help="table of valid rows (quarantine: <table>_rejected)"
)
chunk_size = app.setting(
    "chunk_size", int, default=1630, help="records committed per scheduled run"
)
every = app.setting(
    "every", Annotated[Duration, Ge(0)], default="10s",
    help="how often `cauce serve` loads the next chunk; 0 loads everything in one run",
)
source = app.setting(
    "source", list[str], default=list(DEFAULT_SOURCES),
    help="data files in load order: local paths or http(s) URLs (downloaded once)",
)
description_file = app.setting(
    "description", str | None, default=None,
    help="the Description file the table follows: a path or http(s) URL (default: the file "
    "named Description next to the first local source, else the original's, downloaded once)",
)

encoding = app.setting(
    "encoding", str | None, default=None,
    help="text encoding of the data files and the Description, e.g. utf-8, cp1252, latin-1 "
    "(default: detected; a byte-order mark is always dropped)",
)

target = app.warehouse("target", url=db)
downloads = app.bucket("sources")

@app.job(every=every, retries=2)
def load(
    ctx: Context, all: Annotated[bool, "load every remaining record in this run"] = False
) -> dict[str, Any]:
    """Load the next chunk of records (all of them with --all, or when --every is 0)."""
    from cauce.apps.census.loader import load_chunk

    settings = ctx.settings
    text_encoding = _encoding(ctx)
    files = _fetch_sources(ctx, settings["source"])
    schema, description = _description(ctx)
    at_once = all or settings["every"] == 0
    try:
        size = None if at_once else settings["chunk_size"]
        result = load_chunk(
            target, description, settings["table"], files, size, text_encoding, schema,
            progress=_progress_until_cancelled(ctx), waiting=ctx.log.info,
        )
    except CheckpointConflict:
        ctx.log.warning("another run committed this chunk first; nothing was loaded twice")
        return {"conflict": True}
    except MemoryError as err:
        # nothing of the chunk was committed: a run with less to hold loads it
        raise CauceError(
            "out of memory loading " + ("every remaining record at once" if size is None
                                        else f"a chunk of {size:,} records"),
            hint=("load in chunks: leave out --all (and --every 0), each run then loads "
                  f"--chunk-size records ({settings['chunk_size']:,}); " if size is None
                  else "a smaller --chunk-size; ") + causes.memory().reason) from err
    if not result.committed and result.state.cursor is None:
        raise CauceError(
            "there is no record to load: " + ", ".join(
                f"{f['name']} has {f['lines']:,} lines ({f['blank_lines']:,} blank, "
                f"{f['comment_lines']:,} comment)" for f in result.sources),
            hint="pass the Adult files with --source path/to/Adult.data --source "
            "path/to/Adult.test",
        )
    _log_report(ctx, result)
    if result.state.done:
        totals = result.state.totals
        ctx.pause_schedule(
            f"all {totals.read:,} records are processed in {target.resolved_url} "
            f"({totals.loaded:,} loaded, {totals.quarantined:,} quarantined); nothing left "
            "to load there"
        )
    return {**result.report(), "description": {"origin": schema.origin, "sha256": schema.sha256}}


@app.job(run_at_start=True)
def start(ctx: Context) -> dict[str, Any]:
    """What `cauce serve` does first: when the target table's load is not finished, load a
    first chunk now (everything when --every is 0) and let the schedule go on, even if a
    finished load into another database paused it."""
    settings = ctx.settings
    state = _load_state(settings["table"])
    if state.done:
        ctx.log.info("the load into %s is finished; nothing to start", target.resolved_url)
        return {"started": False, "resumed": False}
    resumed = ctx.resume_schedule(load)
    run_id = ctx.submit(load)
    ctx.log.info("loading into %s: run %s queued", target.resolved_url, run_id)
    return {"started": True, "resumed": resumed, "run": run_id}


@app.job(name="demo-data")
def demo_data(
    ctx: Context,
    out: Annotated[str, "folder to write Adult.data, Adult.test and Description to"] = (
        "census-data"
    ),
    data_rows: Annotated[int, "records in Adult.data",
                         Interval(ge=0, le=SYNTHETIC_MAX_ROWS)] = DATA_ROWS,
    test_rows: Annotated[int, "records in Adult.test",
                         Interval(ge=0, le=SYNTHETIC_MAX_ROWS)] = TEST_ROWS,
    seed: Annotated[int, "seed of the synthetic records (same seed, same files)", Ge(0)] = 1994,
) -> dict[str, Any]:
    """Write synthetic Adult.data and Adult.test with the quirks of the real files, and their
    Description, so that a load of them needs no network."""
    from cauce.apps.census.synth import write_synthetic

    with writing_into(out) as folder:
        files = write_synthetic(folder, data_rows=data_rows, test_rows=test_rows, seed=seed)
    for file in files:
        ctx.log.info(
            "wrote %s: %s records, %s duplicates, letters injected at %s", file.path,
            f"{file.rows:,}", file.duplicates,
            ", ".join(f"line {i.line} ({i.column})" for i in file.injections) or "no line",
        )
    ctx.log.info("wrote %s: the columns, listed values and class shares the files follow",
                 folder / DESCRIPTION_FILE)
    # quoted for the shell, so that the command runs as printed from any folder name
    sources = " ".join(f"--source {shlex.quote(str(file.path))}" for file in files)
    return {
        "files": [str(file.path) for file in files],
        "description": str(folder / DESCRIPTION_FILE),
        "next": f"cauce run census load {sources} --all",
    }


@app.job
def report(
    ctx: Context, out: Annotated[str, "folder for index.html and its charts"] = "census-report"
) -> dict[str, Any]:
    """Write the HTML report (one SVG chart per breakdown) and check the class distribution."""
    settings = ctx.settings
    name = settings["table"]
    state = _load_state(name)
    if state.cursor is None:
        raise CauceError(
            f"nothing is loaded in {name!r} in {target.resolved_url} yet",
            hint="run `cauce run census load --all` (with your --source and --db) first, "
            "or pass the --db and --table the load used",
        )
    _, description = _description(ctx, state.description)
    with writing_into(out) as folder:
        checks = write_census_report(folder, target, description, name, state)
    for check in checks:
        ctx.log.info("%s", check.sentence())
    ctx.log.info("report written to %s", folder / "index.html")
    return {
        "report": str(folder / "index.html"),
        "class_distribution": [
            {"check": c.label,
             "measured": None if c.measured is None else round(c.measured, 4),
             "stated": c.stated,
             "matches": c.matches}
            for c in checks
        ],
    }


@app.dashboard
def dashboard(rt: Runtime) -> list[Section]:
    """Live in `cauce ui`: the income-share breakdowns and the quarantine, as loaded now."""
    name = rt.settings["table"]
    state = _checkpoint(name)
    if not state:
        return [Section("Nothing loaded yet", html="<p>Run <code>cauce run census load</code> "
                        "(or <code>cauce serve census</code>) to fill the table.</p>")]
    breakdowns, quarantine = warehouse_sections(target, name)
    return [*breakdowns, quarantine]


DEMO_DATA = "census-data"


@app.demo(settings={
    "every": "1s",
    "chunk_size": 5000,
    "source": [f"{DEMO_DATA}/Adult.data", f"{DEMO_DATA}/Adult.test"],
})
def demo(rt: Runtime) -> list[str]:
    """Synthetic files loaded on a 1-second schedule (5,000 records a run), then the report."""
    rt.run(demo_data, out=DEMO_DATA)
    name = rt.settings["table"]

    def loaded() -> bool:
        state = _checkpoint(name)
        return bool(state and state["done"])

    rt.serve(until=loaded, timeout="120s")
    if not loaded():
        raise CauceError("the demo load did not finish within 120 s")
    state = _load_state(name)
    runs = [run for run in rt.runs(job=load) if run.result and run.result["chunk"]["read"]]
    checked = rt.run(report, out="census-report")
    if checked.error:
        raise CauceError(f"the census report failed: {checked.error}")
    totals = state.totals
    database = shlex.quote(str(rt.home / "census.db"))  # copied into a shell as it is
    return [
        f"{totals.read:,} synthetic records in {len(runs)} scheduled runs of "
        f"{rt.settings['chunk_size']:,}: {totals.loaded:,} loaded, {totals.quarantined:,} "
        f"quarantined ({', '.join(totals.reasons)})",
        f"report: {rt.home / checked.result['report']}",
        f"tables: sqlite3 {database} 'SELECT * FROM {name}_income_by_education'",
        f"quarantine: sqlite3 {database} 'SELECT * FROM {name}_rejected'",
    ]


def _checkpoint(table: str) -> dict[str, Any] | None:
    """The warehouse checkpoint holding the load state of ``table``, None before any load."""
    from cauce.apps.census.loader import checkpoint_name

    return target.checkpoint(checkpoint_name(table))


def _load_state(table: str) -> LoadState:
    """The load state of ``table`` in the target warehouse (empty before any load)."""
    from cauce.apps.census.loader import LoadState

    return LoadState.from_json(_checkpoint(table))


def _description(
    ctx: Context, followed: dict[str, str] | None = None
) -> tuple[SourceFile, Description]:
    """The Description file the run follows, fetched and parsed: the `description` setting;
    else the one the load `followed` (the report's case: read again from where the load
    read it, or from the copy of its download); else see `description_origin`."""
    given = ctx.settings["description"]
    if not given and followed:
        origin = followed["origin"]
    else:
        origin = description_origin(given, ctx.settings["source"])
    file = _fetch(ctx, origin, DESCRIPTION)
    if followed and file.origin == followed["origin"] and file.sha256 != followed["sha256"]:
        ctx.log.warning(
            "the Description at %s changed since the load (sha256 %s, the load's %s)",
            origin, file.sha256[:12], followed["sha256"][:12],
        )
    return file, read_description(file.data, origin, _encoding(ctx))


def _encoding(ctx: Context) -> str | None:
    """The --encoding setting checked (an unknown name fails before any work), or None."""
    given = ctx.settings["encoding"]
    return check_encoding(given) if given else None


def _fetch_sources(ctx: Context, origins: list[str]) -> list[SourceFile]:
    """Every source, in order: local files read and hashed side by side (hashing releases
    the GIL), downloads one after the other, each with its own progress."""
    with ThreadPoolExecutor(thread_name_prefix="census-fetch") as pool:
        local = {
            index: pool.submit(fetch, origin, downloads)
            for index, origin in enumerate(origins)
            if not is_url(origin)
        }
        return [
            _logged(ctx, origin, local[index].result()) if index in local
            else _fetch(ctx, origin)
            for index, origin in enumerate(origins)
        ]


def _progress_until_cancelled(ctx: Context) -> Callable[[int, int], None]:
    """Hears of each batch written; once the run is asked to stop (Ctrl-C, `cauce runs
    cancel`), it stops the load before the commit, so a cancelled run loads nothing instead of
    committing its chunk while saying it was cancelled."""

    def progress(done: int, total: int) -> None:
        ctx.progress(done, total, "records loaded")
        if ctx.cancelled:
            raise RunCancelled(
                "interrupted before the chunk was committed: nothing of it was loaded; the "
                "next run loads it"
            )

    return progress


def _fetch(ctx: Context, origin: str, advice: Advice = DATA) -> SourceFile:
    name = source_name(origin)

    def progress(done: int, total: int | None) -> None:
        ctx.progress(done, total, label=f"downloading {name}")

    return _logged(ctx, origin, fetch(origin, downloads, progress=progress, advice=advice))


def _logged(ctx: Context, origin: str, file: SourceFile) -> SourceFile:
    verb = "downloaded" if file.downloaded else "read"
    ctx.log.info("%s %s: %s bytes, sha256 %s", verb, origin, f"{len(file.data):,}", file.sha256)
    return file


def _log_report(ctx: Context, result: ChunkResult) -> None:
    """The end-of-load report in the run's log: this chunk, then the totals so far."""
    chunk, totals = result.chunk, result.state.totals
    for source in result.sources:
        ctx.log.info(
            "%s: %s lines: %s records, %s comment, %s blank", source["name"],
            f"{source['lines']:,}", f"{source['records']:,}", source["comment_lines"],
            source["blank_lines"],
        )
    if not result.committed:
        ctx.log.info("nothing left to load: every record was processed by earlier runs")
    else:
        ctx.log.info(
            "chunk: %s records read, %s loaded, %s quarantined; cursor %s line %s",
            f"{chunk.read:,}", f"{chunk.loaded:,}", f"{chunk.quarantined:,}",
            result.state.cursor.source, result.state.cursor.line,
        )
    ctx.log.info(
        "total: %s records read, %s loaded (%s exact duplicates flagged), %s quarantined, "
        "%s left", f"{totals.read:,}", f"{totals.loaded:,}", f"{totals.duplicates:,}",
        f"{totals.quarantined:,}", f"{result.remaining:,}",
    )
    for name, counts in totals.files.items():
        ctx.log.info(
            "  %s: %s read, %s loaded, %s quarantined", name, f"{counts['read']:,}",
            f"{counts['loaded']:,}", f"{counts['quarantined']:,}",
        )
    for reason, count in totals.reasons.items():
        ctx.log.info("  quarantined because %s: %s", reason, f"{count:,}")
