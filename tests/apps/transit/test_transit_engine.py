import gzip
import os
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from transit_helpers import prepare_from_folder

from cauce.apps.transit.engine.network import load_network
from cauce.apps.transit.engine.run import Cancelled, run_engine
from cauce.apps.transit.errors import InputFileError
from cauce.apps.transit.metro import MetroTiming
from cauce.apps.transit.params import default_par_text, parse_par
from cauce.apps.transit.synth.day import generate_day

DAY = date(2021, 4, 22)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    generated = generate_day("tiny", DAY, 5, parse_par(default_par_text()), folder)
    return folder, generated


def _prepared(tiny, tmp_path):
    return prepare_from_folder(tiny[0], DAY, tmp_path)


def test_the_generator_writes_the_real_names_and_layouts(tiny):
    folder, generated = tiny
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([
        "2021-04-22.po.zip", "2021-04-22.gps.gz", "2021-04-22.196.gz", "2021-04-22.trx.gz",
        "2021-04-22.truth.parquet", generated.files.service_detail])
    assert generated.files.service_detail.startswith("Diccionario-DetalleServicioZP_2021")
    with zipfile.ZipFile(folder / "2021-04-22.po.zip") as archive:
        members = archive.namelist()
        header = gzip.decompress(archive.read(
            "2021-04-22/Paraderos/ConsolidadoParadas_PO20210422.csv.gz")).decode().split("\n")[0]
    assert "2021-04-22/Diccionario/Diccionario-Servicios_PO20210422.csv.gz" in members
    assert header.startswith("OrdenCirc;Código TS;Código Usuario;Sentido Servicio;Varian-te")
    detail = gzip.decompress((folder / generated.files.service_detail).read_bytes())
    assert detail.decode("latin-1").startswith("Código ZP;Patente;")
    truth = pl.read_parquet(folder / "2021-04-22.truth.parquet")
    assert truth.height == generated.counts["transactions"]
    assert set(truth["mode"]) == {"BUS", "METRO", "ZP"}
    assert truth.filter(pl.col("mode") == "ZP")["site"].str.starts_with("RM-").all()
    gps = gzip.decompress((folder / "2021-04-22.gps.gz").read_bytes()).decode().splitlines()
    assert gps[0] == "patente;C2;tiempo;latitud;longitud"


def test_the_engine_stops_between_stages_when_cancelled(tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    with pytest.raises(Cancelled, match="cancelled after read"):
        run_engine(prepared.par, prepared.workdir, DAY, cancelled=lambda: True)


def test_a_po_without_the_stop_sequence_file_fails_naming_it(tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    (prepared.workdir / prepared.par.path("stops_file")).unlink()
    with pytest.raises(InputFileError, match=r"PO file missing: tmp/2021-04-22/Paraderos/"
                                             r"ConsolidadoParadas_PO20210422\.csv"):
        run_engine(prepared.par, prepared.workdir, DAY)


def test_missing_optional_dictionaries_only_lose_their_columns(tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    for field in ("shapes_file", "zones_file", "fleet_file", "calendar_file"):
        (prepared.workdir / prepared.par.path(field)).unlink()
    result = run_engine(prepared.par, prepared.workdir, DAY)
    assert result.rows["etapas"] == tiny[1].counts["transactions"]
    assert result.stages["has_alight"].mean() > 0.7


def test_the_engine_reports_each_step_as_it_ends(tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    heard = []
    run_engine(prepared.par, prepared.workdir, DAY, parquet_dir=tmp_path / "parquet",
               progress=lambda done, total, label: heard.append((done, total, label)))
    assert [done for done, _, _ in heard] == list(range(1, len(heard) + 1))
    assert {total for _, total, _ in heard} == {len(heard)}
    labels = [label for _, _, label in heard]
    assert labels[:5] == ["read", "runs", "boarding", "alighting", "chaining"]
    assert "wrote 2021-04-22.viajes" in labels and labels[-1] == "outputs"


def _keep_header_only(prepared, field: str) -> None:
    path = prepared.workdir / prepared.par.path(field)
    path.write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n")


@pytest.mark.parametrize("emptied", ["gps_file", "runs_file", "trx_file"])
def test_a_day_without_usable_rows_in_an_input_still_gives_its_outputs(emptied, tiny, tmp_path,
                                                                        caplog):
    """No GPS ping, no 1.96 run or no transaction: whatever can be computed is written, the
    rest is counted as unusable (it used to fail on an empty array), and the log names the
    file without rows (a day without transactions said nothing)."""
    prepared = _prepared(tiny, tmp_path)
    _keep_header_only(prepared, emptied)
    with caplog.at_level("WARNING"):
        result = run_engine(prepared.par, prepared.workdir, DAY,
                            parquet_dir=tmp_path / "parquet")
    name = Path(prepared.par.path(emptied)).name
    assert f"{name} holds no data row" in caplog.text
    transactions = tiny[1].counts["transactions"]
    if emptied == "trx_file":
        assert result.rows["etapas"] == result.rows["viajes"] == 0
    else:
        assert result.rows["profile"] == 0 and 0 < result.rows["etapas"] <= transactions
        assert not result.stages.filter(pl.col("mode") == "BUS")["has_alight"].any()
    assert set(result.outputs) >= {"etapas", "viajes", "general"}


def test_a_po_without_metro_stations_loses_only_the_metro_validations(tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    (prepared.workdir / prepared.par.path("metro_file")).unlink()
    result = run_engine(prepared.par, prepared.workdir, DAY)
    assert result.rejects["trx: unknown plate, station or validator"] > 0
    assert result.rows["etapas"] > 0 and "METRO" not in set(result.stages["mode"])


@pytest.mark.parametrize(
    ("field", "said"),
    [
        ("shapes_file", "PO file without a data row, going on without it"),
        ("zones_file", "PO file without a data row, going on without it"),
        ("fleet_file", "PO file without a data row, going on without it"),
        ("metro_file", "PO file without a data row, going on without it"),
        ("metro_lines_file", "metro line sequences without a data row"),
    ],
)
def test_an_optional_po_file_with_a_header_alone_is_said_as_a_missing_one(
    field, said, tiny, tmp_path, caplog
):
    """A header alone changes the day's numbers (no route shapes, no metro travel times) as a
    missing file does; the log says so for both."""
    prepared = _prepared(tiny, tmp_path)
    _keep_header_only(prepared, field)
    with caplog.at_level("WARNING", logger="cauce.apps.transit.engine.network"):
        run_engine(prepared.par, prepared.workdir, DAY)
    name = Path(prepared.par.path(field)).name
    assert any(said in r.getMessage() and name in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("field", ["stops_file", "services_file", "periods_file"])
def test_a_required_po_file_without_rows_fails_naming_it(field, tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    _keep_header_only(prepared, field)
    with pytest.raises(InputFileError, match=f"{prepared.par.path(field)}: has no data row"):
        run_engine(prepared.par, prepared.workdir, DAY)


def test_unreadable_periods_are_left_out_and_none_readable_fails(tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    path = prepared.workdir / prepared.par.path("periods_file")
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    spoilt = [f"x{row}" if i < 2 else row.replace(":", ".") if i == 2 else row
              for i, row in enumerate(rows)]
    path.write_text("\n".join([header, *spoilt]) + "\n", encoding="utf-8")
    result = run_engine(prepared.par, prepared.workdir, DAY)
    assert result.rows["etapas"] == tiny[1].counts["transactions"]
    path.write_text("\n".join([header, *(f"x{row}" for row in rows)]) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no row has a readable ID, HORAINI and HORAFIN"):
        run_engine(prepared.par, prepared.workdir, DAY)


def test_an_input_the_run_may_not_read_is_named_with_its_bucket(tiny, tmp_path, monkeypatch):
    from transit_helpers import Folder

    real = Folder.get

    def denied(self, key):  # as a file under chmod 000 does for anyone but root
        if key.endswith(".trx.gz"):
            raise PermissionError(13, "Permission denied", str(self.path / key))
        return real(self, key)

    monkeypatch.setattr(Folder, "get", denied)
    with pytest.raises(InputFileError, match=rf"2021-04-22\.trx\.gz \(bucket '{tiny[0].name}'\): "
                                             r"cannot be read \(Permission denied\)"):
        _prepared(tiny, tmp_path)


PROCESS = """
import hashlib, sys
from datetime import date
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from transit_helpers import prepare_from_folder
from cauce.apps.transit.engine.run import run_engine
prepared = prepare_from_folder(Path(sys.argv[1]), date(2021, 4, 22), Path(sys.argv[2]))
result = run_engine(prepared.par, prepared.workdir, date(2021, 4, 22))
for kind, path in sorted(result.outputs.items()):
    print(kind, hashlib.sha256(path.read_bytes()).hexdigest())
"""


def test_the_same_inputs_give_the_same_files_in_any_process(tiny, tmp_path):
    """Row orders and float sums do not depend on hash seeds or Polars' thread count."""
    digests = []
    for hash_seed, threads in (("1", "1"), ("2", "4")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "POLARS_MAX_THREADS": threads}
        done = subprocess.run(
            [sys.executable, "-c", PROCESS, str(tiny[0]), str(tmp_path / hash_seed),
             str(Path(__file__).parent)], env=env, check=True, capture_output=True, text=True,
            timeout=240)
        digests.append(done.stdout)
    assert digests[0] == digests[1] and digests[0].count("\n") == 9


def test_the_cheapest_candidate_of_each_stage_wins_the_first_on_a_tie():
    import numpy as np

    from cauce.apps.transit.engine.stages import _first_per_group

    group = np.array([2, 1, 2, 1, 3, 2])
    cost = np.array([5.0, 4.0, 5.0, 1.0, 7.0, 6.0])
    assert _first_per_group(group, cost).tolist() == [3, 0, 4]
    assert _first_per_group(group[:0], cost[:0]).tolist() == []


def test_searching_in_sorted_order_answers_as_searchsorted():
    import numpy as np

    from cauce.apps.transit.spatial import search_in_order

    rng = np.random.default_rng(3)
    keys = np.sort(rng.integers(0, 50, 200))  # repeated keys: left and right differ
    queries = rng.integers(-5, 55, 1000)
    left, right = search_in_order(keys, queries, "left", "right")
    assert left.tolist() == np.searchsorted(keys, queries, side="left").tolist()
    assert right.tolist() == np.searchsorted(keys, queries, side="right").tolist()
    assert (right > left).any()
    (default,) = search_in_order(keys, queries[:0])
    assert default.size == 0


def test_odbyroute_parts_are_the_whole_table_in_order(tiny, tmp_path):
    from cauce.apps.transit.engine import tables

    heard = {}
    original = tables.odbyroute

    def in_small_parts(*args):
        parts = [part.collect() for part in original(*args, rows=50)]
        heard["parts"], heard["whole"] = parts, pl.concat(
            [part.collect() for part in original(*args)])
        return parts

    prepared = _prepared(tiny, tmp_path)
    tables.odbyroute = in_small_parts
    try:
        result = run_engine(prepared.par, prepared.workdir, DAY)
    finally:
        tables.odbyroute = original
    whole = heard["whole"]
    assert len(heard["parts"]) > 1 and whole.height > 50
    assert pl.concat(heard["parts"]).equals(whole)
    assert result.rows["odbyroute"] == whole.height


def _network(prepared):
    return load_network(prepared.workdir, prepared.par, DAY, MetroTiming())


def _po_file(prepared, field: str) -> Path:
    return prepared.workdir / prepared.par.path(field)


@pytest.mark.parametrize("field", ["fleet_file", "stops_file", "metro_file"])
def test_rows_listed_twice_in_a_po_file_count_once(tiny, tmp_path, field):
    """A bus twice in Diccionario-Patentes doubled every load profile row; a stop sequence
    pasted twice in ConsolidadoParadas, or a station twice in EstacionesMetro, made more
    stages than transactions."""
    prepared = _prepared(tiny, tmp_path)
    before = _network(prepared)
    path = _po_file(prepared, field)
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([header, *rows, *rows]) + "\n", encoding="utf-8")
    after = _network(prepared)
    assert after.fleet.equals(before.fleet)
    assert after.route_stops.equals(before.route_stops)
    assert after.stations.equals(before.stations)


def test_a_metro_line_row_without_a_readable_order_is_left_out(tiny, tmp_path):
    prepared = _prepared(tiny, tmp_path)
    path = _po_file(prepared, "metro_lines_file")
    header, first, *rows = path.read_text(encoding="utf-8").splitlines()
    line, _, station = first.split(";")
    path.write_text("\n".join([header, f"{line};1a;{station}", *rows]) + "\n", encoding="utf-8")
    network = _network(prepared)
    assert network.metro_lines.height == len(rows)


def test_a_service_detail_without_rows_is_said_in_the_log(tiny, tmp_path, caplog):
    prepared = _prepared(tiny, tmp_path)
    path = _po_file(prepared, "service_detail_file")
    path.write_bytes(path.read_bytes().splitlines(keepends=True)[0])
    with caplog.at_level("WARNING"):
        _network(prepared)
    assert "zona-paga service detail without a data row" in caplog.text
