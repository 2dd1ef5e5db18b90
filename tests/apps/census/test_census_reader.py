"""Reading a file into numbered records: comments, blank lines, line endings, duplicates."""

from __future__ import annotations

import pytest

from cauce.apps.census.reader import read_lines


def test_lines_are_numbered_from_one_and_skips_are_counted():
    data = b"|1x3 Cross validator\na, b\n\n  \nc, d\n\n"
    source = read_lines("Adult.test", data)
    assert source.records["_line"].to_list() == [2, 5]
    assert source.records["raw"].to_list() == ["a, b", "c, d"]
    assert source.records["_source"].unique().to_list() == ["Adult.test"]
    assert (source.physical_lines, source.comment_lines, source.blank_lines) == (6, 1, 3)


def test_an_empty_file_has_no_lines():
    source = read_lines("empty", b"")
    assert (source.physical_lines, source.records.height) == (0, 0)


def test_the_last_line_needs_no_newline_and_crlf_is_one_line_end():
    source = read_lines("x", b"a\r\nb")
    assert source.records["raw"].to_list() == ["a", "b"]
    assert source.physical_lines == 2


def test_repeated_lines_are_flagged_after_their_first_occurrence():
    source = read_lines("x", b"a\nb\na\na\nb \n")
    assert source.records["_duplicate"].to_list() == [False, False, True, True, False]


def test_a_latin1_file_is_detected_and_its_letters_read_right():
    source = read_lines("x", b"caf\xe9, 1\n")
    assert source.records["raw"].to_list() == ["caf\u00e9, 1"]


def test_bytes_the_given_encoding_cannot_decode_stay_visible_in_the_record():
    source = read_lines("x", b"ok, 1\ncaf\xe9, 1\n", "utf-8")
    assert source.records["raw"].to_list() == ["ok, 1", "caf\ufffd, 1"]


def test_the_byte_order_mark_is_not_part_of_the_first_record():
    source = read_lines("x", b"\xef\xbb\xbf39, a\r\n40, b\r\n")
    assert source.records["raw"].to_list() == ["39, a", "40, b"]
    assert source.records["_line"].to_list() == [1, 2]


def test_a_lone_carriage_return_stays_inside_its_line():
    source = read_lines("x", b"a\rb\r\nc\n")
    assert source.records["raw"].to_list() == ["a\rb", "c"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_reads_its_records(encoding):
    source = read_lines("x", "|comment\r\n39, Bogotá\r\n40, b\r\n".encode(encoding))
    assert source.records["raw"].to_list() == ["39, Bogotá", "40, b"]
    assert source.records["_line"].to_list() == [2, 3]


def test_a_file_whose_lines_end_in_cr_alone_has_one_record_per_line():
    source = read_lines("x", b"|comment\r39, a\r40, b\r")
    assert source.records["raw"].to_list() == ["39, a", "40, b"]
    assert (source.physical_lines, source.comment_lines) == (3, 1)


def test_a_cr_inside_a_line_of_a_file_with_line_feeds_stays_in_it():
    source = read_lines("x", b"39, a\rb\n40, b\n")
    assert source.records["raw"].to_list() == ["39, a\rb", "40, b"]
