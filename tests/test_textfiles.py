"""cauce.textfiles: the encodings users' tools write, detected from the bytes or given."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from cauce import CauceError
from cauce.textfiles import (
    TextDecodeError,
    UnreadableFile,
    check_encoding,
    cr_line_ends,
    decode,
    detect_encoding,
    escaped_bytes_decoded,
    file_problem,
    mostly_utf8,
    read_lines,
    read_text_file,
    real_path,
    single_byte_encoding,
    stray_carriage_return,
    utf16_without_bom,
    write_utf8_copy,
)

ROWS = "name,city\r\nJosé,São Paulo\r\nZoë,Köln\r\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "utf-8"),
        (b"plain ascii\n", "utf-8"),
        (ROWS.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + ROWS.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be"), "utf-16-be"),
        (ROWS.encode("latin-1"), "cp1252"),  # the same bytes in both for these letters
        ("“quoted” – 5 €\n".encode("cp1252"), "cp1252"),
        (b"caf\xe9 \x81\n", "latin-1"),  # 0x81 is not a cp1252 character
    ],
)
def test_detect_encoding(data: bytes, expected: str) -> None:
    assert detect_encoding(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        ROWS.encode("utf-8"),
        codecs.BOM_UTF8 + ROWS.encode("utf-8"),
        codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be"),
        ROWS.encode("cp1252"),
    ],
    ids=["utf-8", "utf-8 bom", "utf-16-le bom", "utf-16-be bom", "cp1252"],
)
def test_every_encoding_decodes_to_the_same_text_without_the_mark(data: bytes) -> None:
    assert decode(data) == ROWS
    assert decode(data, universal_newlines=True) == ROWS.replace("\r\n", "\n")


def test_the_bom_never_sticks_to_the_first_field() -> None:
    text = decode(codecs.BOM_UTF8 + b"32,Private\n")
    assert text.split(",")[0] == "32"
    assert decode(codecs.BOM_UTF8 + b"32\n", "utf-8").split(",")[0] == "32\n"
    assert decode(codecs.BOM_UTF8 + b"32\n", "utf-8-sig") == "32\n"


def test_universal_newlines_handle_crlf_lone_cr_and_keep_lf() -> None:
    assert decode(b"a\r\nb\rc\nd", universal_newlines=True) == "a\nb\nc\nd"
    assert decode(b"a\r\nb") == "a\r\nb"  # untouched unless asked


def test_an_invalid_byte_in_a_single_byte_file_makes_the_whole_file_single_byte() -> None:
    data = "Zoë\n".encode("cp1252") * 1000 + "Zoë\n".encode() + b"caf\xe9\n"
    assert detect_encoding(data) == "cp1252"
    text = decode(data)  # never raises: every line is kept
    assert text.count("\n") == 1002
    assert text.count("Zoë") == 1000 and "café" in text


def test_a_utf8_file_with_a_damaged_line_stays_utf8() -> None:
    """A line pasted from a cp1252 file into a UTF-8 one: read as cp1252, every other line's
    accents were garbled ('ZoÃ«'); the bad byte reads as U+FFFD, its line alone marked."""
    data = "Zoë\n".encode() * 1000 + b"caf\xe9\n" + "Zoë\n".encode()
    assert mostly_utf8(data) and not mostly_utf8("Zoë\n".encode("cp1252") * 3)
    assert not mostly_utf8(b"ascii only\n")
    text = decode(data)
    assert text.count("\n") == 1002
    assert text.count("Zoë") == 1001 and "caf\ufffd\n" in text


def test_single_byte_encoding_is_cp1252_exactly_for_the_bytes_cp1252_defines() -> None:
    for byte in range(256):
        data = b"caf\xe9 " + bytes([byte])
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            assert single_byte_encoding(data) == "latin-1", byte
        else:
            assert single_byte_encoding(data) == "cp1252", byte


def test_a_sample_cut_inside_a_character_is_still_utf8() -> None:
    data = "aé€😀".encode()
    for cut in range(1, len(data)):
        sample = data[:cut]
        assert detect_encoding(sample, complete=False) == "utf-8", sample
    assert detect_encoding(data[:-1], complete=True) == "cp1252"
    # an invalid byte that is not at the very end is invalid in a sample too
    assert detect_encoding(b"caf\xe9 and more", complete=False) == "cp1252"


def test_empty_file() -> None:
    assert detect_encoding(b"") == "utf-8"
    assert decode(b"") == ""
    assert decode(codecs.BOM_UTF8) == ""
    assert decode(b"", "latin-1", universal_newlines=True) == ""


def test_explicit_encoding_overrides_detection() -> None:
    data = "Köln\n".encode()
    assert decode(data, "latin-1") == "KÃ¶ln\n"  # what the user asked for, not the guess
    assert decode("Köln\n".encode("latin-1"), "latin-1") == "Köln\n"


def test_explicit_encoding_that_does_not_fit_names_the_line() -> None:
    data = b"ok\nstill ok\ncaf\xe9\n"
    with pytest.raises(TextDecodeError) as caught:
        decode(data, "utf-8", name="Adult.data")
    assert str(caught.value) == (
        "Adult.data is not utf-8 text: byte 0xe9 on line 3 (invalid continuation byte)"
    )
    assert "--encoding cp1252" in caught.value.hint
    assert decode(data, "utf-8", errors="replace") == "ok\nstill ok\ncaf\ufffd\n"


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("UTF8", "utf-8"), ("utf-8-sig", "utf-8"), ("Latin1", "iso8859-1"),
     ("windows-1252", "cp1252"), ("utf_16", "utf-16")],
)
def test_check_encoding_accepts_python_codec_names(given: str, canonical: str) -> None:
    assert check_encoding(given) == canonical


# idna, punycode and undefined passed, then failed every read with a bare UnicodeError
@pytest.mark.parametrize("given", ["klingon", "base64", "rot13", "", "idna", "punycode",
                                   "undefined"])
def test_check_encoding_refuses_what_is_not_a_text_encoding(given: str) -> None:
    with pytest.raises(CauceError) as caught:
        check_encoding(given)
    assert given in str(caught.value)
    assert "utf-8" in caught.value.hint


def test_a_utf16_file_with_its_mark_decodes_with_the_generic_name() -> None:
    data = ROWS.encode("utf-16")  # Python writes the native-order mark first
    assert decode(data, "utf-16") == ROWS
    assert decode(data) == ROWS


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"a,b\n1,2\n", None),
        (b"a,b\r\n1,2\r\n", None),
        (b"a,b\r1,2\r", None),  # lines that end in CR alone, as old Macs wrote them
        (b"a,b\n1,x\ry\n3,4\n", 2),
        (b"a,b\r\n1,2\r\r\n3,4\r\n", 2),
        (b"a,b\n1,2\nx\r", 3),  # the last line, without a line feed after it
    ],
)
def test_a_stray_carriage_return_is_found_with_its_line(tmp_path, data: bytes, line) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    assert stray_carriage_return(path) == line


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (ROWS.encode("cp1252") + "€ “quoted”\r\n".encode("cp1252"), "cp1252"),
        (codecs.BOM_UTF8 + ROWS.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"), "utf-16"),
        (ROWS.encode("latin-1") + b"\x81\n", "latin-1"),
    ],
)
def test_a_utf8_copy_has_the_same_text_and_lines_without_the_mark(tmp_path, data: bytes,
                                                                  encoding: str) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(data)
    write_utf8_copy(source, target, encoding, block=3)  # blocks cut characters in two
    assert target.read_bytes() == data.decode(encoding).removeprefix("\ufeff").encode("utf-8")
    assert b"\r\n" in target.read_bytes()


def test_a_byte_the_encoding_lacks_leaves_no_copy_unless_replaced(tmp_path) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(b"a,b\n\x81,2\n")
    with pytest.raises(UnicodeDecodeError):
        write_utf8_copy(source, target, "cp1252")
    assert not target.exists()
    write_utf8_copy(source, target, "cp1252", errors="replace")
    assert target.read_text(encoding="utf-8") == "a,b\n\ufffd,2\n"


# UTF-16 without a byte-order mark, as some Windows tools export it
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_mark_is_detected_and_decoded(encoding: str) -> None:
    data = ROWS.encode(encoding)
    assert detect_encoding(data) == encoding == utf16_without_bom(data)
    assert detect_encoding(data[:101], complete=False) == encoding  # a head cut mid-character
    assert decode(data) == ROWS
    assert decode(data, universal_newlines=True) == ROWS.replace("\r\n", "\n")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b"a\x00",  # one character is too little to tell
        ROWS.encode("utf-8"),
        ROWS.encode("utf-8").replace(b",", b"\x00"),  # stray NULs, not on every other byte
        ROWS.encode("utf-32-le"),  # NULs on both sides
        bytes(range(256)) * 4,  # binary
        b"\x00\x01\x00\x02\x00\x7f" * 100 + b"\x00a" * 100,  # NULs alternate, but controls
    ],
)
def test_text_with_few_or_scattered_nuls_is_not_utf16(data: bytes) -> None:
    assert utf16_without_bom(data) is None


def test_a_stray_nul_in_a_utf8_file_keeps_it_utf8() -> None:
    data = ROWS.encode("utf-8").replace(b"\r\n", b"\x00\r\n", 1)
    assert detect_encoding(data) == "utf-8"
    assert decode(data) == ROWS.replace("\r\n", "\x00\r\n", 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\rb\r", True), (b"a\rb", True), ("a\r\nb\r\n", False), ("a\nb\rc\n", False),
     ("a", False), (b"", False)],
)
def test_cr_line_ends_only_in_a_file_without_line_feeds(text: str | bytes, expected: bool) -> None:
    assert cr_line_ends(text) is expected


def test_file_problem_says_why_a_path_is_no_file_to_read(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dangling").symlink_to("gone.txt")
    os.mkfifo(tmp_path / "pipe")
    assert file_problem(tmp_path / "a.txt") is None
    assert file_problem(tmp_path / "missing") == "does not exist"
    assert file_problem(tmp_path / "a.txt" / "under") == "does not exist"
    assert file_problem(tmp_path / "folder") == "is a folder, not a file"
    assert file_problem(tmp_path / "loop") == ("is a link that leads back to itself "
                                               "(a loop of symbolic links)")
    assert file_problem(tmp_path / "dangling") == "is a link to gone.txt, which does not exist"
    assert file_problem(tmp_path / "pipe") == ("is not a regular file (a device, a pipe or a "
                                               "socket)")


def test_read_text_file_reads_as_decode_does_or_says_why_not(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(codecs.BOM_UTF8 + "olé\r\n".encode())
    assert read_text_file(path) == "olé\r\n"
    assert read_text_file(path, universal_newlines=True) == "olé\n"
    with pytest.raises(UnreadableFile, match=rf"^{tmp_path / 'gone.txt'} does not exist$"):
        read_text_file(tmp_path / "gone.txt")


@pytest.mark.parametrize("block", [4, 7, 1 << 16])  # a head of 4 bytes tells UTF-16
def test_read_lines_across_blocks(monkeypatch, block: int) -> None:
    import io

    import cauce.textfiles

    monkeypatch.setattr(cauce.textfiles, "STREAM_HEAD", block)
    text = "José,São\r\nZoë\n\nKöln"
    cr_alone = text.replace("\r\n", "\n").replace("\n", "\r").encode()  # told from the head
    for data in (text.encode(), codecs.BOM_UTF8 + text.encode(), text.encode("utf-16"),
                 *([cr_alone] if block > len(cr_alone) else [])):
        assert list(read_lines(io.BytesIO(data))) == ["José,São", "Zoë", "", "Köln"]
    bad = io.BytesIO("é\n".encode() * 5 + b"x\n\xff\n")
    with pytest.raises(TextDecodeError, match=r"^pipe is not utf-8 text: byte 0xff on line 7 "):
        list(read_lines(bad, name="pipe"))


def test_read_lines_gives_a_slow_producers_first_lines_before_its_head_is_full() -> None:
    # the head (64 KB, to tell the encoding) was awaited whole: `tail -f log | cauce put APP
    # STREAM -` put nothing until 64 KB had come, and a Ctrl-C lost the lines held
    import queue
    import threading

    readable, writable = os.pipe()
    got: queue.Queue[str] = queue.Queue()
    with open(readable, "rb") as stream, open(writable, "wb", buffering=0) as producer:
        reader = threading.Thread(target=lambda: [got.put(line) for line in read_lines(stream)],
                                  daemon=True)
        reader.start()
        producer.write("São,1\nZoë,2\n".encode())
        assert [got.get(timeout=10), got.get(timeout=10)] == ["São,1", "Zoë,2"]
        producer.write(b"K\xc3\xb6ln,3\n")  # later lines as they come, in the head's encoding
        assert got.get(timeout=10) == "Köln,3"
        producer.close()
        reader.join(10)
    assert not reader.is_alive()


def test_real_path_is_resolve_without_its_error_for_a_loop(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "to-a").symlink_to("a.txt")
    (tmp_path / "loop").symlink_to("loop")
    assert real_path(tmp_path / "to-a") == (tmp_path / "a.txt").resolve()
    assert real_path(tmp_path / "loop" / "x") == tmp_path.resolve() / "loop" / "x"


def test_escaped_bytes_are_decoded_as_a_files_bytes() -> None:
    # how Python gives a command-line argument of a script saved as cp1252
    assert escaped_bytes_decoded("S\udce3o Paulo") == "São Paulo"
    assert escaped_bytes_decoded("plain, ñ") == "plain, ñ"
    assert escaped_bytes_decoded("\ud800") == "\ud800"  # no escaped byte: left alone


def test_real_path_takes_a_leading_tilde_for_the_home_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert real_path("~/cauce") == tmp_path.resolve() / "cauce"
    assert real_path("~no-such-user-here/x") == Path.cwd().resolve() / "~no-such-user-here/x"


def test_read_lines_holds_a_long_line_once(monkeypatch) -> None:
    # each block was joined to the text of the line so far and split again: a 50 MB line
    # took 20 s to read (its copies grew with the square of its length), three times its
    # size in memory at the end
    import io
    import tracemalloc

    size = 4_000_000
    data = ("x" * size + "\r\nshort").encode()
    tracemalloc.start()
    try:
        lines = list(read_lines(io.BytesIO(data)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [len(line) for line in lines] == [size, 5]
    assert peak < 2.5 * size  # the pieces, and the line they join into
