from datetime import date
from pathlib import Path

import pytest

from cauce.apps.transit.errors import InputFileError
from cauce.apps.transit.formats import delimited
from cauce.apps.transit.formats.delimited import (
    is_number_text,
    read_positional,
    sniff_separator,
)
from cauce.apps.transit.formats.inputs import (
    read_gps,
    read_runs,
    read_service_detail,
    read_transactions,
)
from cauce.apps.transit.params import decode_par, default_par_text, parse_par
from cauce.apps.transit.po import csv_bytes

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "transit" / "po-samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(),
                                   reason="shared/data is not beside the repo")
PAR = parse_par(default_par_text())
DAY = date(2021, 4, 22)


def test_separator_is_the_most_frequent_candidate():
    assert sniff_separator("a;b;c") == ";"
    assert sniff_separator("a|b|c|") == "|"


@needs_samples
def test_real_service_detail_reads_as_iso_8859_1():
    detail = read_service_detail(SAMPLES / "Diccionario-DetalleServicioZP_20200627_20200731.csv",
                                 PAR)
    assert detail.height == 247
    first = detail.row(0, named=True)
    assert first["validator"] == "RM-0045" and first["stop"] == "E-17-140-PO-7"
    assert first["x"] == pytest.approx(352880.2)
    assert first["service_list"][:2] == ["T556 00I", "T576 00I"]
    assert detail["name"].str.contains("Estación").any()


@needs_samples
def test_real_stop_sequence_reads_with_the_parameter_file_columns():
    stops = read_positional(
        SAMPLES / "ConsolidadoParadas.csv",
        {"service": PAR.column("stops_service"), "direction": PAR.column("stops_direction"),
         "stop": PAR.column("stops_code"), "x": PAR.column("stops_x"),
         "name": PAR.column("stops_name"), "seq": PAR.column("stops_sequence")},
        name="ConsolidadoParadas.csv", probe="x", is_value=is_number_text)
    assert stops.row(0, named=True) == {
        "service": "201", "direction": "Ida", "stop": "T-3-374-NS-5", "x": "343574.60",
        "name": "Parada / Mall Plaza Norte - Los Libertadores", "seq": "1"}


@needs_samples
def test_real_dictionaries_read():
    periods = read_positional(SAMPLES / "Diccionario-PeriodosTS.csv",
                              {"id": 1, "day_type": 2, "name": 3, "start": 4}, name="p",
                              probe="id", is_value=is_number_text)
    assert periods.height == 29 and periods["name"][3] == "04 - PUNTA MANANA"
    comunas = read_positional(SAMPLES / "Diccionario-Comunas.csv", {"id": 1, "name": 2},
                              name="c", probe="id", is_value=is_number_text)
    assert comunas.height == 42 and comunas["name"][3] == "LAS CONDES"


def _gz(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_gps_rows_that_cannot_be_used_are_counted_per_reason(tmp_path):
    path = _gz(tmp_path, "d.gps", "patente;C2;tiempo;latitud;longitud\n"
               "ZN-6220;;2021-04-22 08:00:00;-33.45;-70.65\n"
               "ZN-6220;;2021-04-22 08:00:40;0.0;0.0\n"
               "ZN-6220;;2021-04-23 00:00:10;-33.45;-70.65\n"
               "ZN-6220;;not a time;-33.45;-70.65\n"
               ";;2021-04-22 08:01:00;-33.45;-70.65\n")
    frame, rejects = read_gps(path, PAR, DAY)
    assert frame.height == 1 and frame["plate_key"][0] == "ZN6220"
    assert frame["t"][0] == 8 * 3600 and 340000 < frame["x"][0] < 360000
    assert rejects == {"gps: impossible coordinates": 1, "gps: time outside the day": 1,
                       "gps: unreadable time": 1, "gps: missing plate": 1}


def test_a_ping_listed_twice_counts_once(tmp_path):
    """A GPS feed concatenated twice doubled the day's ping figures in `.general`; the same
    bus and second at another position is another ping (no guess which one is right)."""
    rows = ["ZN-6220;;2021-04-22 08:00:00;-33.45;-70.65",
            "ZN-6220;;2021-04-22 08:00:40;-33.45;-70.65",
            "ZN6220;;2021-04-22 08:00:00;-33.450;-70.65",
            "ZN-6220;;2021-04-22 08:00:40;-33.46;-70.65"]
    frame, rejects = read_gps(_gz(tmp_path, "d.gps", "\n".join(rows) + "\n"), PAR, DAY)
    assert frame["t"].to_list() == [8 * 3600, 8 * 3600 + 40, 8 * 3600 + 40]
    assert rejects == {"gps: ping listed again (same bus, second and position)": 1}


def test_nul_bytes_are_removed_and_logged(tmp_path, caplog):
    """A NUL inside a stop code made another stop: its boardings went unlocated, its rows left
    the load profile, and nothing said why; in a card it made a row unusable for a wrong
    reason (`missing card or site`)."""
    stops = read_positional(b"1;PA\x001;-33.45\n2;PA2;-33\x00.46\n", {"seq": 1, "stop": 2, "y": 3},
                            name="ConsolidadoParadas.csv", probe="y", is_value=is_number_text)
    assert stops.rows() == [("1", "PA1", "-33.45"), ("2", "PA2", "-33.46")]
    assert "ConsolidadoParadas.csv: 2 NUL bytes removed" in caplog.text
    frame, rejects = read_transactions(
        _gz(tmp_path, "d.trx", "12\x00;2021-04-22 07:00:00;ZN-6220;2\n"), PAR, DAY)
    assert frame.rows() == [(12, 7 * 3600, "ZN-6220", 2)] and rejects == {}


def test_a_last_line_cut_short_is_counted_not_read(tmp_path, caplog):
    """A 1.96 cut mid-line lost its `C`: the expedition was written unfulfilled (`-`) without a
    word. A last line without its line end but whole, or cut after the columns read, stays."""
    whole = "6;GCBB-35;;;T201 00I;2021-04-22 07:00:00;2021-04-22 07:50:00;;;;;18.5;;;;;C"
    cut = "6;ZN-6220;;;T201 00I;2021-04-22 08:00:00;2021-04-22 08:50:00;;;;;18"
    frame, rejects = read_runs(_gz(tmp_path, "d.196", f"{whole}\n{cut}"), PAR, DAY)
    assert frame["plate"].to_list() == ["GCBB-35"]
    assert rejects == {"196: last line cut short (fewer fields than the others)": 1}
    frame, rejects = read_runs(_gz(tmp_path, "e.196", f"{cut};;;;C\n{whole}"), PAR, DAY)
    assert frame.height == 2 and not rejects
    table = read_positional(b"a;b;c;d\n1;2;3;4\n5;6;7", {"x": 1, "y": 2}, name="D.csv",
                            probe="x", is_value=is_number_text)
    assert table.rows() == [("1", "2"), ("5", "6")] and "cut short" not in caplog.text
    table = read_positional(b"a;b;c;d\n1;2;3;4\n5;6", {"x": 1, "y": 2}, name="D.csv",
                            probe="x", is_value=is_number_text)
    assert table.rows() == [("1", "2")] and "D.csv: last line cut short" in caplog.text


def test_a_header_naming_columns_in_another_order_fails(tmp_path):
    """Latitude and longitude saved the other way round made every ping an impossible
    coordinate: a day of unlocated boardings, counted for a reason that hid why."""
    rows = ["patente;C2;tiempo;longitud;latitud", "ZN-6220;;2021-04-22 08:00:00;-70.65;-33.45"]
    with pytest.raises(InputFileError, match=r"d\.gps: its header names column 4 'longitud', "
                       r"where the parameter file reads 'latitud'") as raised:
        read_gps(_gz(tmp_path, "d.gps", "\n".join(rows) + "\n"), PAR, DAY)
    assert raised.value.hint
    rows = ["PATENTE;x;Tiempo;latitud;longitud;extra", "ZN-6220;;2021-04-22 08:00:00;-33.45;-70.65"]
    frame, rejects = read_gps(_gz(tmp_path, "e.gps", "\n".join(rows) + "\n"), PAR, DAY)
    assert frame.height == 1 and not rejects


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r\r\n"])
def test_a_cr_inside_a_value_becomes_a_space(end):
    """A CR inside a stop name went into `.profile` as it was: an output row cut in two for the
    readers that take CR as a line end."""
    data = f"1;Rengo\r/ esq. Colo Colo;-33.45{end}2;Los Olivos;-33.46{end}".encode()
    stops = read_positional(data, {"seq": 1, "name": 2, "y": 3}, name="C.csv", probe="y",
                            is_value=is_number_text, strip=False)
    assert stops.rows() == [("1", "Rengo / esq. Colo Colo", "-33.45"),
                            ("2", "Los Olivos", "-33.46")]


def test_transactions_without_header_and_duplicates(tmp_path):
    path = _gz(tmp_path, "d.trx", "12;2021-04-22 07:00:00;ZN-6220;2\n"
               "12;2021-04-22 07:00:00;ZN-6220;2\nx;2021-04-22 07:00:00;ZN-6220;2\n")
    frame, rejects = read_transactions(path, PAR, DAY)
    assert frame.rows() == [(12, 7 * 3600, "ZN-6220", 2)]
    assert rejects == {"trx: duplicate validation (same card and second)": 1,
                       "trx: missing card or site": 1}


def test_runs_report_reads_positions_5_6_7_and_rejects_backwards_runs(tmp_path):
    row = "6;GCBB-35;;;T201 00I;2021-04-22 07:00:00;2021-04-22 07:50:00;;;;;18.5;;;;;C"
    bad = "6;GCBB-35;;;T201 00I;2021-04-22 09:00:00;2021-04-22 08:50:00;;;;;18.5;;;;;C"
    frame, rejects = read_runs(_gz(tmp_path, "d.196", f"{row}\n{bad}\n"), PAR, DAY)
    assert frame.select("service", "start", "end", "fulfillment").rows() == [
        ("T201 00I", 7 * 3600, 7 * 3600 + 3000, "C")]
    assert rejects == {"196: run ends before it starts": 1}


def test_a_run_listed_twice_in_the_196_report_is_one_expedition(tmp_path):
    row = "6;GCBB-35;;;T201 00I;2021-04-22 07:00:00;2021-04-22 07:50:00;;;;;18.5;;;;;C"
    other = row.replace("07:00:00", "08:00:00").replace("07:50:00", "08:50:00")
    frame, rejects = read_runs(_gz(tmp_path, "d.196", "\n".join([row, other, row]) + "\n"),
                               PAR, DAY)
    assert frame["start"].to_list() == [7 * 3600, 8 * 3600]
    assert rejects == {"196: run listed again (same bus, service and times)": 1}


def test_a_file_narrower_than_the_parameter_file_expects_fails_with_its_name(tmp_path):
    path = _gz(tmp_path, "d.gps", "ZN-1;2021-04-22 08:00:00\n")
    with pytest.raises(InputFileError, match=r"d\.gps: has 2 columns.*time \(column 3\)"):
        read_gps(path, PAR, DAY)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("short", ["ZN-6220", ""])
def test_a_truncated_or_blank_first_record_costs_only_itself(tmp_path, short, line_end):
    """The CSV reader takes the width from the first record: a short one used to cut every
    later record to its width (and then fail on a missing column)."""
    rows = ["patente;C2;tiempo;latitud;longitud", short,
            "ZN-6220;;2021-04-22 08:00:00;-33.45;-70.65",
            "ZN-6220;;2021-04-22 08:00:40;-33.45;-70.65"]
    path = _gz(tmp_path, "d.gps", line_end.join(rows) + line_end)
    frame, rejects = read_gps(path, PAR, DAY)
    assert frame["t"].to_list() == [8 * 3600, 8 * 3600 + 40]
    assert rejects == ({"gps: unreadable time": 1} if short else {"gps: missing plate": 1})


@pytest.mark.parametrize("damaged", [1, 2])
def test_a_damaged_record_of_many_separators_does_not_widen_the_file(
    tmp_path, monkeypatch, damaged
):
    """The reader took every row's width from the widest of the first lines: one line of
    millions of `;` (a damaged copy) made every row of the day that wide, and the day's process
    was killed for memory. Only the columns the parameter file reads are read."""
    widths: list[int] = []
    read_csv = delimited._read_csv

    def spy(*args, **kwargs):
        frame = read_csv(*args, **kwargs)
        widths.append(frame.width)
        return frame

    monkeypatch.setattr(delimited, "_read_csv", spy)
    rows = ["patente;C2;tiempo;latitud;longitud",
            "ZN-6220;;2021-04-22 08:00:00;-33.45;-70.65",
            "ZN-6220;;2021-04-22 08:00:40;-33.45;-70.65"]
    rows.insert(damaged, "x" + ";" * 10_000)
    frame, rejects = read_gps(_gz(tmp_path, "d.gps", "\n".join(rows) + "\n"), PAR, DAY)
    assert frame["t"].to_list() == [8 * 3600, 8 * 3600 + 40]
    assert rejects == {"gps: unreadable time": 1}
    assert widths == [5]


@pytest.mark.parametrize("text", ["patente;C2;tiempo;latitud;longitud",
                                  "patente;C2;tiempo;latitud;longitud\r\n"])
def test_a_header_alone_is_no_row(tmp_path, text):
    frame, rejects = read_gps(_gz(tmp_path, "d.gps", text), PAR, DAY)
    assert frame.height == 0 and rejects == {}


def test_a_pipe_inside_a_value_cannot_add_a_column_to_the_outputs(tmp_path):
    path = _gz(tmp_path, "d.trx", "id;tiempo;sitio;operador\n"
               '12;2021-04-22 07:00:00;Los Héroes | L1 "sur";2\n')
    frame, _ = read_transactions(path, PAR, DAY)
    assert frame["site"].to_list() == ['Los Héroes / L1 "sur"']
    piped = _gz(tmp_path, "p.trx", "12|2021-04-22 07:00:00|Los Héroes|2\n")
    assert read_transactions(piped, PAR, DAY)[0]["site"].to_list() == ["Los Héroes"]


# users' files as spreadsheets and editors save them: a byte-order mark, CRLF, Latin-1, UTF-16

# CR CR LF: a CRLF file converted to CRLF once more (the reader takes one CR with the LF)
@pytest.mark.parametrize("end", [b"\r\n", b"\r\r\n"], ids=["crlf", "cr-cr-lf"])
def test_inputs_with_a_bom_and_crlf_keep_their_first_record(tmp_path, end):
    trx = tmp_path / "d.trx"
    trx.write_bytes(b"\xef\xbb\xbf12;2021-04-22 07:00:00;ZN-6220;2" + end
                    + b"13;2021-04-22 07:01:00;ZN-6220;2" + end)
    frame, rejects = read_transactions(trx, PAR, DAY)
    assert frame.rows() == [(12, 7 * 3600, "ZN-6220", 2), (13, 7 * 3600 + 60, "ZN-6220", 2)]
    assert rejects == {}
    gps = tmp_path / "d.gps"
    gps.write_bytes(b"\xef\xbb\xbfZN-6220;;2021-04-22 08:00:00;-33.45;-70.65" + end
                    + b"ZN-6220;;2021-04-22 08:00:30;-33.45;-70.65" + end)
    frame, rejects = read_gps(gps, PAR, DAY)
    assert frame["plate"].to_list() == ["ZN-6220", "ZN-6220"] and rejects == {}


def test_a_bom_before_a_header_line_is_still_a_header(tmp_path):
    path = tmp_path / "d.trx"
    path.write_bytes("\ufeffid;tiempo;sitio;operador\r\n12;2021-04-22 07:00:00;ZN-6220;2\r\n"
                     .encode())
    frame, rejects = read_transactions(path, PAR, DAY)
    assert frame["card"].to_list() == [12] and rejects == {}


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be"])
def test_transactions_in_a_spreadsheets_encoding_keep_station_names(tmp_path, encoding):
    path = tmp_path / "d.trx"
    text = ("id;tiempo;sitio;operador\r\n12;2021-04-22 07:00:00;Estación Central;1\r\n"
            "13;2021-04-22 07:00:05;Ñuñoa;1\r\n")
    path.write_bytes(text.encode(encoding))
    frame, _ = read_transactions(path, PAR, DAY)
    assert frame["site"].to_list() == ["Estación Central", "Ñuñoa"]


@needs_samples
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_service_detail_saved_again_from_a_spreadsheet_reads_the_same(tmp_path, encoding):
    original = SAMPLES / "Diccionario-DetalleServicioZP_20200627_20200731.csv"
    resaved = tmp_path / original.name
    text = original.read_bytes().decode("latin-1").replace("\n", "\r\n")
    resaved.write_bytes(text.encode(encoding))
    assert read_service_detail(resaved, PAR).equals(read_service_detail(original, PAR))


@needs_samples
@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_po_files_in_any_users_encoding_read_the_same(tmp_path, encoding):
    original = SAMPLES / "ConsolidadoParadas.csv"
    resaved = tmp_path / "ConsolidadoParadas.csv"
    resaved.write_bytes(original.read_text(encoding="utf-8").replace("\n", "\r\n")
                        .encode(encoding))
    fields = {"stop": PAR.column("stops_code"), "x": PAR.column("stops_x"),
              "name": PAR.column("stops_name")}
    read = [read_positional(csv_bytes(path), fields, name="c", probe="x",
                            is_value=is_number_text) for path in (original, resaved)]
    assert read[0].equals(read[1]) and read[0].height > 0


def test_transactions_whose_lines_end_in_cr_alone_read_every_record(tmp_path):
    path = tmp_path / "d.trx"
    path.write_bytes(b"id;tiempo;sitio;operador\r12;2021-04-22 07:00:00;A;1\r"
                     b"13;2021-04-22 07:00:05;B;1\r")
    frame, rejects = read_transactions(path, PAR, DAY)
    assert frame["card"].to_list() == [12, 13] and rejects == {}


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_parameter_file_in_utf16_without_a_mark_reads_the_same(encoding):
    resaved = default_par_text().replace("\n", "\r\n").encode(encoding)
    assert parse_par(decode_par(resaved)).values == PAR.values


@pytest.mark.parametrize("end", ["\r\n", "\r\r\n"], ids=["crlf", "cr-cr-lf"])
def test_a_parameter_file_with_a_bom_and_crlf_reads_the_same(end):
    text = default_par_text()
    resaved = ("\ufeff" + text.replace("\n", end)).encode("utf-8")
    assert parse_par(decode_par(resaved)).values == PAR.values


# fields in double quotes, as spreadsheets, R's write.csv2 and pandas' QUOTE_ALL write them
QUOTED_TRX = ['"id";"tiempo";"sitio";"operador"',
              '"12";"2021-04-22 07:00:00";"Los Héroes; L1";"2"',
              '13;"2021-04-22 07:01:00";"ZN-6220";2']


def test_quoted_fields_read_without_their_quotes(tmp_path):
    path = _gz(tmp_path, "d.trx", "\n".join(QUOTED_TRX) + "\n")
    frame, rejects = read_transactions(path, PAR, DAY)
    assert frame.select("card", "site", "operator").rows() == [
        (12, "Los Héroes; L1", 2), (13, "ZN-6220", 2)]
    assert rejects == {}


def test_a_quoted_file_with_an_unpaired_quote_loses_only_that_line(tmp_path):
    rows = [QUOTED_TRX[0], QUOTED_TRX[2], '"14;"2021-04-22 07:02:00";"ZN-6220";"2"',
            '"15";"2021-04-22 07:03:00";"ZN-6220";"2"']
    frame, rejects = read_transactions(_gz(tmp_path, "d.trx", "\n".join(rows) + "\n"), PAR, DAY)
    assert frame.select("card", "site", "operator").rows() == [
        (13, "ZN-6220", 2), (15, "ZN-6220", 2)]
    assert rejects == {"trx: missing card or site": 1}


def test_times_as_other_tools_write_them_are_read(tmp_path):
    """ISO `T`, fractions of a second and padding were unreadable times: a GPS file exported
    from JSON or a database lost every ping. A zone offset stays unreadable (no guess)."""
    rows = ["ZN-6220;;2021-04-22T08:00:00;-33.45;-70.65",
            "ZN-6220;;2021-04-22 08:00:40.250;-33.45;-70.65",
            "ZN-6220;; 2021-04-22 08:01:20 ;-33.45;-70.65",
            "ZN-6220;;2021-04-22T08:02:00Z;-33.45;-70.65"]
    frame, rejects = read_gps(_gz(tmp_path, "d.gps", "\n".join(rows) + "\n"), PAR, DAY)
    assert frame["t"].to_list() == [8 * 3600, 8 * 3600 + 40, 8 * 3600 + 80]
    assert rejects == {"gps: unreadable time": 1}
    run = "6;GCBB-35;;;T201 00I;2021-04-22T07:00:00;2021-04-22T07:50:00.5;;;;;18.5;;;;;C"
    frame, rejects = read_runs(_gz(tmp_path, "d.196", run + "\n"), PAR, DAY)
    assert frame.select("start", "end").rows() == [(7 * 3600, 7 * 3600 + 3000)] and not rejects


def test_decimal_commas_as_a_spanish_spreadsheet_saves_them_are_read(tmp_path):
    """`-33,45` was an impossible coordinate (the GPS), a stop without position (a PO file
    saved by Excel in a Chilean locale failed as 'no stop sequence matches')."""
    rows = ["ZN-6220;;2021-04-22 08:00:00;-33,45;-70,65",
            "ZN-6220;;2021-04-22 08:00:40;-33.45;-70.65"]
    frame, rejects = read_gps(_gz(tmp_path, "d.gps", "\n".join(rows) + "\n"), PAR, DAY)
    assert frame.height == 2 and rejects == {}
    assert frame["x"][0] == frame["x"][1] and frame["y"][0] == frame["y"][1]
    detail = _gz(tmp_path, "d.csv", "1;RM-0001;PA1;;329575,5;6287938,25;PIRQUE;X;SI;U2;T243 00I\n")
    assert read_service_detail(detail, PAR).select("x", "y").rows() == [(329575.5, 6287938.25)]


def test_a_line_break_inside_quotes_stays_in_its_row(tmp_path):
    """The first row was widened inside its quotes (a `;` added to the value), and the line
    break would have ended an output row in the middle."""
    rows = [QUOTED_TRX[0], '"12";"2021-04-22 07:00:00";"Los\r\nHéroes";"2"', QUOTED_TRX[2]]
    frame, _ = read_transactions(_gz(tmp_path, "d.trx", "\n".join(rows) + "\n"), PAR, DAY)
    assert frame["site"].to_list() == ["Los Héroes", "ZN-6220"]
