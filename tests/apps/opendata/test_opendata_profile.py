"""The CSV profiler: digest, rows, column types and statistics; malformed files never raise."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from cauce.apps.opendata import profile as profile_module
from cauce.apps.opendata.profile import Profile, profile_csv
from cauce.apps.opendata.synth import make_frame
from cauce.connectors.soda.portal import csv_bytes


def write(tmp_path: Path, data: bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_soda_csv_is_profiled_column_by_column(tmp_path: Path) -> None:
    frame = make_frame("secop-contracts", 2_000, seed=3)
    data = csv_bytes(frame)
    profile = profile_csv(write(tmp_path, data))
    assert profile.sha256 == hashlib.sha256(data).hexdigest() and profile.size == len(data)
    assert (profile.rows, profile.problems, profile.encoding, profile.rejected_rows) == (
        2_000,
        (),
        "utf-8",
        0,
    )
    assert [c.name for c in profile.columns] == frame.columns
    kinds = {c.name: c.type for c in profile.columns}
    assert kinds["valor_del_contrato"] == "integer" and kinds["fecha_de_firma"] == "timestamp"
    assert kinds["nombre_entidad"] == "text" and kinds["urlproceso"] == "text"
    valor = profile.column("valor_del_contrato")
    assert valor is not None and (valor.min, valor.max) == (
        frame["valor_del_contrato"].min(),
        frame["valor_del_contrato"].max(),
    )
    firma = profile.column("fecha_de_firma")
    assert firma is not None and firma.min == frame["fecha_de_firma"].min().isoformat()
    nulls = profile.column("ultima_actualizacion")
    expected_nulls = frame["ultima_actualizacion"].null_count()
    assert (
        nulls is not None
        and nulls.nulls == expected_nulls
        and nulls.null_share == expected_nulls / 2_000
    )
    estado = profile.column("estado_contrato")
    assert estado is not None and estado.distinct == frame["estado_contrato"].n_unique()
    contract = profile.column("id_contrato")  # HyperLogLog: an estimate within a few per cent
    assert (
        contract is not None
        and abs(contract.distinct - frame["id_contrato"].n_unique()) < 0.05 * 2_000
    )


def test_types_numbers_padded_codes_booleans_and_export_dates(tmp_path: Path) -> None:
    data = (
        b"n,x,code,flag,d,mixed,empty\n"
        b"1,1.5,05,true,11/14/2019,7,\n"
        b"2,-2,11,false,01/02/2020 12:00:00 AM,8,\n"
        b'3,1e3,76,TRUE,12/31/2021,"1.234,5",\n'
    )
    profile = profile_csv(write(tmp_path, data), sample_rows=2)
    kinds = {c.name: c.type for c in profile.columns}
    assert kinds == {
        "n": "integer",
        "x": "number",
        "code": "text",
        "flag": "boolean",
        "d": "timestamp",
        "mixed": "text",
        "empty": "empty",
    }
    mixed = profile.column("mixed")
    assert (
        mixed is not None and mixed.nonconforming == 1
    )  # the sample said integer; one value was not
    day = profile.column("d")
    assert day is not None and (day.min, day.max) == ("2019-11-14T00:00:00", "2021-12-31T00:00:00")
    empty = profile.column("empty")
    assert empty is not None and empty.null_share == 1.0


def test_duplicate_rows_are_counted(tmp_path: Path) -> None:
    frame = make_frame("pcr-tests", 300, seed=1)
    doubled = pl.concat([frame, frame.head(30), frame.head(5)])
    profile = profile_csv(write(tmp_path, csv_bytes(doubled)))
    assert (profile.rows, profile.duplicate_rows) == (335, 35)
    assert profile.duplicate_share == pytest.approx(35 / 335)


@pytest.mark.parametrize(
    ("data", "rows", "problem"),
    [
        (b"", 0, "empty file"),
        (b"\x00\x01\x02binary\x00\xff" * 50, 0, "binary content"),
        (b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n", 2, "ragged rows: 1 row(s) with fewer fields"),
        (
            b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n",
            2,
            "ragged rows: 1 row(s) with more fields than the header (first at line 4)",
        ),
        (b'a,b\n1,"never closed\n2,3\n', 0, "unterminated or stray quote"),
        ("a,b\n1,Bogotá\n2,Medellín\n".encode("latin-1"), 2, "not UTF-8"),
        (b"a,b,a,\n1,2,3,4\n", 1, "duplicate column name 'a' renamed 'a_2'"),
        (b"a,b,a,\n1,2,3,4\n", 1, "1 column(s) without a name"),
        (
            b"a,b\n1,x\ry\n3,4\n",
            0,
            "not readable as CSV: line 2 has a carriage return (\\r) that ends no line",
        ),
        (
            b"a,b\r\r\n1,2\r\r\n",
            0,
            "not readable as CSV: line 1 has a carriage return (\\r) that ends no line",
        ),
    ],
)
def test_malformed_files_give_a_profile_with_their_problems(
    tmp_path: Path, data: bytes, rows: int, problem: str
) -> None:
    profile = profile_csv(write(tmp_path, data))
    assert profile.rows == rows
    assert any(p.startswith(problem) for p in profile.problems), profile.problems
    assert profile.sha256 == hashlib.sha256(data).hexdigest()


def test_cr_line_ends_are_still_a_csv(tmp_path: Path) -> None:
    profile = profile_csv(write(tmp_path, b'"a","b"\r"1","x"\r"2","y"\r'))
    assert (profile.rows, [c.name for c in profile.columns]) == (2, ["a", "b"])
    assert profile.columns[0].type == "integer" and profile.problems == ()


@pytest.mark.parametrize("block", [profile_module.BLOCK, 1_000], ids=["one-block", "many"])
def test_a_stray_nul_is_still_a_csv_with_a_problem_naming_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(profile_module, "BLOCK", block)  # the line counted across reads too
    data = b'"a","b"\n' + b'"1","x"\n' * 20_000 + b'"2","y\x00z"\n"3","w\x00"\n'
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, [c.name for c in profile.columns]) == (20_002, ["a", "b"])
    assert profile.columns[0].type == "integer"
    assert profile.problems == (
        "NUL bytes: 2 in the text (first at line 20,002); other tools may cut the value there",
    )


def test_utf16_little_endian_with_its_mark_is_read_as_text(tmp_path: Path) -> None:
    data = "ciudad,n\nBogotá,1\nMedellín,2\n".encode("utf-16")  # the mark, then little-endian
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding) == (2, "utf-16")
    assert [(c.name, c.type) for c in profile.columns] == [("ciudad", "text"), ("n", "integer")]
    assert profile.problems == ("UTF-16 text: read as UTF-16; convert to UTF-8 for other tools",)


def test_utf16_big_endian_is_named_not_called_binary(tmp_path: Path) -> None:
    data = b"\xfe\xff" + "ciudad,n\nBogotá,1\n".encode("utf-16-be")
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding) == (0, "utf-16-be")
    assert profile.problems == ("UTF-16 text (big-endian); convert to UTF-8",)


def test_invalid_bytes_late_in_a_file_switch_to_latin1(tmp_path: Path) -> None:
    data = b"city,n\n" + b"Cali,1\n" * 30_000 + "Popayán,2\n".encode("latin-1")
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding) == (30_001, "latin-1")
    assert profile.problems[0].startswith(
        "not UTF-8: 1 line(s) with invalid bytes (first at line 30,002)"
    )
    city = profile.column("city")
    assert city is not None and city.distinct == 2


def test_a_header_only_file_has_empty_columns(tmp_path: Path) -> None:
    profile = profile_csv(write(tmp_path, b'"a","b"\n'))
    assert (profile.rows, [c.type for c in profile.columns], profile.problems) == (
        0,
        ["empty", "empty"],
        (),
    )


def test_profiles_round_trip_through_json_dicts(tmp_path: Path) -> None:
    profile = profile_csv(write(tmp_path, csv_bytes(make_frame("secop-fines", 50, seed=2))))
    assert Profile.from_dict(profile.to_dict()) == profile
