"""A harvest's checkpoint: its time and the datasets it has settled, kept until it ends.

Every version a harvest writes is keyed by (``ID``, ``TIME``), ``TIME`` being the harvest's. A
harvest killed mid-way (SIGKILL, a lost machine) or stopped by an exception or Ctrl-C leaves its
checkpoint in table `harvests`; the next harvest of the same selection from the same portal
resumes it: it takes the interrupted harvest's time and skips the datasets it had settled. Its
writes then land on the keys the interrupted harvest used, where the conditional writes of
`catalog` keep the first, so the tables end as one uninterrupted harvest leaves them.

The table is keyed (``SELECTION``, ``ID``): one row per harvest, under the ``ID`` `HEAD`, holds
its ``TIME`` and ``OPTIONS``, and one row per settled dataset holds just its id, so settling a
dataset is one small write however many the harvest has settled.

A dataset is marked settled after its object is stored and its message sent (or its
unavailability recorded): one killed in between is done again, which those writes absorb.

Only a harvest that started less than `RESUME_WINDOW` ago is resumed: an older one (nobody
reran it; the next scheduled harvest found it) is dropped, and the new harvest has its own time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cauce import ConditionFailed, Table
from cauce.apps.opendata.inventory import Selection

# The ID of a harvest's own row: dataset ids are four lower-case letters or digits, a dash and
# four more (jbjy-vk9h, checked before any is settled), so one in parentheses is never one.
HEAD = "(harvest)"
# How long after a harvest started a rerun still finishes it: a crash and its retry or rerun by
# hand come within it; the next daily harvest (05:00) comes well after it and has its own time.
RESUME_WINDOW = timedelta(hours=6)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass
class Checkpoint:
    """A harvest in progress: its key in table `harvests`, its time, what it has settled;
    ``resumed`` if it was interrupted before, ``dropped`` the time of a checkpoint too old to
    resume that it replaced."""

    key: str
    time: str
    options: dict[str, Any]
    settled: set[str] = field(default_factory=set)
    resumed: bool = False
    dropped: str | None = None

    def head(self) -> dict[str, Any]:
        """The harvest's own row."""
        return {"SELECTION": self.key, "ID": HEAD, "TIME": self.time, "OPTIONS": self.options}


def begin(harvests: Table, now: datetime, portal: str, inventory: str,
          selection: Selection) -> Checkpoint:
    """The unfinished harvest of this selection from this portal and inventory, resumed if it
    started within `RESUME_WINDOW` of ``now``; else a new harvest at ``now``, recorded."""
    options = {"portal": portal, "inventory": inventory, **asdict(selection)}
    key = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    fresh = Checkpoint(key, now.astimezone(UTC).strftime(TIME_FORMAT), options)
    try:
        harvests.put(fresh.head(), if_absent=True)
        return fresh
    except ConditionFailed:
        rows = harvests.query((key,))
    head = next((r for r in rows if r["ID"] == HEAD), None)
    if head is None:  # finished between the two calls: a new harvest after all
        harvests.put(fresh.head())
        return fresh
    if now - datetime.fromisoformat(head["TIME"]) > RESUME_WINDOW:
        _delete(harvests, key, rows)
        harvests.put(fresh.head())
        return replace(fresh, dropped=head["TIME"])
    settled = {r["ID"] for r in rows if r["ID"] != HEAD}
    return Checkpoint(key, head["TIME"], head["OPTIONS"], settled, resumed=True)


def settle(harvests: Table, checkpoint: Checkpoint, dataset: str) -> None:
    """Record that the harvest is done with ``dataset``: a resumed harvest skips it."""
    checkpoint.settled.add(dataset)
    harvests.put({"SELECTION": checkpoint.key, "ID": dataset})


def finish(harvests: Table, checkpoint: Checkpoint) -> None:
    """The harvest ended: the next one of this selection is a new harvest, with its own time."""
    _delete(harvests, checkpoint.key, harvests.query((checkpoint.key,)))


def _delete(harvests: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """Delete a harvest's rows, its own last: one stopped half-way still reads as the same
    harvest, with fewer datasets settled (which are done again under its time)."""
    for row in sorted(rows, key=lambda r: r["ID"] == HEAD):
        harvests.delete((key, row["ID"]))
