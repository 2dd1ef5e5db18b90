"""`cauce run census load --all` as a user runs it: a new process, start-up included.

Loads both Adult files into a fresh SQLite file and a fresh home each time, with the code of
two checkouts in turn (each on ``PYTHONPATH``), alternating which goes first, and prints the
median and fastest wall time of each. The in-process load alone is benchmarks/census_load.py.

    python benchmarks/census_command.py --before /path/to/other/checkout [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "census"


def timed_load(source: Path) -> float:
    """One `cauce run census load --all` of both files with the cauce under ``source``."""
    folder = Path(tempfile.mkdtemp())
    try:
        command = [sys.executable, "-m", "cauce", "--home", str(folder / "home"), "run", "census",
                   "load", "--all", "--db", f"sqlite:///{folder / 'w.db'}",
                   "--source", str(DATA / "Adult.data"), "--source", str(DATA / "Adult.test")]
        start = time.perf_counter()
        subprocess.run(command, env=dict(os.environ, PYTHONPATH=str(source)), cwd=folder,
                       capture_output=True, check=True)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    sources = {"before": args.before / "src", "this": REPO / "src"}
    times: dict[str, list[float]] = {name: [] for name in sources}
    for run in range(args.runs):
        order = list(sources.items()) if run % 2 == 0 else list(reversed(sources.items()))
        for name, source in order:
            times[name].append(timed_load(source))
    for name, measured in times.items():
        print(f"{name:7s} median {1000 * statistics.median(measured):5.0f} ms, "
              f"fastest {1000 * min(measured):5.0f} ms ({len(measured)} runs)")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
