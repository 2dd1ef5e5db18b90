"""Accuracy of the engine against a synthetic day's ground truth.

Three figures, matched by (card, validation time):
- alighting share: boardings with an estimated alighting;
- within one stop: of those, the estimate equals the true alighting stop (or metro station), or
  is its neighbour on the true route (or on any metro line through the true station);
- trips right: true trips whose set of validations is exactly one estimated trip.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

#: the columns of the ground truth `evaluate` reads: read only these (the truth has 15)
TRUTH_COLUMNS = ["card", "t", "mode", "route", "alight_stop", "alight_seq", "trip"]


@dataclass(frozen=True)
class Accuracy:
    boardings: int
    alighting_share: float
    within_one_stop: float
    true_trips: int
    trips_right: float

    def as_dict(self) -> dict[str, float | int]:
        return {"boardings": self.boardings, "alighting_share": round(self.alighting_share, 4),
                "within_one_stop": round(self.within_one_stop, 4), "true_trips": self.true_trips,
                "trips_right": round(self.trips_right, 4)}

    def lines(self) -> list[str]:
        return [f"boardings with an estimated alighting: {self.alighting_share:.1%} "
                f"of {self.boardings:,}",
                f"estimated alightings within one stop of the truth: {self.within_one_stop:.1%}",
                f"true trips reconstructed with the right stages: {self.trips_right:.1%} "
                f"of {self.true_trips:,}"]


def evaluate(stages: pl.DataFrame, truth: pl.DataFrame, route_stops: pl.DataFrame,
             metro_neighbours: pl.DataFrame) -> Accuracy:
    """`stages`: card, t, has_alight, alight_stop (bus stop code or unique station), trip.

    `route_stops`: route (sinoptico), seq, stop of the true network; `metro_neighbours`: pairs
    (a, b) of unique station names adjacent on a line."""
    est = stages.select("card", pl.col("t").cast(pl.Int64), "has_alight", "alight_stop",
                        pl.col("trip").alias("est_trip"))
    joined = truth.select(TRUTH_COLUMNS).join(
        est, on=["card", "t"], how="left", suffix="_est")
    boardings = joined.height
    with_alight = joined.filter(pl.col("has_alight").fill_null(False))
    neighbours = route_stops.select(
        "route", pl.col("seq").alias("alight_seq"), "stop").join(
        route_stops.select("route", (pl.col("seq") + 1).alias("alight_seq"),
                           pl.col("stop").alias("prev")), on=["route", "alight_seq"],
        how="left").join(
        route_stops.select("route", (pl.col("seq") - 1).alias("alight_seq"),
                           pl.col("stop").alias("next")), on=["route", "alight_seq"],
        how="left")
    bus = with_alight.filter(pl.col("mode") != "METRO").join(
        neighbours.drop("stop"), on=["route", "alight_seq"], how="left")
    bus_ok = (pl.col("alight_stop_est") == pl.col("alight_stop")) | (
        pl.col("alight_stop_est") == pl.col("prev")) | (pl.col("alight_stop_est") == pl.col(
            "next"))
    metro = with_alight.filter(pl.col("mode") == "METRO").join(
        metro_neighbours.rename({"a": "alight_stop", "b": "near"}), on="alight_stop",
        how="left").group_by("card", "t").agg(
        ((pl.col("alight_stop_est") == pl.col("alight_stop"))
         | (pl.col("alight_stop_est") == pl.col("near"))).any().alias("ok"))
    right = int(bus.select(bus_ok.fill_null(False).sum()).item()) + int(metro["ok"].sum())
    true_trips = joined.group_by("card", "trip").agg(
        pl.col("est_trip").n_unique().alias("n_est"), pl.col("est_trip").first(),
        pl.len().alias("n"), pl.col("est_trip").is_null().any().alias("missing"))
    est_sizes = est.group_by("card", "est_trip").agg(pl.len().alias("n_in_est"))
    true_trips = true_trips.join(est_sizes, on=["card", "est_trip"], how="left")
    exact = true_trips.filter(~pl.col("missing") & (pl.col("n_est") == 1)
                              & (pl.col("n_in_est") == pl.col("n"))).height
    return Accuracy(
        boardings=boardings,
        alighting_share=with_alight.height / boardings if boardings else 0.0,
        within_one_stop=right / with_alight.height if with_alight.height else 0.0,
        true_trips=true_trips.height,
        trips_right=exact / true_trips.height if true_trips.height else 0.0)


def metro_neighbour_pairs(stations: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Pairs of unique station names next to each other on some line (both ways)."""
    seq = lines.sort("line", "order").join(stations.select("standard", "unique"),
                                           on="standard")
    pairs = seq.with_columns(pl.col("unique").shift(-1).over("line").alias("b")).drop_nulls(
        "b").select(pl.col("unique").alias("a"), "b")
    return pl.concat([pairs, pairs.select(pl.col("b").alias("a"), pl.col("a").alias("b"))])
