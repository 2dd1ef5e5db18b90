"""Opendata: harvest of 1,000 small datasets from the local portal through the whole chain.

The local SODA portal (loopback) serves 1,000 synthetic datasets of 20–200 rows. cauce runs the
app in a real `Runtime` as `cauce serve` would: the harvest job (bounded concurrency) downloads
every dataset into bucket raw and queues it while the dispatcher's workers profile each one,
store it in tables datasets and versions, publish it, and run the five criteria. Measured:
datasets per second from the harvest's start to the last criterion's end, and per dataset the
latency from its download's end (the object's mtime) to its last criterion's end, p50 and p99.

The peer is ARTI4207's step 1 and 2 as one sequential loop on httpx (no queue, no tables, no
criteria): read the inventory, download each dataset's CSV, write it to a folder, SHA-256 it.

    .venv/bin/python benchmarks/opendata_harvest.py [--datasets 1000] [--concurrency 1 8]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cauce import Runtime
from cauce.apps.opendata import app, harvest
from cauce.apps.opendata.catalog import object_key
from cauce.apps.opendata.synth import catalogue
from cauce.connectors.soda.portal import Portal, PortalState

CRITERIA = ("changed_content", "stale_data", "schema_drift", "quality", "availability")


def original_loop(url: str, folder: Path) -> int:
    """The original's chain without its cloud: inventory, download, hash, one item per dataset."""
    items = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        inventory = client.get(
            "/resource/uzcf-b9dh.json",
            params={"type": "dataset", "audience": "public", "$limit": 50_000},
        ).json()
        for entry in inventory:
            ident = entry["uid"]
            path = folder / ident / f"{ident}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(
                client.get(f"/resource/{ident}.csv", params={"$limit": 50_000}).content
            )
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            items[digest] = {
                "ID": ident,
                "OWNER": entry.get("owner", ""),
                "NAME": entry.get("name", ""),
            }
    (folder / "items.json").write_text(json.dumps(items))
    return len(inventory)


def cauce_chain(url: str, home: Path, concurrency: int, threads: int) -> dict[str, float]:
    settings = {"portal": url, "limit": 0, "concurrency": concurrency, "retries": 3, "backoff": 0.1}
    with Runtime(app, home=home, settings=settings) as rt:
        started = time.time()
        run_id = rt.submit(harvest)

        def done() -> bool:
            if rt.get_run(run_id).ended_at is None:
                return False
            return all(
                q["visible"] == 0 and q["in_flight_or_delayed"] == 0
                for q in rt.queue_stats()
                if not q["queue"].startswith("job ")
            )

        rt.serve(until=done, timeout="1800s", threads=threads, scheduler=False)
        ended = time.time()
        result = rt.get_run(run_id).result
        harvest_seconds = rt.get_run(run_id).duration or 0.0
        raw = rt.bucket("raw")
        downloaded = {r.key.split("/")[0]: r.created_at.timestamp() for r in raw.list()}
        last: dict[str, float] = {}
        for r in rt.runs():
            if r.name in CRITERIA and r.ended_at is not None and isinstance(r.result, dict):
                ident = r.result["ID"]
                last[ident] = max(last.get(ident, 0.0), r.ended_at.timestamp())
        latencies = sorted(last[i] - downloaded[i] for i in downloaded if i in last)
        failed = len(rt.runs(status="failed"))
        assert len(latencies) == result["downloaded"] == len(downloaded), (len(latencies), result)
        assert raw.exists(object_key(next(iter(downloaded))))
    return {
        "datasets": result["datasets"],
        "seconds": ended - started,
        "harvest_seconds": harvest_seconds,
        "p50": statistics.median(latencies),
        "p99": latencies[max(0, round(0.99 * len(latencies)) - 1)],
        "failed_runs": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=8, help="dispatcher worker threads")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="opendata-harvest-"))
    try:
        started = time.perf_counter()
        datasets = catalogue(args.datasets, seed=11, rows=(20, 200), known=False)
        state = PortalState.of(datasets, extras=20)
        rows = sum(d.rows for d in datasets)
        print(
            f"{datetime.date.today()} · {platform.processor() or platform.machine()} · "
            f"{os.cpu_count()} cores · Python {sys.version.split()[0]}"
        )
        print(
            f"{len(datasets):,} datasets, {rows:,} rows "
            f"(generated in {time.perf_counter() - started:.1f} s)"
        )
        with Portal(state) as portal:
            began = time.perf_counter()
            count = original_loop(portal.url, folder / "original")
            peer = count / (time.perf_counter() - began)
            print(f"  original loop (sequential download + SHA-256): {peer:7.1f} datasets/s")
            for concurrency in args.concurrency:
                figures = cauce_chain(
                    portal.url, folder / f"home-{concurrency}", concurrency, args.threads
                )
                speed = figures["datasets"] / figures["seconds"]
                print(
                    f"  cauce chain, concurrency {concurrency:>2}, {args.threads} worker threads: "
                    f"{speed:7.1f} datasets/s ({figures['seconds']:.1f} s end to end, harvest job "
                    f"{figures['harvest_seconds']:.1f} s; latency download → last criterion "
                    f"p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s; "
                    f"{figures['failed_runs']} failed runs); {speed / peer:.2f}× the original loop",
                    flush=True,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
