"""Point-to-point neighbour search without a spatial library: a join on grid cells.

Both sides are bucketed into square cells of the search radius; each left point is joined with
the right points of its 3x3 block of cells and pairs farther than the radius are dropped.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_OFFSETS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


def near_pairs(left: pl.DataFrame, right: pl.DataFrame, radius: float, *,
               lx: str = "x", ly: str = "y", rx: str = "x", ry: str = "y",
               suffix: str = "_near", by: list[str] | None = None) -> pl.DataFrame:
    """Every (left row, right row) pair closer than `radius`, with their distance `d`.

    Right columns keep their names unless they clash with the left ones (then `suffix`).
    `by` columns must also match (e.g. only stops of the same route). Only row numbers and cell
    keys go through the join, so memory stays small for millions of left rows.
    """
    by = by or []
    lxa, lya = left[lx].to_numpy(), left[ly].to_numpy()
    rxa, rya = right[rx].to_numpy(), right[ry].to_numpy()
    keyed_left = pl.DataFrame({"_l": np.arange(left.height, dtype=np.int64)}).with_columns(
        *(left[c] for c in by))
    cells = [keyed_left.with_columns(pl.Series("_cell", _cells(lxa + dx * radius,
                                                              lya + dy * radius, radius)))
             for dx, dy in _OFFSETS]
    keyed_right = pl.DataFrame({"_r": np.arange(right.height, dtype=np.int64),
                                "_cell": _cells(rxa, rya, radius)}).with_columns(
        *(right[c] for c in by))
    pairs = pl.concat(cells).join(keyed_right, on=["_cell", *by]).select("_l", "_r")
    li, ri = pairs["_l"].to_numpy(), pairs["_r"].to_numpy()
    d = np.hypot(lxa[li] - rxa[ri], lya[li] - rya[ri])
    keep = d <= radius
    li, ri, d = li[keep], ri[keep], d[keep]
    out = left[li]
    extra = right.drop(by)[ri]
    extra = extra.rename({c: c + suffix for c in extra.columns if c in out.columns})
    return pl.concat([out, extra, pl.DataFrame({"d": d})], how="horizontal")


def _cells(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    return np.floor(x / size).astype(np.int64) * 100_000 + np.floor(y / size).astype(np.int64)


def nearest(px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray,
            chunk: int = 4096) -> np.ndarray:
    """Index of the nearest q point for every p point (brute force in chunks; q is small)."""
    out = np.empty(px.size, dtype=np.int64)
    for start in range(0, px.size, chunk):
        sl = slice(start, start + chunk)
        d2 = (px[sl, None] - qx[None, :]) ** 2 + (py[sl, None] - qy[None, :]) ** 2
        out[sl] = d2.argmin(axis=1)
    return out
