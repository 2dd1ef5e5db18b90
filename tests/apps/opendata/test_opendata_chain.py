"""The whole chain in the TestRuntime: harvest → bucket → queue → metadata → tables → alerts."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cauce.apps.opendata import (
    Finding,
    Limits,
    Snapshot,
    app,
    checkpoint,
    criterion,
    harvest,
    report,
)
from cauce.apps.opendata.catalog import object_key
from cauce.apps.opendata.inventory import Asset
from cauce.connectors.soda import SodaClient
from cauce.connectors.soda.portal import Dataset, Portal, PortalState, csv_bytes
from cauce.errors import ConfigError
from cauce.settings import ConfigSources
from cauce.testing import TestRuntime
from waiting import LISTS_LOCK_WAITERS, wait_for, waiting_in_lock
from worker_signal import handled_while_busy

# the module, which the app's job of the same name hides as an attribute of the package
harvest_module = importlib.import_module("cauce.apps.opendata.harvest")

START = datetime(
    2026, 3, 2, 12, 0, tzinfo=UTC
)  # 07:00 in Bogotá: the daily 05:00 harvest is tomorrow


@dataclass
class Chain:
    rt: TestRuntime
    state: PortalState
    portal: Portal

    def harvest(self, **options: Any) -> dict[str, Any]:
        run = self.rt.run(harvest, **options)
        assert run.succeeded, run.error
        self.rt.drain()
        return run.result

    def items(self, table: str) -> list[dict[str, Any]]:
        return list(self.rt.table(table).scan())

    def alerts(self, criterion_name: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.items("alerts") if criterion_name in (None, a["CRITERION"])]


@contextmanager
def running_chain(datasets: list[Dataset], config: ConfigSources | None = None) -> Iterator[Chain]:
    """The app in a TestRuntime, harvesting a local portal: 9ssf-i6c5 is stale, the others fresh."""
    ages = {d.id: 900 if d.id == "9ssf-i6c5" else 5 for d in datasets}
    state = PortalState.of(
        [
            replace(d, rows_updated_at=int((START - timedelta(days=ages[d.id])).timestamp()))
            for d in datasets
        ],
        extras=2,
    )
    with Portal(state) as portal:
        settings = {
            "portal": portal.url,
            "retries": 3,
            "backoff": 0.0,
            "page_size": 100,
            "limit": 0,
            "concurrency": 2,
        }
        with TestRuntime(app, settings=settings, start=START.isoformat(), config=config) as rt:
            state.clock = lambda: rt.now().timestamp()
            yield Chain(rt, state, portal)


@pytest.fixture
def chain(make_catalogue: Callable[..., list[Dataset]]) -> Iterator[Chain]:
    with running_chain(make_catalogue(7, seed=2)) as running:
        yield running


def test_a_harvest_stores_profiles_versions_and_raises_alerts(chain: Chain) -> None:
    chain.state.drop("xvdy-vvsk", 403)
    result = chain.harvest()
    assert result["datasets"] == 7 and result["downloaded"] == 6 and result["forbidden"] == 1
    raw = chain.rt.bucket("raw")
    for ident in ("jbjy-vk9h", "gt2j-8ykr", "p6dx-8zbt"):  # complete: every page, byte for byte
        assert raw.get(object_key(ident)) == csv_bytes(chain.state.datasets[ident].frame)
    stored = {d["ID"]: d for d in chain.items("datasets")}
    assert set(stored) == {d for d in chain.state.datasets if d != "xvdy-vvsk"}
    jbjy = stored["jbjy-vk9h"]
    assert {"HASH", "ID", "OWNER", "NAME", "EMAIL", "CATEGORY", "PROFILE"} <= set(jbjy)
    assert jbjy["ROWS"] == chain.state.datasets["jbjy-vk9h"].rows and jbjy["IDS"] == ["jbjy-vk9h"]
    changes = Counter(v["CHANGE"] for v in chain.items("versions"))
    assert changes == {"new": 6, "forbidden": 1}
    assert {(a["ID"], a["CODE"]) for a in chain.alerts("stale-data")} == {("9ssf-i6c5", "stale")}
    assert ("xvdy-vvsk", "forbidden") in {
        (a["ID"], a["CODE"]) for a in chain.alerts("availability")
    }
    assert ("gt2j-8ykr", "mostly-null") in {(a["ID"], a["CODE"]) for a in chain.alerts("quality")}
    assert chain.alerts("changed-content") == [] and chain.alerts("schema-drift") == []
    assert chain.rt.dlq("downloaded") == []


def test_the_raw_bucket_can_live_in_s3(
    make_catalogue: Callable[..., list[Dataset]], s3_endpoint: str
) -> None:
    """The same chain with `raw` on an S3 server: configured by URL, nothing else changes."""
    prefix = f"s3://cauce-test/opendata-{uuid.uuid4().hex[:8]}"
    config = ConfigSources(environ={"CAUCE_OPENDATA_RAW_URL": prefix})
    with running_chain(make_catalogue(3, seed=5), config) as chain:
        result = chain.harvest()
        assert result["downloaded"] == 3
        objects = {obj.key for obj in chain.rt.bucket("raw").list()}
        assert objects == {object_key(ident) for ident in chain.state.datasets}
        assert {d["ID"] for d in chain.items("datasets")} == set(chain.state.datasets)
        assert chain.rt.dlq("downloaded") == []
    import s3fs

    stored = s3fs.S3FileSystem().find(prefix.removeprefix("s3://"))
    assert sorted(stored) == sorted(
        f"{prefix.removeprefix('s3://')}/{object_key(i)}" for i in chain.state.datasets
    )


def test_the_daily_harvest_sees_changed_content_and_a_retyped_column(chain: Chain) -> None:
    chain.harvest()
    first = {d["HASH"] for d in chain.items("datasets")}
    chain.state.change("jbjy-vk9h", share=0.1, added=4)
    chain.state.retype("p6dx-8zbt", "precio_base", "text")
    chain.rt.advance("1d")  # the 05:00 schedule fires and the chain runs to the end
    scheduled = chain.rt.runs(job="harvest")
    assert len(scheduled) == 2 and scheduled[-1].succeeded
    latest: dict[str, dict[str, Any]] = {}
    for v in chain.items("versions"):
        latest[v["ID"]] = max(latest.get(v["ID"], v), v, key=lambda item: item["TIME"])
    assert latest["jbjy-vk9h"]["CHANGE"] == "changed" and latest["p6dx-8zbt"]["CHANGE"] == "changed"
    assert {v["CHANGE"] for i, v in latest.items() if i not in ("jbjy-vk9h", "p6dx-8zbt")} == {
        "unchanged"
    }
    assert len({d["HASH"] for d in chain.items("datasets")} - first) == 2
    changed = {a["ID"]: a for a in chain.alerts("changed-content")}
    assert set(changed) == {"jbjy-vk9h", "p6dx-8zbt"}
    assert "(+4)" in changed["jbjy-vk9h"]["MESSAGE"]
    drift = [
        (a["ID"], a["CODE"], a["DETAILS"]["from"], a["DETAILS"]["to"])
        for a in chain.alerts("schema-drift")
    ]
    assert drift == [("p6dx-8zbt", "type-changed:precio_base", "number", "text")]
    stale = chain.alerts("stale-data")
    assert len(stale) == 1  # unchanged content: the same alert is not stored twice


def test_a_flaky_dataset_is_retried_and_a_failing_one_waits_in_the_dlq_until_replayed(
    chain: Chain,
) -> None:
    chain.state.fail("gt2j-8ykr", times=2)  # 500 twice, then fine: absorbed by the client's retries
    chain.state.fail("jbjy-vk9h", times=None, from_offset=200)  # pages 1-2 arrive, page 3 never
    result = chain.harvest()
    assert result["downloaded"] == 6 and result["failed"] == 1
    assert [r.status for r in chain.state.requests_for("gt2j-8ykr")][:3] == [500, 500, 200]
    dead = chain.rt.dlq("downloaded")
    assert [m.body["ID"] for m in dead] == ["jbjy-vk9h"] and dead[0].body[
        "DOWNLOAD"
    ] == "incomplete"
    reason = chain.rt.dlq_errors("downloaded")[0] or ""
    assert "still incomplete" in reason and "$offset=200" in reason
    handled = [r for r in chain.rt.runs("metadata") if not r.succeeded]
    assert len(handled) == app.resources["downloaded"].max_receives
    assert "jbjy-vk9h" not in {d["ID"] for d in chain.items("datasets")}

    chain.state.clear_faults()
    assert chain.rt.replay("downloaded") == 1
    chain.rt.drain()
    assert chain.rt.dlq("downloaded") == []
    assert chain.rt.bucket("raw").get(object_key("jbjy-vk9h")) == csv_bytes(
        chain.state.datasets["jbjy-vk9h"].frame
    )
    fetched = [
        r.params.get("$offset") for r in chain.state.requests_for("jbjy-vk9h") if r.status == 200
    ]
    assert fetched.count("0") == 1 and fetched.count("100") == 1  # resumed at the failed page
    versions = [v for v in chain.items("versions") if v["ID"] == "jbjy-vk9h"]
    assert [(v["CHANGE"], v["ROWS"]) for v in versions] == [
        ("new", chain.state.datasets["jbjy-vk9h"].rows)
    ]

    # Delivered again (a lost acknowledgement, a second replay): nothing is processed twice.
    before = (chain.items("datasets"), chain.items("versions"), chain.items("alerts"))
    chain.rt.queue("downloaded").send(dead[0].body)
    chain.rt.drain()
    assert (chain.items("datasets"), chain.items("versions"), chain.items("alerts")) == before


def test_a_dataset_that_disappears_is_recorded_and_the_others_go_on(chain: Chain) -> None:
    chain.harvest()
    chain.state.drop("it5q-hg94", 404)
    chain.rt.advance("1d")
    gone = [v for v in chain.items("versions") if v["ID"] == "it5q-hg94"]
    assert [v["CHANGE"] for v in gone] == ["new", "gone"] and gone[-1]["HASH"] is None
    assert {a["CODE"] for a in chain.alerts("availability") if a["ID"] == "it5q-hg94"} == {"gone"}
    assert Counter(v["CHANGE"] for v in chain.items("versions"))["unchanged"] == 6
    chain.state.restore("it5q-hg94")
    chain.rt.advance("1d")
    assert {a["CODE"] for a in chain.alerts("availability") if a["ID"] == "it5q-hg94"} == {
        "gone",
        "back",
    }


def test_identical_content_under_two_ids_keeps_both(chain: Chain) -> None:
    twin = replace(chain.state.datasets["it5q-hg94"], id="twin-0001", name="Copia de multas")
    chain.state.add(twin)
    chain.harvest()
    (shared,) = [d for d in chain.items("datasets") if "twin-0001" in d["IDS"]]
    assert sorted(shared["IDS"]) == ["it5q-hg94", "twin-0001"]
    assert {v["ID"] for v in chain.items("versions") if v["HASH"] == shared["HASH"]} == {
        "it5q-hg94",
        "twin-0001",
    }


def test_harvest_options_select_datasets(chain: Chain) -> None:
    assert chain.harvest(ids=["it5q-hg94,9ssf-i6c5"])["datasets"] == 2
    assert chain.harvest(limit=3)["datasets"] == 3
    assert chain.harvest(category=["Salud y Protección Social"])["datasets"] == 2
    assert chain.harvest(owner=["nobody"])["datasets"] == 0


def test_a_criterion_is_one_decorated_function(
    make_catalogue: Callable[..., list[Dataset]],
) -> None:
    @criterion
    def too_many_rows(
        current: Snapshot, previous: Snapshot | None, limits: Limits, now: datetime
    ) -> list[Finding]:
        """Datasets over 300 rows."""
        rows = current.profile.rows if current.profile else 0
        return [Finding("big", "info", f"{rows:,} rows")] if rows > 300 else []

    try:
        with running_chain(make_catalogue(7, seed=2)) as chain:
            chain.harvest()
            found = {a["ID"]: a["MESSAGE"] for a in chain.alerts("too-many-rows")}
            expected = {
                d.id: f"{d.rows:,} rows" for d in chain.state.datasets.values() if d.rows > 300
            }
    finally:
        del app.handlers["too_many_rows"]  # declared for this test only
    assert found == expected and 0 < len(expected) < 7


def test_the_report_shows_the_catalogue_and_open_alerts(chain: Chain, tmp_path: Path) -> None:
    chain.state.drop("xvdy-vvsk", 403)
    chain.harvest()
    run = chain.rt.run(report, out=str(tmp_path / "report"))
    assert run.succeeded, run.error
    page = (tmp_path / "report" / "index.html").read_text()
    assert "SECOP II - Contratos Electrónicos" in page and "Open alerts" in page
    assert "the portal answers 403" in page and "data last updated" in page
    assert {p.name for p in (tmp_path / "report").glob("*.svg")} == {
        "by-category.svg",
        "size-by-category.svg",
        "by-owner.svg",
        "freshness.svg",
        "alerts.svg",
    }


def test_a_queued_download_is_profiled_against_the_portal_setting_not_the_old_portal(
    make_catalogue: Callable[..., list[Dataset]],
) -> None:
    """Messages queued by a harvest of a portal that has since moved are handled against the
    portal the settings name now."""
    with running_chain(make_catalogue(2, seed=4)) as chain:
        with Portal(chain.state) as old:
            run = chain.rt.run(harvest, portal=old.url)
            assert run.succeeded, run.error
        chain.rt.drain()  # the old portal is gone; the setting names the running one
        assert chain.rt.dlq("downloaded") == []
        assert {v["ID"] for v in chain.items("versions")} == set(chain.state.datasets)


def test_ids_that_are_not_dataset_ids_are_refused_before_anything_is_written(
    chain: Chain,
) -> None:
    run = chain.rt.run(harvest, ids=["it5q-hg94,../../../escaped"])
    assert not run.succeeded and "'../../../escaped' is not a Socrata dataset id" in run.error
    assert chain.state.requests == [] and not (chain.rt.home.parent / "escaped").exists()


@pytest.mark.parametrize("ids", [[""], [" , "], ["", ","]])
def test_ids_that_name_no_dataset_are_refused_not_read_as_the_whole_inventory(
    chain: Chain, ids: list[str]
) -> None:
    """`--ids "$IDS"` with an empty variable: a harvest of one or two datasets asked for, not
    of the inventory's first hundred (millions of rows on datos.gov.co)."""
    run = chain.rt.run(harvest, ids=ids)
    assert not run.succeeded and "--ids names no dataset" in (run.error or "")
    assert chain.state.requests == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"ID": "../../etc", "TIME": "2026-03-02T12:00:00Z"}, "not a Socrata dataset id"),
        ({"ID": "it5q-hg94"}, "has no TIME text"),
        ({"ID": "it5q-hg94", "TIME": "yesterday"}, "'yesterday' is not an ISO time"),
        ({"TIME": 5}, "has no ID or TIME text"),
        (["it5q-hg94"], "must be a JSON object"),
    ],
)
def test_a_message_the_harvest_did_not_send_waits_in_the_dead_letter_queue(
    chain: Chain, body: Any, reason: str
) -> None:
    """Anyone may `cauce send` to the queue: such a message ends in the DLQ with one line."""
    chain.rt.queue("downloaded").send(body)
    chain.rt.drain()
    assert [m.body for m in chain.rt.dlq("downloaded")] == [body]
    error = chain.rt.dlq_errors("downloaded")[0] or ""
    assert reason in error.splitlines()[0] and "Traceback" not in error.splitlines()[0]
    assert chain.items("versions") == [] and chain.state.requests == []


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-03-02T08:00:00-05:00", "2026-03-02T13:00:00.000000Z"),  # later, in Bogotá time
        ("2026-03-02T13:00:00", "2026-03-02T13:00:00.000000Z"),  # no offset: UTC
    ],
)
def test_a_sent_time_with_an_offset_is_placed_in_time_order(
    chain: Chain, sent: str, stored: str
) -> None:
    """Versions sort by ``TIME`` as text: a message sent by hand with another spelling of a
    later time is stored with the harvest's spelling, after the harvest, not before it."""
    first = chain.harvest(ids=["gt2j-8ykr"])["version"]
    chain.rt.queue("downloaded").send({"ID": "gt2j-8ykr", "TIME": sent, "DOWNLOAD": "complete"})
    chain.rt.drain()
    assert [(v["TIME"], v["CHANGE"], v["PREVIOUS"]) for v in chain.items("versions")] == [
        (first, "new", None), (stored, "unchanged", first)
    ]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("page_size", 0),
        ("page_size", 50_001),
        ("concurrency", 0),
        ("timeout", -1),
        ("retries", 0),
        ("backoff", -1),
        ("mostly_null", 7),
        ("duplicate_share", -0.1),
        ("stale_days", -1),
    ],
)
def test_settings_out_of_range_are_refused_naming_the_setting(setting: str, value: float) -> None:
    """A page of 0 rows would page forever; a negative timeout fails inside httpx."""
    with (
        pytest.raises(ConfigError, match=f"{setting}: .* is invalid") as refused,
        TestRuntime(app, settings={setting: value}),
    ):
        pass
    assert refused.value.hint


def test_ctrl_c_reaches_a_harvest_while_a_download_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harvest waits for its downloads in worker threads: Ctrl-C must not wait for them."""

    def harvest_with(task: Callable[[], None]) -> None:
        monkeypatch.setattr(harvest_module, "download", lambda *args, **kwargs: task())
        list(harvest_module.download_all(None, [Asset("abcd-1234")], tmp_path))  # type: ignore[arg-type]

    assert handled_while_busy(harvest_with)


def test_a_report_folder_that_cannot_be_written_is_one_line(chain: Chain, tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    run = chain.rt.run(report, out=str(taken / "report"))
    assert not run.succeeded and run.error is not None
    assert "cannot write into folder" in run.error and "a-file/report" in run.error


def test_an_empty_report_folder_is_refused(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = chain.rt.run(report, out="")
    assert not run.succeeded and run.error is not None
    assert "output folder is empty" in run.error
    assert not list(tmp_path.iterdir())


def test_a_view_of_odd_shape_still_gives_a_version_and_its_criteria_run(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rowsUpdatedAt` as text and columns that are not objects: a portal's answer is input."""
    real = SodaClient.metadata

    def odd(self: SodaClient, dataset: str) -> dict[str, Any]:
        view = real(self, dataset)
        if dataset != "it5q-hg94":
            return view
        columns = ["fieldName", None, {"fieldName": "valor", "dataTypeName": 5}]
        return {**view, "rowsUpdatedAt": "yesterday", "columns": columns}

    monkeypatch.setattr(SodaClient, "metadata", odd)
    chain.harvest(ids=["it5q-hg94"])
    (version,) = chain.items("versions")
    assert version["ROWS_UPDATED_AT"] is None
    assert version["SNAPSHOT"]["declared"] == {"valor": "5"}
    assert chain.rt.dlq("downloaded") == [] and chain.rt.runs(status="failed") == []


@pytest.mark.parametrize("updated", [1.7e12, float("inf"), float("nan"), -1e20])
def test_a_rows_updated_at_out_of_any_date_range_is_left_out(
    chain: Chain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, updated: float
) -> None:
    """Milliseconds where Socrata sends seconds (a year past 9999), or an infinity, is no time:
    kept, it failed the stale-data criterion and every report after it with a ValueError."""
    real = SodaClient.metadata

    def odd(self: SodaClient, dataset: str) -> dict[str, Any]:
        view = real(self, dataset)
        return {**view, "rowsUpdatedAt": updated} if dataset == "it5q-hg94" else view

    monkeypatch.setattr(SodaClient, "metadata", odd)
    chain.harvest(ids=["it5q-hg94"])
    (version,) = chain.items("versions")
    assert version["ROWS_UPDATED_AT"] is None
    assert chain.rt.run(report, out=str(tmp_path / "report")).succeeded
    assert chain.rt.dlq("stale_data") == [] and chain.rt.runs(status="failed") == []


def _harvested(chain: Chain) -> dict[str, Any]:
    """What a harvest leaves: versions, datasets, alerts (without the criteria's own run time,
    RAISED_AT) and the raw bucket's objects."""
    raw = chain.rt.bucket("raw")
    return {
        "versions": chain.items("versions"),
        "datasets": chain.items("datasets"),
        "alerts": [{k: v for k, v in a.items() if k != "RAISED_AT"} for a in chain.alerts()],
        "raw": {obj.key: raw.get(obj.key) for obj in raw.list()},
    }


def _killed_after_three(monkeypatch: pytest.MonkeyPatch) -> None:
    """Harvests stop after storing and queueing their third dataset, before recording it as
    settled (a kill at the worst moment)."""
    opendata = importlib.import_module("cauce.apps.opendata")
    settle, settled = opendata._settle, []

    def killed_after_three(ctx: Any, outcome: Any, version: str, portal: str) -> None:
        settle(ctx, outcome, version, portal)
        settled.append(outcome.asset.id)
        if len(settled) == 3:
            raise RuntimeError("killed")

    monkeypatch.setattr(opendata, "_settle", killed_after_three)


def _interrupted(chain: Chain) -> str:
    """Run a harvest that `_killed_after_three` stops; its time."""
    run = chain.rt.run(harvest)
    assert not run.succeeded and "killed" in (run.error or "")
    chain.rt.drain()
    versions = chain.items("versions")
    assert len(versions) == 3
    return versions[0]["TIME"]


def test_a_rerun_finishes_an_interrupted_harvest_with_its_own_time(
    make_catalogue: Callable[..., list[Dataset]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A harvest stopped after storing and queueing its third dataset, before recording it as
    settled, then run again an hour later: the tables and the bucket are those of one
    uninterrupted harvest, not a second harvest of "unchanged" versions."""
    catalogue = make_catalogue(7, seed=2)
    with running_chain(catalogue) as chain:
        chain.harvest()
        uninterrupted = _harvested(chain)
    _killed_after_three(monkeypatch)
    with running_chain(catalogue) as chain:
        _interrupted(chain)
        chain.rt.advance("1h")
        result = chain.harvest()
        assert _harvested(chain) == uninterrupted
        assert result["version"] == uninterrupted["versions"][0]["TIME"]
        assert result["resumed"] == 2 and result["downloaded"] == 5
        assert chain.items("harvests") == []  # finished: the next harvest has its own time


def test_a_harvest_too_old_to_resume_is_dropped_and_the_rerun_has_its_own_time(
    make_catalogue: Callable[..., list[Dataset]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupted harvest nobody reran for longer than the resume window (the next daily
    harvest finds it) is not finished under its old time: the rerun is a harvest of its own."""
    _killed_after_three(monkeypatch)
    with running_chain(make_catalogue(7, seed=2)) as chain:
        old = _interrupted(chain)
        chain.rt.advance(checkpoint.RESUME_WINDOW + timedelta(minutes=1))
        run = chain.rt.run(harvest)
        assert run.succeeded, run.error
        chain.rt.drain()
        new = run.result["version"]
        assert new != old and "resumed" not in run.result
        times = Counter(v["TIME"] for v in chain.items("versions"))
        assert times == {old: 3, new: 7}  # every dataset harvested again, under the new time
        assert chain.items("harvests") == []  # the old checkpoint's rows went with it
        warnings = [line.message for line in chain.rt.logs(run.id) if "too old" in line.message]
        assert len(warnings) == 1 and old in warnings[0]


def test_settling_a_dataset_is_one_small_write_however_many_are_settled(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A harvest of thousands of datasets must not rewrite a growing list after each one: every
    write to its checkpoint after the first is one row of the same size."""
    opendata = importlib.import_module("cauce.apps.opendata")
    put, sizes = opendata.harvests.put, []

    def measured(item: dict[str, Any], **conditions: Any) -> int:
        sizes.append(len(json.dumps(item)))
        return put(item, **conditions)

    monkeypatch.setattr(opendata.harvests, "put", measured)
    chain.harvest()
    assert len(sizes) == 1 + 7 and len(set(sizes[1:])) == 1 and sizes[1] < 100
    assert chain.items("harvests") == []


# -- harvests handled out of order ----------------------------------------------------------------
ORDERED = "it5q-hg94"


def _held_harvest(chain: Chain) -> tuple[dict[str, Any], bytes]:
    """Harvest ORDERED an hour after the last harvest; its `downloaded` message, taken off the
    queue unhandled, and the object it stored (the key has no version: the test puts it back
    before handling the message, as its own harvest left it)."""
    chain.rt.advance("1h")
    run = chain.rt.run(harvest, ids=[ORDERED])
    assert run.succeeded, run.error
    queue = chain.rt.queue("downloaded")
    (message,) = queue.receive()
    queue.ack(message)
    return message.body, chain.rt.bucket("raw").get(object_key(ORDERED))


def _handle(chain: Chain, held: tuple[dict[str, Any], bytes]) -> None:
    body, content = held
    chain.rt.bucket("raw").put(object_key(ORDERED), content)
    chain.rt.queue("downloaded").send(body)
    chain.rt.drain()


def _three_harvests(chain: Chain) -> list[tuple[dict[str, Any], bytes]]:
    """Three harvests of ORDERED: its content, then changed, then the same again."""
    first = _held_harvest(chain)
    chain.state.change(ORDERED, share=0.2, added=3)
    return [first, _held_harvest(chain), _held_harvest(chain)]


def _history(chain: Chain) -> list[tuple[str, str | None, str, str]]:
    """ORDERED's versions as (TIME, PREVIOUS, CHANGE, HASH), in key (time) order."""
    return [
        (v["TIME"], v["PREVIOUS"], v["CHANGE"], v["HASH"])
        for v in chain.items("versions")
        if v["ID"] == ORDERED
    ]


def _published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The bodies published on dataset-events from now on."""
    opendata = importlib.import_module("cauce.apps.opendata")
    publish, bodies = opendata.dataset_events.publish, []

    def recorded(body: dict[str, Any]) -> Any:
        bodies.append(body)
        return publish(body)

    monkeypatch.setattr(opendata.dataset_events, "publish", recorded)
    return bodies


@pytest.mark.parametrize("order", [(2, 1, 0), (1, 2, 0), (0, 2, 1), (2, 0, 1)])
def test_versions_describe_the_harvests_in_time_order_whatever_order_they_are_handled_in(
    make_catalogue: Callable[..., list[Dataset]], order: tuple[int, int, int]
) -> None:
    """Two workers, a retry or a redelivery can handle a later harvest's message first: the
    table still says new, changed, unchanged, each against the version just before it."""
    catalogue = make_catalogue(7, seed=2)
    with running_chain(catalogue) as chain:
        for held in _three_harvests(chain):
            _handle(chain, held)
        in_order = _history(chain)
    (t0, _, _, a), (t1, _, _, b), (t2, _, _, _) = in_order
    assert in_order == [(t0, None, "new", a), (t1, t0, "changed", b), (t2, t1, "unchanged", b)]
    with running_chain(catalogue) as chain:
        held = _three_harvests(chain)
        for index in order:
            _handle(chain, held[index])
        assert _history(chain) == in_order
        # one change, from the first content to the second (stored once per content: with the
        # time of the comparison that found it first, which may span a version handled later)
        found = chain.alerts("changed-content")
        assert [(a["DETAILS"]["previous_hash"], a["HASH"]) for a in found] == [(a, b)]
        assert found[0]["TIME"] in (t1, t2)
        assert chain.rt.dlq("downloaded") == [] and chain.rt.runs(status="failed") == []


def test_a_version_corrected_by_an_earlier_one_handled_later_is_announced_again(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The later version was announced as new; once the earlier one is handled, a correcting
    event says what it is now and what it was announced as."""
    first, second, _ = _three_harvests(chain)
    published = _published(monkeypatch)
    _handle(chain, second)
    _handle(chain, first)
    t0, t1 = first[0]["TIME"], second[0]["TIME"]
    assert [(e["TIME"], e["change"], e["PREVIOUS"], e.get("CORRECTS")) for e in published] == [
        (t1, "new", None, None),
        (t0, "new", None, None),
        (t1, "changed", t0, {"change": "new", "PREVIOUS": None}),
    ]
    # handled again (a redelivery): the tables stay, and nothing is corrected twice
    before = chain.items("versions")
    _handle(chain, first)
    assert chain.items("versions") == before
    assert [e.get("CORRECTS") is not None for e in published[3:]] == [False]


def test_two_handlers_of_one_dataset_at_once_are_not_both_new(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler of the later harvest looked for the version before its own while the
    earlier harvest's handler had not stored it yet, and stored its own after the other had
    looked for a later one: without a second look, both would stay "new"."""
    first, second, _ = _three_harvests(chain)
    _handle(chain, first)
    opendata = importlib.import_module("cauce.apps.opendata")
    look, stale = opendata.catalog.previous_version, [second[0]["TIME"]]

    def raced(versions: Any, dataset: str, before: str) -> dict[str, Any] | None:
        if before in stale:  # the later handler's first look, from before the other's write
            stale.remove(before)
            return None
        return look(versions, dataset, before)

    monkeypatch.setattr(opendata.catalog, "previous_version", raced)
    _handle(chain, second)
    assert stale == []  # the race happened
    t0, t1 = first[0]["TIME"], second[0]["TIME"]
    assert [(t, p, c) for t, p, c, _ in _history(chain)] == [(t0, None, "new"), (t1, t0, "changed")]


def test_a_correction_another_handler_wrote_first_is_not_written_or_announced_twice(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two handlers correcting the same later version at once: the conditional write of the
    second fails, it reads the version again, finds it right and announces nothing."""
    first, second, _ = _three_harvests(chain)
    _handle(chain, second)
    opendata = importlib.import_module("cauce.apps.opendata")
    reclassified, raced = opendata.catalog.reclassified, []

    def other_first(versions: Any, version: dict[str, Any]) -> dict[str, Any] | None:
        fixed = reclassified(versions, version)
        if fixed is not None and not raced:  # the other handler's correction lands between
            raced.append(version["TIME"])  # this one's read and its write
            versions.put(fixed)
        return fixed

    monkeypatch.setattr(opendata.catalog, "reclassified", other_first)
    published = _published(monkeypatch)
    _handle(chain, first)
    t0, t1 = first[0]["TIME"], second[0]["TIME"]
    assert raced == [t1]
    assert [(t, p, c) for t, p, c, _ in _history(chain)] == [(t0, None, "new"), (t1, t0, "changed")]
    assert [(e["TIME"], e.get("CORRECTS")) for e in published] == [(t0, None)]


def test_a_harvest_while_another_runs_is_refused_in_one_line(chain: Chain) -> None:
    """Two harvests at once wrote the same partial files and resumed each other's downloads
    (both ended in FileNotFoundError): the second is refused before it asks the portal anything,
    and the lock goes with the process that held it, however it ended."""
    folder = chain.rt.home / "opendata" / "downloads"
    folder.mkdir(parents=True)
    holder = subprocess.Popen(  # another process in its harvest, until told to end
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a');"
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(folder / harvest_module.LOCK)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        refused = chain.rt.run(harvest)
        assert not refused.succeeded and "another harvest is running" in (refused.error or "")
        assert chain.state.requests == [] and chain.items("harvests") == []
    finally:
        holder.kill()
        holder.wait()
    assert chain.harvest()["downloaded"] == 7


@contextmanager
def _held(lock: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding an exclusive `flock` on ``lock`` until the block ends."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a');"
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def _dataset_lock(chain: Chain, ident: str) -> Path:
    return chain.rt.home / "opendata" / "downloads" / ident / harvest_module.DATASET_LOCK


def test_a_replayed_download_waits_while_a_harvest_downloads_that_dataset(chain: Chain) -> None:
    """A replayed incomplete download resumed the partial file a running harvest was writing
    (both appending to it): while the dataset's download lock is held the message is tried
    again later without asking the portal, the partial file untouched; then it resumes."""
    chain.state.fail("jbjy-vk9h", times=None, from_offset=200)
    chain.harvest()
    partial = harvest_module.partial_path(chain.rt.home / "opendata" / "downloads", "jbjy-vk9h")
    before, asked = partial.read_bytes(), len(chain.state.requests_for("jbjy-vk9h"))
    chain.state.clear_faults()
    with _held(_dataset_lock(chain, "jbjy-vk9h")):
        assert chain.rt.replay("downloaded") == 1
        chain.rt.drain()
        assert [m.body["ID"] for m in chain.rt.dlq("downloaded")] == ["jbjy-vk9h"]
        assert "a harvest is downloading this dataset now" in (
            chain.rt.dlq_errors("downloaded")[0] or "")
        assert len(chain.state.requests_for("jbjy-vk9h")) == asked
        assert partial.read_bytes() == before
    assert chain.rt.replay("downloaded") == 1
    chain.rt.drain()
    assert chain.rt.dlq("downloaded") == []
    assert chain.rt.bucket("raw").get(object_key("jbjy-vk9h")) == csv_bytes(
        chain.state.datasets["jbjy-vk9h"].frame
    )


@pytest.mark.skipif(not LISTS_LOCK_WAITERS, reason="no /proc/locks to see a download wait")
def test_a_harvest_waits_while_a_replayed_download_resumes_that_dataset(chain: Chain) -> None:
    """A harvest downloading a dataset the metadata handler is resuming waits for it to end
    (the handler moves its file into the bucket first), then downloads its own copy."""
    lock = _dataset_lock(chain, "jbjy-vk9h")
    with _held(lock):
        harvested: list[dict[str, Any]] = []
        harvesting = threading.Thread(target=lambda: harvested.append(chain.harvest()))
        harvesting.start()
        wait_for(lambda: waiting_in_lock(lock), what="the harvest's download waiting in the lock")
        assert chain.state.requests_for("jbjy-vk9h") == []
    harvesting.join(timeout=60)
    assert harvested and harvested[0]["downloaded"] == 7
    assert chain.rt.bucket("raw").get(object_key("jbjy-vk9h")) == csv_bytes(
        chain.state.datasets["jbjy-vk9h"].frame
    )


def test_a_disk_that_fills_during_a_harvest_fails_it_and_the_next_one_finishes(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that failed (a full disk) left the downloads' generator to the garbage
    collector: its download threads went on, and its collection in one of them printed
    `Exception ignored ... RuntimeError: cannot join current thread` under the error line."""
    import errno
    import threading

    from cauce.apps.opendata import raw

    put_file = raw.put_file
    stored: list[str] = []
    raised: list[OSError] = []  # kept, as a cycle of references keeps it (the harvest's frame)

    def filling(key: str, path: Any, **kwargs: Any) -> Any:
        if stored:
            raised.append(OSError(errno.ENOSPC, "No space left on device", str(path)))
            raise raised[-1]
        stored.append(key)
        return put_file(key, path, **kwargs)

    monkeypatch.setattr(raw, "put_file", filling)
    run = chain.rt.run(harvest)
    assert not run.succeeded
    assert "(hint: the disk of " in run.error and " is full" in run.error
    # the downloads were ended with the run, not left to the garbage collector
    assert not [t for t in threading.enumerate() if t.name.startswith("soda-download")]
    monkeypatch.setattr(raw, "put_file", put_file)
    result = chain.harvest()
    assert result["resumed"] == 1
    assert {v["ID"] for v in chain.items("versions")} == set(chain.state.datasets)
