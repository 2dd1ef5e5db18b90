"""The ETL of one source: headers, casts, date semantics, null rules, encodings, quarantine."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cauce.apps.contracting.errors import HeaderMismatch, SourceUnreadable
from cauce.apps.contracting.etl import EtlOutput, detect_encoding, transform
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


PROCESOS = SOURCES["t_seii_procecotrata_compraadjudi"]


def test_processes_casts_dates_and_names_as_the_original(tmp_path: Path) -> None:
    path = tmp_path / PROCESOS.file
    path.write_text(
        export(
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
        ),
        encoding="utf-8",
    )
    output, rows, quarantined = etl(PROCESOS, path, tmp_path)
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
    assert "spaces and case count" in (caught.value.hint or "")


def test_an_empty_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(SourceUnreadable, match="empty"):
        etl(PROCESOS, path, tmp_path)


@pytest.mark.parametrize(
    ("encoding", "newline", "bom"),
    [("utf-8", "\r\n", True), ("cp1252", "\r\n", False), ("utf-16", "\n", False)],
)
def test_bom_crlf_and_latin1_exports_read_alike(
    tmp_path: Path, encoding: str, newline: str, bom: bool
) -> None:
    src = SOURCES["t_seii_contracanela_aislamiencon"]  # the en dash header
    text = export(
        src,
        [
            {
                "Nombre Representante Legal": "josé núñez",
                "ID Contrato": "C1",
                "Presupuesto General de la Nacion – PGN": "12.5",
                "Fecha de Firma": "31/12/2021",
            }
        ],
        newline=newline,
    )
    path = tmp_path / src.file
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    output, rows, _ = etl(src, path, tmp_path)
    assert output.encoding == ("utf-8" if encoding == "utf-8" else encoding)
    (row,) = rows
    assert row["nombre_representante_legal"] == "JOSÉ NÚÑEZ"
    assert row["monto_pgn"] == Decimal("12.500") and row["fecha_firma"] == date(2021, 12, 31)
    assert row["id_contrato"] == "C1"  # no \r left on any value


def test_latin1_deep_in_a_large_file_is_found(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_bytes(b"a\n" + b"x\n" * 10_000_000 + "é\n".encode("cp1252"))
    assert detect_encoding(path) == "cp1252"
    path.write_bytes(b"a\n" + b"x\n" * 10_000_000 + "é\n".encode())
    assert detect_encoding(path) == "utf-8"


def test_null_rules_and_untrimmed_sources(tmp_path: Path) -> None:
    rues = SOURCES["t_otro_pernajuesadl_camarcomerci"]
    path = tmp_path / rues.file
    path.write_text(
        export(
            rues,
            [
                {
                    "nit": "1",
                    "fecha_matricula": "19580101",
                    "fecha_cancelacion": "19590101",
                    "estado_matricula": " Cancelada ",
                    "fecha_actualizacion": "2022/01/02 03:04:05",
                }
            ],
        )
    )
    _, (row,), _ = etl(rues, path, tmp_path)
    assert row["fecha_matricula"] is None and row["fecha_cancelacion"] == date(1959, 1, 1)
    assert row["tipo_estado_matricula"] == "Cancelada"  # trimmed, case kept
    assert row["fecha_acutalizacion"] == datetime(2022, 1, 2, 3, 4, 5)
    puestos = SOURCES["t_otro_puestsensibl_sigeppsscorr"]
    path = tmp_path / puestos.file
    path.write_text(
        export(
            puestos,
            [{"ASIG_BASICA": "3,456,789"}, {"ASIG_BASICA": " 1,000 ", "TIPO_NOMBRAMIENTO": "X"}],
        )
    )
    _, rows, _ = etl(puestos, path, tmp_path)
    assert {(r["monto_asignacion_salarial"], r["tipo_nombramiento"]) for r in rows} == {
        (Decimal("3456789.000"), "NO DEFINIDO"),
        (None, "X"),  # not trimmed, so the original cannot read it
    }
    fiscal = SOURCES["t_paco_responsabilidad_fiscales"]
    path = tmp_path / fiscal.file
    path.write_text(export(fiscal, [{"Responsable Fiscal": " ana ", "R": "2"}, {"R": ""}]))
    _, rows, _ = etl(fiscal, path, tmp_path)
    assert [
        (r["nombre_responsable_fiscal"], r["cant_registros_responsable_fiscal"]) for r in rows
    ] == [(" ana ", 2), (None, None)]  # every row kept, nothing trimmed
    obras = SOURCES["t_paco_registro_obras_inconclusa"]
    path = tmp_path / obras.file
    path.write_text(
        export(
            obras,
            [
                {
                    "": "7",
                    "ENTIDAD_2010": "NIT. 890.123.456-1",
                    "COD_DEPARTAMENTO_2004": "05",
                    "FECHA_2011": " 2011-05-17",
                    "NOMBRE_2006": " obras sas ",
                }
            ],
        )
    )
    _, (row,), _ = etl(obras, path, tmp_path)
    assert row["numero_registro"] == "7" and row["id_nit_entidad"] == "8901234561"
    assert row["id_departamento"] == "5" and row["fecha_acta"] == date(2011, 5, 17)
    assert row["nombre_rol_1"] == "obras sas"
