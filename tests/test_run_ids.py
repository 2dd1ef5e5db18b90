"""Run ids: time-ordered, unique within a process, the same whether drawn one by one or per
claim."""

from __future__ import annotations

import re

from cauce.runs import new_run_id, new_run_ids


def test_ids_drawn_together_continue_those_drawn_one_by_one() -> None:
    ids = [new_run_id(), *new_run_ids(3), new_run_id(), *new_run_ids(0), *new_run_ids(2)]
    assert len(ids) == 7
    assert ids == sorted(ids) and len(set(ids)) == 7, "strictly increasing"
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    millis = [int(i[:12], 16) for i in ids]
    assert millis == sorted(set(millis)), "a millisecond each, as one by one"
