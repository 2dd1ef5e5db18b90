"""Command-line start-up: wall time of `import cauce`, `cauce --help`, `cauce apps` and loading
the largest bundled app (contracting), what every `cauce worker` and `serve` process pays first.

A hyperfine-like loop: each command runs once to warm the bytecode cache and the OS file
cache, then ``--runs`` times in turn; the median and the fastest wall time are reported, beside
bare Python for the floor, and the median CPU time (user + system), which other work on a
shared machine disturbs less than the wall time. Commands run with this process's
environment, so ``PYTHONPATH`` picks the checkout measured; bytecode is written (whatever
PYTHONDONTWRITEBYTECODE says) under a temporary PYTHONPYCACHEPREFIX, so every module, cauce's
and the libraries', loads from cached bytecode without writing into any source tree.

    python benchmarks/cli_startup.py                # 15 runs each
    python benchmarks/cli_startup.py --runs 30 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import cauce": [sys.executable, "-c", "import cauce"],
    "cauce --help": [sys.executable, "-m", "cauce.cli.main", "--help"],
    "cauce apps": [sys.executable, "-m", "cauce.cli.main", "apps"],
    "load contracting": [
        sys.executable, "-c", "from cauce.cli.loading import load_app; load_app('contracting')"
    ],
}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds one run of ``command`` takes, start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="cauce-pycache-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    try:
        for command in COMMANDS.values():
            timed(command, env)  # warm-up: bytecode written, files cached
        for _ in range(args.runs):
            for name, command in COMMANDS.items():  # interleaved: load changes hit all alike
                times[name].append(timed(command, env))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    results = [
        {
            "command": name,
            "runs": args.runs,
            "median_ms": round(statistics.median(w for w, _ in t) * 1000),
            "min_ms": round(min(w for w, _ in t) * 1000),
            "median_cpu_ms": round(statistics.median(c for _, c in t) * 1000),
        }
        for name, t in times.items()
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'command':<17} {'median':>9} {'fastest':>8} {'median CPU':>11}")
    for r in results:
        print(
            f"{r['command']:<17} {r['median_ms']:>6} ms {r['min_ms']:>5} ms "
            f"{r['median_cpu_ms']:>8} ms"
        )
    print(
        f"{args.runs} runs each; machine: {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
