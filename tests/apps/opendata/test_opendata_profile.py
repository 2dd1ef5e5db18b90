"""The CSV profiler: digest, rows, column types and statistics; malformed files never raise."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

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


def test_a_date_of_year_zero_keeps_its_text_as_the_minimum(tmp_path: Path) -> None:
    """DuckDB reads year 0000 (1 BC) as a timestamp Python cannot hold and returns it as text:
    the profile raised ValueError, and the dataset's message ended in the dead-letter queue."""
    data = b"d\n0000-01-01T00:00:00.000\n2019-11-14T00:00:00.000\n"
    profile = profile_csv(write(tmp_path, data))
    day = profile.column("d")
    assert day is not None and (day.type, day.max) == ("timestamp", "2019-11-14T00:00:00")
    assert day.min == "0001-01-01 (BC) 00:00:00"


def test_duplicate_rows_are_counted(tmp_path: Path) -> None:
    frame = make_frame("pcr-tests", 300, seed=1)
    doubled = pl.concat([frame, frame.head(30), frame.head(5)])
    profile = profile_csv(write(tmp_path, csv_bytes(doubled)))
    assert (profile.rows, profile.duplicate_rows) == (335, 35)
    assert profile.duplicate_share == pytest.approx(35 / 335)


def test_a_file_wider_than_one_query_is_profiled_column_by_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wide file is profiled a group of columns per query (a file of 2,000 columns took
    half a minute in one); each column keeps its own figures across the groups."""
    monkeypatch.setattr(profile_module, "COLUMNS_PER_QUERY", 4)
    kinds = ["integer", "timestamp", "text"] * 4  # 12 columns: three groups
    values = {"integer": lambda r: str(r), "timestamp": lambda r: f"2021-01-{r + 1:02d}",
              "text": lambda r: f"t{r % 3}"}
    lines = [",".join(f"c{i}" for i in range(len(kinds)))]
    lines += [",".join("" if (r, i) == (0, 11) else values[k](r) for i, k in enumerate(kinds))
              for r in range(9)]
    lines.append(lines[-1])  # one duplicate row
    profile = profile_csv(write(tmp_path, ("\n".join(lines) + "\n").encode()))
    assert (profile.rows, profile.duplicate_rows) == (10, 1)
    assert [c.type for c in profile.columns] == kinds
    assert [c.nulls for c in profile.columns] == [0] * 11 + [1]
    assert (profile.columns[9].min, profile.columns[9].max) == (0.0, 8.0)
    assert profile.columns[11].distinct == 3


def test_a_header_longer_than_the_sampled_head_keeps_every_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header was read from the first 64 KiB alone: a dataset of 3,000 columns of 25
    characters lost the names past that (the last one cut), and every row was rejected as
    ragged, 0 rows. A 64-byte head stands for the 64 KiB here."""
    monkeypatch.setattr(profile_module, "SAMPLE_BYTES", 64)
    names = [f"columna_larga_{i:02d}" for i in range(12)]
    data = (",".join(names) + "\n" + ",".join("7" for _ in names) + "\n").encode()
    profile = profile_csv(write(tmp_path, data))
    assert [c.name for c in profile.columns] == names
    assert (profile.rows, profile.rejected_rows, profile.problems) == (1, 0, ())


def test_a_file_of_one_endless_line_is_not_read_whole_for_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header is read on past the head to its line end, but not without end: a file of one
    line of gigabytes would be held in memory whole. 64 and 256 bytes stand for 64 KiB and 1 MiB."""
    monkeypatch.setattr(profile_module, "SAMPLE_BYTES", 64)
    monkeypatch.setattr(profile_module, "HEADER_BYTES", 256)
    profile = profile_csv(write(tmp_path, b"a," * 1_000))
    assert len(profile.columns) <= 256 // 2 + 1


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
        # names that differ only in case clash in DuckDB: a Binder Error failed the profile
        (b"Valor,valor,VALOR\n1,2,3\n", 1, "duplicate column name 'valor' renamed 'valor_2'"),
        (b"Valor,valor,VALOR\n1,2,3\n", 1, "duplicate column name 'VALOR' renamed 'VALOR_3'"),
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


@pytest.mark.parametrize("data", [
    b'"id";"nombre"\n"1";"Ana"\n"2";"Luis"\n',  # ;-separated, as a Spanish Excel saves it
    b'"id"x,"nombre"\n1,Ana\n2,Luis\n',
])
def test_rows_skipped_behind_a_header_that_is_not_csv_are_a_problem(
    tmp_path: Path, data: bytes
) -> None:
    """DuckDB's reader skips every line after a header whose quoted name is followed by another
    character than a comma, rejecting none: the profile said 0 rows and no problem at all."""
    profile = profile_csv(write(tmp_path, data))
    assert profile.rows == 0
    assert profile.problems == (
        "no row read: the header (line 1) does not split as CSV (',' expected after '\"'), "
        "and every line after it was skipped",
    )


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


@pytest.mark.parametrize(
    ("mark", "encoding", "named", "order"),
    [
        (b"\xfe\xff", "utf-16-be", "utf-16-be", " (big-endian)"),
        (b"", "utf-16-le", "utf-16", ""),  # without a mark, as some Windows tools export it
        (b"", "utf-16-be", "utf-16-be", " (big-endian)"),
    ],
    ids=["be-mark", "le-no-mark", "be-no-mark"],
)
def test_utf16_of_either_order_with_or_without_a_mark_is_read_as_text(
    tmp_path: Path, mark: bytes, encoding: str, named: str, order: str
) -> None:
    data = mark + "ciudad,n\r\nBogotá,1\r\nMedellín,2\r\n".encode(encoding)
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding) == (2, named)
    assert [(c.name, c.type) for c in profile.columns] == [("ciudad", "text"), ("n", "integer")]
    assert (profile.columns[1].min, profile.columns[1].max) == (1, 2)
    assert profile.problems == (
        f"UTF-16 text{order}: read as UTF-16; convert to UTF-8 for other tools",
    )


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder, made one the test can look into."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str]]:
    """Each file DuckDB scans, with the text it holds in the encoding it is scanned in."""
    seen: list[tuple[Path, str]] = []
    scan = profile_module._scan

    def spy(con: Any, path: Path, names: list[str], encoding: str, sample_rows: int) -> Any:
        seen.append((path, path.read_bytes().decode(encoding)))
        return scan(con, path, names, encoding, sample_rows)

    monkeypatch.setattr(profile_module, "_scan", spy)
    return seen


CP1252_TEXT = "producto,precio €,nota\r\nCafé,5,“el mejor” – dicen…\r\nTé,3,‘suave’ — 2 €\r\n"


def test_a_cp1252_file_reads_its_euro_signs_and_curly_quotes(
    tmp_path: Path, scratch: Path, scanned: list[tuple[Path, str]]
) -> None:
    data = CP1252_TEXT.encode("cp1252")
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding, profile.problems) == (
        2,
        "cp1252",
        ("not UTF-8: read as cp1252",),
    )
    assert (profile.sha256, profile.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert [c.name for c in profile.columns] == ["producto", "precio €", "nota"]
    assert [text for _, text in scanned] == [CP1252_TEXT]  # what DuckDB read: a UTF-8 copy
    same_in_utf8 = profile_csv(write(tmp_path, CP1252_TEXT.encode(), "utf8.csv"))
    assert profile.columns == same_in_utf8.columns
    assert list(scratch.iterdir()) == []  # the copy is gone


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_a_byte_cp1252_leaves_undefined_makes_the_file_latin1(
    tmp_path: Path, scanned: list[tuple[Path, str]], byte: int
) -> None:
    data = b"ciudad,n\n\x93Bogot\xe1\x94,1\nx" + bytes([byte]) + b"y,2\n"
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding, profile.problems) == (
        2,
        "latin-1",
        ("not UTF-8: read as Latin-1",),
    )
    assert scanned[0][1] == data.decode("latin-1")  # C1 controls, as Latin-1 has them


def test_cp1252_with_crlf_keeps_the_lines_of_the_file(
    tmp_path: Path, scanned: list[tuple[Path, str]]
) -> None:
    data = "a,b\r\n“x”,1\r\n€,2,extra\r\n…,3\r\n".encode("cp1252")
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding, profile.rejected_rows) == (2, "cp1252", 1)
    assert profile.problems == (
        "not UTF-8: read as cp1252",
        "ragged rows: 1 row(s) with more fields than the header (first at line 3)",
    )
    b = profile.column("b")
    assert b is not None and (b.type, b.min, b.max) == ("integer", 1.0, 3.0)


@pytest.mark.parametrize(
    ("late", "end", "encoding", "name"),
    [
        ("Popayán “€”,2\n", "", "cp1252", "cp1252"),
        # the rule holds for the whole file: one undefined byte, even after the first bad line
        ("Popayán “€”,2\n", "x\x8d,3\n", "latin-1", "Latin-1"),
    ],
    ids=["cp1252", "latin-1"],
)
def test_invalid_bytes_late_in_a_file_read_it_again_single_byte(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scratch: Path,
    late: str,
    end: str,
    encoding: str,
    name: str,
) -> None:
    monkeypatch.setattr(profile_module, "BLOCK", 50_000)  # the rule judged across blocks too
    data = b"city,n\n" + b"Cali,1\n" * 30_000 + late.encode("cp1252") + end.encode("latin-1")
    profile = profile_csv(write(tmp_path, data))
    assert (profile.rows, profile.encoding) == (30_001 + bool(end), encoding)
    assert profile.problems == (
        f"not UTF-8: {1 + bool(end)} line(s) with invalid bytes (first at line 30,002);"
        f" read as {name}",
    )
    city = profile.column("city")
    assert city is not None and city.distinct == 2 + bool(end)
    assert list(scratch.iterdir()) == []


def test_the_utf8_copy_is_removed_when_the_scan_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch: Path
) -> None:
    unreadable = write(tmp_path, "a,b\n1,€x\ry\n3,4\n".encode("cp1252"))
    profile = profile_csv(unreadable)  # DuckDB's reader stops at the stray CR
    assert (profile.rows, profile.encoding) == (0, "cp1252")
    assert profile.problems[-1].startswith("not readable as CSV: line 2 has a carriage return")
    assert list(scratch.iterdir()) == []

    def broken(*_: Any) -> None:
        assert len(list(scratch.iterdir())) == 1  # the copy exists while it is scanned
        raise RuntimeError("scan failed")

    monkeypatch.setattr(profile_module, "_scan", broken)
    with pytest.raises(RuntimeError, match="scan failed"):
        profile_csv(write(tmp_path, CP1252_TEXT.encode("cp1252")))
    assert list(scratch.iterdir()) == []


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
