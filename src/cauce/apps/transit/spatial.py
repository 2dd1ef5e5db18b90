"""Point-to-point neighbour search without a spatial library: a join on grid cells.

Both sides are bucketed into square cells of the search radius; each left point is joined with
the right points of its 3x3 block of cells and pairs farther than the radius are dropped.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_OFFSETS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


def cell_key(x: pl.Expr, y: pl.Expr, size: float) -> pl.Expr:
    """One Int64 per cell of `size` metres (UTM coordinates stay far below 2**31 cells)."""
    return (x / size).floor().cast(pl.Int64) * 100_000 + (y / size).floor().cast(pl.Int64)


def near_pairs(left: pl.DataFrame, right: pl.DataFrame, radius: float, *,
               lx: str = "x", ly: str = "y", rx: str = "x", ry: str = "y",
               suffix: str = "_near", by: list[str] | None = None) -> pl.DataFrame:
    """Every (left row, right row) pair closer than `radius`, with their distance `d`.

    Right columns keep their names unless they clash with the left ones (then `suffix`).
    `by` columns must also match (e.g. only stops of the same route).
    """
    shifted = pl.concat([
        left.with_columns(cell_key(pl.col(lx) + dx * radius, pl.col(ly) + dy * radius, radius)
                          .alias("_cell"))
        for dx, dy in _OFFSETS])
    keyed = right.with_columns(cell_key(pl.col(rx), pl.col(ry), radius).alias("_cell"))
    joined = shifted.join(keyed, on=["_cell", *(by or [])], suffix=suffix).drop("_cell")
    rxn = rx + suffix if rx in left.columns else rx
    ryn = ry + suffix if ry in left.columns else ry
    joined = joined.with_columns(
        ((pl.col(lx) - pl.col(rxn)) ** 2 + (pl.col(ly) - pl.col(ryn)) ** 2).sqrt().alias("d"))
    return joined.filter(pl.col("d") <= radius)


def nearest(px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray,
            chunk: int = 4096) -> np.ndarray:
    """Index of the nearest q point for every p point (brute force in chunks; q is small)."""
    out = np.empty(px.size, dtype=np.int64)
    for start in range(0, px.size, chunk):
        sl = slice(start, start + chunk)
        d2 = (px[sl, None] - qx[None, :]) ** 2 + (py[sl, None] - qy[None, :]) ** 2
        out[sl] = d2.argmin(axis=1)
    return out
