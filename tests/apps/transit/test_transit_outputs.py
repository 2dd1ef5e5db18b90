import gzip
import io
import re
import warnings
import zipfile
from pathlib import Path

import polars as pl
import pytest

from cauce.apps.transit.errors import InputFileError
from cauce.apps.transit.layouts import LAYOUTS
from cauce.apps.transit.outputs import read_output, write_output
from cauce.apps.transit.po import gunzip_to, unpack_po, write_po_zip
from cauce.apps.transit.zipping import DeflatingFile, Member, deflated_dir, pack_day, write_zip

OUTPUTS = (Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "transit"
           / "adatrap-outputs")
needs_samples = pytest.mark.skipif(not OUTPUTS.is_dir(),
                                   reason="shared/data is not beside the repo")


@needs_samples
@pytest.mark.parametrize(("sample", "kind"), [
    ("2021-07-26.etapas", "etapas"), ("2020-03-01.viajes", "viajes"),
    ("2021-06-30.profile", "profile"), ("2017-05-08.odbyroute", "odbyroute"),
    ("2016-05-23.expedition", "expediciones"), ("2021-06-30.speed", "speed"),
    ("2021-06-30.bip", "bip"), ("2018-10-01.general", "general")])
def test_real_samples_have_our_exact_headers_and_round_trip(sample, kind, tmp_path):
    real = read_output(OUTPUTS / sample)
    assert real.columns == LAYOUTS[kind].header
    path = tmp_path / f"x.{kind}"
    write_output(real, kind, path)
    again = read_output(path)
    assert again.equals(real)
    assert path.read_bytes().splitlines()[0] == (OUTPUTS / sample).read_bytes().splitlines()[0]


@needs_samples
def test_older_samples_read_by_name_too():
    trip = read_output(OUTPUTS / "2022-10-01.trip")
    assert "tipo_corte_etapa_viaje" in trip.columns and trip.height > 0
    shape = read_output(OUTPUTS / "2017-04-03.shape")  # CRLF line ends
    assert shape.columns[-1] == "userRoute" and shape["userRoute"][0] == "B01"


def test_columns_we_cannot_compute_are_dashes(tmp_path):
    path = tmp_path / "d.bip"
    write_output(pl.DataFrame({"id": [1], "tiempo": ["2021-04-22 07:00:00"], "sitio": [None]}),
                 "bip", path)
    assert path.read_text().splitlines()[1] == "1|2021-04-22 07:00:00|-|-|-|-|-|-"


def test_general_lines_end_with_a_pipe(tmp_path):
    path = tmp_path / "d.general"
    write_output(pl.DataFrame({"Fecha": ["2021-04-22"]}), "general", path)
    lines = path.read_text().splitlines()
    assert lines[0].endswith("|trx10_") and lines[1].endswith("|")
    assert read_output(path).width == 97


def test_the_day_zip_is_flat_without_kmls_reportes_debug(tmp_path):
    folder = tmp_path / "ADATRAP" / "2021-04-22"
    for rel in ("2021-04-22.etapas", "sub/2021-04-22.viajes", "kmls/a.kml",
                "reportes/r.txt", "debug/x.dbg", "kmls/deep/b.kml"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(rel)
    names = pack_day(folder, tmp_path / "2021-04-22.zip")
    with zipfile.ZipFile(tmp_path / "2021-04-22.zip") as archive:
        assert sorted(archive.namelist()) == sorted(names) == [
            "2021-04-22.etapas", "2021-04-22.viajes"]


def test_po_archive_members_are_gunzipped_in_folder_and_subfolders(tmp_path):
    write_po_zip({"2021-04-01/Paraderos/A_PO20210401.csv.gz": "x;y\n",
                  "2021-04-01/top_PO20210401.csv.gz": "z\n"}, tmp_path / "p.zip")
    folder = unpack_po(tmp_path / "p.zip", tmp_path / "tmp", "2021-04-01")
    assert (folder / "Paraderos" / "A_PO20210401.csv").read_text() == "x;y\n"
    assert (folder / "top_PO20210401.csv").read_text() == "z\n"


def test_po_archive_zipped_on_windows_or_macos_unpacks(tmp_path):
    """PowerShell 5's Compress-Archive writes `\\` between folders; macOS leaves `._` resource
    forks (no gzip) beside the files when they were zipped from a non-Mac disk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("2021-04-01\\Paraderos\\A_PO20210401.csv.gz", gzip.compress(b"x;y\n"))
        archive.writestr("2021-04-01/Paraderos/._A_PO20210401.csv.gz", b"\x00\x05\x16\x07")
    (tmp_path / "p.zip").write_bytes(buffer.getvalue())
    folder = unpack_po(tmp_path / "p.zip", tmp_path / "tmp", "2021-04-01")
    assert (folder / "Paraderos" / "A_PO20210401.csv").read_text() == "x;y\n"


def test_po_archive_problems_name_the_file(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputFileError, match=r"bad\.zip: not a readable zip archive"):
        unpack_po(tmp_path / "bad.zip", tmp_path / "t", "2021-04-01")
    write_po_zip({"2021-03-01/a.csv.gz": "x"}, tmp_path / "other.zip")
    with pytest.raises(InputFileError,
                       match=r"no top folder '2021-04-01/' \(it holds '2021-03-01/'\)"):
        unpack_po(tmp_path / "other.zip", tmp_path / "t", "2021-04-01")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("2021-04-01/Paraderos/A.csv.gz", gzip.compress(b"x" * 1000)[:20])
    (tmp_path / "cut.zip").write_bytes(buffer.getvalue())
    with pytest.raises(InputFileError, match=r"A\.csv\.gz is not a readable gzip") as raised:
        unpack_po(tmp_path / "cut.zip", tmp_path / "t2", "2021-04-01")
    assert raised.value.hint


def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the names written twice
        for name, data in members:
            archive.writestr(name, data)
    return path


def test_a_po_file_listed_twice_fails_naming_it(tmp_path):
    """Extracting kept the last of the two silently (`\\` between folders is the same name)."""
    first, second = gzip.compress(b"x;y\n1;2\n"), gzip.compress(b"x;y\n3;4\n")
    twice = _zip(tmp_path / "p.zip", [("2021-04-01/Paraderos/A.csv.gz", first),
                                      ("2021-04-01\\Paraderos\\A.csv.gz", second)])
    with pytest.raises(InputFileError, match=r"lists '2021-04-01/Paraderos/A\.csv\.gz' more "
                       r"than once") as raised:
        unpack_po(twice, tmp_path / "t", "2021-04-01")
    assert raised.value.hint and not (tmp_path / "t").exists()


def test_a_po_name_both_file_and_folder_fails_naming_it(tmp_path):
    """It failed as 'not a readable zip archive ... it may be truncated'."""
    clash = _zip(tmp_path / "p.zip", [("2021-04-01/A.csv.gz", gzip.compress(b"x\n")),
                                      ("2021-04-01/A.csv.gz/B.csv.gz", gzip.compress(b"y\n"))])
    with pytest.raises(InputFileError, match=r"p\.zip: uses '2021-04-01/A\.csv\.gz' both as a "
                       r"file and as a folder"):
        unpack_po(clash, tmp_path / "t", "2021-04-01")


@pytest.mark.parametrize("name", ["../../x.csv.gz", "/tmp/x.csv.gz", "2021-04-01/../../x.csv.gz"])
def test_a_po_member_outside_the_folder_fails_with_a_hint(tmp_path, name):
    """Zip-slip: nothing is written outside; the error came without a hint (the command line
    then pointed at a traceback for a bad upload)."""
    hostile = _zip(tmp_path / "p.zip", [("2021-04-01/a.csv.gz", gzip.compress(b"x\n")),
                                        (name, b"x")])
    with pytest.raises(InputFileError, match="escapes the folder") as raised:
        unpack_po(hostile, tmp_path / "t" / "u", "2021-04-01")
    assert raised.value.hint and not list(tmp_path.glob("**/x.csv.gz"))


def test_the_parallel_zip_is_a_valid_archive(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    payloads = {f"2021-04-22.{k}": (f"{k}|x\n" * 5000).encode() for k in ("etapas", "viajes")}
    payloads["empty.txt"] = b""
    for name, data in payloads.items():
        (folder / name).write_bytes(data)
    pack_day(folder, tmp_path / "d.zip")
    with zipfile.ZipFile(tmp_path / "d.zip") as archive:
        assert archive.testzip() is None
        assert {n: archive.read(n) for n in archive.namelist()} == payloads


def test_outputs_deflated_while_written_go_into_the_zip_as_they_are(tmp_path):
    folder = tmp_path / "ADATRAP" / "2021-04-22"
    folder.mkdir(parents=True)
    text = b"".join(b"%d|x|2021-04-22 07:00:00\n" % i for i in range(50_000))
    with DeflatingFile(folder / "2021-04-22.etapas", deflated_dir(folder)) as out:
        for start in range(0, len(text), 70_000):
            out.write(text[start:start + 70_000])
    sidecar = (deflated_dir(folder) / "2021-04-22.etapas.deflate").read_bytes()
    (folder / "2021-04-22.viajes").write_bytes(b"not deflated before\n" * 100)
    (folder / "extra.gz").write_bytes(gzip.compress(b"already compressed"))
    pack_day(folder, tmp_path / "d.zip")
    with zipfile.ZipFile(tmp_path / "d.zip") as archive:
        assert archive.testzip() is None
        assert archive.read("2021-04-22.etapas") == text
        assert archive.read("2021-04-22.viajes") == b"not deflated before\n" * 100
        info = {i.filename: i for i in archive.infolist()}
        assert info["extra.gz"].compress_type == zipfile.ZIP_STORED
        assert info["2021-04-22.etapas"].compress_size == len(sidecar)
    raw = (tmp_path / "d.zip").read_bytes()
    assert sidecar in raw  # laid in as it was, not compressed again


def test_a_stale_deflated_copy_is_not_used(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with DeflatingFile(folder / "a.etapas", deflated_dir(folder)) as out:
        out.write(b"old text\n")
    (folder / "a.etapas").write_bytes(b"the text changed afterwards\n")
    pack_day(folder, tmp_path / "d.zip")
    with zipfile.ZipFile(tmp_path / "d.zip") as archive:
        assert archive.read("a.etapas") == b"the text changed afterwards\n"


def test_zip64_records_are_readable(tmp_path):
    payloads = {"a.etapas": b"a" * 3000, "b.viajes": b"b" * 10}
    members = []
    for name, data in payloads.items():
        (tmp_path / name).write_bytes(data)
        members.append(Member(name, tmp_path / name, 0, zipfile.crc32(data), len(data),
                              len(data), 0, 33))
    write_zip(members, tmp_path / "big.zip", zip64_from=100)
    with zipfile.ZipFile(tmp_path / "big.zip") as archive:
        assert archive.testzip() is None
        assert {n: archive.read(n) for n in archive.namelist()} == payloads


@pytest.mark.parametrize(("data", "says"), [
    (b"", "is empty (0 bytes), not a gzip file"),
    (b"patente;C2;tiempo\n", "is not gzip-compressed (it starts with b'patente;C2;tiemp')"),
    (gzip.compress(gzip.compress(b"patente;C2;tiempo\n", mtime=0), mtime=0),
     "is compressed twice"),
], ids=["empty", "plain-text", "gzip-in-gzip"])
def test_an_input_that_is_no_single_gzip_says_what_it_is(tmp_path, data, says):
    """A zero-byte upload and a gzip inside a gzip passed for a day without rows; a plain
    text file was said to be truncated."""
    (tmp_path / "d.gps.gz").write_bytes(data)
    with pytest.raises(InputFileError, match=re.escape(f"d.gps.gz: {says}")):
        gunzip_to(tmp_path / "d.gps.gz", tmp_path / "d.gps", label="d.gps.gz")


def test_an_empty_text_file_gzipped_is_an_input_without_rows(tmp_path):
    (tmp_path / "d.gps.gz").write_bytes(gzip.compress(b""))
    gunzip_to(tmp_path / "d.gps.gz", tmp_path / "d.gps", label="d.gps.gz")
    assert (tmp_path / "d.gps").read_bytes() == b""


_FILE_SIZE_LIMIT = """
import errno, gzip, resource, sys
from pathlib import Path
from cauce.apps.transit.errors import InputFileError
from cauce.apps.transit.po import gunzip_to, unpack_po, write_po_zip
folder = Path(sys.argv[1])
(folder / "day.gps.gz").write_bytes(gzip.compress(b"1;2;3\\n" * 100_000))
write_po_zip({"2021-04-01/big.txt.gz": "x" * 600_000}, folder / "p.zip")
# what a full work folder does to the writes, as a file size limit makes it (Python ignores
# SIGXFSZ: the write fails with EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
for unpack in (lambda: gunzip_to(folder / "day.gps.gz", folder / "day.gps", label="gps"),
               lambda: unpack_po(folder / "p.zip", folder / "po", "2021-04-01")):
    try:
        unpack()
    except InputFileError as err:
        print("blamed the input:", err)
    except OSError as err:
        print(errno.errorcode[err.errno])
"""


def test_a_work_folder_that_cannot_take_an_input_does_not_blame_the_input(tmp_path: Path
                                                                            ) -> None:
    """A full disk while a day's inputs were unpacked failed the run with `not a readable gzip
    file ([Errno 28] No space left on device)` and the hint `upload the file again; it may be
    truncated`: the error of the disk is the run's, which names the disk."""
    import os
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[3] / "src"
    out = subprocess.run([sys.executable, "-c", _FILE_SIZE_LIMIT, str(tmp_path)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(src)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["EFBIG", "EFBIG"]
