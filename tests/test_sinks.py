"""Sinks: a stream's records in bucket files, flushed by size or age on the runtime's clock,
each record in exactly one file."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pyarrow.parquet as pq
import pytest

from cauce import App, ConfigError, DeclarationError, Record
from cauce.testing import TestRuntime


def _app(**options: Any) -> tuple[App, Any, Any]:
    app = App("feed")
    events = app.stream("events", shards=1)
    lake = app.bucket("lake")
    app.sink(events, bucket=lake, prefix="raw/", **options)
    return app, events, lake


def _files(lake: Any) -> dict[str, list[Any]]:
    return {
        ref.key: [json.loads(line) for line in gzip.decompress(lake.get(ref.key)).splitlines()]
        for ref in lake.list()
    }


def test_a_file_is_written_once_the_buffer_reaches_its_size() -> None:
    app, events, lake = _app(max_bytes=30, max_seconds="1h")
    with TestRuntime(app) as rt:
        events.put_many([({"n": n}, "k") for n in range(5)])  # 8 bytes a record with its newline
        rt.advance("1s")
        assert _files(lake) == {
            "raw/events-0000-000000000001-000000000004.jsonl.gz": [{"n": n} for n in range(4)]
        }
        rt.advance("59m")
        assert len(_files(lake)) == 1, "the fifth record waits for its hour"
        rt.advance("1m")
        assert _files(lake)["raw/events-0000-000000000005-000000000005.jsonl.gz"] == [{"n": 4}]


def test_a_file_is_written_once_the_first_record_is_old_enough() -> None:
    app, events, lake = _app(max_bytes="128MB", max_seconds="100s")
    with TestRuntime(app, start="2024-03-01T00:00:00") as rt:
        events.put({"n": 1}, "k")
        rt.advance("50s")
        events.put({"n": 2}, "k")
        rt.advance("49s")
        assert _files(lake) == {}
        rt.advance("1s")  # 100 s after the first record
        assert _files(lake) == {
            "raw/events-0000-000000000001-000000000002.jsonl.gz": [{"n": 1}, {"n": 2}]
        }
        events.put({"n": 3}, "k")
        rt.advance("99s")
        assert len(_files(lake)) == 1
        rt.advance("1s")
        assert len(_files(lake)) == 2
        assert events.describe().lag == {"events-to-lake": 0}


def test_records_are_grouped_in_folders_by_partition() -> None:
    app, events, lake = _app(max_seconds="10s", partition_by=lambda r: f"day={r.data['day']}")
    with TestRuntime(app) as rt:
        events.put_many([({"day": d, "n": n}, "k") for n, d in enumerate(["a", "b", "a"])])
        rt.drain()
        assert _files(lake) == {
            "raw/day=a/events-0000-000000000001-000000000003.jsonl.gz": [
                {"day": "a", "n": 0},
                {"day": "a", "n": 2},
            ],
            "raw/day=b/events-0000-000000000001-000000000003.jsonl.gz": [{"day": "b", "n": 1}],
        }


def test_a_record_holding_a_lone_surrogate_is_written_with_json_escapes() -> None:
    """Half a surrogate pair (JSON's ``"\\ud800"``) has no UTF-8 form: the batch failed to
    encode, was retried into the dead-letter queue with every record of it, and the sink's
    shard stalled. That record's line is now written in ASCII, with the JSON escape, which
    reads back as the same text; the other lines keep their characters."""
    app, events, lake = _app(max_seconds="10s")
    with TestRuntime(app) as rt:
        events.put_many([({"name": "Peñón"}, "k"), ({"name": "A\ud800B"}, "k")])
        rt.drain()
        [ref] = lake.list()
        assert gzip.decompress(lake.get(ref.key)).splitlines() == [
            '{"name":"Peñón"}'.encode(),
            b'{"name":"A\\ud800B"}',
        ]
        assert _files(lake)[ref.key][1] == {"name": "A\ud800B"}
        assert rt.dlq("events-to-lake") == []


def test_parquet_files_hold_one_row_per_record() -> None:
    app, events, lake = _app(max_seconds="10s", format="parquet")
    with TestRuntime(app) as rt:
        events.put_many([({"id": n, "v": n * 1.5}, "k") for n in range(3)])
        rt.drain()
        [ref] = lake.list()
        assert ref.key.endswith(".parquet")
        assert pq.read_table(io.BytesIO(lake.get(ref.key))).to_pylist() == [
            {"id": n, "v": n * 1.5} for n in range(3)
        ]


def test_a_batch_written_but_not_checkpointed_is_rewritten_to_the_same_file() -> None:
    app, events, lake = _app(max_bytes=30, max_seconds="1h")
    handler = app.handlers["events-to-lake"]
    write, calls = handler.func, []

    def crash_after_writing(records: list[Record], ctx: Any) -> None:
        write(records, ctx)
        calls.append([r.seq for r in records])
        if len(calls) == 1:
            raise SystemError("killed before the checkpoint moved")

    handler.func = crash_after_writing
    with TestRuntime(app) as rt:
        events.put_many([({"n": n}, "k") for n in range(3)])
        rt.advance("1s")
        events.put_many([({"n": n}, "k") for n in range(3, 6)])  # arrive before the retry
        rt.drain()
        files = _files(lake)
    assert calls[:2] == [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert sorted(n["n"] for rows in files.values() for n in rows) == list(range(6))


def test_limits_can_come_from_settings() -> None:
    app = App("feed")
    events, lake = app.stream("events"), app.bucket("lake")
    app.sink(
        events,
        bucket=lake,
        max_bytes=app.setting("flush_bytes", int, default=10),
        max_seconds=app.setting("flush_after", str, default="1h"),
    )
    with TestRuntime(app, settings={"flush_bytes": 1_000_000, "flush_after": "5s"}) as rt:
        events.put({"n": 1}, "k")
        rt.advance("4s")
        assert lake.list() == []
        rt.advance("1s")
        assert len(lake.list()) == 1
    with (
        pytest.raises(ConfigError, match="sink max_bytes"),
        TestRuntime(app, settings={"flush_bytes": -1}) as rt,
    ):
        events.put({"n": 1}, "k")
        rt.drain()


def test_bad_declarations_are_refused() -> None:
    app = App("feed")
    events, lake = app.stream("events"), app.bucket("lake")
    with pytest.raises(DeclarationError, match="format 'csv'"):
        app.sink(events, bucket=lake, format="csv")  # type: ignore[arg-type]
    with pytest.raises(DeclarationError, match="is not a size"):
        app.sink(events, bucket=lake, max_bytes="lots")
    with pytest.raises(DeclarationError, match="reads a stream and writes a bucket"):
        app.sink(lake, bucket=lake)
