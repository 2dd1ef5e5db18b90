"""Run ids: time-ordered, unique within a process, the same whether drawn one by one or per
claim."""

from __future__ import annotations

import re

from cauce.runs import new_run_id, new_run_ids, run_id_at


def test_ids_drawn_together_continue_those_drawn_one_by_one() -> None:
    ids = [new_run_id(), *new_run_ids(3), new_run_id(), *new_run_ids(0), *new_run_ids(2)]
    assert len(ids) == 7
    assert ids == sorted(ids) and len(set(ids)) == 7, "strictly increasing"
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    millis = [int(i[:12], 16) for i in ids]
    assert millis == sorted(set(millis)), "a millisecond each, as one by one"


def test_the_smallest_id_at_a_time_out_of_range_is_the_nearest_one() -> None:
    assert run_id_at(0) == run_id_at(-5) == run_id_at(-1e308) == run_id_at(float("-inf"))
    assert run_id_at(0) == "0" * 12
    assert run_id_at(1e308) == run_id_at(float("inf")) == "f" * 12  # after every id
    assert run_id_at(1.5) == f"{1500:012x}"
