"""Exports dropped into bucket staging by hand start their source's ETL.

A user with bulk CSV exports puts one under ``origen/<its file name>`` (`cauce put`, or a copy
into the bucket's folder); while `cauce serve contracting` runs, the arrival submits that
source's ETL (``etl-<short>``) for today's date in Bogotá, as the original dated its raw zone.
Exports the app writes itself (download, synth) are left to the run that wrote them: each write is
counted in table ``staging_own`` (by key and size) just before it is made, and the watch skips
as many arrivals of that key and size as were counted, so the weekly run's own ETL is never
doubled, however many times the app wrote the file before `cauce serve` saw the events.
"""

from __future__ import annotations

from pathlib import Path

from cauce import ConditionFailed, Context, ObjectRef

from .app import app, staging
from .sources import SOURCES, Source

PREFIX = "origen/"
own = app.table("staging_own", key=("key", "size"))  # the app's writes not yet seen


def put_own(key: str, path: Path) -> None:
    """Move ``path`` into staging at ``key`` as one of the app's own writes (not watched)."""
    _count(key, path.stat().st_size, +1)
    staging.put_file(key, path, move=True)


def _count(key: str, size: int, step: int) -> bool:
    """Add ``step`` to the writes counted for (key, size); False when a decrement finds none.
    Conditional writes, retried, so concurrent writers and the watch never lose a count."""
    while True:
        version = own.version((key, size))  # before the item: a later change fails the write
        note = own.get((key, size)) if version is not None else None
        pending = (note or {}).get("pending", 0) + step
        if pending < 0:
            return False
        try:
            if note is None:
                own.put({"key": key, "size": size, "pending": pending}, if_absent=True)
            elif pending == 0:
                if not own.delete((key, size), if_version=version):
                    continue
            else:
                own.put({**note, "pending": pending}, if_version=version)
            return True
        except ConditionFailed:
            continue


def exported_as(name: str) -> Source | None:
    """The source whose export file is named ``name`` (not its dataset id or raw table: the
    ETL reads the file name, so an object named otherwise would start a load of another)."""
    return next((src for src in SOURCES.values() if src.file == name), None)


@app.on(staging, prefix=PREFIX, name="export-arrived")
def export_arrived(obj: ObjectRef, ctx: Context) -> str | None:
    """Submit the ETL of the source whose export arrived, unless the app wrote it."""
    from .jobs_in import SHORT  # the jobs module declares the ETL jobs this submits

    if _count(obj.key, obj.size, -1):
        ctx.log.info("%s: written by this app's own run, which loads it", obj.key)
        return None
    src = exported_as(obj.key.removeprefix(PREFIX))
    if src is None:
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
