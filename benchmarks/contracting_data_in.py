"""Contracting, data in: the synthetic exports and the ETL of every source at a scale, with the
floor of the ETL measured in the same run.

- synth: `cauce run contracting synth` (1 M processes at `large`, the other sources in
  datos.gov.co's proportions): seconds, peak memory, rows and bytes written;
- etl: `cauce run contracting etl --source S` for each source in turn (DuckDB: the export into
  Parquet, the cast-nulled values into the quarantine, the atomic publish);
- floor: for each export, the least any CSV-to-Parquet job does, with the same library and
  threads: DuckDB reading every column as text and writing it to Parquet (zstd), no trimming,
  casting, date parsing, quarantine or publish. The ratio etl / floor is what the original's
  semantics cost on top of moving the bytes.

Each phase runs in a fresh interpreter of its own, so its peak memory (`ru_maxrss`: DuckDB and
Polars work inside the process) is its own. Seconds are wall time; CPU seconds are given too,
as the machine's other load stretches wall time but not CPU time.

    .venv/bin/python benchmarks/contracting_data_in.py --scale large [--home DIR] [--no-synth]
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DAY = "2023-04-16"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _runtime(home: Path) -> Any:
    from cauce import Runtime
    from cauce.apps.contracting import app

    return Runtime(app, home=home)


def phase_synth(home: Path, scale: str) -> dict[str, Any]:
    started, cpu = time.perf_counter(), _cpu()
    with _runtime(home) as rt:
        run = rt.run("synth", scale=scale, date=DAY)
        if not run.succeeded:
            raise SystemExit(f"synth failed: {run.error}")
        staging = rt.bucket("staging")
        size = sum(o.size for o in staging.list("origen/"))
    return {
        "seconds": time.perf_counter() - started,
        "cpu": _cpu() - cpu,
        "peak_mb": _peak_mb(),
        "rows": run.result["rows"],
        "bytes": size,
    }


def phase_etl(home: Path) -> dict[str, Any]:
    from cauce.apps.contracting.jobs_in import SHORT

    out: dict[str, Any] = {"sources": {}}
    with _runtime(home) as rt:
        for key, short in SHORT.items():
            started, cpu = time.perf_counter(), _cpu()
            run = rt.run("etl", DAY, source=[short])
            if not run.succeeded:
                raise SystemExit(f"etl {short} failed: {run.error}")
            out["sources"][key] = {
                "seconds": time.perf_counter() - started,
                "cpu": _cpu() - cpu,
                "rows": run.result["sources"][key]["rows"],
            }
    out["peak_mb"] = _peak_mb()
    return out


def phase_floor(home: Path) -> dict[str, Any]:
    import duckdb

    from cauce.apps.contracting.jobs_in import staging_key
    from cauce.apps.contracting.sources import SOURCES

    out: dict[str, Any] = {"sources": {}}
    with _runtime(home) as rt, tempfile.TemporaryDirectory() as scratch:
        for key, src in SOURCES.items():
            path = rt.bucket("staging").path(staging_key(src))
            con = duckdb.connect()
            started, cpu = time.perf_counter(), _cpu()
            con.execute(
                f"COPY (SELECT * FROM read_csv('{path}', all_varchar=true, header=true, "
                "ignore_errors=true)) "
                f"TO '{scratch}/{key}.parquet' (FORMAT parquet, COMPRESSION zstd)"
            )
            out["sources"][key] = {"seconds": time.perf_counter() - started, "cpu": _cpu() - cpu}
            con.close()
    out["peak_mb"] = _peak_mb()
    return out


def _apart(phase: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``phase(*args)`` in a fresh interpreter of its own, so its peak memory is its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(phase, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="large", help="tiny, small, medium or large")
    parser.add_argument("--home", type=Path, help="cauce home (default: a temporary folder)")
    parser.add_argument("--no-synth", action="store_true", help="reuse the home's exports")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="contracting-data-in-"))
    print(f"# contracting data in, scale {args.scale}, {datetime.date.today()}, "
          f"{platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    if not args.no_synth:
        synth = _apart(phase_synth, home, args.scale)
        rows = synth["rows"]
        print(f"synth: {synth['seconds']:.1f} s wall, {synth['cpu']:.1f} s CPU, peak "
              f"{synth['peak_mb']:.0f} MB; {sum(rows.values()):,} rows, "
              f"{synth['bytes'] / 2**20:,.0f} MB of CSV")
    floor = _apart(phase_floor, home)
    etl = _apart(phase_etl, home)
    print(f"{'source':34} {'rows':>10} {'etl s':>7} {'cpu':>6} {'floor s':>8} {'cpu':>6} "
          f"{'etl/floor':>9}")
    total = {"etl": 0.0, "etl_cpu": 0.0, "floor": 0.0, "floor_cpu": 0.0}
    for key, got in etl["sources"].items():
        low = floor["sources"][key]
        total["etl"] += got["seconds"]
        total["etl_cpu"] += got["cpu"]
        total["floor"] += low["seconds"]
        total["floor_cpu"] += low["cpu"]
        print(f"{key:34} {got['rows']:>10,} {got['seconds']:7.1f} {got['cpu']:6.1f} "
              f"{low['seconds']:8.1f} {low['cpu']:6.1f} {got['seconds'] / low['seconds']:8.1f}x")
    print(f"{'all sources':34} {'':>10} {total['etl']:7.1f} {total['etl_cpu']:6.1f} "
          f"{total['floor']:8.1f} {total['floor_cpu']:6.1f} "
          f"{total['etl'] / total['floor']:8.1f}x")
    print(f"peak memory: etl {etl['peak_mb']:.0f} MB, floor {floor['peak_mb']:.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
