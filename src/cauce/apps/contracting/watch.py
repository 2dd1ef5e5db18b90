"""Exports dropped into bucket staging by hand start their source's ETL.

A user with bulk CSV exports puts one under ``origen/<its file name>`` (`cauce put`, or a copy
into the bucket's folder); while `cauce serve contracting` runs, the arrival submits that
source's ETL (``etl-<short>``) for today's date in Bogotá, as the original dated its raw zone.
Exports the app writes itself (download, synth) are left to the run that wrote them: they are
noted in table ``staging_own`` just before they are written, and the watch skips an arrival
that matches its note (same key and size), so the weekly run's own ETL is never doubled.
"""

from __future__ import annotations

from pathlib import Path

from cauce import Context, ObjectRef

from .app import app, staging
from .sources import source

PREFIX = "origen/"
own = app.table("staging_own", key="key")  # exports the app is writing into staging


def put_own(key: str, path: Path) -> None:
    """Move ``path`` into staging at ``key`` as one of the app's own writes (not watched)."""
    own.put({"key": key, "size": path.stat().st_size})
    staging.put_file(key, path, move=True)


@app.on(staging, prefix=PREFIX, name="export-arrived")
def export_arrived(obj: ObjectRef, ctx: Context) -> str | None:
    """Submit the ETL of the source whose export arrived, unless the app wrote it."""
    from .jobs_in import SHORT  # the jobs module declares the ETL jobs this submits

    note = own.get(obj.key)
    if note is not None and note.get("size") == obj.size:
        own.delete(obj.key)
        ctx.log.info("%s: written by this app's own run, which loads it", obj.key)
        return None
    try:
        src = source(obj.key.removeprefix(PREFIX))
    except KeyError:
        ctx.log.warning(
            "%s in bucket staging is not an export this app reads; left alone "
            "(the file names are in the app README)",
            obj.key,
        )
        return None
    day = ctx.local_now().date().isoformat()
    run_id = ctx.submit(f"etl-{SHORT[src.key]}", partition=day)
    ctx.log.info(
        "%s arrived: submitted run %s of etl-%s for %s", obj.key, run_id, SHORT[src.key], day
    )
    return run_id
