"""The queues page shows each stream's shards, and every consumer's checkpoint and lag."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from cauce import App, Runtime
from cauce.web.home import Home
from cauce.web.server import create_app


def test_stream_shards_show_checkpoints_and_lag(tmp_path: Path) -> None:
    app = App("sensors")
    readings = app.stream("readings", shards=2, max_records=500)
    app.on(readings, batch_size=2, name="collect")(lambda records, ctx: None)
    with Runtime(app, home=tmp_path) as rt:
        readings.put_many([({"v": n}, "a") for n in range(5)])  # "a" lands on shard 1
        rt.dispatcher(threads=1, processes=1).run_inline(max_deliveries=1)
        home = Home(tmp_path, [rt], [])
        with TestClient(create_app(home), base_url="http://127.0.0.1") as client:
            page = client.get("/apps/sensors/queues").text
    assert "kept 7d or 500 records a shard" in page
    assert "collect: checkpoint" in page
    rows = [
        re.sub(r"<[^>]+>", " ", row).split()
        for row in re.findall(r"<tr><td>\d.*?</tr>", page, re.S)
    ]
    assert [row[:3] + row[-2:] for row in rows] == [
        ["0", "0", "0", "0", "0"],
        ["1", "5", "1..5", "2", "3"],
    ]
