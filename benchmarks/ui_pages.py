"""Web UI: server time of every page over a home with 100,000 runs and 1,000,000 log lines.

The home is generated through the library (runs.insert, the log sink) for the four bundled
apps: runs spread over 30 days with their real job and handler names, partitions for the
partitioned jobs, a mix of statuses, ten log lines per run and the rest in general streams.
Each page is requested through Starlette's test client in-process, so the time is the server's
(routing, state reads, templates), not the network's. The target is 300 ms per page.

The peer: the runs list paged by OFFSET (as `LIMIT 50 OFFSET n`) against cauce's keyset on the
run id, at the same depth, in the same run.

    python benchmarks/ui_pages.py                  # 100,000 runs, 1,000,000 lines
    python benchmarks/ui_pages.py --runs 20000 --lines 200000 --json
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cauce.backends.state import RunFilter, open_state, sqlite_url
from cauce.cli.loading import bundled_apps, load_app
from cauce.clock import SimulatedClock
from cauce.logs import LogSink
from cauce.runs import RunRecord, RunStatus

STATUSES = [RunStatus.SUCCEEDED] * 90 + [RunStatus.FAILED] * 6 + [
    RunStatus.DEAD_LETTERED, RunStatus.CANCELLED, RunStatus.QUEUED, RunStatus.RUNNING]
DAY = 86_400


def generate(home: Path, n_runs: int, n_lines: int, seed: int = 7) -> tuple[float, list[str]]:
    """Write the runs and lines into ``home``; returns (seconds taken, run ids)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    targets: list[tuple[str, str, str, Any]] = []
    for name in bundled_apps():
        app, _ = load_app(name)
        targets += [(app.name, "job", j.name, j.partitions) for j in app.jobs.values()]
        targets += [(app.name, "handler", h.name, None) for h in app.handlers.values()]
    now = time.time()
    first = now - 30 * DAY
    state = open_state(sqlite_url(home / "state.db"))
    ids: list[str] = []
    apps: list[str] = []
    batch: list[RunRecord] = []
    for i in range(n_runs):
        app, kind, name, parts = rng.choice(targets)
        at = first + (now - first) * i / n_runs
        ms = int(at * 1000)
        run_id = f"{ms:012x}{rng.getrandbits(24):06x}"
        partition = None
        if parts is not None:
            day = parts.start.toordinal() + rng.randrange(400)
            partition = parts.key(type(parts.start).fromordinal(day))
        status = rng.choice(STATUSES)
        ended = status.finished
        batch.append(RunRecord(id=run_id, app=app, kind=kind, name=name, status=status,
                               partition=partition, trigger="bench", queued_at=at,
                               started_at=at + 0.01, params={"i": i},
                               ended_at=at + 1.51 if ended else None,
                               error="ValueError: bad row" if status in (
                                   RunStatus.FAILED, RunStatus.DEAD_LETTERED) else None))
        ids.append(run_id)
        apps.append(app)
        if len(batch) == 10_000:
            state.runs.insert(batch)
            batch = []
    if batch:
        state.runs.insert(batch)
    clock = SimulatedClock(first)
    sink = LogSink(state, clock)
    per_run = min(10, n_lines // max(1, n_runs))
    written = 0
    for i, run_id in enumerate(ids):
        clock.set(first + (now - first) * i / n_runs)
        for j in range(per_run):
            sink.write(apps[i], f"run/{run_id}", logging.INFO,
                       f"step {j} of run {run_id}: 1,630 rows", run_id)
        written += per_run
    for k in range(n_lines - written):
        clock.set(first + (now - first) * k / max(1, n_lines - written))
        sink.write(targets[k % len(targets)][0], "general", logging.INFO, f"general line {k}")
    sink.close()
    state.close()
    return time.perf_counter() - started, ids


def measure(home: Path, ids: list[str], repeat: int) -> dict[str, dict[str, float]]:
    from starlette.testclient import TestClient

    from cauce.web.home import Home
    from cauce.web.server import create_app

    ui_home = Home.open(home)
    mid = ids[len(ids) // 2]
    pages = ["/", "/runs", "/runs?app=transit", "/runs?status=failed",
             "/runs?app=opendata&status=dead-lettered", f"/runs?before={mid}",
             "/runs?since=2h", f"/runs/{ids[-1]}", f"/runs/{ids[-1]}/events",
             "/dashboards"]
    for app in ui_home.app_names:
        pages += [f"/apps/{app}", f"/apps/{app}/partitions", f"/apps/{app}/queues",
                  f"/apps/{app}/data", f"/apps/{app}/logs", f"/runs?app={app}&name="
                  + next(iter(ui_home.app(app).jobs))]
    results = {}
    with TestClient(create_app(ui_home), base_url="http://127.0.0.1") as client:
        for page in pages:
            assert client.get(page).status_code == 200, page  # warm: templates compiled
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                response = client.get(page)
                times.append(time.perf_counter() - t)
                assert response.status_code == 200, page
            results[page] = {"median_ms": statistics.median(times) * 1000,
                             "max_ms": max(times) * 1000}
    ui_home.close()
    return results


def offset_versus_keyset(home: Path, depth: int, repeat: int) -> dict[str, float]:
    """The runs query a page needs at ``depth`` rows from the newest: OFFSET against keyset."""
    import sqlite3

    state = open_state(sqlite_url(home / "state.db"))
    con = sqlite3.connect(home / "state.db")  # the OFFSET peer, as a plain SQLite reader would
    before = con.execute("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?",
                         (depth - 1,)).fetchone()[0]

    def timed(fn: Any) -> float:
        best = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            best.append(time.perf_counter() - t)
        return statistics.median(best) * 1000

    offset_ms = timed(lambda: con.execute(
        "SELECT * FROM runs ORDER BY coalesce(started_at, queued_at) DESC, id DESC "
        "LIMIT 50 OFFSET ?", (depth,)).fetchall())
    keyset_ms = timed(lambda: state.views.runs_page(RunFilter(), before=before, limit=50))
    con.close()
    state.close()
    return {"depth": depth, "offset_ms": offset_ms, "keyset_ms": keyset_ms,
            "ratio": offset_ms / keyset_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cauce-ui-bench-") as tmp:
        home = Path(tmp)
        seconds, ids = generate(home, args.runs, args.lines)
        pages = measure(home, ids, args.repeat)
        peer = offset_versus_keyset(home, args.runs // 2, args.repeat)
    worst = max(pages.items(), key=lambda kv: kv[1]["max_ms"])
    report = {"runs": args.runs, "lines": args.lines, "generate_s": seconds, "pages": pages,
              "worst": worst[0], "worst_max_ms": worst[1]["max_ms"], "offset_vs_keyset": peer}
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        return
    print(f"home: {args.runs:,} runs, {args.lines:,} log lines, generated in {seconds:.1f} s")
    print(f"{'page':60} {'median ms':>10} {'max ms':>8}")
    for page, t in pages.items():
        print(f"{page[:60]:60} {t['median_ms']:10.1f} {t['max_ms']:8.1f}")
    print(f"slowest: {worst[0]} at {worst[1]['max_ms']:.1f} ms (target 300 ms)")
    print(f"runs page at depth {peer['depth']:,}: OFFSET {peer['offset_ms']:.1f} ms, keyset "
          f"{peer['keyset_ms']:.2f} ms ({peer['ratio']:.0f}x)")


if __name__ == "__main__":
    main()
