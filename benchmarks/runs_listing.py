"""`cauce runs` listing every run of a home with a year's history: time, memory, first byte.

Each listing runs as a user runs it (``python -m cauce --home H runs --limit 1000000000``,
as a table and with ``--json``), its output read from a pipe: wall time, CPU time, peak
memory (the child's own maximum resident set), seconds to its first byte, bytes and the
SHA-256 of what it printed (the same runs listed by two versions of cauce print the same
bytes). ``--src`` runs another version's source (``PYTHONPATH``), to compare before and after
on the same home. Build the home first with ``benchmarks/year_home.py build``.

    python benchmarks/year_home.py build /tmp/year --scale 0.25        # 50,580 runs
    python benchmarks/runs_listing.py /tmp/year [--state URL] [--src OTHER/src] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LISTINGS = [
    ["runs", "--limit", "1000000000", "--json"],
    ["runs", "--limit", "1000000000"],
    ["runs", "--limit", "1000000000", "--app", "other"],
    ["runs", "--limit", "1000"],
]


def listed(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One run of ``command``: its figures, from its own resource usage (`os.wait4`)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert child.stdout is not None
    digest, size, first = hashlib.sha256(), 0, None
    while chunk := child.stdout.read1(1 << 16):
        if first is None:
            first = time.perf_counter() - started
        digest.update(chunk)
        size += len(chunk)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return {"s": time.perf_counter() - started, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024,
            "first_byte_s": float("nan") if first is None else first, "bytes": size,
            "sha256": digest.hexdigest()[:12], "exit": child.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--state", default=None, help="a state URL (default: the home's file)")
    parser.add_argument("--src", type=Path, default=Path(__file__).parents[1] / "src",
                        help="the source of the cauce to run (default: this checkout's)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    base = [sys.executable, "-m", "cauce", "--home", str(args.home)]
    if args.state:
        base += ["--state", args.state]
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    print(f"cauce from {args.src}", flush=True)
    for command in LISTINGS:
        runs = [listed(base + command, env) for _ in range(args.repeat)]
        median = {key: statistics.median(r[key] for r in runs)
                  for key in ("s", "cpu_s", "peak_mb", "first_byte_s")}
        last = runs[-1]
        print(f"cauce {' '.join(command):48} {median['s']:7.2f} s  CPU {median['cpu_s']:7.2f} s"
              f"  peak {median['peak_mb']:7.1f} MB  first byte {median['first_byte_s']:6.2f} s"
              f"  {last['bytes']:,} bytes sha256 {last['sha256']}  exit {last['exit']}",
              flush=True)


if __name__ == "__main__":
    main()
