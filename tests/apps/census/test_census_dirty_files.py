"""A census file as users' tools save it: byte-order mark, CRLF, blank lines, Latin-1, and
every kind of bad record. Exact counts of what is loaded and what is quarantined, and why."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import sqlite3
import zipfile
from pathlib import Path

import pytest

from cauce.apps.census import app, load, target
from cauce.apps.census.description import DESCRIPTION_FILE
from cauce.testing import TestRuntime

GOOD = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, "
    "Male, 2174, 0, 40, United-States, <=50K",
    "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, "
    "White, Male, 0, 0, 13, United-States, >50K",
]


def record(**changes: str) -> str:
    """The second good record with some fields replaced (keys with _ for -)."""
    fields = [field.strip() for field in GOOD[1].split(",")]
    names = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
             "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
             "hours_per_week", "native_country", "klass"]
    for name, value in changes.items():
        fields[names.index(name)] = value
    return ", ".join(fields)


# (line text, reason or None when it loads); lines without a tuple are not records.
LINES: list[tuple[str, str | None] | str] = [
    (GOOD[0], None),  # the first record: the byte-order mark sits right before it
    (GOOD[1], None),
    "",
    "   ",
    "|exported by a spreadsheet",
    (record(capital_gain="A"), "capital-gain: 'A' is not an integer"),
    (GOOD[1].rsplit(",", 1)[0], "expected 15 comma-separated fields, found 14"),
    (GOOD[1] + ", extra", "expected 15 comma-separated fields, found 16"),
    (record(workclass="Privat"), "workclass: 'Privat' is not one of the listed values"),
    (record(fnlwgt="9999999999"), "fnlwgt: '9999999999' is out of the INTEGER range"),
    (record(klass="?"), "class: '?' is unknown, but every row needs its class"),
    (record(klass=">60K"), "class: '>60K' is not one of the listed values"),
    (record(native_country="México"), "native-country: 'México' is not one of the listed values"),
    (record(age="39.5"), "age: '39.5' is not an integer"),
    (record(age="", hours_per_week="forty"),
     "age: '' is not an integer; hours-per-week: 'forty' is not an integer"),
    (GOOD[1], None),  # an exact duplicate: loaded, flagged
    (record(workclass="?", occupation="?"), None),  # unknowns are NULL, not errors
    "",
]
RECORDS = [line for line in LINES if isinstance(line, tuple)]
LOADED = [text for text, reason in RECORDS if reason is None]
REJECTED = {
    number: reason
    for number, line in enumerate(LINES, start=1)
    if isinstance(line, tuple) and (reason := line[1]) is not None
}
TEXT = "\r\n".join(line if isinstance(line, str) else line[0] for line in LINES) + "\r\n"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def description_file(small_synthetic) -> Path:
    return small_synthetic[0].path.with_name(DESCRIPTION_FILE)


def run_load(tmp_path: Path, source: Path, description: Path, **settings):
    database = tmp_path / "census.db"
    with TestRuntime(app, settings={"db": f"sqlite:///{database}", "source": [str(source)],
                                    "description": str(description), **settings}) as rt:
        run = rt.run(load, all=True)
    assert run.error is None, run.error
    connection = sqlite3.connect(database)
    try:
        rejected = dict(connection.execute(
            'SELECT _line, reason FROM "adult_rejected" ORDER BY _line'
        ).fetchall())
        loaded = connection.execute(
            'SELECT age, workclass, "native-country", _line, _duplicate FROM adult ORDER BY _line'
        ).fetchall()
    finally:
        connection.close()
    return run.result, loaded, rejected


VARIANTS = {
    "utf-8 with bom, crlf": codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    "latin-1 from a spreadsheet, crlf": TEXT.encode("latin-1"),
    "utf-16 with bom, crlf": TEXT.encode("utf-16"),
    "utf-8 without bom, lf": TEXT.replace("\r\n", "\n").encode("utf-8"),
    "utf-16-le without bom, crlf": TEXT.encode("utf-16-le"),  # some Windows exports
    "utf-16-be without bom, crlf": TEXT.encode("utf-16-be"),
    "cp1252, lines ending in cr alone": TEXT.replace("\r\n", "\r").encode("cp1252"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_dirty_file_loads_every_good_record_and_says_why_each_bad_one_is_not(
    tmp_path, description_file, variant
):
    source = write(tmp_path / "Adult.data", VARIANTS[variant])
    result, loaded, rejected = run_load(tmp_path, source, description_file)
    total = result["total"]
    assert (total["read"], total["loaded"], total["quarantined"]) == (14, 4, 10)
    assert total["duplicates"] == 1
    assert rejected == REJECTED
    assert loaded == [
        (39, "State-gov", "United-States", 1, 0),
        (50, "Self-emp-not-inc", "United-States", 2, 0),
        (50, "Self-emp-not-inc", "United-States", 16, 1),
        (50, None, "United-States", 17, 0),
    ]
    [described] = result["sources"]
    assert (described["lines"], described["blank_lines"], described["comment_lines"]) == (
        18, 3, 1)


def test_the_encoding_can_be_given_and_then_is_not_guessed(tmp_path, description_file):
    source = write(tmp_path / "Adult.data", TEXT.encode("latin-1"))
    _, _, given = run_load(tmp_path / "given", source, description_file, encoding="latin-1")
    assert given == REJECTED
    # Read as UTF-8 although it is not: the Latin-1 letter shows as U+FFFD in that record's
    # reason and raw line, and every other record is unaffected.
    _, loaded, wrong = run_load(tmp_path / "wrong", source, description_file, encoding="utf-8")
    assert wrong == {**REJECTED, 13: "native-country: 'M\ufffdxico' is not one of the listed "
                     "values"}
    assert len(loaded) == 4


@pytest.mark.parametrize("encoded", [
    pytest.param(lambda text: codecs.BOM_UTF8 + text.encode("utf-8"), id="utf-8 with bom"),
    pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16 without bom"),
])
def test_a_description_saved_on_windows_is_read(tmp_path, description_file, encoded):
    text = description_file.read_text(encoding="utf-8").replace("\n", "\r\n")
    windows = write(tmp_path / DESCRIPTION_FILE, encoded(text))
    source = write(tmp_path / "Adult.data", codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    _, loaded, rejected = run_load(tmp_path, source, windows)
    assert (len(loaded), rejected) == (4, REJECTED)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_nul_byte_quarantines_its_record_on_every_target(
    request, tmp_path, description_file, database
):
    """PostgreSQL refuses a NUL in text: it read as-is, the quarantine's insert failed and the
    whole chunk, good records included, was not loaded."""
    url = (f"sqlite:///{tmp_path / 'census.db'}" if database == "sqlite"
           else request.getfixturevalue("postgres").url)
    broken = GOOD[1].replace("Bachelors", "Bache\x00lors")
    source = write(tmp_path / "Adult.data", "\n".join([GOOD[0], broken, "\x00"]).encode())
    with TestRuntime(app, settings={"db": url, "source": [str(source)],
                                    "description": str(description_file)}) as rt:
        run = rt.run(load, all=True)
        assert run.error is None, run.error
        rejected = target.query(
            'SELECT "_line", "raw", "reason" FROM "adult_rejected" ORDER BY 1').to_pylist()
        loaded = target.query('SELECT "_line" FROM "adult"').to_pylist()
    assert loaded == [{"_line": 1}]
    assert rejected == [
        {"_line": 2, "raw": broken.replace("\x00", "\ufffd"),
         "reason": "education: 'Bache\ufffdlors' is not one of the listed values"},
        {"_line": 3, "raw": "\ufffd", "reason": "expected 15 comma-separated fields, found 1"},
    ]


def test_a_file_name_that_is_not_utf8_names_its_rows_as_decoded(tmp_path, description_file):
    """A file named in Latin-1 on a UTF-8 system (`Año.data`, byte F1): its name, the `_source`
    of its rows, could not be encoded, and the load failed with a UnicodeEncodeError."""
    name = b"A\xf1o.data".decode("utf-8", "surrogateescape")
    source = write(tmp_path / name, TEXT.encode("utf-8"))
    result, loaded, rejected = run_load(tmp_path, source, description_file)
    assert (len(loaded), rejected) == (4, REJECTED)
    assert result["cursor"]["source"] == "Año.data"


@pytest.mark.parametrize(("kind", "pack"), [
    ("gzip", lambda data: gzip.compress(data, mtime=0)),
    ("zip", lambda data: zip_of(data)),
    ("bzip2", bz2.compress),
    ("xz", lzma.compress),
])
def test_a_compressed_source_is_refused_naming_what_it_is(
    tmp_path, description_file, kind, pack
):
    """A compressed download (UCI's adult.zip, a .gz) was split as text: a few binary "records"
    quarantined for their field count, and none of the records inside loaded."""
    source = write(tmp_path / "Adult.data.gz", pack(TEXT.encode()))
    with TestRuntime(app, settings={"db": f"sqlite:///{tmp_path / 'census.db'}",
                                    "source": [str(source)],
                                    "description": str(description_file)}) as rt:
        run = rt.run(load, all=True)
    assert run.error is not None
    assert f"Adult.data.gz is {kind}-compressed, not text" in run.error
    assert not (tmp_path / "census.db").exists() or not sqlite3.connect(
        tmp_path / "census.db").execute(
        "SELECT name FROM sqlite_master WHERE name = 'adult_rejected'").fetchall()


def zip_of(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("adult.data", data)
    return buffer.getvalue()
