"""The data-in jobs: synthetic exports, the download from the portal, and the ETL per source.

``etl_source`` and ``download_source`` are plain functions too, so the weekly step graph runs
them one source at a time and a failing source stops only what needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from annotated_types import Ge, Interval

from cauce import Context, ObjectNotFound, RunCancelled, daily
from cauce.apps.contracting import lease, rawzone
from cauce.apps.contracting.app import app, leases, quarantine, raw, staging
from cauce.apps.contracting.errors import (
    ContractingError,
    SettingInvalid,
    SourceMissing,
    SourceUnreadable,
)
from cauce.apps.contracting.scales import SCALES
from cauce.apps.contracting.sources import SOURCES, Source, source
from cauce.apps.contracting.watch import put_own

START = "2015-01-01"  # the first SECOP II processes
SHORT = {
    "t_seii_procecotrata_compraadjudi": "procesos",
    "t_seii_ofertaproces_procesocompr": "ofertas",
    "t_otro_pernajuesadl_camarcomerci": "rues",
    "t_otro_persexpupoli_sigepperexpo": "pep",
    "t_otro_puestsensibl_sigeppsscorr": "puestos",
    "t_seii_contracanela_aislamiencon": "cancelados",
    "t_seii_contratelect_cregistrados": "contratos",
    "t_seii_ejecucioncon_avancerevses": "ejecucion",
    "t_seii_multasysanci_secopiimulsa": "multas",
    "t_paco_registro_obras_inconclusa": "obras",
    "t_paco_responsabilidad_fiscales": "responsables",
}


def staging_key(src: Source) -> str:
    """Where a source's export is kept in bucket staging, as the original kept it in S3."""
    return f"origen/{src.file}"


def iso_day(text: str, option: str) -> date:
    """``text`` as a date (2023-04-16); one line naming ``option`` when it is no day."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SettingInvalid(
            f"{option} {text!r} is not a date", hint="write it like 2023-04-16"
        ) from None


def chosen(names: list[str]) -> list[Source]:
    """Sources named by table, short name (any case), dataset id or file name, each once; all
    when none is named (``--source ''``, from an empty variable, names none: refused rather
    than taken as all)."""
    if not names:
        return list(SOURCES.values())
    by_short = {short: key for key, short in SHORT.items()}
    picked = []
    for name in (n.strip() for value in names for n in value.split(",") if n.strip()):
        try:
            picked.append(source(by_short.get(name.lower(), name)))
        except KeyError:
            raise ContractingError(
                f"unknown source {name!r}",
                hint=f"use one of: {', '.join(SHORT.values())} (or a table name or dataset id)",
            ) from None
    if not picked:
        raise ContractingError(
            f"--source {', '.join(map(repr, names))} names no source",
            hint=f"use one of: {', '.join(SHORT.values())}, or leave --source out for all",
        )
    return list(dict.fromkeys(picked))


# -- ETL ------------------------------------------------------------------------------------------
def etl_source(ctx: Context, key: str, day: date) -> dict[str, Any]:
    """Turn one source's export in bucket staging into partition ``day`` of its raw table."""
    from cauce.apps.contracting.etl import transform  # DuckDB: loaded when a run needs it

    src = source(key)
    object_key = staging_key(src)
    try:
        path = staging.path(object_key)
    except ObjectNotFound:
        path = None
    if path is not None and path.exists() and not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file (a pipe, socket or device?)"
        raise SourceUnreadable(
            f"{src.file}: {object_key} in bucket staging is {what} ({path})",
            hint=f"put the export file there: cauce put contracting staging '{object_key}' FILE",
        )
    if path is None or not path.is_file():
        where = f" ({path})" if path is not None else ""
        raise SourceMissing(
            f"{src.file}: not found in bucket staging at {object_key}{where}",
            hint=f"run `cauce run contracting download --partition {day.isoformat()}`, or put the "
            f"export there: cauce put contracting staging '{object_key}' FILE",
        )
    started = time.perf_counter()
    folder = ctx.workdir / SHORT[src.key]
    folder.mkdir(parents=True, exist_ok=True)
    run = ctx.run_id.replace("-", "")
    ttl = timedelta(seconds=ctx.settings.etl_lease)
    with lease.exclusive(leases, src.key, day, holder=ctx.run_id, clock=ctx.now, ttl=ttl) as held:
        output = transform(src, path, day, folder, run=run, memory_limit=ctx.settings.etl_memory)
        held.check()
        commit = rawzone.publish(raw, quarantine, src.key, day, run, output)
    seconds = time.perf_counter() - started
    ctx.log.info(
        "%s: %s rows into raw %s (%d part(s)) in %.1fs; %s quarantined row(s), %s value(s) "
        "nulled%s",
        src.file,
        f"{output.rows:,}",
        rawzone.partition_prefix(src.key, day),
        len(commit.parts),
        seconds,
        f"{output.rejected_rows:,}",
        f"{output.nulled_values:,}",
        f" (encoding {output.encoding})" if output.encoding != "utf-8" else "",
    )
    for reason, count in output.reasons.most_common(10):
        ctx.log.info("  quarantine: %s × %s", f"{count:,}", reason)
    if output.nul_characters:
        ctx.log.warning(
            "%s: %s NUL character(s) removed from its values (no text holds one)",
            src.file,
            f"{output.nul_characters:,}",
        )
    if output.ignored_columns:
        ctx.log.warning(
            "%s: column(s) the ETL does not read, ignored: %s",
            src.file,
            ", ".join(map(repr, output.ignored_columns)),
        )
    return {**output.summary(), "parts": commit.parts, "quarantine": commit.quarantine}


def each_source(
    ctx: Context,
    sources: list[Source],
    step: Callable[[Source], dict[str, Any] | None],
    *,
    what: str,
    hint: str,
) -> dict[str, Any]:
    """``step`` for every source, one failing not stopping the others; their results by table
    (None: nothing to report), or one error listing the failed ones at the end. A cancelled run
    (Ctrl-C) starts no further source."""
    results: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for done, src in enumerate(sources, 1):
        if ctx.cancelled:
            raise RunCancelled(f"cancelled after {done - 1} of {len(sources)} {what}")
        try:
            result = step(src)
            if result is not None:
                results[src.key] = result
        except ContractingError as err:
            failed[src.key] = err.message
            ctx.log.error("%s: %s", SHORT[src.key], err.message)
            if err.hint:
                ctx.log.error("  hint: %s", err.hint)
        ctx.progress(done, len(sources), SHORT[src.key])
    if failed:
        raise ContractingError(
            f"{len(failed)} of {len(sources)} {what} failed: "
            + "; ".join(f"{SHORT[k]}: {m}" for k, m in failed.items()),
            hint=hint,
        )
    return results


def _etl(ctx: Context, sources: list[Source]) -> dict[str, Any]:
    from cauce.apps.contracting.etl import check_memory_limit  # DuckDB

    day = _day(ctx)
    check_memory_limit(ctx.settings.etl_memory)
    results = each_source(
        ctx,
        sources,
        lambda src: etl_source(ctx, src.key, day),
        what="source(s)",
        hint="the other sources are in the raw zone; fix these and run etl --source NAME",
    )
    return {"fecha_corte_datos": day.isoformat(), "sources": results}


@app.job(partitions=daily(start=START), retries=0)
def etl(
    ctx: Context,
    source: Annotated[list[str], "only these sources (short name, table or dataset id)"] = [],  # noqa: B006
) -> dict[str, Any]:
    """Every source's export (bucket staging, origen/) into the raw zone for the partition date;
    one failing source does not stop the others."""
    return _etl(ctx, chosen(source))


def _declare_etl(src: Source) -> None:
    def run(ctx: Context) -> dict[str, Any]:
        return _etl(ctx, [src])

    run.__doc__ = f"{src.title}: {src.file} into raw table {src.key}."
    app.job(name=f"etl-{SHORT[src.key]}", partitions=daily(start=START), retries=0)(run)


for _src in SOURCES.values():
    _declare_etl(_src)


def _day(ctx: Context) -> date:
    if ctx.partition_date is None:
        raise ContractingError("this job needs a partition date", hint="pass --partition DATE")
    return ctx.partition_date


# -- download -------------------------------------------------------------------------------------
def download_source(ctx: Context, key: str, day: date) -> dict[str, Any]:
    """Fetch one source whole from the portal into bucket staging (origen/<file name>)."""
    from cauce.apps.contracting import download as fetching  # httpx, Polars

    src = source(key)
    result = fetching.fetch(ctx, src)
    put_own(staging_key(src), result.path)
    ctx.log.info(
        "%s: %s rows in %d page(s) from %s into staging %s",
        src.dataset or src.file,
        f"{result.rows:,}",
        result.pages,
        result.origin,
        staging_key(src),
    )
    return {"table": src.key, "rows": result.rows, "pages": result.pages, "key": staging_key(src)}


@app.job(partitions=daily(start=START), retries=1)
def download(
    ctx: Context,
    source: Annotated[list[str], "only these sources (short name, table or dataset id)"] = [],  # noqa: B006
) -> dict[str, Any]:
    """Every source from the Socrata portal (whole datasets, all pages) and PACO into bucket
    staging; obras inconclusas is not published as CSV and is put there by hand."""
    from cauce.apps.contracting import download as fetching

    day = _day(ctx)
    skipped: list[str] = []

    def fetch(src: Source) -> dict[str, Any] | None:
        if fetching.downloadable(src):
            return download_source(ctx, src.key, day)
        skipped.append(src.key)
        ctx.log.warning("%s: %s", SHORT[src.key], fetching.manual_hint(src))
        return None

    results = each_source(
        ctx,
        chosen(source),
        fetch,
        what="download(s)",
        hint="the other sources are in bucket staging; run download --source NAME again",
    )
    return {"downloaded": results, "manual": skipped}


# -- synthetic exports ----------------------------------------------------------------------------
@app.job(retries=0)
def synth(
    ctx: Context,
    scale: Annotated[str, f"how large: {', '.join(SCALES)}"] = "small",
    date: Annotated[
        str, "the cut date (fecha_corte_datos) the truth is written for"
    ] = "2023-04-16",
    seed: Annotated[int, "seed: the same seed writes the same bytes", Ge(0)] = 0,
) -> dict[str, Any]:
    """Synthetic bulk exports of the eleven sources into bucket staging (origen/), with planted
    irregularities, and their expected indicator values in truth/<date>.json."""
    from cauce.apps.contracting.synth import write_synthetic  # NumPy, Polars

    date = iso_day(date, "--date").isoformat()
    if scale not in SCALES:
        raise ContractingError(f"unknown scale {scale!r}", hint=f"use one of {', '.join(SCALES)}")
    started = time.perf_counter()
    result = write_synthetic(
        staging,
        scale=scale,
        day=date,
        seed=seed,
        workdir=ctx.workdir,
        put=put_own,
        progress=lambda done, total, name: ctx.progress(done, total, f"synth: {name}"),
    )
    ctx.log.info(
        "wrote %d exports (%s rows) and truth/%s.json in %.1fs",
        len(result["rows"]),
        f"{sum(result['rows'].values()):,}",
        date,
        time.perf_counter() - started,
    )
    return {"rows": result["rows"], "truth": f"truth/{date}.json"}


@app.job(retries=0)
def portal(
    ctx: Context,
    scale: Annotated[str, f"how large: {', '.join(SCALES)}"] = "tiny",
    seed: Annotated[int, "seed of the synthetic exports", Ge(0)] = 0,
    port: Annotated[int, "port to listen on (0: any free port)", Interval(ge=0, le=65535)] = 8080,
    host: Annotated[str, "address to listen on"] = "127.0.0.1",
) -> dict[str, Any]:
    """Serve the synthetic sources offline until interrupted (Ctrl-C): the Socrata datasets by
    the SODA API with their real ids, PACO's bulletin as a file under /files/paco/."""
    from cauce.apps.contracting.synth import generate
    from cauce.apps.contracting.synth.portal import FILES, synthetic_portal
    from cauce.connectors.soda.portal import Portal

    if scale not in SCALES:
        raise ContractingError(f"unknown scale {scale!r}", hint=f"use one of {', '.join(SCALES)}")
    frames, _ = generate(scale, seed=seed)
    state = synthetic_portal(frames, ctx.workdir)
    server = Portal(state, host=host, port=port)  # a port in use is one line with a hint
    ctx.log.info(
        "serving %d datasets and %d file(s) at %s; Ctrl-C stops it",
        len(state.datasets),
        len(state.files),
        server.url,
    )
    ctx.log.info(
        "download from it: cauce run contracting download --partition DATE --portal %s "
        "--paco %s/files/%s",
        server.url,
        server.url,
        FILES,
    )
    server.serve(until=lambda: ctx.cancelled)
    return {"url": server.url, "requests": len(state.requests)}
