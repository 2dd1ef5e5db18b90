from pathlib import Path

import pytest

from cauce.apps.transit.errors import ParFileError
from cauce.apps.transit.params import default_par_text, parse_par, read_par, render_par

REAL_PAR = (Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "transit"
            / "adatrap-miner" / "pvmtsc_v0.2.par")
needs_real = pytest.mark.skipif(not REAL_PAR.is_file(), reason="shared/data is not beside the repo")


@needs_real
def test_the_real_parameter_file_reads_by_position():
    par = read_par(REAL_PAR)
    assert par.input_format == 1
    assert par.column("gps_time") == 3 and par.column("gps_lat") == 4
    assert par.column("trx_card") == 1 and par.column("trx_type") is None
    assert par.number("trip_cut_minutes") == 40
    assert par.number("zp_max_wait_min") == 30 and par.number("route_offroute_m") == 200
    assert par.number("validation_offroute_m") == 100
    assert par.values["draw_services"] == "T201 00I"


@needs_real
def test_the_built_in_layout_has_the_published_values():
    assert parse_par(default_par_text()).values == read_par(REAL_PAR).values


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-le"])
def test_a_parameter_file_read_from_disk_in_an_editors_encoding_reads_the_same(tmp_path, encoding):
    text = default_par_text().replace("Parametros Asignacion", "Parámetros Asignación")
    path = tmp_path / "p.par"
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    assert read_par(path).values == parse_par(text).values


def test_rendering_replaces_the_four_placeholders_literally():
    text = render_par(default_par_text(), po_path="tmp/2020-06-27", po_date="20200627",
                      date="2020-06-28", service_detail_file="tmp/Detalle.csv")
    assert "{" not in text
    par = parse_par(text)
    assert par.path("stops_file") == "tmp/2020-06-27/Paraderos/ConsolidadoParadas_PO20200627.csv"
    assert par.path("gps_file") == "tmp/2020-06-28.gps"
    assert par.path("service_detail_file") == "tmp/Detalle.csv"
    assert par.path("out_etapas") == "ADATRAP/2020-06-28/2020-06-28.etapas"


def test_the_adatrap_layout_flag_selects_the_first_column_number():
    lines = default_par_text().splitlines()
    lines[24] = "0\t\t* input_format"
    par = parse_par("\n".join(lines))
    assert par.column("gps_time") == 4 and par.column("trx_card") == 3
    assert par.column("trx_type") == 13


def test_a_shifted_line_names_the_line_and_the_field():
    lines = default_par_text().splitlines()
    del lines[30]
    with pytest.raises(ParFileError, match=r"line 3\d \('.*'\) should be a number"):
        parse_par("\n".join(lines))


def test_a_truncated_file_says_where_it_ends():
    with pytest.raises(ParFileError, match="ends at line 10"):
        parse_par("\n".join(default_par_text().splitlines()[:10]))


@pytest.mark.parametrize("flag", ["2", "-1", "7"])
def test_a_layout_flag_other_than_0_or_1_names_the_line(flag):
    lines = default_par_text().splitlines()
    lines[24] = f"{flag}\t\t* input_format"
    with pytest.raises(ParFileError, match=rf"line 25 \('input_format'\) should be 0 .* or 1 "
                                           rf"\(Online\), found {flag}"):
        parse_par("\n".join(lines), "mine.par")
