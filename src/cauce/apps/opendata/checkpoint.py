"""A harvest's checkpoint: its time and the datasets it has settled, kept until it ends.

Every version a harvest writes is keyed by (``ID``, ``TIME``), ``TIME`` being the harvest's. A
harvest killed mid-way (SIGKILL, a lost machine) or stopped by an exception or Ctrl-C leaves its
checkpoint in table `harvests`; the next harvest of the same selection from the same portal
resumes it: it takes the interrupted harvest's time and skips the datasets it had settled. Its
writes then land on the keys the interrupted harvest used, where the conditional writes of
`catalog` keep the first, so the tables end as one uninterrupted harvest leaves them.

A dataset is marked settled after its object is stored and its message sent (or its
unavailability recorded): one killed in between is done again, which those writes absorb.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cauce import ConditionFailed, Table
from cauce.apps.opendata.inventory import Selection


@dataclass
class Checkpoint:
    """An unfinished harvest: its key in table `harvests`, its time, what it has settled."""

    key: str
    time: str
    options: dict[str, Any]
    settled: set[str] = field(default_factory=set)
    resumed: bool = False

    def item(self) -> dict[str, Any]:
        return {
            "SELECTION": self.key,
            "TIME": self.time,
            "OPTIONS": self.options,
            "SETTLED": sorted(self.settled),
        }


def begin(harvests: Table, time: str, portal: str, inventory: str,
          selection: Selection) -> Checkpoint:
    """The unfinished harvest of this selection from this portal and inventory, resumed; else a
    new one at ``time``, recorded."""
    options = {"portal": portal, "inventory": inventory, **asdict(selection)}
    key = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    fresh = Checkpoint(key, time, options)
    try:
        harvests.put(fresh.item(), if_absent=True)
        return fresh
    except ConditionFailed:
        stored = harvests.get(key)
    if stored is None:  # finished between the two calls: a new harvest after all
        harvests.put(fresh.item())
        return fresh
    return Checkpoint(
        key, stored["TIME"], stored["OPTIONS"], set(stored.get("SETTLED", [])), resumed=True
    )


def settle(harvests: Table, checkpoint: Checkpoint, dataset: str) -> None:
    """Record that the harvest is done with ``dataset``: a resumed harvest skips it."""
    checkpoint.settled.add(dataset)
    harvests.put(checkpoint.item())


def finish(harvests: Table, checkpoint: Checkpoint) -> None:
    """The harvest ended: the next one of this selection is a new harvest, with its own time."""
    harvests.delete(checkpoint.key)
