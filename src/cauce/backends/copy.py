"""Moving a home's state to another store (`cauce state copy`): every kind of state read from
the source and written into the target through `cauce.backends.state.CopyStore`, in one
transaction of the target, so a copy that fails leaves the target as it was.

A copy is taken while nothing works on the source — a serving process alive would go on
changing what was already copied — and only into a store that holds no cauce state yet, so
ids, leases and checkpoints arrive exactly as they were. The registry of serving processes and
the scheduler's lease stay behind: they describe the source's processes.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import StateError
from ..pids import gone
from .state import COPIED, CopyStore, StateStore, redact


def copying(store: StateStore) -> CopyStore:
    """The store's rows, or one line saying its engine cannot be copied."""
    found: CopyStore | None = getattr(store, "copying", None)
    if found is None:
        raise StateError(f"the state at {redact(store.url)} cannot be copied: its engine does "
                         "not list its rows", hint="copy from and to sqlite:// or postgresql://")
    return found


def live_processes(store: StateStore) -> list[str]:
    """Serving processes registered and not stopped, except those of this machine that are
    gone (killed without a chance to say so). One on another machine counts as alive: from
    here nobody can tell."""
    alive = []
    for worker in store.workers.running():
        # ids read role-host-pid-token (`Runtime.worker_id`); the host may hold dashes
        head, pid, _ = worker.rsplit("-", 2)
        if not (pid.isdigit() and gone(head.partition("-")[2], int(pid))):
            alive.append(worker)
    return alive


def copy_state(source: StateStore, target: StateStore, *, page: int = 1000,
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every kind of state from ``source`` into the empty ``target``; returns the rows
    copied by kind. Refused (StateError) when the target holds cauce state already."""
    rows_of, into = copying(source), copying(target)
    held = {kind: n for kind in COPIED if (n := into.count(kind))}
    if held:
        found = ", ".join(f"{n:,} {kind}" for kind, n in held.items())
        raise StateError(f"the state at {redact(target.url)} is not empty ({found}); "
                         "nothing was copied",
                         hint="copy into a new database (or SQLite file) where nothing ran yet")
    counts: dict[str, int] = {}
    with target.atomic():
        into.loading()
        for kind in COPIED:
            counts[kind] = 0
            for rows in rows_of.rows(kind, page):
                into.load(kind, rows)
                counts[kind] += len(rows)
                if progress is not None:
                    progress(kind, counts[kind])
        differ = {kind: (n, into.count(kind)) for kind, n in counts.items()
                  if into.count(kind) != n}
        if differ:
            raise StateError(f"the copy does not add up ({differ}); nothing was copied",
                             hint="run the copy again; if it keeps failing, report it")
    return counts
