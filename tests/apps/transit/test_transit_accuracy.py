"""The engine against a `small` synthetic day's ground truth: the issue's accuracy floors."""

from datetime import date

import polars as pl
import pytest
from transit_helpers import prepare_from_folder

from cauce.apps.transit.accuracy import evaluate, metro_neighbour_pairs
from cauce.apps.transit.engine.network import load_network
from cauce.apps.transit.engine.run import run_engine
from cauce.apps.transit.metro import MetroTiming
from cauce.apps.transit.params import default_par_text, parse_par
from cauce.apps.transit.synth.day import generate_day

DAY = date(2021, 4, 22)


@pytest.mark.slow
def test_small_day_meets_the_accuracy_floors(tmp_path):
    inputs = tmp_path / "inputs"
    generate_day("small", DAY, 11, parse_par(default_par_text()), inputs)
    prepared = prepare_from_folder(inputs, DAY, tmp_path / "run")
    result = run_engine(prepared.par, prepared.workdir, DAY)
    network = load_network(prepared.workdir, prepared.par, DAY, MetroTiming())
    route_stops = network.route_stops.join(network.routes.select("route_idx", "route"),
                                           on="route_idx").select("route", "seq", "stop")
    accuracy = evaluate(result.stages.with_columns(pl.col("stop_alight").alias("alight_stop")),
                        pl.read_parquet(inputs / f"{DAY}.truth.parquet"), route_stops,
                        metro_neighbour_pairs(network.stations, network.metro_lines))
    assert accuracy.boardings > 50_000
    assert accuracy.alighting_share >= 0.80
    assert accuracy.within_one_stop >= 0.90
    assert accuracy.trips_right >= 0.85
    # the noise is real: the figures are not perfect either
    assert accuracy.within_one_stop < 0.99 and accuracy.trips_right < 0.99


def test_accuracy_counts_neighbours_and_exact_trips():
    truth = pl.DataFrame({
        "card": [1, 1, 1, 2], "t": [100, 200, 900, 50], "mode": ["BUS", "BUS", "METRO", "BUS"],
        "route": ["A", "A", "L1", "A"], "alight_stop": ["s3", "s2", "X", "s4"],
        "alight_seq": [3, 2, None, 4], "trip": [1, 1, 2, 1]})
    stages = pl.DataFrame({
        "card": [1, 1, 1, 2], "t": [100, 200, 900, 50], "has_alight": [True, True, True, False],
        "alight_stop": ["s4", "s9", "Y", None], "trip": [1, 1, 2, 1]})
    route_stops = pl.DataFrame({"route": ["A"] * 5, "seq": [1, 2, 3, 4, 5],
                                "stop": ["s1", "s2", "s3", "s4", "s5"]})
    neighbours = pl.DataFrame({"a": ["X"], "b": ["Y"]})
    result = evaluate(stages, truth, route_stops, neighbours)
    assert result.alighting_share == 0.75
    assert result.within_one_stop == pytest.approx(2 / 3)
    assert result.trips_right == 1.0
