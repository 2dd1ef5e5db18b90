"""The transit app: ADATRAP Miner on cauce, with an open engine and a synthetic city.

`cauce run transit synth --scale tiny --date 2021-04-22` writes a synthetic day into the input
buckets; `cauce run transit adatrap --partition 2021-04-22` processes a day (the open engine by
default, `--engine adatrap --executable pvmtsc_v0.2.exe` for the closed one); `cauce serve
transit` submits a day once, as soon as all five of its inputs have arrived.
"""

from __future__ import annotations

import contextlib
import math
import shlex
import shutil
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from annotated_types import Ge, Gt, Lt

from cauce import (
    App,
    CauceError,
    CommandTimeout,
    ConditionFailed,
    Context,
    InvalidKey,
    ObjectRef,
    RunCancelled,
    RunStatus,
    Runtime,
    daily,
)

from .params import decode_par, default_par_text, parse_par
from .pipeline import (
    EXECUTABLE_TIMEOUT_S,
    PreparedDay,
    executable_argv,
    pack_outputs,
    prepare_day,
    resolve_day,
)
from .resolve import GPS, PO, RUNS, SERVICE_DETAIL, TRANSACTIONS

# The engine, the synthetic city and the accuracy check (Polars, NumPy, DuckDB) load when a run
# needs them: declaring the app (`cauce apps`, each process worker's start) imports none of them.
if TYPE_CHECKING:
    import polars as pl

    from .accuracy import Accuracy

app = App("transit", timezone="America/Santiago",
          description="ADATRAP Miner: a day of bus GPS and bip! transactions into stages, trips, "
                      "OD and load profiles")

_bucket_help = "folder or s3:// location of the {} bucket (default: under the cauce home)"
gps_url = app.setting("gps_bucket", str | None, default=None, help=_bucket_help.format("GPS"))
po_url = app.setting("po_bucket", str | None, default=None,
                     help=_bucket_help.format("operation programme (po.zip)"))
runs_url = app.setting("file_196_bucket", str | None, default=None,
                       help=_bucket_help.format("1.96 report"))
trx_url = app.setting("transaction_bucket", str | None, default=None,
                      help=_bucket_help.format("transactions"))
detail_url = app.setting("service_detail_bucket", str | None, default=None,
                         help=_bucket_help.format("zona-paga service detail"))
output_url = app.setting("output_bucket", str | None, default=None,
                         help=_bucket_help.format("output (YYYY-MM-DD.zip)"))
app.setting("engine", str, default="cauce",
            help="which engine processes a day: cauce (the open one) or adatrap (the executable)")
app.setting("executable", str | None, default=None,
            help="the ADATRAP executable: a path, or a key of the executables bucket")
app.setting("par", str | None, default=None,
            help="the .par file: a path or a key of the executables bucket (default: v0.2 layout)")
app.setting("launcher", str, default="",
            help="command put before the executable, e.g. 'wine' to run the .exe on Linux")
# a walk cap or weight that is negative, NaN or infinite is refused when settings are read
# (NaN and infinity are not below infinity; pydantic, which reads them, is not imported here)
FINITE = Lt(math.inf)
app.setting("walk_cap_m", Annotated[float, Gt(0), FINITE], default=1000.0,
            help="farthest walk from an alighting to the next boarding, metres")
app.setting("walk_weight", Annotated[float, Ge(0), FINITE], default=2.0,
            help="weight of walking time against in-vehicle time when choosing an alighting")

watch_inputs = app.setting(
    "watch_inputs", str | None, default=None,
    help="how often `cauce serve` looks for input files that other programs put in the input "
    "buckets, e.g. 5m (default: off; files put through cauce are seen at once)",
)
gps_bucket = app.bucket("gps", url=gps_url, watch=watch_inputs)
po_bucket = app.bucket("po", url=po_url, watch=watch_inputs)
runs_bucket = app.bucket("file196", url=runs_url, watch=watch_inputs)
trx_bucket = app.bucket("transactions", url=trx_url, watch=watch_inputs)
detail_bucket = app.bucket("service-detail", url=detail_url, watch=watch_inputs)
output_bucket = app.bucket("output", url=output_url)
executables = app.bucket("executables")
truth_bucket = app.bucket("truth")
submitted = app.table("submitted-days", key="day")
warehouse = app.warehouse("analysis")

#: the days the adatrap job processes (synth refuses to generate a day before them)
DAYS = daily(start="2018-01-01")
INPUT_BUCKETS = {SERVICE_DETAIL: detail_bucket, GPS: gps_bucket, RUNS: runs_bucket,
                 TRANSACTIONS: trx_bucket, PO: po_bucket}
WAREHOUSE_TABLES = ("stages", "trips", "od_zone", "od_comuna", "profiles")


@app.job()
def synth(
    ctx: Context,
    scale: Annotated[Literal["tiny", "small", "santiago"],
                     "city size: tiny, small or santiago (a full day, about a minute)"] = "tiny",
    date: Annotated[str, "the service day to generate, YYYY-MM-DD"] = "2021-04-22",
    seed: Annotated[int, "seed of the synthetic city and day (same seed, same files)", Ge(0)] = 1,
) -> dict[str, Any]:
    """Generate a synthetic city and day (tiny|small|santiago) into the input buckets."""
    from .synth.day import generate_day

    day = DAYS.parse(date)  # a key as `adatrap --partition` takes it, or why it is none
    if day < DAYS.start:
        raise CauceError(f"{day} is before the first day adatrap processes ({DAYS.start})",
                         hint=f"generate a day from {DAYS.start} on")
    par = _par_file(ctx)
    folder = ctx.workdir / "synth"
    ctx.log.info("generating a %s day for %s (seed %d)", scale, day, seed)
    generated = generate_day(scale, day, seed, parse_par(par), folder,
                             progress=_synth_progress(ctx))
    files = generated.files
    for bucket, key in ((po_bucket, files.po), (detail_bucket, files.service_detail),
                        (runs_bucket, files.runs), (trx_bucket, files.transactions),
                        (truth_bucket, files.truth), (gps_bucket, files.gps)):
        bucket.put_file(key, folder / key, move=True)
        ctx.log.info("wrote %s to bucket '%s'", key, bucket.name)
    ctx.log.info("generated: %s", ", ".join(f"{k} {v:,}" for k, v in generated.counts.items()))
    return {"day": day.isoformat(), "scale": scale, **generated.counts,
            "seconds": generated.seconds}


def _synth_progress(ctx: Context) -> Callable[[int, int, str], None]:
    """Report the generator's steps, and stop it at the first step after a Ctrl-C (`cauce runs
    cancel`): the last step ends before any file is put, so a cancelled day leaves the input
    buckets as they were, never part of a new day beside part of an older one."""
    def progress(done: int, total: int, label: str) -> None:
        ctx.progress(done, total, f"synth: {label}")
        if ctx.cancelled:
            raise RunCancelled("cancelled while generating the day: nothing was put in the input "
                               "buckets")
    return progress


@app.job(partitions=DAYS, worker="process", retries=0)
def adatrap(
    ctx: Context,
    dry_run: Annotated[bool, "fetch the inputs and write the parameter file, but do not "
                       "process (the original's `execute-adatrap --debug`)"] = False,
    engine: Annotated[str | None, "cauce (the open engine) or adatrap (the executable) "
                      "[default: the engine setting]"] = None,
    executable: Annotated[str | None, "the ADATRAP executable for --engine adatrap: a path, or "
                          "a key of the executables bucket [default: the executable setting]"
                          ] = None,
    par: Annotated[str | None, "the parameter file (.par): a path or a key of the executables "
                   "bucket [default: the par setting, else the v0.2 layout]"] = None,
) -> dict[str, Any]:
    """Process one day: fetch its inputs, run the engine, zip the outputs to the output bucket.

    --dry-run does everything but the processing (the original's `execute-adatrap --debug`)."""
    day = ctx.partition_date
    assert day is not None
    which = engine or ctx.settings["engine"]
    if which not in ("cauce", "adatrap"):
        raise CauceError(f"unknown engine {which!r}", hint="use --engine cauce or adatrap")
    ctx.log.info("starting the ADATRAP process for %s (engine: %s)", day, which)
    prepared = prepare_day(INPUT_BUCKETS, day, ctx.workdir, _par_file(ctx, par),
                           say=ctx.log.info)
    if dry_run:
        ctx.log.info("dry run: inputs and %s ready, the engine is not run", prepared.par_path.name)
        return {"day": day.isoformat(), "dry_run": True, "inputs": prepared.inputs.keys}
    result: dict[str, Any] = {"day": day.isoformat(), "engine": which,
                              "inputs": prepared.inputs.keys}
    tables: dict[str, Path] = {}
    if which == "adatrap":
        _run_executable(ctx, prepared, executable)
    else:
        summary, tables = _run_open_engine(ctx, prepared)
        result.update(summary)
    # the last check: from here on the day is published, and all of it
    _stop_if_cancelled(ctx)
    zip_path = pack_outputs(prepared)
    if tables:
        result["warehouse"] = _publish_tables(day, tables)
    output_bucket.put_file(zip_path.name, zip_path, move=True)
    ctx.log.info("outputs uploaded: %s to bucket '%s'", zip_path.name, output_bucket.name)
    result["output"] = zip_path.name
    # a day processed (by hand or not) is not submitted again when its files arrive later
    with contextlib.suppress(ConditionFailed):
        submitted.put({"day": day.isoformat(), "by": f"run {ctx.run_id}"}, if_absent=True)
    return result


def _run_executable(ctx: Context, prepared: PreparedDay, executable: str | None) -> None:
    name = executable or ctx.settings["executable"]
    if not name:
        raise CauceError("no ADATRAP executable configured",
                         hint="pass --executable pvmtsc_vX.exe or set the `executable` setting")
    path = _local_file(ctx, name, "executable")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    argv = executable_argv(ctx.settings["launcher"], path, prepared.par_path)
    ctx.log.info("running %s", " ".join(argv))
    try:
        ctx.run_command(argv, timeout=EXECUTABLE_TIMEOUT_S, cwd=prepared.workdir)
    except CommandTimeout:
        raise CauceError(f"the ADATRAP process did not finish within "
                         f"{EXECUTABLE_TIMEOUT_S // 60} minutes (1:15 h)",
                         hint="the original's limit; the outputs were not uploaded") from None


def _run_open_engine(ctx: Context, prepared: PreparedDay
                     ) -> tuple[dict[str, Any], dict[str, Path]]:
    """Process the day with the open engine: its summary, and its tables (Parquet files) to
    publish once the run is sure not to be cancelled."""
    from .engine.run import Cancelled, EngineSettings, run_engine
    from .engine.stages import StageSettings

    settings = EngineSettings(stages=StageSettings(walk_cap_m=ctx.settings["walk_cap_m"],
                                                   walk_weight=ctx.settings["walk_weight"]))
    parquet_dir = ctx.workdir / "parquet"
    try:
        result = run_engine(prepared.par, prepared.workdir, prepared.day, settings=settings,
                            parquet_dir=parquet_dir, cancelled=lambda: ctx.cancelled,
                            progress=lambda done, total, label: ctx.progress(
                                done, total, f"engine: {label}"))
    except Cancelled as stop:
        raise RunCancelled(str(stop)) from None
    except KeyboardInterrupt:
        # Polars stops a query at the Ctrl-C that asked the run to stop, with its own
        # KeyboardInterrupt: the run is cancelled, not left running by a process gone
        if not ctx.cancelled:
            raise
        raise RunCancelled("cancelled in the middle of a processing step") from None
    _stop_if_cancelled(ctx)
    for reason, count in sorted(result.rejects.items()):
        ctx.log.warning("unusable rows: %s: %d", reason, count)
    day = prepared.day.isoformat()
    summary: dict[str, Any] = {"rows": result.rows, "rejects": result.rejects,
                               "seconds": result.seconds}
    truth_key = f"{day}.truth.parquet"
    if truth_bucket.exists(truth_key):
        accuracy = _accuracy(result.stages, truth_bucket.path(truth_key), prepared)
        for line in accuracy.lines():
            ctx.log.info("accuracy against the synthetic truth: %s", line)
        summary["accuracy"] = accuracy.as_dict()
    return summary, result.parquet


def _publish_tables(day: date, tables: dict[str, Path]) -> dict[str, int]:
    """Put the day's tables in the output bucket (`parquet/DAY/`) and load the warehouse."""
    for path in tables.values():
        output_bucket.put_file(f"parquet/{day.isoformat()}/{path.name}", path)
    return _load_warehouse(day, tables)


def _stop_if_cancelled(ctx: Context) -> None:
    """Between processing and publishing: a run asked to stop (Ctrl-C, `cauce runs cancel`)
    publishes nothing, rather than uploading the day and then saying it was cancelled."""
    if ctx.cancelled:
        raise RunCancelled("cancelled before the day's outputs were published: nothing was "
                           "uploaded or loaded")


def _accuracy(stages: pl.DataFrame, truth_path: Path, prepared: PreparedDay) -> Accuracy:
    import polars as pl

    from .accuracy import TRUTH_COLUMNS, evaluate, metro_neighbour_pairs
    from .engine.network import load_network
    from .metro import MetroTiming

    network = load_network(prepared.workdir, prepared.par, prepared.day, MetroTiming())
    route_stops = network.route_stops.join(network.routes.select("route_idx", "route"),
                                           on="route_idx").select("route", "seq", "stop")
    estimated = stages.with_columns(pl.col("stop_alight").alias("alight_stop"))
    return evaluate(estimated, pl.read_parquet(truth_path, columns=TRUTH_COLUMNS), route_stops,
                    metro_neighbour_pairs(network.stations, network.metro_lines))


def _load_warehouse(day: date, parquet: dict[str, Path]) -> dict[str, int]:
    """Replace the day's rows of each analysis table, all tables in one transaction."""
    import polars as pl

    loaded = {}
    with warehouse.transaction() as tx:
        for name in WAREHOUSE_TABLES:
            if name not in parquet:
                continue
            if warehouse.table_exists(name):
                tx.execute(f"DELETE FROM {warehouse.quote(name)} WHERE day = ?", [day])
            loaded[name] = tx.load(name, pl.read_parquet(parquet[name]))
    return loaded


@app.on(gps_bucket, suffix=".gps.gz", name="gps-arrived")
@app.on(runs_bucket, suffix=".196.gz", name="196-arrived")
@app.on(trx_bucket, suffix=".trx.gz", name="transactions-arrived")
@app.on(po_bucket, suffix=".po.zip", name="po-arrived")
@app.on(detail_bucket, suffix=".csv.gz", name="service-detail-arrived")
def on_input(obj: ObjectRef, ctx: Context) -> list[str]:
    """Submit, once, every day whose five inputs are now all in.

    A daily file concerns its own day; a PO or a service-detail file may complete any day whose
    GPS file is already there."""
    if obj.bucket_name in (po_bucket.name, detail_bucket.name):
        named = sorted((ref.key, gps_bucket.name) for ref in gps_bucket.list()
                       if ref.key.endswith(".gps.gz"))
    else:
        named = [(obj.key, obj.bucket_name)]
    submitted_runs = []
    for key, bucket in named:
        try:
            day = date.fromisoformat(key[:10])
        except ValueError:
            ctx.log.warning("ignoring %s in bucket '%s': its name does not start with a date "
                            "(YYYY-MM-DD)", key, bucket)
            continue
        try:
            resolve_day(INPUT_BUCKETS, day)
        except CauceError as missing:
            ctx.log.info("%s arrived; still waiting: %s", obj.key, missing)
            continue
        try:
            submitted.put({"day": day.isoformat(), "by": obj.key}, if_absent=True)
        except ConditionFailed:
            continue
        run_id = ctx.submit(adatrap, partition=day.isoformat())
        ctx.log.info("all inputs of %s are in; submitted run %s", day, run_id)
        submitted_runs.append(run_id)
    return submitted_runs


def _local_file(ctx: Context, name: str, what: str) -> Path:
    """A local path as is; otherwise the key of the executables bucket, downloaded."""
    path = Path(name).expanduser()
    if path.is_file():
        local = ctx.workdir / path.name
        try:
            shutil.copyfile(path, local)
        except OSError as error:
            raise CauceError(f"cannot read the {what} {name!r}: {error.strerror or error}",
                             hint="check the file's permissions, or upload it to the "
                             f"'{executables.name}' bucket and pass its key") from error
        return local
    if _in_executables(name):
        local = ctx.workdir / Path(name).name
        local.write_bytes(executables.get(name))
        return local
    raise CauceError(f"{what} {name!r} is neither a file nor a key of bucket "
                     f"'{executables.name}'", hint="check the path or upload it")


def _in_executables(name: str) -> bool:
    """Whether `name` is a key of the executables bucket; a path that cannot be a key
    (absolute, with `..`) is not one, and the error then says neither was found."""
    try:
        return executables.exists(name)
    except InvalidKey:
        return False


def _par_file(ctx: Context, name: str | None = None) -> str:
    chosen = name or ctx.settings["par"]
    if not chosen:
        return default_par_text()
    text = decode_par(_local_file(ctx, chosen, "parameter file").read_bytes())
    parse_par(text, chosen)  # a bad line is named in the user's file, not in the run's copy
    return text


@app.demo()
def demo(rt: Runtime) -> list[str]:
    """A tiny synthetic day: generated, processed by the open engine, checked against truth."""
    made = rt.run(synth, scale="tiny", date="2021-04-22", seed=1)
    run = rt.run(adatrap, partition="2021-04-22")
    if run.status != RunStatus.SUCCEEDED:
        return [f"transit: the day's run ended {run.status}: {run.error}"]
    result = run.result or {}
    lines = [f"transit: synthetic tiny day 2021-04-22 with {made.result['transactions']:,} "
             f"transactions and {made.result['gps']:,} GPS pings",
             f"transit: outputs {result.get('output')} in bucket 'output' "
             f"({', '.join(f'{k} {v:,}' for k, v in result.get('rows', {}).items())})"]
    accuracy = result.get("accuracy")
    if accuracy:
        lines.append(f"transit: alightings estimated for {accuracy['alighting_share']:.1%} of "
                     f"boardings, {accuracy['within_one_stop']:.1%} within one stop; "
                     f"{accuracy['trips_right']:.1%} of true trips rebuilt exactly")
    home = shlex.quote(str(rt.home))  # copied into a shell as it is, spaces and quotes too
    lines += ["transit: look at it with", f"  cauce --home {home} logs general --app transit",
              f"  cauce --home {home} run transit adatrap --partition 2021-04-22 --dry-run"]
    return lines
