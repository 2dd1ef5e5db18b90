"""The ETL of one source: headers, casts, date semantics, null rules, encodings, quarantine."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cauce.apps.contracting import javatime
from cauce.apps.contracting.errors import HeaderMismatch, SettingInvalid, SourceUnreadable
from cauce.apps.contracting.etl import EtlOutput, transform
from cauce.apps.contracting.sources import SOURCES, Source

DAY = date(2023, 4, 16)


def etl(src: Source, path: Path, tmp_path: Path) -> tuple[EtlOutput, list[dict], list[dict]]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    output = transform(src, path, DAY, work, run="r1", threads=1)
    rows = [r for _, part in output.parts for r in pq.read_table(part).to_pylist()]
    quarantined = pq.read_table(output.quarantine).to_pylist() if output.quarantine else []
    return output, rows, quarantined


def export(src: Source, rows: list[dict[str, str]], *, newline: str = "\n") -> str:
    """A CSV with every header of ``src``; cells not given are empty."""

    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value

    lines = [",".join(cell(h) for h in src.headers)]
    lines += [",".join(cell(row.get(h, "")) for h in src.headers) for row in rows]
    return newline.join(lines) + newline


def etl_of(src: Source, rows: list[dict[str, str]],
           tmp_path: Path) -> tuple[EtlOutput, list[dict], list[dict]]:
    """The ETL of an export of ``src`` holding ``rows`` (`export`, in UTF-8)."""
    path = tmp_path / src.file
    path.write_text(export(src, rows), encoding="utf-8")
    return etl(src, path, tmp_path)


PROCESOS = SOURCES["t_seii_procecotrata_compraadjudi"]


def test_processes_casts_dates_and_names_as_the_original(tmp_path: Path) -> None:
    output, rows, quarantined = etl_of(
        PROCESOS,
        [
            {
                "ID del Proceso": " CO1.REQ.1 ",
                "Nombre del Proveedor Adjudicado": "  constructora  ñandú s.a.s ",
                "Precio Base": "1.5E7",
                "Valor Total Adjudicacion": "1234.5675",
                "Fecha de Publicacion del Proceso": "06/30/2022 12:00:00 AM",
                "Fecha de Ultima Publicación": "6/3/22",
                "Fecha Adjudicacion": "02/29/2023",
            },
            {
                "ID del Proceso": "CO1.REQ.2",
                "Precio Base": "1,234,567",
                "Valor Total Adjudicacion": "$5",
                "Fecha de Publicacion del Proceso": "13/25/2022",
                "Fecha de Ultima Publicación": "2022-04-20",
                "Descripción del Procedimiento": 'dos\nlíneas, con "comillas"',
            },
        ],
        tmp_path,
    )
    first, second = rows
    assert first["id_proceso"] == "CO1.REQ.1"  # trimmed
    assert first["nombre_proveedor"] == "CONSTRUCTORA  ÑANDÚ S.A.S"  # upper, inner spaces kept
    assert first["monto_precio_base"] == Decimal("15000000.000")
    assert first["monto_total_adjudicado"] == Decimal("1234.568")  # half-up to 3 places
    assert first["fecha_publicacion"] == date(2022, 6, 30)  # a prefix is enough
    assert first["fecha_actualizacion"] == date(22, 6, 3)  # yyyy takes the digits it finds
    assert first["fecha_adjudicacion"] is None  # not lenient: no 29 February 2023
    assert second["monto_precio_base"] is None and second["monto_total_adjudicado"] is None
    assert second["fecha_publicacion"] is None and second["fecha_actualizacion"] is None
    assert second["desc_contrato"] == 'dos\nlíneas, con "comillas"'
    assert output.rows == 2 and output.rejected_rows == 0
    nulled = {(q["line"], q["column"], q["value"]) for q in quarantined}
    assert nulled == {
        (2, "Fecha Adjudicacion", "02/29/2023"),
        (3, "Precio Base", "1,234,567"),
        (3, "Valor Total Adjudicacion", "$5"),
        (3, "Fecha de Publicacion del Proceso", "13/25/2022"),
        (3, "Fecha de Ultima Publicación", "2022-04-20"),
    }
    assert all(
        q["source"] == PROCESOS.key and "null in the raw zone" in q["reason"] for q in quarantined
    )


def test_a_ragged_record_goes_to_the_quarantine_with_its_line(tmp_path: Path) -> None:
    src = SOURCES["t_seii_ejecucioncon_avancerevses"]
    good = {
        "IdentificadorContrato": "CO1.PCCNTR.1",
        "TipoEjecucion": "Entregables",
        "FechaCreacion": "2022-03-15 10:11:12.1234567",
        "FechaDeEntregaReal": "0218-01-01 00:00:00.0",
    }
    text = export(src, [good, good]).splitlines()
    text.insert(2, "a,b,c")
    text.append("CO1.PCCNTR.9,x,y,z,2022-01-01 00:00:00,q,1,2,bad")
    (tmp_path / src.file).write_text("\n".join(text) + "\n")
    output, rows, quarantined = etl(src, tmp_path / src.file, tmp_path)
    assert output.rows == 3 and output.rejected_rows == 1
    assert rows[0]["fecha_creacion"] == datetime(2022, 3, 15, 10, 11, 12, 123456)
    assert rows[0]["fecha_entrega_real"] is None  # the year 218 rule
    rejected = [q for q in quarantined if q["column"] is None]
    assert [(q["line"], q["value"]) for q in rejected] == [(3, "a,b,c")]
    assert "MISSING COLUMNS" in rejected[0]["reason"]
    # values of records after the rejected one keep their own line numbers
    nulled = [q for q in quarantined if q["column"] is not None]
    assert {(q["line"], q["column"]) for q in nulled} >= {(5, "FechaCreacion")}


def test_wrong_headers_are_one_line_naming_missing_and_unexpected(tmp_path: Path) -> None:
    src = SOURCES["t_seii_multasysanci_secopiimulsa"]
    headers = [h.strip() for h in src.headers] + ["Extra"]  # the leading space lost
    path = tmp_path / src.file
    path.write_text(",".join(headers) + "\n")
    with pytest.raises(HeaderMismatch) as caught:
        etl(src, path, tmp_path)
    message = caught.value.message
    assert "\n" not in message
    assert "missing ' Codigo Proveedor Objeto de la Multa'" in message
    assert "unexpected 'Codigo Proveedor Objeto de la Multa', 'Extra'" in message
    assert "spaces, case and accents count" in (caught.value.hint or "")


def test_a_header_without_its_accents_is_hinted_so(tmp_path: Path) -> None:
    """'Descripcion' for 'Descripción' got the hint 'is this the right file?'."""
    headers = [h.replace("ó", "o") for h in PROCESOS.headers]
    path = tmp_path / PROCESOS.file
    path.write_text(",".join(headers) + "\n")
    with pytest.raises(HeaderMismatch) as caught:
        etl(PROCESOS, path, tmp_path)
    assert (
        "'Descripcion del Procedimiento' where the original reads 'Descripción del Procedimiento'"
        in (caught.value.hint or "")
    )


def test_a_header_with_decomposed_accents_is_read(tmp_path: Path) -> None:
    """macOS writes 'ó' as 'o' and a combining accent: every accented header was listed as
    missing and as unexpected, spelled alike, with no hint why."""
    text = cancelled("ana")
    header, rest = text.split("\n", 1)
    path = tmp_path / CANCELADOS.file
    path.write_text(unicodedata.normalize("NFD", header) + "\n" + rest)
    assert unicodedata.normalize("NFD", header) != header
    output, rows, _ = etl(CANCELADOS, path, tmp_path)
    assert output.rows == 1 and output.ignored_columns == []
    assert rows[0]["nombre_representante_legal"] == "ANA"


@pytest.mark.parametrize(
    "source", ["t_seii_multasysanci_secopiimulsa", "t_seii_procecotrata_compraadjudi"]
)
def test_a_header_of_api_field_names_is_named_so(tmp_path: Path, source: str) -> None:
    """A CSV from the SODA API (/resource/<id>.csv) has field names, accents as underscores and
    long names cut: the hint said three of them differed in case only ('valor' for 'Valor')."""
    src = SOURCES[source]
    fields = ["".join(c if c.isascii() and c.isalnum() else "_" for c in h.strip().lower())[:28]
              for h in src.headers]
    path = tmp_path / src.file
    path.write_text(",".join(dict.fromkeys(fields)) + "\n")
    with pytest.raises(HeaderMismatch) as caught:
        etl(src, path, tmp_path)
    spaced = next(i for i, h in enumerate(src.headers) if " " in h.strip())
    assert (caught.value.hint or "").startswith(
        f"its header has the SODA API's field names ({fields[spaced]!r} for "
        f"{src.headers[spaced]!r})"
    )
    assert "cauce run contracting download" in (caught.value.hint or "")


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_an_export_separated_by_semicolons_or_tabs_is_named_so(
    tmp_path: Path, delimiter: str, name: str
) -> None:
    """Excel saves CSV with semicolons where the decimal mark is a comma (Colombia): the
    message listed every column as missing and asked whether it was the right file."""
    rows = csv.reader(io.StringIO(cancelled("ana")))
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path = tmp_path / CANCELADOS.file
    path.write_text(text.getvalue())
    with pytest.raises(HeaderMismatch) as caught:
        etl(CANCELADOS, path, tmp_path)
    assert caught.value.message == f"{CANCELADOS.file}: its fields are separated by {name}"
    assert "commas" in (caught.value.hint or "")


def test_an_empty_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(SourceUnreadable, match="empty"):
        etl(PROCESOS, path, tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"\x00" * 1000, "ID Proceso,Valor\n1,2\n".encode("utf-32"), b"ID\x00 Proceso,\x9f\x00\n"],
    ids=["nuls", "utf-32", "binary"],
)
def test_a_first_line_with_nul_bytes_is_named_not_csv(tmp_path: Path, content: bytes) -> None:
    """The message listed every column as missing and the NULs as an unexpected column, a
    thousand '\\x00' long."""
    src = SOURCES["t_seii_multasysanci_secopiimulsa"]
    path = tmp_path / src.file
    path.write_bytes(content)
    with pytest.raises(SourceUnreadable) as caught:
        etl(src, path, tmp_path)
    assert caught.value.message == (
        f"{src.file}: its first line has NUL bytes: it is not CSV text (a binary file, or text "
        "in UTF-32?)"
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp1252"])
def test_nul_characters_are_removed_from_values(tmp_path: Path, encoding: str) -> None:
    """A stray NUL byte stayed in the raw zone: an id holding one matched nothing."""
    pep = SOURCES["t_otro_persexpupoli_sigepperexpo"]
    text = export(pep, [{"NUMERO_DOCUMENTO": "30\x00000", "NOMBRE_PEP": "josé\x00"}])
    path = tmp_path / pep.file
    path.write_bytes(text.encode(encoding))
    output, (row,), quarantined = etl(pep, path, tmp_path)
    assert output.nul_characters == 2 and not quarantined
    assert (row["id_nit_pep"], row["nombre_pep"]) == ("30000", "JOSÉ")


def test_running_out_of_etl_memory_fails_the_source_naming_the_setting(tmp_path: Path) -> None:
    """An OutOfMemoryException stopped the whole run (every source after it too), with the
    hint to read a traceback."""
    path = tmp_path / CANCELADOS.file
    path.write_text(cancelled("ana", rows=50))
    with pytest.raises(SettingInvalid) as caught:
        transform(CANCELADOS, path, DAY, tmp_path, run="r1", threads=1, memory_limit="1KB")
    assert caught.value.message == (
        f"{CANCELADOS.file}: DuckDB ran out of memory within etl_memory '1KB'"
    )
    assert "--etl-memory" in (caught.value.hint or "")


def test_a_carriage_return_inside_an_unquoted_value_is_one_line_naming_its_line(
    tmp_path: Path,
) -> None:
    src = SOURCES["t_otro_persexpupoli_sigepperexpo"]
    text = export(src, [{"NOMBRE_PEP": "añá"}, {"NOMBRE_PEP": "zz"}])
    path = tmp_path / src.file
    path.write_bytes(text.replace("zz", "z\rz").encode("cp1252"))  # read through a UTF-8 copy
    with pytest.raises(SourceUnreadable) as caught:
        etl(src, path, tmp_path)
    assert caught.value.message == (
        f"{src.file}: line 3 has a carriage return (\\r) that ends no line: the records "
        "cannot be told apart there"
    )
    assert "CR CR LF" in (caught.value.hint or "")


PEPS = SOURCES["t_otro_persexpupoli_sigepperexpo"]
# a\r\nb: a line break inside a quoted value, kept as it is; DuckDB got lost where a
# record's last value was not empty
PEP_ROWS = [{"NOMBRE_PEP": name, "ENLACE_HOJA_VIDA_SIGEP": "x"}
            for name in ("a\r\nb", "c", "d", "e")]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_records_ending_in_cr_cr_lf_are_read(tmp_path: Path, encoding: str) -> None:
    """A CRLF export written again by a tool turning LF into CRLF (Python's csv module on
    Windows): the source failed, 'line 1 has a carriage return that ends no line'; the
    original's Spark reader read it."""
    text = export(PEPS, [*PEP_ROWS, {"NOMBRE_PEP": "ñandú", "ENLACE_HOJA_VIDA_SIGEP": ""}],
                  newline="\r\n").replace("\r\n", "\r\r\n")
    path = tmp_path / PEPS.file
    path.write_bytes(text.encode(encoding))
    output, rows, quarantined = etl(PEPS, path, tmp_path)
    assert [r["nombre_pep"] for r in rows] == ["A\r\r\nB", "C", "D", "E", "ÑANDÚ"]
    assert not quarantined and output.rows == 5


@pytest.mark.parametrize(("first", "later"), [("\r\n", "\n"), ("\n", "\r\n")],
                         ids=["crlf", "lf"])
def test_records_ending_both_in_lf_and_crlf_are_read(tmp_path: Path, first: str,
                                                    later: str) -> None:
    """Lines added in another editor, two exports joined: DuckDB said 'The CSV Parser state
    machine reached an invalid state', and then the source failed naming the first line that
    differs; Spark read it. A bad record after them keeps its line in the quarantine."""
    text = export(PEPS, PEP_ROWS[:2], newline=first) + export(
        PEPS, PEP_ROWS[2:], newline=later).split(later, 1)[1] + f'"unclosed,x{later}'
    path = tmp_path / PEPS.file
    path.write_text(text, newline="")
    _, rows, quarantined = etl(PEPS, path, tmp_path)
    assert [r["nombre_pep"] for r in rows] == ["A\r\nB", "C", "D", "E"]
    assert [q["line"] for q in quarantined] == [6]


CANCELADOS = SOURCES["t_seii_contracanela_aislamiencon"]  # the en dash header


def cancelled(name: str, *, newline: str = "\n", rows: int = 1) -> str:
    row = {
        "Nombre Representante Legal": name,
        "ID Contrato": "C1",
        "Presupuesto General de la Nacion – PGN": "12.5",
        "Fecha de Firma": "31/12/2021",
    }
    return export(CANCELADOS, [row] * rows, newline=newline)


@pytest.mark.parametrize(
    ("encoding", "newline", "mark", "detected"),
    [
        ("utf-8", "\r\n", b"\xef\xbb\xbf", "utf-8"),
        ("cp1252", "\r\n", b"", "cp1252"),
        ("utf-16-le", "\n", b"\xff\xfe", "utf-16-le"),
        ("utf-16-be", "\r\n", b"\xfe\xff", "utf-16-be"),
        ("utf-16-le", "\r\n", b"", "utf-16-le"),  # no mark, as some Windows tools export it
        ("utf-16-be", "\r\n", b"", "utf-16-be"),
        ("cp1252", "\r", b"", "cp1252"),  # Excel's "CSV (Macintosh)": records end in \r alone
    ],
)
def test_bom_crlf_utf16_and_cp1252_exports_read_alike(
    tmp_path: Path, encoding: str, newline: str, mark: bytes, detected: str
) -> None:
    path = tmp_path / CANCELADOS.file
    path.write_bytes(mark + cancelled("josé núñez", newline=newline).encode(encoding))
    output, rows, quarantined = etl(CANCELADOS, path, tmp_path)
    assert output.encoding == detected and not quarantined
    (row,) = rows
    assert row["nombre_representante_legal"] == "JOSÉ NÚÑEZ"
    assert row["monto_pgn"] == Decimal("12.500") and row["fecha_firma"] == date(2021, 12, 31)
    assert row["id_contrato"] == "C1"  # no \r left on any value


def test_a_byte_cp1252_leaves_undefined_makes_the_file_latin1(tmp_path: Path) -> None:
    pep = SOURCES["t_otro_persexpupoli_sigepperexpo"]  # ASCII headers (no en dash in Latin-1)
    path = tmp_path / pep.file
    path.write_bytes(export(pep, [{"NOMBRE_PEP": "josé\x81"}]).encode("latin-1"))
    output, (row,), _ = etl(pep, path, tmp_path)
    assert output.encoding == "latin-1"
    assert row["nombre_pep"] == "JOSÉ\x81"


@pytest.mark.parametrize("late", ["é", "–"], ids=["latin1", "cp1252-dash"])
def test_a_single_byte_character_past_the_first_megabyte_decodes_the_whole_file(
    tmp_path: Path, late: str
) -> None:
    """The head is ASCII, which UTF-8 and cp1252 write alike; the reader finds the byte; the
    file is read again whole as cp1252 (one encoding per file)."""
    pep = SOURCES["t_otro_persexpupoli_sigepperexpo"]  # ASCII headers
    path = tmp_path / pep.file
    head = export(pep, [{"NOMBRE_PEP": "nandu " * 20}] * 20_000).encode("utf-8")  # about 2 MB
    assert len(head) > 1 << 20
    path.write_bytes(head + f"9,C9{late},,,,,\n".encode("cp1252"))
    output, rows, quarantined = etl(pep, path, tmp_path)
    assert output.encoding == "cp1252" and not quarantined
    assert len(rows) == 20_001 and rows[-1]["nombre_pep"] == f"C9{late}".upper()
    assert rows[0]["nombre_pep"] == ("NANDU " * 20).strip()


@pytest.mark.parametrize("rows", [1, 20_000], ids=["head", "past-the-first-megabyte"])
def test_a_utf8_export_with_a_damaged_line_quarantines_that_line(
    tmp_path: Path, rows: int
) -> None:
    """A UTF-8 export (its accents are UTF-8 characters) with a line that is not: a download
    cut inside a character, or a line pasted from a cp1252 file. The whole file was read as
    cp1252, turning every accent of every record into mojibake ('ñandú' into 'Ã±ANDÃº')."""
    path = tmp_path / CANCELADOS.file
    good = cancelled("ñandú", rows=rows).encode("utf-8")
    pasted = "C9é," + ",".join([""] * (len(CANCELADOS.headers) - 1)) + "\n"
    path.write_bytes(good + pasted.encode("cp1252") + "C10,ú".encode()[:-1])  # cut at the end
    output, read, quarantined = etl(CANCELADOS, path, tmp_path)
    assert output.encoding == "utf-8" and len(read) == rows
    assert {r["nombre_representante_legal"] for r in read} == {"ÑANDÚ"}
    assert [(q["line"], q["reason"].split(":")[0]) for q in quarantined] == [
        (rows + 2, "INVALID ENCODING"),
        (rows + 3, "INVALID ENCODING"),
    ]


def test_null_rules_and_untrimmed_sources(tmp_path: Path) -> None:
    rues = {
        "nit": "1",
        "fecha_matricula": "19580101",
        "fecha_cancelacion": "19590101",
        "estado_matricula": " Cancelada ",
        "fecha_actualizacion": "2022/01/02 03:04:05",
    }
    _, (row,), _ = etl_of(SOURCES["t_otro_pernajuesadl_camarcomerci"], [rues], tmp_path)
    assert row["fecha_matricula"] is None and row["fecha_cancelacion"] == date(1959, 1, 1)
    assert row["tipo_estado_matricula"] == "Cancelada"  # trimmed, case kept
    assert row["fecha_acutalizacion"] == datetime(2022, 1, 2, 3, 4, 5)
    puestos = [{"ASIG_BASICA": "3,456,789"}, {"ASIG_BASICA": " 1,000 ", "TIPO_NOMBRAMIENTO": "X"}]
    _, rows, _ = etl_of(SOURCES["t_otro_puestsensibl_sigeppsscorr"], puestos, tmp_path)
    assert {(r["monto_asignacion_salarial"], r["tipo_nombramiento"]) for r in rows} == {
        (Decimal("3456789.000"), "NO DEFINIDO"),
        (None, "X"),  # not trimmed, so the original cannot read it
    }
    fiscal = [{"Responsable Fiscal": " ana ", "R": "2"}, {"R": ""}]
    _, rows, _ = etl_of(SOURCES["t_paco_responsabilidad_fiscales"], fiscal, tmp_path)
    assert [
        (r["nombre_responsable_fiscal"], r["cant_registros_responsable_fiscal"]) for r in rows
    ] == [(" ana ", 2), (None, None)]  # every row kept, nothing trimmed
    obras = {
        "": "7",
        "ENTIDAD_2010": "NIT. 890.123.456-1",
        "COD_DEPARTAMENTO_2004": "05",
        "FECHA_2011": " 2011-05-17",
        "NOMBRE_2006": " obras sas ",
    }
    _, (row,), _ = etl_of(SOURCES["t_paco_registro_obras_inconclusa"], [obras], tmp_path)
    assert row["numero_registro"] == "7" and row["id_nit_entidad"] == "8901234561"
    assert row["id_departamento"] == "5" and row["fecha_acta"] == date(2011, 5, 17)
    assert row["nombre_rol_1"] == "obras sas"


@pytest.mark.parametrize(
    ("pattern", "values"),
    [
        ("MM/dd/yyyy", ["06/30/2022", "02/29/2023", "02/29/2024", "00/10/2020", "12/31/0999"]),
        ("yyyyMMdd", ["20200101", "19580101", "20200230", "20201301", "00010101"]),
        (
            "dd/MM/yyyy HH:mm:ss",
            ["31/12/2021 23:59:59", "31/12/2021 23:59:60", "01/01/2021 24:00:00"],
        ),
        (
            "yyyy-MM-dd HH:mm:ss.SSSSSSS",
            [
                "2022-03-15 10:11:12.1234567",
                "2022-03-15 10:11:12.9999999",
                "2022-02-29 00:00:00.0000000",
            ],
        ),
    ],
)
def test_canonical_values_take_strptime_and_read_as_the_prefix_parser_reads_them(
    pattern: str, values: list[str]
) -> None:
    """Values written exactly as the pattern go the fast way; it must agree with the general
    parser, valid or not (30 February, hour 24, second 60)."""
    con = duckdb.connect()
    shape, _ = javatime.canonical(pattern)
    timestamp = "HH" in pattern
    for value in values:
        literal = javatime.quote(value)
        fast, slow, canonical = con.execute(
            f"SELECT {javatime.parse(literal, pattern, timestamp=timestamp)}, "
            f"{javatime.prefix_parse(literal, pattern, timestamp=timestamp)}, "
            f"regexp_full_match({literal}, {javatime.quote(shape)})"
        ).fetchone()
        assert fast == slow, value
        assert canonical == (value[:4] != "0001" and "/0999" not in value), value


def test_contracts_read_as_annex_1_models_them_and_extra_columns_are_ignored(
    tmp_path: Path,
) -> None:
    """SECOP II Contratos Electrónicos: month-first dates, money as decimal(30,3), names upper
    case, the second partition by contract state; a column the model lacks (the live dataset
    has more than the Annex) is ignored and named, not fatal."""
    src = SOURCES["t_seii_contratelect_cregistrados"]
    row = {
        "ID Contrato": "CO1.PCCNTR.1",
        "Proceso de Compra": "CO1.BDOS.7",
        "Proveedor Adjudicado": "ñandú s.a.s",
        "Valor del Contrato": "1234.5",
        "Fecha de Firma": "05/20/2022",
        "Fecha de Fin del Contrato": "12/31/2022 12:00:00 AM",
        "Dias Adicionados": "15",
        "Ultima Actualizacion": "06/01/2022 10:11:12",
        "Fecha Inicio Liquidacion": "07/01/2022",
        "Estado Contrato": "En ejecución",
    }
    text = export(src, [row, {**row, "ID Contrato": "CO1.PCCNTR.2", "Estado Contrato": ""}])
    lines = text.splitlines()
    lines = [lines[0] + ",Nombre Ordenador del Gasto"] + [line + ",ANA" for line in lines[1:]]
    path = tmp_path / src.file
    path.write_text("\n".join(lines) + "\n")
    output, rows, quarantined = etl(src, path, tmp_path)
    assert output.ignored_columns == ["Nombre Ordenador del Gasto"] and not quarantined
    first = next(r for r in rows if r["id_contrato"] == "CO1.PCCNTR.1")
    assert first["nombre_proveedor"] == "ÑANDÚ S.A.S"
    assert first["monto_contrato"] == Decimal("1234.500")
    assert first["fecha_firma"] == date(2022, 5, 20)
    assert first["fecha_fin_contrato"] == date(2022, 12, 31)
    assert first["numero_adicion_dias"] == "15"
    assert first["fecha_modificacion"] == datetime(2022, 6, 1, 10, 11, 12)
    assert first["fecha_inicio_liquidacion"] == datetime(2022, 7, 1)
    assert sorted(key.split("/")[0] for key, _ in output.parts) == [
        "tipo_estado_contrato=En ejecución",
        "tipo_estado_contrato=__HIVE_DEFAULT_PARTITION__",
    ]


def test_the_run_summary_names_a_date_pattern_whole(tmp_path: Path) -> None:
    """A reason is counted by its kind; a date pattern's colons are part of it."""
    pep = SOURCES["t_otro_persexpupoli_sigepperexpo"]
    output, _, quarantined = etl_of(
        pep, [{"NUMERO_DOCUMENTO": "1", "FECHA_VINCULACION": "26/04/2016"}], tmp_path
    )
    pattern = next(c.pattern for c in pep.columns if c.header == "FECHA_VINCULACION")
    assert ":" in pattern and quarantined[0]["value"] == "26/04/2016"
    assert dict(output.reasons) == {f"FECHA_VINCULACION: not a timestamp in {pattern}": 1}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lines_a_rejected_record_took_into_a_quoted_value_are_counted(
    tmp_path: Path, newline: str
) -> None:
    """A quote that never closes takes every line after it into its record: the quarantine
    said one record was rejected while the lines after it were gone with it."""
    lines = cancelled("ana", newline=newline, rows=5).split(newline)
    lines[2] = lines[2].replace(",", ',"', 1)  # the second record opens a quote never closed
    path = tmp_path / CANCELADOS.file
    path.write_bytes(newline.join(lines).encode())
    output, _, quarantined = etl(CANCELADOS, path, tmp_path)
    assert output.rows == 1 and output.rejected_rows == 1
    reason = "UNQUOTED VALUE (and the 3 line(s) after it, inside a quoted value, not loaded either)"
    assert quarantined[0]["line"] == 3 and quarantined[0]["reason"].startswith(reason + ": ")
    assert dict(output.reasons) == {reason: 1}


def test_a_header_repeated_last_is_read_by_its_first_column(tmp_path: Path) -> None:
    """A column copied to the end of the sheet (its header twice) widens every record: the
    records are read whole (the first column of the name counts), not all quarantined."""
    lines = cancelled("ana").splitlines()
    lines = [lines[0] + ",ID Contrato"] + [line + ",C2" for line in lines[1:]]
    path = tmp_path / CANCELADOS.file
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, rows, quarantined = etl(CANCELADOS, path, tmp_path)
    assert not quarantined
    assert [(r["id_contrato"], r["nombre_representante_legal"]) for r in rows] == [("C1", "ANA")]


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"PK\x03\x04", "a ZIP file (an Excel .xlsx workbook?)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 (.xls) workbook"),
        (b"\x1f\x8b\x08", "gzip-compressed"),
    ],
)
def test_a_workbook_or_compressed_file_under_the_export_name_is_named_so(
    tmp_path: Path, head: bytes, what: str
) -> None:
    """A workbook renamed to .csv listed every column as missing and asked whether it was the
    right file."""
    path = tmp_path / CANCELADOS.file
    path.write_bytes(head + bytes(range(256)) * 4)
    with pytest.raises(SourceUnreadable) as caught:
        etl(CANCELADOS, path, tmp_path)
    assert caught.value.message == f"{CANCELADOS.file}: is {what}, not CSV"


def test_a_partition_value_too_long_for_a_folder_name_gets_a_shortened_folder(
    tmp_path: Path,
) -> None:
    """A 300-character modality named a folder over 255 bytes: the bucket refused the key and
    the whole ETL run stopped. The folder is cut and ends in a hash; the value is in the file."""
    src = SOURCES["t_seii_ofertaproces_procesocompr"]
    long_a, long_b = "Ñ" * 300 + "a", "Ñ" * 300 + "b"
    output, rows, _ = etl_of(src, [{"Modalidad": long_a}, {"Modalidad": long_b}], tmp_path)
    folders = {key.split("/")[0] for key, _ in output.parts}
    assert len(folders) == 2
    assert all(len(folder.encode()) <= 255 for folder in folders)
    assert sorted(r["tipo_contratacion"] for r in rows) == [long_a, long_b]


@pytest.mark.parametrize(
    ("newline", "encoding", "mark"),
    [("\n", "utf-8", b""), ("\r\n", "utf-8", b""), ("\n", "utf-16-le", b"\xff\xfe")],
)
def test_lines_a_long_unclosed_quote_took_are_counted_to_where_reading_resumed(
    tmp_path: Path, newline: str, encoding: str, mark: bytes
) -> None:
    """DuckDB keeps 10,000 bytes of a rejected record: a quote opened and never closed in a
    file of 400 records said "at least 113" lines after it were lost, while DuckDB read on to
    the next quote, 199 lines on. The lines are counted in the file, to where reading resumed
    (in the text DuckDB decoded, for UTF-16): every line is loaded or counted in the
    quarantine."""
    rows = [{"ID Contrato": f"C{i}", "Fecha de Firma": "31/12/2021",
             "Nombre Representante Legal": f'ana "{i}"' if i >= 200 else f"ana {i}"}
            for i in range(400)]
    rows[250]["Nombre Representante Legal"] = f"ana{newline}250"  # one record, two lines
    lines = export(CANCELADOS, rows, newline=newline).split(newline)
    lines[2] = lines[2].replace(",", ',"', 1)  # the second record opens a quote never closed
    bad = next(i for i, line in enumerate(lines) if ",C299," in line)
    lines[bad] += ",extra"  # a record with one field too many, after it
    path = tmp_path / CANCELADOS.file
    path.write_bytes(mark + newline.join(lines).encode(encoding))
    _, loaded, quarantined = etl(CANCELADOS, path, tmp_path)
    assert [q["line"] for q in quarantined] == [3, 102]  # records, as DuckDB counts them
    reason = ("UNQUOTED VALUE (and the 199 line(s) after it, inside a quoted value, not loaded "
              "either)")
    assert quarantined[0]["reason"].startswith(reason + ": ")
    assert [r["id_contrato"] for r in loaded] == ["C0"] + [f"C{i}" for i in range(201, 400)
                                                           if i != 299]
    physical = len(lines) - 1  # the last is empty: the file ends in a line end
    taken = 1 + 199 + 1  # the two records rejected, and the lines the first took in
    assert 1 + len(loaded) + 1 + taken == physical  # the header, C250's second line


def test_lines_a_long_unclosed_quote_took_to_the_end_of_the_file_are_counted(
    tmp_path: Path,
) -> None:
    """A quote never closed, in a record that runs past DuckDB's 10,000 bytes to the end of a
    file with no line end after its last line: the count is exact, not "at least"."""
    lines = cancelled("ana", rows=400).split("\n")
    lines[2] = lines[2].replace(",", ',"', 1)
    path = tmp_path / CANCELADOS.file
    path.write_bytes("\n".join(lines[:-1]).encode())
    output, _, quarantined = etl(CANCELADOS, path, tmp_path)
    assert output.rows == 1 and [q["line"] for q in quarantined] == [3]
    reason = ("UNQUOTED VALUE (and the 398 line(s) after it, inside a quoted value, not loaded "
              "either)")
    assert quarantined[0]["reason"].startswith(reason + ": ")
