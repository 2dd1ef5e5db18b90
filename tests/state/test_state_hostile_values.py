"""Values that one engine or another finds hard — U+0000 (PostgreSQL's jsonb refuses it), lone
surrogates (no UTF-8), the escape character the PostgreSQL store uses, text that looks like an
escape, emoji, a megabyte of text — go in and come back equal on every engine; NaN and
infinities are no JSON, so the resources refuse them before any engine sees them."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cauce import App, InvalidKey, NotSerializable
from cauce.backends.state import StateStore
from cauce.resources.base import to_json, to_json_many
from cauce.resources.table import MAX_KEY, index_text
from cauce.runs import RunRecord, RunStatus

HOSTILE = {
    "nul": "a\x00b",
    "nul only": "\x00",
    "lone surrogate": "x\ud800y\udfff",
    "escape character": "\uffff0 and \uffff\uffff",
    "looks escaped": "\\u0000 \\ud800 \\uffff",
    "emoji": "🦀 ñ \u2028",
    "controls": "".join(map(chr, range(1, 32))),
    "long": "é" * 1_000_000,
}
VALUES = [{"text": text, text[:100]: [text, {"n": 1}]} for text in HOSTILE.values()]
IDS = list(HOSTILE)


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_table_items_come_back_equal(state: StateStore, value: dict) -> None:
    tables, text = state.tables, to_json(value, "an item")
    index = index_text(value["text"])
    assert tables.put("app:t", "k", text, indexes={"text": index}, now=0.0) == 1
    got, version = tables.get("app:t", "k") or ("null", 0)
    assert (json.loads(got), version) == (value, 1)
    assert [json.loads(t) for t in tables.by_prefix("app:t", "")] == [value]
    assert [json.loads(t) for t in tables.by_index("app:t", "text", index)] == [value]
    assert [json.loads(t) for t in tables.scan("app:t")] == [value]
    assert tables.put("app:t", "k", text, indexes={}, now=0.0, if_version=1) == 2


def test_a_deeply_nested_item_with_text_to_escape_comes_back_equal(state: StateStore) -> None:
    # PostgreSQL's escaping walked the item by recursion: 500 lists deep around a U+0000 was
    # "RecursionError: maximum recursion depth exceeded" at put, where SQLite kept it
    value: object = "a\x00b \ud800 \uffff"
    for _ in range(600):
        value = [value]
    item = {"deep": value}
    assert state.tables.put("app:t", "k", to_json(item, "an item"), indexes={}, now=0.0) == 1
    got, _ = state.tables.get("app:t", "k") or ("null", 0)
    assert json.loads(got) == item


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_messages_and_stream_records_come_back_equal(state: StateStore, value: dict) -> None:
    text = to_json({**value, "partition": "p"}, "a message")
    value = {**value, "partition": "p"}
    state.queues.send("app:q", [text], now=0.0)
    assert state.queues.holds("app:q", "partition", "p")  # how a job's pending run is found
    assert not state.queues.holds("app:q", "partition", None)
    assert state.queues.holds("app:q", "text", value["text"])
    if "\x00" not in value["text"]:  # SQLite's JSON functions read text up to a U+0000
        assert not state.queues.holds("app:q", "text", value["text"] + "x")
    state.queues.send("app:ascii", [json.dumps(value)], now=0.0)  # every character escaped
    assert state.queues.holds("app:ascii", "text", value["text"])
    [message] = state.queues.receive("app:q", now=0.0, limit=1, visibility=30.0)
    assert json.loads(message.body) == value
    state.streams.append("app:s", 0, [("pk", text)], now=0.0)
    [record] = state.streams.read("app:s", 0, after=0, limit=1)
    assert json.loads(record.data) == value


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=IDS)
def test_message_attributes_come_back_equal(state: StateStore, text: str) -> None:
    attrs = {"a": text, text[:100]: [text, {text[:10]: 1}]}
    queues = state.queues
    [sent] = queues.send("app:q", ["{}"], now=0.0, attrs=attrs)
    [message] = queues.receive("app:q", now=0.0, limit=1, visibility=30.0)
    assert message.attrs == attrs
    assert message.lease is not None
    assert queues.dead_letter(sent, message.lease, dlq="app:q.dlq", now=0.0, error="e")
    [dead] = queues.listing("app:q.dlq")
    assert dead.attrs == {**attrs, "source_queue": "app:q"}
    [replayed] = queues.replay("app:q.dlq", now=0.0)
    assert (replayed.queue, replayed.attrs) == ("app:q", {**attrs, "replayed": 1})
    assert [m.attrs for m in queues.listing("app:q")] == [{**attrs, "replayed": 1}]


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=IDS)
def test_run_parameters_and_results_come_back_equal(state: StateStore, text: str) -> None:
    params, result = {"p": text, text[:100]: 1}, [text, {"r": text}]
    state.runs.insert([RunRecord(id="r1", app="app", kind="job", name="j",
                                 status=RunStatus.QUEUED, partition=None, trigger="t",
                                 queued_at=0.0, params=params)])
    state.runs.finish("r1", RunStatus.SUCCEEDED, now=1.0, result=result)
    run = state.runs.get("r1")
    assert run is not None and (run.params, run.result) == (params, result)


# floats Python writes with an exponent: PostgreSQL's jsonb printed them as integers
NUMBERS = {"huge": 1e300, "large": 1.2345678901234568e22, "at 1e16": 1e16,
           "max": 1.7976931348623157e308, "negative": -2.5e20, "tiny": 5e-324,
           "small": 1.5e-10, "one": 1.0, "int": 10**30, "in text": "1e+300 and \"2e+5\"",
           "key": {"3e+8": 3e8}, "nested": [[1e17, "x"]]}


def test_numbers_come_back_equal_and_of_their_type(state: StateStore) -> None:
    state.tables.put("app:t", "k", to_json(NUMBERS, "an item"), indexes={}, now=0.0)
    got = json.loads((state.tables.get("app:t", "k") or ("null", 0))[0])
    assert got == NUMBERS
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in NUMBERS.items()}
    assert [type(n) for n in got["nested"][0]] == [float, str]
    state.runs.insert([RunRecord(id="r1", app="app", kind="job", name="j",
                                 status=RunStatus.QUEUED, partition=None, trigger="t",
                                 queued_at=0.0, params=NUMBERS)])
    state.runs.finish("r1", RunStatus.SUCCEEDED, now=1.0, result=[1e300])
    run = state.runs.get("r1")
    assert run is not None and (run.params, run.result) == (NUMBERS, [1e300])
    assert isinstance(run.result[0], float)


def test_a_surrogate_pair_reads_back_as_the_character_it_spells(state: StateStore) -> None:
    # JSON cannot tell the two code points from the character: every engine agrees on that
    state.tables.put("app:t", "k", to_json({"t": "\ud83e\udd80"}, "an item"), indexes={},
                     now=0.0)
    assert json.loads((state.tables.get("app:t", "k") or ("null", 0))[0]) == {"t": "🦀"}


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_above_every_engine(number: float) -> None:
    with pytest.raises(NotSerializable, match="is not JSON-serialisable"):
        to_json({"x": [number]}, "an item for table 't'")


def test_dict_keys_that_are_not_text_are_refused_above_every_engine() -> None:
    app = App("hostile")  # never attached: the item is checked before any store is used
    with pytest.raises(NotSerializable, match=r"has the key 1 \(in m\), which is no text"):
        app.table("items").put({"id": "a", "m": {1: "a"}})


_KEYS = st.one_of(st.text(max_size=3), st.integers(-2, 2), st.booleans(), st.none())
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
              allow_infinity=False), st.text(alphabet="{}[]a\"", max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=12)


def _other_keys(value: object) -> bool:
    if isinstance(value, dict):
        return any(not isinstance(k, str) or _other_keys(v) for k, v in value.items())
    return isinstance(value, list | tuple) and any(map(_other_keys, value))


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON, min_size=1, max_size=4))
def test_any_key_that_is_not_text_is_found_in_any_batch(values: list) -> None:
    """The cheap passes for nearly every body (texts with "{" in them, tuples, dicts in lists
    and in dicts) miss no key that is not text, and refuse nothing else."""
    if any(map(_other_keys, values)):
        with pytest.raises(NotSerializable, match="which is no text"):
            to_json_many(values, "a message")
    else:
        assert [json.loads(t) for t in to_json_many(values, "a message")] == json.loads(
            json.dumps(values))


def test_keys_no_engine_can_keep_are_refused_alike() -> None:
    app = App("hostile")  # never attached: keys are checked before any store is used
    table, stream, queue = app.table("items"), app.stream("s"), app.queue("q", fifo=True)
    for key in ("a\x00b", "x\ud800", "ñ\udc80"):
        with pytest.raises(InvalidKey, match="cannot keep in a key"):
            table._encode(key)
        with pytest.raises(InvalidKey, match=r"stream 's': partition key .* cannot keep in a key"):
            stream.put({"n": 1}, partition_key=key)
        with pytest.raises(InvalidKey, match=r"queue 'q': message group .* cannot keep in a key"):
            queue.send({"n": 1}, group=key)
    with pytest.raises(InvalidKey, match=f"at most {MAX_KEY:,} in UTF-8"):
        table._encode("é" * (MAX_KEY // 2 + 1))
    assert table._encode("é" * (MAX_KEY // 2)) == "é" * (MAX_KEY // 2)


def test_long_index_entries_are_digests_that_fit_every_engine() -> None:
    short, long = index_text("a" * 10), index_text("a" * 1000)
    assert short == '"aaaaaaaaaa"'
    assert long.startswith("#sha256:") and len(long) == 72
    assert index_text("a" * 1000) == long != index_text("a" * 1001)
