"""Contracting: one week's batch (ETL of the ten sources + the indicators, flags and scores +
the warehouse load) on DuckDB and on PySpark local mode, with the original's approach as peer.

Synthetic exports of the chosen scale (`synth`, 1 M processes at `large` and the other sources
in proportion) are written once into a fresh cauce home. Then each contender runs in its own
process, so its peak memory is its own:

- duckdb: `etl`, `indicators` and `load` (DuckDB file warehouse) with ``--engine duckdb``;
- spark: the same three jobs with ``--engine spark`` on ``local[2]`` (the ETL is the same
  DuckDB code: only the indicators change engine);
- original: the original's ten `ind_*.py` scripts as PySpark DataFrame code
  (benchmarks/contracting_original.py) on the same raw zone, as its EMR steps ran them;
- floor: the least any DuckDB job can do for the ETL — every export read once as text and
  written to Parquet (`contracting_data_in.phase_floor`) — plus the duckdb contender's own
  indicators and load: the whole batch's floor on this machine with DuckDB alone.

With ``--check`` each engine also runs the as-published definitions and every result is
compared with the truth the synthetic exports planted (and the peer with the as-published
truth). Figures are seconds of wall time; peak memory is the highest resident memory of the
contender's process and its children (Spark's JVM), sampled every 0.2 s.

    .venv/bin/python benchmarks/contracting_weekly.py --scale large [--check] [--no-spark]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAY = "2023-04-16"


def _runtime(home: Path, **settings: Any) -> Any:
    from cauce import Runtime
    from cauce.apps.contracting import app

    return Runtime(app, home=home, settings={"download": False, **settings})


class PeakMemory:
    """The highest resident memory of this process plus its descendants (Spark's JVM), sampled
    every 0.2 s; `ru_maxrss` will not do, as a child inherits its parent's high-water mark."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, sum(_rss_kb(p) for p in _family(os.getpid())) / 1024)
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def _family(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


CPU: dict[str, float] = {}  # CPU seconds (all threads) of each job timed in this process


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(rt: Any, job: str, **params: Any) -> float:
    started, cpu = time.perf_counter(), _cpu()
    run = rt.run(job, DAY, **params) if job != "synth" else rt.run(job, **params)
    if not run.succeeded:
        raise SystemExit(f"{job} failed: {run.error}")
    CPU[job] = _cpu() - cpu
    return time.perf_counter() - started


def _truth(home: Path) -> dict[str, Any]:
    with _runtime(home) as rt:
        return json.loads(rt.bucket("staging").get(f"truth/{DAY}.json"))


def _compare(rows: list[dict[str, Any]], expected: dict[str, Any]) -> list[str]:
    """The indicators whose four figures differ from the truth (a null sum counts as 0, as
    the app loads it)."""
    wrong = []
    for row in rows:
        want = expected[row["nombre_indicador"]]
        got = {k: (f"{row[k] or 0:.3f}" if k.startswith("monto") else row[k] or 0)
               for k in want}
        if {k: str(v) for k, v in got.items()} != {k: str(v) for k, v in want.items()}:
            wrong.append(f"{row['nombre_indicador']}: {got} != {want}")
    missing = set(expected) - {r["nombre_indicador"] for r in rows}
    return wrong + [f"{m}: missing" for m in sorted(missing)]


def phase_engine(home: Path, engine: str, check: bool) -> dict[str, Any]:
    """ETL + indicators + load on one engine (and, with ``check``, the as-published pass)."""
    from cauce.apps.contracting.results import INDICATORS_TABLE, PUBLISHED_TABLE

    out: dict[str, Any] = {"engine": engine}
    memory = PeakMemory()
    with _runtime(home, engine=engine, dashboard_images=False) as rt:
        out["etl"] = _timed(rt, "etl")
        out["indicators"] = _timed(rt, "indicators")
        out["load"] = _timed(rt, "load")
        rows = rt.warehouse("results").query(
            f"SELECT * FROM {INDICATORS_TABLE} WHERE fecha_ejecucion = DATE '{DAY}'").to_pylist()
    out["peak_mb"] = memory.stop()
    out["total"] = out["etl"] + out["indicators"] + out["load"]
    out["cpu"] = {job: round(CPU[job], 1) for job in ("etl", "indicators", "load")}
    if check:
        truth = _truth(home)["indicators"]
        out["fixed_differs"] = _compare(rows, truth["fixed"])
        with _runtime(home, engine=engine, as_published=True) as rt:
            out["published_indicators"] = _timed(rt, "indicators")
            _timed(rt, "load")
            rows = rt.warehouse("results").query(
                f"SELECT * FROM {PUBLISHED_TABLE} WHERE fecha_ejecucion = DATE '{DAY}'"
            ).to_pylist()
        out["published_differs"] = _compare(rows, truth["as_published"])
    return out


def phase_original(home: Path, check: bool) -> dict[str, Any]:
    """The original's ten scripts in PySpark on the raw zone the ETL wrote."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from contracting_original import indicators

    from cauce.apps.contracting import rawzone
    from cauce.apps.contracting.engine import spark_session
    from cauce.apps.contracting.tables import COLUMNS

    day = datetime.date.fromisoformat(DAY)
    with _runtime(home) as rt:
        files = {t: rawzone.local_paths(rt.bucket("raw"), t, day) for t in COLUMNS}
    memory = PeakMemory()
    started = time.perf_counter()
    spark = spark_session("local[2]")
    out: dict[str, Any] = {"engine": "original", "start": time.perf_counter() - started}
    started = time.perf_counter()
    rows = indicators(spark, files)
    out["indicators"] = time.perf_counter() - started
    spark.stop()
    out["peak_mb"] = memory.stop()
    if check:
        out["published_differs"] = _compare(rows, _truth(home)["indicators"]["as_published"])
    return out


def phase_floor(home: Path) -> dict[str, Any]:
    """The bare CSV-to-Parquet copy of every export, timed as the ETL it stands for."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from contracting_data_in import phase_floor as bare_copy

    started, cpu = time.perf_counter(), _cpu()
    copied = bare_copy(home)
    return {"engine": "floor", "etl": time.perf_counter() - started, "indicators": 0.0,
            "cpu": {"etl": round(_cpu() - cpu, 1)}, "peak_mb": copied["peak_mb"]}


def _child(args: argparse.Namespace, phase: str, home: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, "--home", str(home),
               "--scale", args.scale] + (["--check"] if args.check else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="large", help="tiny, small, medium or large")
    parser.add_argument("--home", type=Path, help="cauce home (default: a temporary folder)")
    parser.add_argument("--check", action="store_true", help="compare with the planted truth")
    parser.add_argument("--no-spark", action="store_true", help="DuckDB only")
    parser.add_argument("--no-original", action="store_true", help="skip the original's peer")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the exports already in --home (no synth)")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-copy floor")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phases = {"original": lambda: phase_original(args.home, args.check),
                  "floor": lambda: phase_floor(args.home)}
        result = phases.get(args.phase, lambda: phase_engine(args.home, args.phase,
                                                             args.check))()
        print(json.dumps(result))
        return
    home = args.home or Path(tempfile.mkdtemp(prefix="contracting-bench-"))
    print(f"# contracting weekly batch, scale {args.scale}, {datetime.date.today()}, "
          f"{platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with _runtime(home) as rt:
        synth = 0.0 if args.reuse else _timed(rt, "synth", scale=args.scale, date=DAY)
        rows = json.loads(rt.bucket("staging").get(f"truth/{DAY}.json"))["rows"]
    print(f"synth: {synth:.1f} s, {sum(rows.values()):,} rows "
          f"({rows['t_seii_procecotrata_compraadjudi']:,} processes)")
    results = [_child(args, "duckdb", home)]
    if not args.no_floor:
        floor, duck = _child(args, "floor", home), results[0]
        floor.update(indicators=duck["indicators"], load=duck["load"],
                     cpu={**floor["cpu"], "indicators": duck["cpu"]["indicators"],
                          "load": duck["cpu"]["load"]})
        floor["total"] = floor["etl"] + floor["indicators"] + floor["load"]
        results.append(floor)
    if not args.no_spark:
        results.append(_child(args, "spark", home))
        if not args.no_original:
            results.append(_child(args, "original", home))
    print(f"{'engine':10} {'etl':>7} {'indic.':>7} {'load':>7} {'total':>7} {'peak MB':>8} "
          "CPU s (etl/indic./load)")
    for r in results:
        cpu = "/".join(str(v) for v in r.get("cpu", {}).values())
        print(f"{r['engine']:10} {r.get('etl', 0):7.1f} {r['indicators']:7.1f} "
              f"{r.get('load', 0):7.1f} {r.get('total', r['indicators']):7.1f} "
              f"{r['peak_mb']:8.0f} {cpu}")
    by = {r["engine"]: r for r in results}
    if "spark" in by:
        duck, spark = by["duckdb"], by["spark"]
        part = (spark["indicators"] + spark["load"]) / (duck["indicators"] + duck["load"])
        print(f"spark / duckdb: indicators+load {part:.1f}x, "
              f"whole batch {spark['total'] / duck['total']:.1f}x")
    if "original" in by:
        print(f"original (PySpark scripts) / duckdb indicators: "
              f"{by['original']['indicators'] / by['duckdb']['indicators']:.1f}x "
              f"(the original computes the ten rows only: no flags, scores or load)")
    if args.check:
        for r in results:
            for key in ("fixed_differs", "published_differs"):
                if key in r:
                    verdict = "equal to the truth" if not r[key] else "; ".join(r[key])
                    print(f"check {r['engine']} {key.split('_')[0]}: {verdict}")
    for r in results:  # Spark's JVM is another process: its CPU is not in these seconds
        if r["engine"] in ("duckdb", "floor"):
            print(f"{r['engine']}: {sum(r['cpu'].values()):.1f} CPU seconds for the batch "
                  f"(at least {sum(r['cpu'].values()) / os.cpu_count():.1f} s of wall time on "
                  f"{os.cpu_count()} idle cores)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
