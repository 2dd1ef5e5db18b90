"""The opendata app: a Socrata portal's datasets harvested, profiled, versioned and checked.

The chain, as cauce resources:

    harvest (job, daily) ──▶ bucket raw {id}/{id}.csv
            │                queue downloaded {"ID","OWNER","NAME","EMAIL","CATEGORY",...}
            ▼
    metadata (handler) ──▶ table datasets (by HASH), table versions (by ID, TIME)
            │
            ▼
    topic dataset-events {"ID","HASH","change": new|changed|unchanged|gone|forbidden,...}
            │
            ▼
    criteria (one handler each) ──▶ table alerts

`cauce run opendata portal` serves a local SODA portal with synthetic data; `report` writes an
HTML page of the catalogue. See README.md next to this file.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from annotated_types import Ge, Interval, Le

from cauce import App, ConditionFailed, Context, Message, Runtime
from cauce.apps.opendata import catalog, checkpoint, criteria
from cauce.apps.opendata.catalog import object_key
from cauce.apps.opendata.criteria import Finding, Limits, Snapshot
from cauce.apps.opendata.errors import OpendataError
from cauce.apps.opendata.harvest import (
    Outcome,
    download,
    download_all,
    has_partial,
    one_download_of,
    one_harvest_at_a_time,
)
from cauce.apps.opendata.inventory import Asset, Selection, read_inventory, split_values
from cauce.apps.opendata.profile import profile_csv
from cauce.apps.opendata.report import catalogue_sections, write_catalogue_report
from cauce.connectors.soda import (
    Attempts,
    Backoff,
    DatasetForbidden,
    DatasetGone,
    PageSize,
    RetryPolicy,
    SodaClient,
    Timeout,
    check_dataset_id,
)
from cauce.reports import Section

# The synthetic portal (Polars, NumPy) loads when `portal` or the demo runs: declaring the app
# (`cauce apps`, every worker's start) imports neither.
if TYPE_CHECKING:
    from cauce.connectors.soda.portal import PortalState

Share = Annotated[float, Interval(ge=0, le=1)]

__all__ = ["Finding", "Limits", "Snapshot", "app", "criterion"]

app = App(
    "opendata",
    timezone="America/Bogota",
    description="Socrata portal harvest: datasets profiled, versioned and checked by criteria",
)

# -- settings ------------------------------------------------------------------------------------
portal_url = app.setting(
    "portal",
    str,
    default="https://www.datos.gov.co",
    help="the Socrata portal: a domain (www.datos.gov.co) or a base URL (http://127.0.0.1:8080)",
)
inventory_id = app.setting(
    "inventory", str, default="uzcf-b9dh", help="id of the portal's asset inventory"
)
types = app.setting(
    "types", list[str], default=["dataset"], help="asset types to harvest (inventory field type)"
)
audiences = app.setting(
    "audiences", list[str], default=["public"], help="audiences to harvest (field audience)"
)
categories = app.setting(
    "categories", list[str], default=[], help="categories to harvest; empty: all"
)
owners = app.setting("owners", list[str], default=[], help="owners to harvest; empty: all")
limit = app.setting(
    "limit",
    Annotated[int, Ge(0)],
    default=100,
    help="datasets per harvest, as the original; 0: all",
)
page_size = app.setting(
    "page_size", PageSize, default=50_000, help="rows per SODA page ($limit); 50,000 at most"
)
concurrency = app.setting(
    "concurrency", Annotated[int, Ge(1)], default=4, help="datasets downloaded at the same time"
)
timeout = app.setting(
    "timeout", Timeout, default=60.0, help="seconds before a SODA request times out"
)
retries = app.setting(
    "retries", Attempts, default=5, help="attempts per SODA request (429, 5xx, timeouts)"
)
backoff = app.setting(
    "backoff", Backoff, default=1.0, help="seconds before the first retry, doubled for each next"
)
stale_days = app.setting(
    "stale_days",
    Annotated[int, Ge(0)],
    default=365,
    help="rows older than this many days are stale",
)
mostly_null = app.setting(
    "mostly_null", Share, default=0.95, help="null share that makes a column mostly null"
)
duplicate_share = app.setting(
    "duplicate_share",
    Share,
    default=0.05,
    help="duplicate-row share above which the quality criterion warns",
)
app_token = app.setting(
    "soda_app_token",
    str | None,
    default=None,
    secret=True,
    env="SODA_APP_TOKEN",
    help="Socrata app token, sent as X-App-Token (avoids throttling)",
)

# -- resources -----------------------------------------------------------------------------------
raw = app.bucket("raw")
downloaded = app.queue("downloaded", max_receives=3, visibility_timeout="15m")
datasets = app.table("datasets", key="HASH", indexes=["ID"])
versions = app.table("versions", key=("ID", "TIME"), indexes=["STATUS"])
dataset_events = app.topic("dataset-events")
alerts = app.table("alerts", key=("ID", "ALERT"), indexes=["CRITERION"])
# per unfinished harvest, a row of its own and one per dataset it settled: the next harvest of
# its selection resumes it (checkpoint.py)
harvests = app.table("harvests", key=("SELECTION", "ID"))


def client(ctx: Context, base_url: str | None = None) -> SodaClient:
    """A SODA client configured by the app's settings."""
    settings = ctx.settings
    return SodaClient(
        base_url or settings.portal,
        app_token=settings.soda_app_token,
        timeout=settings.timeout,
        retry=RetryPolicy(attempts=settings.retries, backoff=settings.backoff),
        page_size=settings.page_size,
        max_connections=max(settings.concurrency, 1) + 2,
        cancelled=lambda: ctx.cancelled,  # Ctrl-C stops downloads running in worker threads
    )


def downloads_folder(ctx: Context) -> Path:
    """Where downloads are written until complete (and kept, with a resume marker, if they fail)."""
    return ctx.home / "opendata" / "downloads"


def limits(ctx: Context) -> Limits:
    settings = ctx.settings
    return Limits(
        stale_after=timedelta(days=settings.stale_days),
        mostly_null=settings.mostly_null,
        duplicate_share=settings.duplicate_share,
    )


# -- step 1: harvest -----------------------------------------------------------------------------
@app.job(schedule="0 5 * * *", retries=1)
def harvest(
    ctx: Context,
    limit: Annotated[int | None, "datasets to harvest (default: the limit setting; 0: all)",
                     Ge(0)] = None,
    ids: Annotated[list[str], "harvest these dataset ids (repeat or comma-separate)"] = [],  # noqa: B006
    type: Annotated[list[str], "asset types (default: the types setting)"] = [],  # noqa: B006
    audience: Annotated[list[str], "audiences (default: the audiences setting)"] = [],  # noqa: B006
    category: Annotated[list[str], "categories (default: the categories setting)"] = [],  # noqa: B006
    owner: Annotated[list[str], "owners (default: the owners setting)"] = [],  # noqa: B006
    portal: Annotated[str | None, "portal base URL (default: the portal setting)"] = None,
) -> dict[str, Any]:
    """Read the asset inventory, download each selected dataset whole into bucket raw, queue it."""
    settings = ctx.settings
    chosen = tuple(check_dataset_id(i) for i in split_values(ids))
    if ids and not chosen:  # `--ids "$IDS"` with an empty variable: not the whole inventory
        raise OpendataError(
            "--ids names no dataset",
            hint="give ids, comma-separated (--ids jbjy-vk9h,it5q-hg94), or leave --ids out",
        )
    count = limit if limit is not None else (None if chosen else settings.limit)
    selection = Selection(
        types=tuple(type or settings.types),
        audiences=tuple(audience or settings.audiences),
        categories=tuple(category or settings.categories),
        owners=tuple(owner or settings.owners),
        ids=chosen,
        limit=count or None,
    )
    with client(ctx, portal) as soda, one_harvest_at_a_time(downloads_folder(ctx)):
        # an interrupted harvest of this selection is finished with its own time (checkpoint.py)
        mark = checkpoint.begin(harvests, ctx.now(), soda.base_url, settings.inventory, selection)
        assets = read_inventory(soda, settings.inventory, selection)
        assets += _not_in_inventory(soda, chosen, assets)
        ctx.log.info("harvest %s: %d dataset(s) from %s", mark.time, len(assets), soda.base_url)
        totals = _download_and_settle(ctx, soda, assets, mark)
    return {"version": mark.time, "datasets": len(assets), **totals}


def _download_and_settle(
    ctx: Context, soda: SodaClient, assets: list[Asset], mark: checkpoint.Checkpoint
) -> Counter[str]:
    """Download the assets the harvest has not settled yet, store and queue each; the checkpoint
    is cleared when all are settled, and kept when the run is cancelled."""
    totals: Counter[str] = Counter()
    if mark.dropped:
        ctx.log.warning(
            "the interrupted harvest of %s was too old to resume (started over %g h before): "
            "this harvest starts afresh with its own time",
            mark.dropped, checkpoint.RESUME_WINDOW / timedelta(hours=1),
        )
    if mark.resumed:
        ctx.log.warning(
            "resuming the interrupted harvest of %s: %d dataset(s) settled already",
            mark.time, len(mark.settled),
        )
        totals["resumed"] = len(mark.settled)
    todo = [a for a in assets if a.id not in mark.settled]
    first = len(assets) - len(todo) + 1
    # closed here, however the loop ends: a store that fails (a full disk) left the generator to
    # the garbage collector, whose run in a download thread tried to join that thread
    # ("Exception ignored ... cannot join current thread") while downloads went on
    with contextlib.closing(
        download_all(soda, todo, downloads_folder(ctx), concurrency=ctx.settings.concurrency)
    ) as downloads:
        return _settle_all(ctx, downloads, first, len(assets), mark, soda.base_url, totals)


def _settle_all(
    ctx: Context,
    downloads: Iterator[Outcome],
    first: int,
    count: int,
    mark: Any,
    portal: str,
    totals: Counter[str],
) -> Counter[str]:
    for done, outcome in enumerate(downloads, first):
        _settle(ctx, outcome, mark.time, portal)
        checkpoint.settle(harvests, mark, outcome.asset.id)
        totals[outcome.status] += 1
        if outcome.result is not None:
            totals["rows"] += outcome.result.rows
            totals["bytes"] += outcome.result.bytes
        ctx.progress(done, count, outcome.asset.id)
        if ctx.cancelled and done < count:
            ctx.log.warning("cancelled after %d of %d dataset(s)", done, count)
            break
    else:
        checkpoint.finish(harvests, mark)
    return totals


def _not_in_inventory(soda: SodaClient, chosen: tuple[str, ...], found: list[Asset]) -> list[Asset]:
    """Assets for ids asked for by hand that the inventory does not list, from their metadata."""
    listed = {a.id for a in found}
    extra = []
    for ident in (i for i in chosen if i not in listed):
        try:
            extra.append(Asset.from_metadata(ident, soda.metadata(ident)))
        except (DatasetGone, DatasetForbidden):
            extra.append(Asset(id=ident))  # its download records it as gone or forbidden
    return extra


def _message(asset: Asset, version: str, portal: str, **extra: Any) -> dict[str, Any]:
    return {
        **asset.message(),
        "TIME": version,
        "PORTAL": portal,
        "KEY": object_key(asset.id),
        **extra,
    }


def _settle(ctx: Context, outcome: Outcome, version: str, portal: str) -> None:
    asset = outcome.asset
    if outcome.status == "downloaded" and outcome.result is not None:
        raw.put_file(object_key(asset.id), outcome.result.path, move=True)
        downloaded.send(
            _message(asset, version, portal, DOWNLOAD="complete", ROWS=outcome.result.rows)
        )
        ctx.log.info(
            "%s: %d rows in %d page(s)", asset.id, outcome.result.rows, outcome.result.pages
        )
    elif outcome.status in ("gone", "forbidden"):
        ctx.log.warning("%s: %s", asset.id, outcome.error)
        _record_unavailable(ctx, asset.message(), version, outcome.status)
    else:
        # Queued anyway: the metadata handler resumes the download at the page that failed,
        # and after its retries the message waits in the dead-letter queue with the reason.
        ctx.log.warning(
            "%s: download incomplete, queued for the metadata step: %s", asset.id, outcome.error
        )
        downloaded.send(
            _message(asset, version, portal, DOWNLOAD="incomplete", ERROR=outcome.error)
        )


def _record_unavailable(ctx: Context, identity: dict[str, str], version: str, status: str) -> None:
    _store_version(ctx, identity, Snapshot(identity["ID"], version, status))


def _store_version(ctx: Context, identity: dict[str, Any], snapshot: Snapshot) -> dict[str, Any]:
    """Store a harvest's version and announce it; then correct the next version in time, which
    a message handled out of order (or at the same time) compared with another or none. One
    read of the dataset's versions after the write says whether either needs it."""
    previous = catalog.previous_version(versions, snapshot.dataset, snapshot.version)
    stored = catalog.record_version(versions, identity, snapshot, previous)
    before, after = catalog.neighbours(versions, snapshot.dataset, snapshot.version)
    if catalog.corrected(stored, before) is not None:  # another version came in between
        stored = _settled(ctx, stored, announce=False)
    dataset_events.publish(catalog.event_of(stored))
    if after is not None and catalog.corrected(after, stored) is not None:
        _settled(ctx, after, announce=True)
    return stored


SETTLE_ATTEMPTS = 10


def _settled(ctx: Context, version: dict[str, Any], *, announce: bool) -> dict[str, Any]:
    """``version`` as stored, with ``CHANGE`` and ``PREVIOUS`` against the version now stored
    before it, written if they were not: a conditional write, read again when another writer
    got there first. With ``announce``, a correction is published again (with ``CORRECTS``) in
    the same transaction as its write."""
    key = (version["ID"], version["TIME"])
    for _ in range(SETTLE_ATTEMPTS):
        number = versions.version(key)  # before the item: a write in between fails the put
        current = versions.get(key)
        if number is None or current is None:  # deleted meanwhile: nothing left to settle
            return version
        fixed = catalog.reclassified(versions, current)
        if fixed is None:
            return current
        try:
            with ctx.atomic():
                versions.put(fixed, if_version=number)
                if announce:
                    dataset_events.publish(catalog.event_of(fixed, corrects=current))
        except ConditionFailed:
            continue
        ctx.log.info("%s: version %s corrected to %s against %s (was %s against %s)",
                     key[0], key[1], fixed["CHANGE"], fixed["PREVIOUS"], current["CHANGE"],
                     current["PREVIOUS"])
        return fixed
    raise ConditionFailed(f"could not settle version {key[1]} of {key[0]}: "
                          f"{SETTLE_ATTEMPTS} other writers changed it first")


# -- step 2: metadata ----------------------------------------------------------------------------
@app.on(downloaded, retry_delay="1m")
def metadata(msg: Message, ctx: Context) -> dict[str, Any]:
    """Profile the downloaded CSV, store its content and version, announce it on dataset-events."""
    body = _checked(msg.body)
    ident, version = body["ID"], body["TIME"]
    key = object_key(ident)
    # the portal setting as it is now: PORTAL names where the harvest ran, which may have moved
    with client(ctx) as soda:
        if body.get("DOWNLOAD") != "complete":
            unavailable = _resumed(ctx, soda, body)
            if unavailable is not None:
                _record_unavailable(ctx, body, version, unavailable)
                return {"ID": ident, "change": unavailable}
        if not raw.exists(key):
            raise OpendataError(
                f"{ident}: object {key} is not in bucket raw", hint="harvest the dataset again"
            )
        profile = profile_csv(raw.path(key))
        try:
            view = soda.metadata(ident)
        except (DatasetGone, DatasetForbidden) as err:
            ctx.log.warning("%s: no portal metadata: %s", ident, err.message)
            view = {}
    snapshot = Snapshot(ident, version, "ok", profile, *_portal_facts(view))
    created = catalog.record_content(datasets, body, profile, version)
    stored = _store_version(ctx, body, snapshot)
    for problem in profile.problems:
        ctx.log.warning("%s: %s", ident, problem)
    ctx.log.info(
        "%s: %s, %d rows, %d columns, sha256 %s…%s",
        ident,
        stored["CHANGE"],
        profile.rows,
        len(profile.columns),
        profile.sha256[:12],
        "" if created else " (content already known)",
    )
    return {"ID": ident, "HASH": profile.sha256, "change": stored["CHANGE"]}


def _resumed(ctx: Context, soda: SodaClient, body: dict[str, Any]) -> str | None:
    """Finish the incomplete download a message announces, if its partial file is still
    there, and move it into the bucket: None, or ``gone``/``forbidden`` when the portal no
    longer serves the dataset. Under the dataset's download lock, so a harvest downloading it
    now is never appended to (this message is tried again later instead)."""
    ident, folder = body["ID"], downloads_folder(ctx)
    with one_download_of(folder, ident, wait=False):
        if not has_partial(folder, ident):
            return None
        outcome = download(soda, Asset(**_asset_fields(body)), folder)
        if outcome.status in ("gone", "forbidden"):
            ctx.log.warning("%s: %s", ident, outcome.error)
            return outcome.status
        if outcome.result is None:
            raise OpendataError(
                f"{ident}: the download is still incomplete: {outcome.error}",
                hint="it resumes at the failed page when retried or replayed",
            )
        raw.put_file(object_key(ident), outcome.result.path, move=True)
    return None


# 9999-12-31T23:59:59Z: a `rowsUpdatedAt` (epoch seconds) at or past it is no date
LAST_EPOCH_SECOND = 253_402_300_800


def _portal_facts(view: dict[str, Any]) -> tuple[int | None, dict[str, str]]:
    """`rowsUpdatedAt` (epoch seconds) and each column's declared type from a view, keeping
    only what has the shape Socrata gives it (a portal's answer is input too)."""
    updated = view.get("rowsUpdatedAt")
    if isinstance(updated, bool) or not isinstance(updated, int | float) or not (
        0 <= updated < LAST_EPOCH_SECOND
    ):  # milliseconds by mistake, an infinity or NaN: no time a datetime can hold
        updated = None
    columns = view.get("columns")
    types = {
        str(c["fieldName"]): str(c.get("dataTypeName") or "")
        for c in (columns if isinstance(columns, list) else [])
        if isinstance(c, dict) and c.get("fieldName")
    }
    return (None if updated is None else int(updated)), types


def _checked(body: Any) -> dict[str, Any]:
    """A `downloaded` message as the harvest sends it (anyone may `cauce send` one): an object
    with a dataset ``ID`` and an ISO ``TIME``, that time written as the harvest writes it (UTC,
    microseconds, ``Z``; a time without an offset is UTC) so that versions sort by it in time
    order; OpendataError naming what is wrong otherwise."""
    hint = 'send {"ID": "jbjy-vk9h", "TIME": "2026-03-02T05:00:00.000000Z"}, or harvest it'
    if not isinstance(body, dict):
        raise OpendataError(f"a downloaded message must be a JSON object, not {body!r:.80}",
                            hint=hint)
    missing = [k for k in ("ID", "TIME") if not isinstance(body.get(k), str)]
    if missing:
        raise OpendataError(f"the downloaded message has no {' or '.join(missing)} text",
                            hint=hint)
    try:
        time = datetime.fromisoformat(body["TIME"])
    except ValueError:
        raise OpendataError(f"TIME {body['TIME']!r:.80} is not an ISO time", hint=hint) from None
    check_dataset_id(body["ID"])
    utc = (time if time.tzinfo else time.replace(tzinfo=UTC)).astimezone(UTC)
    return {**body, "TIME": utc.strftime(checkpoint.TIME_FORMAT)}


def _asset_fields(body: dict[str, Any]) -> dict[str, str]:
    return {
        "id": body["ID"],
        "name": body.get("NAME", ""),
        "owner": body.get("OWNER", ""),
        "email": body.get("EMAIL", ""),
        "category": body.get("CATEGORY", ""),
    }


# -- step 3: criteria ----------------------------------------------------------------------------
Criterion = Callable[[Snapshot, Snapshot | None, Limits, datetime], list[Finding]]
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def criterion(func: Criterion) -> Criterion:
    """Declare a criterion: ``func(current, previous, limits, now) -> list[Finding]``.

    It becomes a subscriber of topic dataset-events (its own retries and dead letters) and each
    finding it returns is stored once in table alerts and written to its log.
    """
    name = func.__name__.replace("_", "-")

    def handle(msg: Message, ctx: Context) -> dict[str, Any]:
        current, previous = catalog.snapshots(versions, msg.body)
        findings = func(current, previous, limits(ctx), ctx.now())
        raised = ctx.now().astimezone(UTC).isoformat(timespec="seconds")
        stored = 0
        for finding in findings:
            stored += catalog.record_alert(alerts, name, finding, msg.body, raised)
            ctx.log.log(
                _LEVELS[finding.severity], "%s %s: %s", msg.body["ID"], name, finding.message
            )
        return {"ID": msg.body["ID"], "findings": len(findings), "stored": stored}

    handle.__doc__ = (
        func.__doc__
    )  # shown by `cauce apps`; not functools.wraps: the signature stays (msg, ctx)
    app.on(dataset_events, name=func.__name__)(handle)
    return func


criterion(criteria.changed_content)
criterion(criteria.stale_data)
criterion(criteria.schema_drift)
criterion(criteria.quality)
criterion(criteria.availability)


# -- the local portal and the report -------------------------------------------------------------
# Every synthetic dataset is held in memory (up to 2,500 rows each, about 0.25 MB): 500 of them
# are some 130 MB and a few seconds to build, far more than a harvest test needs.
PORTAL_MAX_DATASETS = 500


@app.job
def portal(
    ctx: Context,
    port: Annotated[int, "port to listen on (0: any free port)", Interval(ge=0, le=65535)] = 8080,
    host: Annotated[str, "address to listen on"] = "127.0.0.1",
    count: Annotated[
        int,
        f"synthetic datasets to serve (the known SECOP and health ones first; at most "
        f"{PORTAL_MAX_DATASETS})",
        Ge(0),
        Le(PORTAL_MAX_DATASETS),
    ] = 12,
    seed: Annotated[int, "seed of the synthetic data", Ge(0)] = 0,
    drop: Annotated[list[str], "serve ID with 404, or ID:403"] = [],  # noqa: B006
    fail: Annotated[list[str], "answer ID with 500 N times: ID:N or ID:N:STATUS"] = [],  # noqa: B006
) -> dict[str, Any]:
    """Serve a local SODA portal with synthetic datasets until interrupted (Ctrl-C)."""
    from cauce.connectors.soda.portal import Portal

    state = _synthetic_state(count, seed)
    state.apply(drop=drop, fail=fail)
    server = Portal(state, host=host, port=port)
    ctx.log.info("serving %d datasets at %s; Ctrl-C stops it", len(state.datasets), server.url)
    ctx.log.info("harvest it with: cauce run opendata harvest --portal %s", server.url)
    server.serve(until=lambda: ctx.cancelled)
    return {"url": server.url, "requests": len(state.requests)}


def _synthetic_state(count: int, seed: int) -> PortalState:
    """A local portal's state: ``count`` synthetic datasets and three extra assets."""
    from cauce.apps.opendata.synth import catalogue
    from cauce.connectors.soda.portal import PortalState

    return PortalState.of(catalogue(count, seed=seed), extras=3, seed=seed)


@app.job
def report(
    ctx: Context, out: Annotated[str, "folder for index.html and the charts"] = "opendata-report"
) -> dict[str, str]:
    """Write an HTML page of the catalogue: categories, owners, sizes, freshness, alerts."""
    page = write_catalogue_report(
        out,
        versions.scan(),
        alerts.scan(),
        now=ctx.now(),
        stale_after=timedelta(days=ctx.settings.stale_days),
    )
    ctx.log.info("report written to %s", page)
    return {"report": str(page)}


@app.dashboard
def dashboard(rt: Runtime) -> list[Section]:
    """Live in `cauce ui`: the catalogue report's sections, from the tables as they are now."""
    return catalogue_sections(versions.scan(), alerts.scan(), now=rt.clock.now(),
                              stale_after=timedelta(days=rt.settings.stale_days))


# -- demo ----------------------------------------------------------------------------------------
@app.demo(settings={"limit": 0, "backoff": 0.05, "retries": 3, "concurrency": 4})
def demo(rt: Runtime) -> list[str]:
    """Harvest a local portal, change a dataset, retype a column, harvest again; alerts, report."""
    from cauce.connectors.soda.portal import Portal

    state = _synthetic_state(10, seed=3)
    state.drop("xvdy-vvsk", 403)
    with Portal(state) as server:
        # Queued downloads are profiled against the portal setting, as with any harvest.
        rt.configure(portal=server.url)
        first = rt.run(harvest, portal=server.url)
        _settle_chain(rt)
        state.change("jbjy-vk9h", share=0.2, added=25)
        state.retype("p6dx-8zbt", "precio_base", "text")
        state.fail("gt2j-8ykr", times=2)
        second = rt.run(harvest, portal=server.url)
        _settle_chain(rt)
    page = rt.run(report, out=str(rt.home / "opendata-report"))
    found = list(rt.table("alerts").scan())
    severities = Counter(a["SEVERITY"] for a in found)
    lines = [
        f"harvested {first.result['datasets']} datasets twice from a local SODA portal "
        f"({server.url})",
        f"second harvest: {second.result.get('downloaded', 0)} downloaded, "
        f"{second.result.get('forbidden', 0)} forbidden (403)",
        f"alerts: {len(found)} ({', '.join(f'{n} {s}' for s, n in sorted(severities.items()))})",
    ]
    lines += [
        f"  {a['ID']} {a['CRITERION']}: {a['MESSAGE']}"
        for a in found
        if a["CRITERION"] in ("changed-content", "schema-drift", "availability")
    ][:6]
    lines.append(
        f"report: {page.result['report']}" if page.result else f"report failed: {page.error}"
    )
    return lines


def _settle_chain(rt: Runtime) -> None:
    """Serve until the queue and every criterion's deliveries are done."""
    rt.serve(until="idle", timeout="120s", scheduler=False)
