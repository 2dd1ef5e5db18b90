"""A home holding a year of history, and the time of the commands that list it.

``build`` writes the home in bulk through the state store (`runs.insert`, `logs.append`,
`queues.send`, `tables.put`), on a SQLite file or a PostgreSQL state:

- 200,000 runs over the last 365 days: 40 jobs in app ``big``, 1 in 50 failed, plus 2,000 runs
  of app ``other``, 20 runs of a rare job ``rare``, and 30 running and 30 queued runs;
- 3,000,000 log lines: 2,000,000 over 200 streams (``stream0`` ... ``stream199``, one of them
  named ``año nuevo 2027`` to probe names with spaces and non-ASCII letters), then 1,000,000 in
  app ``big``'s ``general`` stream; 10 lines per run for the 10,000 newest runs;
- 50,000 dead letters in 5 queues (10,000 each), 10,000 queued messages in ``q1``;
- 100,000 items in table ``things``.

``--scale 0.1`` writes a tenth of each. The app file ``bigapp.py`` is written into the home.

``measure`` runs each listing command as a user would (``python -m cauce ...``), three times,
and prints the median wall time; it also times, in-process, the SQL behind ``cauce logs`` (the
list of streams), a ``--follow`` poll of a quiet and of a busy stream, and filtered run lists
(``runs.query`` for `cauce runs`, ``views.runs_page`` for the UI), with the query plan of each.

    python benchmarks/year_home.py build /tmp/year                     # SQLite, ~3 min
    python benchmarks/year_home.py build /tmp/year-pg --state postgresql://postgres@127.0.0.1/test
    python benchmarks/year_home.py measure /tmp/year [--state URL] [--only sql|cli]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cauce.backends.state import RunFilter, StateStore, open_state, sqlite_url
from cauce.runs import RunRecord, RunStatus

DAY = 86_400
ODD_STREAM = "año nuevo 2027"
APP_FILE = '''from cauce import App

app = App("big")
things = app.table("things", key="id")
queues = [app.queue(f"q{i}") for i in range(1, 6)]
'''


def _url(home: Path, state: str | None) -> str:
    return state or sqlite_url(home / "state.db")


def build(home: Path, state_url: str | None, scale: float, seed: int = 11) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "bigapp.py").write_text(APP_FILE, encoding="utf-8")
    state = open_state(_url(home, state_url))
    rng = random.Random(seed)
    now = time.time()
    first = now - 365 * DAY
    n_runs = int(200_000 * scale)
    started = time.perf_counter()
    batch: list[RunRecord] = []
    run_ids: list[str] = []

    def run(i: int, at: float, app: str, name: str, status: RunStatus) -> None:
        run_id = f"{int(at * 1000):012x}{rng.getrandbits(48):012x}"
        batch.append(RunRecord(
            id=run_id, app=app, kind="job", name=name, status=status,
            partition=None, trigger="schedule", queued_at=at, started_at=at + 0.01,
            params={"i": i}, ended_at=at + 2.0 if status.finished else None,
            error="ValueError: bad row" if status is RunStatus.FAILED else None))
        run_ids.append(run_id)

    for i in range(n_runs):
        at = first + (now - first) * i / n_runs
        run(i, at, "big", f"job{i % 40}",
            RunStatus.FAILED if i % 50 == 7 else RunStatus.SUCCEEDED)
        if i % 100 == 3:
            run(i, at + 0.5, "other", "tidy", RunStatus.SUCCEEDED)
        if i % max(1, n_runs // 20) == 5:
            run(i, at + 0.7, "big", "rare", RunStatus.SUCCEEDED)
        if len(batch) >= 10_000:
            state.runs.insert(batch)
            batch.clear()
    for i in range(30):
        run(i, now - 60 + i, "big", f"job{i % 40}", RunStatus.RUNNING)
        run(i, now - 30 + i, "big", f"job{i % 40}", RunStatus.QUEUED)
    state.runs.insert(batch)
    batch.clear()
    print(f"runs: {len(run_ids):,} in {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    n_streams, per_stream = 200, int(10_000 * scale)
    names = [ODD_STREAM if s == 13 else f"stream{s}" for s in range(n_streams)]
    lines: list[tuple[str, str, float, int, str, str | None]] = []
    total = n_streams * per_stream
    for k in range(total):
        at = first + (now - first - DAY) * k / total
        lines.append(("big", names[k % n_streams], at, 20, f"line {k} of the year", None))
        if len(lines) >= 20_000:
            state.logs.append(lines)
            lines.clear()
    general = int(1_000_000 * scale)
    for k in range(general):
        at = now - DAY + DAY * k / general
        lines.append(("big", "general", at, 20 if k % 10 else 30, f"general {k}", None))
        if len(lines) >= 20_000:
            state.logs.append(lines)
            lines.clear()
    for run_id in run_ids[-int(10_000 * scale):]:
        at = int(run_id[:12], 16) / 1000
        lines.extend(("big", run_id, at + j / 10, 20, f"step {j}", run_id) for j in range(10))
        if len(lines) >= 20_000:
            state.logs.append(lines)
            lines.clear()
    state.logs.append(lines)
    print(f"log lines: {total + general + int(100_000 * scale):,} in "
          f"{time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    per_queue = int(10_000 * scale)
    for q in range(1, 6):
        queue = f"big:q{q}"
        for chunk in range(0, per_queue, 1000):
            bodies = [json.dumps({"n": chunk + j}) for j in range(min(1000, per_queue - chunk))]
            state.queues.send(queue + ".dlq", bodies, now=now)
    for chunk in range(0, per_queue, 1000):
        state.queues.send("big:q1", [json.dumps({"n": chunk + j}) for j in range(1000)], now=now)
    print(f"dead letters and messages in {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    for k in range(int(100_000 * scale)):
        key = f"thing{k:06d}"
        state.tables.put("big:things", key, json.dumps({"id": key, "n": k}), indexes={}, now=now)
    print(f"items in {time.perf_counter() - started:.1f} s", flush=True)
    if not state.url.startswith("sqlite"):
        # the statistics autovacuum would have gathered by now on a home of a year; without
        # them the planner takes every filter for a handful of rows
        with state.runs.db.connection() as con:  # type: ignore[attr-defined]
            con.execute("ANALYZE")
    state.close()


def _timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _plan(state: StateStore, sql: str, args: list[Any]) -> str:
    """The query plan of ``sql`` on the state's engine, on one line."""
    db = state.runs.db  # type: ignore[attr-defined]
    if state.url.startswith("sqlite"):
        with db.reading() as con:
            rows = con.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
        return "; ".join(r[3] for r in rows)
    rows = db.rows("EXPLAIN " + sql.replace("?", "%s"), args)
    return "; ".join(r[0].strip() for r in rows if "->" in r[0] or r is rows[0])


def measure_sql(home: Path, state_url: str | None) -> list[dict[str, Any]]:
    state = open_state(_url(home, state_url))
    out: list[dict[str, Any]] = []

    def record(what: str, fn: Callable[[], Any]) -> None:
        seconds, result = _timed(fn)
        if isinstance(result, tuple):  # (lines, newest id)
            result = result[0]
        size = len(result) if hasattr(result, "__len__") else result
        out.append({"what": what, "ms": round(seconds * 1000, 2), "rows": size})
        print(f"{what:60} {seconds * 1000:9.2f} ms  ({size} rows)", flush=True)

    record("views.items_page('big:things')",
           lambda: state.views.items_page("big:things", after="thing050000"))
    record("views.item_count('big:things')", lambda: state.views.item_count("big:things"))
    record("logs.streams() (cauce logs)", lambda: state.logs.streams())
    record("logs.streams('big')", lambda: state.logs.streams("big"))
    for stream in ("stream7", "general"):
        if hasattr(state.logs, "newer"):
            mark = state.logs.newest_id()
            record(f"--follow poll of {stream}",
                   lambda s=stream, m=mark: state.logs.newer(after_id=m, app="big", stream=s))
        else:
            last = state.logs.read(app="big", stream=stream, after_line=None, limit=1)
            tail = state.views.log_tail(app="big", stream=stream, limit=1)
            last_id = tail[-1].id if tail else (last[-1].id if last else 0)
            record(f"--follow poll of {stream}",
                   lambda s=stream, m=last_id: state.logs.read(after_id=m, app="big", stream=s))
    filters: list[dict[str, Any]] = [
        {}, {"app": "big"}, {"app": "other"}, {"name": "job3"}, {"name": "rare"},
        {"app": "big", "name": "rare"}, {"status": "failed"}, {"status": "running"},
        {"app": "other", "status": "failed"}, {"app": "big", "name": "job3", "status": "failed"},
        {"partition": "2026-01-01"},
    ]
    for f in filters:
        record(f"runs.query({f}, limit=20)", lambda f=f: state.runs.query(limit=20, **f))
    for f in filters:
        rf = RunFilter(apps=[f["app"]] if "app" in f else ["big", "other"], name=f.get("name"),
                       status=f.get("status"), partition=f.get("partition"))
        record(f"views.runs_page({f})", lambda rf=rf: state.views.runs_page(rf, limit=51))
    state.close()
    return out


def measure_cli(home: Path, state_url: str | None) -> list[dict[str, Any]]:
    base = [sys.executable, "-m", "cauce", "--home", str(home)]
    if state_url:
        base += ["--state", state_url]
    app = f"{home / 'bigapp.py'}:app"
    commands = [
        ["logs"], ["logs", "--json"], ["logs", "--app", "big"],
        ["logs", ODD_STREAM, "--app", "big"], ["logs", "stream7", "--app", "big", "--json"],
        ["logs", "general", "--app", "big", "--since", "1h"],
        ["logs", "nosuch", "--app", "big"],
        ["runs"], ["runs", "--limit", "1000"], ["runs", "--json", "--limit", "100"],
        ["runs", "--job", "job3"], ["runs", "--job", "rare"], ["runs", "--status", "failed"],
        ["runs", "--status", "running"], ["runs", "--app", "other", "--limit", "5"],
        ["runs", "--app", "big", "--job", "rare", "--status", "succeeded"],
        ["runs", "--partition", "2026-01-01"], ["runs", "--job", "nosuch"],
        ["dlq", "list", app, "q1"], ["dlq", "list", app, "q1", "--limit", "5"],
        ["dlq", "list", app, "q1", "--json"],
        ["queues", app],
    ]
    out = []
    for cmd in commands:
        times, cpu, status, size = [], [], 0, 0
        for _ in range(3):
            t, used = time.perf_counter(), _children_cpu()
            done = subprocess.run(base + cmd, capture_output=True, env={**os.environ})
            times.append(time.perf_counter() - t)
            cpu.append(_children_cpu() - used)
            status, size = done.returncode, len(done.stdout)
        seconds, busy = statistics.median(times), statistics.median(cpu)
        shown = " ".join(c if " " not in c else repr(c) for c in cmd).replace(str(home), "H")
        out.append({"command": shown, "s": round(seconds, 2), "cpu_s": round(busy, 2),
                    "exit": status, "bytes": size})
        print(f"cauce {shown:56} {seconds:6.2f} s  CPU {busy:5.2f} s  exit {status}  "
              f"{size} bytes", flush=True)
    return out


def _children_cpu() -> float:
    """CPU seconds (user and system) of the commands run so far: on a shared machine, steadier
    than their wall time."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "measure"])
    parser.add_argument("home", type=Path)
    parser.add_argument("--state", default=None, help="a state URL (default: the home's file)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", choices=["sql", "cli"], default=None)
    args = parser.parse_args()
    if args.action == "build":
        build(args.home, args.state, args.scale)
        return
    if args.only != "cli":
        measure_sql(args.home, args.state)
    if args.only != "sql":
        measure_cli(args.home, args.state)


if __name__ == "__main__":
    main()
