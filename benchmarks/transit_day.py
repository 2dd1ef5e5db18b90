"""Benchmark: one synthetic day of the transit app, generated and processed end to end.

    python benchmarks/transit_day.py --scale santiago --generate-only
    python benchmarks/transit_day.py --scale santiago --skip-generate

Generates the day (timed), then does what `cauce run transit adatrap` does with the open engine:
unpack the inputs, run the engine, zip the outputs (timed, stage by stage). Prints the figures,
the peak memory of the process and the accuracy against the ground truth, and the ratio of the
processing time to the 4,500 s the original gives its executable (the peer here).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import time
from datetime import date
from pathlib import Path

import polars as pl

from cauce.apps.transit.accuracy import TRUTH_COLUMNS, evaluate, metro_neighbour_pairs
from cauce.apps.transit.engine.network import load_network
from cauce.apps.transit.engine.run import run_engine
from cauce.apps.transit.metro import MetroTiming
from cauce.apps.transit.params import default_par_text, parse_par
from cauce.apps.transit.pipeline import EXECUTABLE_TIMEOUT_S, pack_outputs, prepare_day
from cauce.apps.transit.resolve import GPS, PO, RUNS, SERVICE_DETAIL, TRANSACTIONS
from cauce.apps.transit.synth.day import generate_day


class FolderStore:
    """The five input buckets as one local folder (what the app's buckets are on one machine)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name

    def list(self, prefix: str = "") -> list:
        return [type("Ref", (), {"key": p.name}) for p in self.folder.iterdir()
                if p.name.startswith(prefix)]

    def get(self, key: str) -> bytes:
        return (self.folder / key).read_bytes()


def rss_gb() -> float:
    with open("/proc/self/statm") as stat:
        return int(stat.read().split()[1]) * resource.getpagesize() / 1e9


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages (as `uptime` shows them)."""
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def cpu_seconds() -> float:
    """CPU time of this process, all threads (less sensitive than wall time to other work)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=("tiny", "small", "santiago"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/.work/transit"))
    parser.add_argument("--skip-generate", action="store_true",
                        help="process the day already in --workdir")
    parser.add_argument("--generate-only", action="store_true",
                        help="only generate (run processing in a fresh process: own peak memory)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    day = date(2021, 4, 22)
    inputs = args.workdir / "inputs"
    work = args.workdir / "run"
    par_text = default_par_text()
    figures: dict[str, object] = {"scale": args.scale, "seed": args.seed,
                                  "load_at_start": load_average()}
    if not args.skip_generate:
        shutil.rmtree(inputs, ignore_errors=True)
        started = time.perf_counter()
        generated = generate_day(args.scale, day, args.seed, parse_par(par_text), inputs)
        figures["generate_s"] = round(time.perf_counter() - started, 1)
        figures["generate_stages_s"] = generated.seconds
        figures["counts"] = generated.counts
        figures["peak_rss_after_generate_gb"] = round(peak_rss_gb(), 2)
        print(json.dumps(figures, indent=1), flush=True)
        if args.generate_only:
            return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    store = FolderStore(inputs, "inputs")
    stores = {kind: store for kind in (SERVICE_DETAIL, GPS, RUNS, TRANSACTIONS, PO)}
    started, cpu_started = time.perf_counter(), cpu_seconds()
    prepared = prepare_day(stores, day, work, par_text, say=lambda _: None)
    unpack_s = time.perf_counter() - started
    result = run_engine(prepared.par, work, day, parquet_dir=work / "parquet")
    zipped = time.perf_counter()
    zip_path = pack_outputs(prepared)
    zip_s = time.perf_counter() - zipped
    total = time.perf_counter() - started
    figures["process_s"] = round(total, 1)
    figures["process_cpu_s"] = round(cpu_seconds() - cpu_started, 1)
    figures["process_stages_s"] = {"unpack": round(unpack_s, 1), **result.seconds,
                                   "zip": round(zip_s, 1)}
    figures["engine_stages_cpu_s"] = result.cpu_seconds
    figures["ratio_to_4500s_budget"] = round(total / EXECUTABLE_TIMEOUT_S, 4)
    figures["zip_mb"] = round(zip_path.stat().st_size / 1e6, 1)
    figures["rows"] = result.rows
    figures["rejects"] = result.rejects
    figures["peak_rss_gb"] = round(peak_rss_gb(), 2)
    figures["load_at_end"] = load_average()
    network = load_network(work, prepared.par, day, MetroTiming())
    route_stops = network.route_stops.join(network.routes.select("route_idx", "route"),
                                           on="route_idx").select("route", "seq", "stop")
    truth = pl.read_parquet(inputs / f"{day.isoformat()}.truth.parquet", columns=TRUTH_COLUMNS)
    accuracy = evaluate(result.stages.with_columns(pl.col("stop_alight").alias("alight_stop")),
                        truth, route_stops,
                        metro_neighbour_pairs(network.stations, network.metro_lines))
    figures["accuracy"] = accuracy.as_dict()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
