"""The items the chain writes: datasets (by content hash), versions (by id and time), alerts.

Every write is conditional, so a message delivered twice, or replayed from the dead-letter
queue, leaves the tables as one delivery would:

- `datasets` is keyed by ``HASH`` as in the original; the first dataset with some content creates
  the item (put if absent), and another dataset with the very same bytes is added to its ``IDS``
  (put if the version read is still current) instead of overwriting it.
- `versions` is keyed by (``ID``, ``TIME``), ``TIME`` being the harvest's; a redelivery finds its
  version already there and reuses it. Its ``CHANGE`` and ``PREVIOUS`` compare it with the
  version just before it in ``TIME``, whatever order the harvests' messages are handled in: a
  version stored before an earlier one is corrected (`reclassified`) once the earlier one is
  stored, by whichever of the two writers stores last (see `record_version`).
- `alerts` is keyed by (``ID``, ``ALERT``) where ``ALERT`` names the criterion, the finding and
  the content, so the same finding on the same content is stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cauce import ConditionFailed, Table
from cauce.apps.opendata.criteria import Finding, Snapshot
from cauce.apps.opendata.profile import Profile

IDENTITY = ("ID", "OWNER", "NAME", "EMAIL", "CATEGORY")


def object_key(dataset: str) -> str:
    """The bucket key of a dataset's CSV, as the original: ``{id}/{id}.csv``."""
    return f"{dataset}/{dataset}.csv"


def previous_version(versions: Table, dataset: str, before: str) -> dict[str, Any] | None:
    """The dataset's latest version harvested before ``before`` (an ISO time), if any."""
    earlier = [v for v in versions.query((dataset,)) if v["TIME"] < before]
    return earlier[-1] if earlier else None


def neighbours(versions: Table, dataset: str, time: str
               ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The dataset's versions just before and just after ``time`` (an ISO time), one read."""
    history = versions.query((dataset,))
    earlier = [v for v in history if v["TIME"] < time]
    return (earlier[-1] if earlier else None,
            next((v for v in history if v["TIME"] > time), None))


def classify(previous: Mapping[str, Any] | None, status: str, content: str | None) -> str:
    """new, changed or unchanged against the previous version (gone/forbidden when not served)."""
    if status != "ok":
        return status
    if previous is None or previous.get("HASH") is None:
        return "new"
    return "unchanged" if previous["HASH"] == content else "changed"


def _placed(previous: Mapping[str, Any] | None, status: str, content: str | None) -> dict[str, Any]:
    """A version's ``CHANGE`` and ``PREVIOUS`` against the version before it."""
    return {
        "CHANGE": classify(previous, status, content),
        "PREVIOUS": previous["TIME"] if previous else None,
    }


def corrected(version: Mapping[str, Any], previous: Mapping[str, Any] | None
              ) -> dict[str, Any] | None:
    """``version`` with ``CHANGE`` and ``PREVIOUS`` against ``previous``, the version just
    before it in time; None when they are right already."""
    placed = _placed(previous, version["STATUS"], version["HASH"])
    if all(version.get(key) == value for key, value in placed.items()):
        return None
    return {**version, **placed}


def reclassified(versions: Table, version: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored ``version`` `corrected` against the version now stored just before it."""
    return corrected(version, previous_version(versions, version["ID"], version["TIME"]))


def record_content(
    datasets: Table, identity: Mapping[str, str], profile: Profile, version: str
) -> bool:
    """Store the content under its hash once; returns True if this call created the item."""
    item = {key: str(identity.get(key, "")) for key in IDENTITY}
    item.update(
        {
            "HASH": profile.sha256,
            "IDS": [item["ID"]],
            "SIZE": profile.size,
            "ROWS": profile.rows,
            "FIRST_SEEN": version,
            "PROFILE": profile.to_dict(),
        }
    )
    try:
        datasets.put(item, if_absent=True)
        return True
    except ConditionFailed:
        pass  # the content is known already: add this id to its item below
    for _ in range(10):  # another writer may add its id at the same time: read, check, write again
        found = datasets.get_with_version(profile.sha256)  # together: an id added between
        if found is None or item["ID"] in found[0].get("IDS", []):  # two reads would be lost
            return False
        current, version_number = found
        current["IDS"] = [*current.get("IDS", []), item["ID"]]
        try:
            datasets.put(current, if_version=version_number)
            return False
        except ConditionFailed:
            continue
    raise ConditionFailed(
        f"could not add {item['ID']} to the item of content {profile.sha256[:12]}…"
    )


def record_version(
    versions: Table,
    identity: Mapping[str, str],
    snapshot: Snapshot,
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Store this harvest's version of the dataset, or return the one a first delivery stored.

    ``previous`` is the version before it as read before the write; another handler may store
    one between the read and the write, so the caller settles the stored version again
    (`reclassified`), and the one after it, once it is written: of two neighbouring versions
    written at the same time, the one written last then sees the other."""
    profile = snapshot.profile
    item = {key: str(identity.get(key, "")) for key in IDENTITY}
    item.update(
        {
            "TIME": snapshot.version,
            "HASH": snapshot.hash,
            "STATUS": snapshot.status,
            **_placed(previous, snapshot.status, snapshot.hash),
            "ROWS": profile.rows if profile else None,
            "SIZE": profile.size if profile else None,
            "ROWS_UPDATED_AT": snapshot.rows_updated_at,
            "SNAPSHOT": snapshot.to_dict(),
        }
    )
    try:
        versions.put(item, if_absent=True)
    except ConditionFailed:
        stored = versions.get((snapshot.dataset, snapshot.version))
        if stored is not None:
            return stored
        raise
    return item


def event_of(
    version: Mapping[str, Any], corrects: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The `dataset-events` message announcing a stored version; a correction of one announced
    before says what it was announced as in ``CORRECTS`` (its ``change`` and ``PREVIOUS``)."""
    event = {
        "ID": version["ID"],
        "HASH": version["HASH"],
        "change": version["CHANGE"],
        "TIME": version["TIME"],
        "PREVIOUS": version["PREVIOUS"],
        "NAME": version["NAME"],
        "OWNER": version["OWNER"],
        "CATEGORY": version["CATEGORY"],
        "ROWS": version["ROWS"],
        "SIZE": version["SIZE"],
    }
    if corrects is not None:
        event["CORRECTS"] = {"change": corrects["CHANGE"], "PREVIOUS": corrects["PREVIOUS"]}
    return event


def snapshots(versions: Table, event: Mapping[str, Any]) -> tuple[Snapshot, Snapshot | None]:
    """The current and previous snapshots an event speaks of."""
    current = versions.get((event["ID"], event["TIME"]))
    if current is None:
        raise LookupError(f"version {event['TIME']} of {event['ID']} is not in table versions")
    previous = versions.get((event["ID"], event["PREVIOUS"])) if event.get("PREVIOUS") else None
    return (
        Snapshot.from_dict(current["SNAPSHOT"]),
        Snapshot.from_dict(previous["SNAPSHOT"]) if previous else None,
    )


def record_alert(
    alerts: Table, criterion: str, finding: Finding, event: Mapping[str, Any], raised_at: str
) -> bool:
    """Store a finding as an alert; False if the same finding on this content is already there."""
    content = event.get("HASH") or event.get("change") or ""
    item = {
        "ID": event["ID"],
        "ALERT": f"{criterion}/{finding.code}/{str(content)[:16]}",
        "CRITERION": criterion,
        "CODE": finding.code,
        "SEVERITY": finding.severity,
        "MESSAGE": finding.message,
        "DETAILS": dict(finding.details),
        "HASH": event.get("HASH"),
        "TIME": event["TIME"],
        "RAISED_AT": raised_at,
        "NAME": event.get("NAME", ""),
    }
    try:
        alerts.put(item, if_absent=True)
    except ConditionFailed:
        return False
    return True
