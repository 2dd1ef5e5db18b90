"""Contracting dashboard: writing it with its PNGs, each drawn from the SVG just written
(as the dashboard does) against each drawn again from the chart (as it did before).

Reads the results warehouse of a home made by `cauce demo` (run it first, in any folder), and
writes the panel of its weekly run `--repeat` times each way, alternated, into fresh folders;
prints the medians and whether both ways gave the same PNG bytes.

    cauce demo && python benchmarks/contracting_dashboard.py --home cauce-demo [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from cauce import charts
from cauce.apps.contracting.dashboard.page import panel_charts, read_panel, write_dashboard
from cauce.warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("cauce-demo"))
    parser.add_argument("--day", type=date.fromisoformat, default=date(2023, 4, 16))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    database = args.home / "warehouses" / "contracting" / "results.duckdb"
    if not database.is_file():
        raise SystemExit(f"no {database}: run `cauce demo` first, or pass --home")
    with connect(f"duckdb:///{database.resolve()}") as warehouse:
        panel = read_panel(warehouse, args.day, as_published=False)
    drawn = panel_charts(panel)
    times: dict[str, list[float]] = {"from the SVG": [], "drawn again": []}
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as scratch:
        for round_ in range(args.repeat + 1):
            for way in sorted(times, reverse=bool(round_ % 2)):
                folder = Path(scratch) / f"{round_}-{way}"
                start = time.perf_counter()
                if way == "from the SVG":
                    write_dashboard(folder, panel, images=True)
                else:
                    write_dashboard(folder, panel, images=False)
                    for name, chart in drawn.items():
                        charts.save(chart, folder / f"{name}.png")
                if round_:  # the first round warms the converter up
                    times[way].append(time.perf_counter() - start)
        same = all((Path(scratch) / "1-from the SVG" / f"{name}.png").read_bytes()
                   == (Path(scratch) / "1-drawn again" / f"{name}.png").read_bytes()
                   for name in drawn)
    medians = {way: statistics.median(values) for way, values in times.items()}
    print(f"dashboard of {args.day} with {len(drawn)} charts, each as SVG and PNG, "
          f"median of {args.repeat}:")
    for way, median in medians.items():
        print(f"  PNG {way:<14} {median * 1000:6.0f} ms")
    print(f"  ratio {medians['drawn again'] / medians['from the SVG']:.2f}x, "
          f"same PNG bytes: {same}")


if __name__ == "__main__":
    main()
