"""Metro travel times between stations: lines as chains of stations plus transfer walks.

Times between consecutive stations come from their distance at a commercial speed plus a dwell;
changing lines at a transfer station costs a fixed walk. All-pairs shortest times are computed
with Floyd-Warshall (NumPy, one vectorised update per station; networks have ~150 stations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class MetroTiming:
    speed_kmh: float = 36.0
    dwell_s: float = 25.0
    transfer_s: float = 180.0


def travel_times(stations: pl.DataFrame, lines: pl.DataFrame, transfers: pl.DataFrame,
                 timing: MetroTiming) -> np.ndarray:
    """Seconds from every station (row index = station_idx) to every other, in-vehicle."""
    n = stations.height
    x, y = stations["x"].to_numpy(), stations["y"].to_numpy()
    times = np.full((n, n), np.inf)
    np.fill_diagonal(times, 0.0)
    ordered = lines.sort("line", "order")
    a = ordered["station_idx"].to_numpy()
    same = ordered["line"].to_numpy()
    for i in range(len(a) - 1):
        if same[i] == same[i + 1]:
            s, t = a[i], a[i + 1]
            cost = np.hypot(x[s] - x[t], y[s] - y[t]) / (timing.speed_kmh / 3.6) + timing.dwell_s
            times[s, t] = times[t, s] = min(times[s, t], cost)
    for s, t in transfers.select("station_a", "station_b").iter_rows():
        times[s, t] = min(times[s, t], timing.transfer_s)
    for k in range(n):
        np.minimum(times, times[:, k:k + 1] + times[k:k + 1, :], out=times)
    return times
