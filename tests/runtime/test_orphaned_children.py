"""A child process running a delivery whose serving process was killed: it finishes without a
traceback on the terminal they shared (nobody is left to tell; the lease brings the run back)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from cauce.runtime.processes import ChildTask, _child_main


def test_a_child_whose_parent_is_gone_ends_quietly(tmp_path: Path, capfd) -> None:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe(duplex=False)
    task = ChildTask("no_such_module_x:app", str(tmp_path), f"sqlite:///{tmp_path}/state.db", {},
                     "job", "j", "run1", 1, None, None, {})
    child = context.Process(target=_child_main, args=(task, theirs))
    child.start()
    theirs.close()
    ours.close()  # as a killed serving process's end is: the child's report has nowhere to go
    child.join(60)
    assert child.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err
