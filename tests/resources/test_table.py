"""Tables: JSON items by key, queries by key prefix or index, and conditional writes."""

from __future__ import annotations

import math
import re
from datetime import date

import pytest

from cauce import App, ConditionFailed, InvalidKey, NotSerializable, ResourceError
from cauce.testing import TestRuntime


@pytest.fixture
def tables():
    app = App("store")
    items = app.table("items", key="id", indexes=["status"])
    readings = app.table("readings", key=("station", "day"), indexes=["status"])
    with TestRuntime(app):
        yield items, readings


def test_put_get_delete(tables) -> None:
    items, _ = tables
    assert items.put({"id": "a", "status": "new", "n": [1, 2]}) == 1
    assert items.get("a") == {"id": "a", "status": "new", "n": [1, 2]}
    assert items.version("a") == 1
    assert items.put({"id": "a", "status": "done"}) == 2
    assert items.get("a") == {"id": "a", "status": "done"}
    assert items.delete("a") is True
    assert items.get("a") is None
    assert items.version("a") is None
    assert items.delete("a") is False


def test_an_item_and_its_version_are_read_together(tables) -> None:
    # `get` then `version` are two reads: a write between them gave the newer version with the
    # older item, and the put of a change made to it succeeded, losing that write
    items, readings = tables
    items.put({"id": "a", "n": 1})
    item, version = items.get_with_version("a")
    assert (item, version) == ({"id": "a", "n": 1}, 1)
    items.put({"id": "a", "n": 5})  # another writer, between the read and the write
    with pytest.raises(ConditionFailed):
        items.put({**item, "n": item["n"] + 1}, if_version=version)
    assert items.get_with_version("a") == ({"id": "a", "n": 5}, 2)
    assert items.get_with_version("missing") is None
    readings.put({"station": "A", "day": "2024-01-01", "v": 1})
    assert readings.get_with_version(("A", "2024-01-01")) == (
        {"station": "A", "day": "2024-01-01", "v": 1}, 1)


def test_a_version_no_engine_holds_deletes_nothing(tables) -> None:
    # 2**63: "OverflowError: Python int too large to convert to SQLite INTEGER" (PostgreSQL:
    # "integer out of range" from 2**31), where a put with it said ConditionFailed
    items, _ = tables
    items.put({"id": "a"})
    for version in (2**31, 2**63, 10**30, 0, -(2**70), 1.5):
        assert items.delete("a", if_version=version) is False
        with pytest.raises(ConditionFailed):
            items.put({"id": "a"}, if_version=version)
    assert items.delete("a", if_version=1) is True


def test_items_need_their_key(tables) -> None:
    items, readings = tables
    with pytest.raises(InvalidKey, match="item for table 'items' has no id") as info:
        items.put({"status": "new"})
    assert "('id',)" in (info.value.hint or "")
    with pytest.raises(InvalidKey, match="item for table 'readings' has no day"):
        readings.put({"station": "A"})
    with pytest.raises(InvalidKey, match="table 'items' stores dicts, not list"):
        items.put(["id", "a"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (True, "key part True must be text, an integer or a date"),
        (1.5, "key part 1.5 must be text, an integer or a date"),
        ("a\x1fb", "contains the reserved character U\\+001F"),
        ("a\x1eb", "contains the reserved character U\\+001E"),
        (2**63, "does not fit in 64 bits"),
    ],
)
def test_invalid_key_parts(tables, key, message: str) -> None:
    items, _ = tables
    with pytest.raises(InvalidKey, match=message):
        items.put({"id": key})


def test_integer_keys_sort_by_value_and_differ_from_text() -> None:
    app = App("store")
    users = app.table("users", key="id")
    with TestRuntime(app):
        for key in [10, 2, -3, 1, "1", "10"]:
            users.put({"id": key})
        assert [u["id"] for u in users.scan()] == [-3, 1, 2, 10, "1", "10"]
        assert users.get(1) == {"id": 1}
        assert users.get("1") == {"id": "1"}
        # a whole integer, not the text prefix of 10
        assert [u["id"] for u in users.query(1)] == [1]
        assert [u["id"] for u in users.query("1")] == ["1", "10"]


def test_items_must_be_json(tables) -> None:
    items, _ = tables
    with pytest.raises(NotSerializable, match="an item for table 'items' is not JSON-serialisable"):
        items.put({"id": "a", "ratio": math.inf})
    assert items.count() == 0


@pytest.mark.parametrize(("item", "key", "where"), [
    ({"id": "a", "by_year": {2021: 3}}, "2021", " (in by_year)"),
    ({"id": "a", "rows": [{"ok": 1}, {"x": {None: 1}}]}, "None", " (in rows[1].x)"),
    ({"id": "a", True: "yes"}, "True", "")])
def test_dict_keys_that_are_not_text_are_refused_not_turned_into_text(tables, item, key,
                                                                     where) -> None:
    """{1: "a"} read back as {"1": "a"}: JSON's keys are text."""
    items, _ = tables
    with pytest.raises(NotSerializable, match=re.escape(
            f"an item for table 'items' has the key {key}{where}, which is no text: JSON's "
            "keys are text, so it would not read back as written")):
        items.put(item)
    assert items.count() == 0


def test_an_item_holding_itself_is_refused(tables) -> None:
    """The key check walked it for ever before the encoder could refuse the cycle."""
    items, _ = tables
    item: dict = {"id": "a"}
    item["self"] = item
    with pytest.raises(NotSerializable, match="Circular reference"):
        items.put(item)
    assert items.count() == 0


def test_composite_keys_are_tuples(tables) -> None:
    _, readings = tables
    readings.put({"station": "A", "day": "2024-01-01", "mm": 3})
    assert readings.get(("A", "2024-01-01")) == {"station": "A", "day": "2024-01-01", "mm": 3}
    assert readings.get(("A", date(2024, 1, 1)))["mm"] == 3
    with pytest.raises(InvalidKey, match=r"table 'readings' keys have 2 part\(s\) "
                                         r"\('station', 'day'\), got 'A'"):
        readings.get("A")


@pytest.mark.parametrize("index", [None, "status"])
def test_query_takes_a_limit_that_is_a_count(tables, index) -> None:
    items, _ = tables
    for key in ["a", "b", "c"]:
        items.put({"id": key, "status": "new"})
    value = "new" if index else None
    assert len(items.query(index=index, value=value, limit=2)) == 2
    assert items.query(index=index, value=value, limit=0) == []  # was every item
    for wrong in (-1, 1.5, True, 2**63):  # -1: every item on SQLite, an error of PostgreSQL's
        with pytest.raises(ResourceError, match=f"limit={wrong!r} is not a count"):
            items.query(index=index, value=value, limit=wrong)


def test_query_by_key_prefix(tables) -> None:
    items, readings = tables
    for key in ["user/2", "user/1", "group/1", "user"]:
        items.put({"id": key})
    assert [i["id"] for i in items.query("user/")] == ["user/1", "user/2"]
    assert [i["id"] for i in items.query("user")] == ["user", "user/1", "user/2"]
    assert [i["id"] for i in items.query("user/", limit=1)] == ["user/1"]
    assert items.query("nobody") == []
    for station, day in [("A", "2024-01-02"), ("A", "2024-01-01"), ("AB", "2024-01-01"),
                         ("B", "2024-01-01")]:
        readings.put({"station": station, "day": day})
    # leading parts of a composite key match whole parts only: ("A",) is not a prefix of "AB"
    assert [(r["station"], r["day"]) for r in readings.query(("A",))] == [("A", "2024-01-01"),
                                                                          ("A", "2024-01-02")]
    assert [r["station"] for r in readings.query("A")] == ["A", "A", "AB"]


def test_query_by_index_follows_updates_and_deletes(tables) -> None:
    items, _ = tables
    items.put({"id": "a", "status": "new"})
    items.put({"id": "b", "status": "new"})
    items.put({"id": "c", "status": "done"})
    items.put({"id": "d"})
    assert [i["id"] for i in items.query(index="status", value="new")] == ["a", "b"]
    items.put({"id": "a", "status": "done"})
    items.delete("c")
    assert [i["id"] for i in items.query(index="status", value="new")] == ["b"]
    assert [i["id"] for i in items.query(index="status", value="done")] == ["a"]
    assert [i["id"] for i in items.query(index="status", value="new", limit=5)] == ["b"]


def test_index_values_keep_their_json_type(tables) -> None:
    items, _ = tables
    items.put({"id": "a", "status": 1})
    items.put({"id": "b", "status": "1"})
    assert [i["id"] for i in items.query(index="status", value=1)] == ["a"]
    assert [i["id"] for i in items.query(index="status", value="1")] == ["b"]


def test_querying_an_undeclared_index(tables) -> None:
    items, _ = tables
    with pytest.raises(InvalidKey, match="table 'items' has no index 'owner'") as info:
        items.query(index="owner", value="x")
    assert info.value.hint == "declare indexes=['owner'] (it has ['status'])"


def test_scan_and_count(tables) -> None:
    items, _ = tables
    for n in range(2500):  # more than one page of the scan
        items.put({"id": f"{n:05d}"})
    keys = [i["id"] for i in items.scan()]
    assert keys == [f"{n:05d}" for n in range(2500)]
    assert items.count() == 2500


def test_if_absent_writes_once(tables) -> None:
    items, _ = tables
    assert items.put({"id": "a", "by": "first"}, if_absent=True) == 1
    with pytest.raises(ConditionFailed, match="item 'a' of table 'items' is not absent"):
        items.put({"id": "a", "by": "second"}, if_absent=True)
    assert items.get("a") == {"id": "a", "by": "first"}


def test_if_version_is_optimistic_locking(tables) -> None:
    items, readings = tables
    version = items.put({"id": "a", "n": 1})
    assert items.put({"id": "a", "n": 2}, if_version=version) == 2
    with pytest.raises(ConditionFailed, match="item 'a' of table 'items' is not at version 1"):
        items.put({"id": "a", "n": 3}, if_version=version)
    with pytest.raises(ConditionFailed, match="item 'new' of table 'items' is not at version 1"):
        items.put({"id": "new"}, if_version=1)
    with pytest.raises(ConditionFailed,
                       match=r"item \('A', 'x'\) of table 'readings' is not absent"):
        readings.put({"station": "A", "day": "x"})
        readings.put({"station": "A", "day": "x"}, if_absent=True)
    assert items.get("a")["n"] == 2


def test_conditional_delete(tables) -> None:
    items, _ = tables
    items.put({"id": "a"})
    items.put({"id": "a"})
    assert items.delete("a", if_version=1) is False
    assert items.delete("a", if_version=2) is True


def test_a_conditional_put_makes_redelivery_harmless() -> None:
    app = App("store")
    work = app.queue("work", visibility_timeout="10s")
    done = app.table("done", key="event")
    calls = []

    @app.on(work)
    def handle(msg, ctx) -> None:
        calls.append(msg.receive_count)
        try:
            done.put({"event": ctx.event_id, "body": msg.body}, if_absent=True)
        except ConditionFailed:
            return
        if msg.receive_count == 1:
            raise TimeoutError("crashed after writing")

    with TestRuntime(app) as rt:
        work.send({"n": 1})
        rt.drain()
        assert calls == [1, 2]
        assert done.count() == 1
