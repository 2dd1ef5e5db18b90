"""The census app in a TestRuntime: chunks, --all, the report, where the Description comes
from, and what it refuses."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from cauce import CauceError, CheckpointConflict, Context, RunStatus
from cauce.apps.census import app, demo_data, load, loader, report, sources, target
from cauce.apps.census.description import DESCRIPTION_FILE
from cauce.apps.census.loader import checkpoint_name, load_chunk, prepare
from cauce.apps.census.sources import fetch
from cauce.apps.census.synth import write_synthetic
from cauce.apps.census.validate import validate
from cauce.testing import TestRuntime


def settings_for(tmp_path, files, **more):
    return {"db": f"sqlite:///{tmp_path / 'census.db'}",
            "source": [str(f.path) for f in files], **more}


def expected(files):
    rows = sum(f.rows for f in files)
    injected = sum(len(f.injections) for f in files)
    return rows, rows - injected, injected


def scalar(sql: str):
    return target.query(sql).column(0)[0].as_py()


def count(table: str) -> int:
    return scalar(f'SELECT COUNT(*) AS n FROM "{table}"')


def test_chunks_follow_each_other_until_everything_is_in(tmp_path, small_synthetic):
    rows, valid, injected = expected(small_synthetic)
    settings = settings_for(tmp_path, small_synthetic, chunk_size=250)
    with TestRuntime(app, settings=settings) as rt:
        results = [rt.run(load).result for _ in range(4)]
        assert [r["chunk"]["read"] for r in results] == [250, 250, 250, 150]
        assert [r["done"] for r in results] == [False, False, False, True]
        crossing = results[2]["chunk"]["files"]
        assert crossing["Adult.data"]["read"] == 100 and crossing["Adult.test"]["read"] == 150
        total = results[-1]["total"]
        assert (total["read"], total["loaded"], total["quarantined"]) == (rows, valid, injected)
        assert total["duplicates"] == sum(f.duplicates for f in small_synthetic)
        assert (count("adult"), count("adult_rejected")) == (valid, injected)
        last = rt.runs(job=load)[-1]
        assert any("schedule paused: all 900 records are processed" in line.message
                   for line in rt.logs(last.id))
        again = rt.run(load).result
        assert again["chunk"]["read"] == 0 and again["done"]
        assert count("adult") == valid


def test_all_loads_every_remaining_record_in_one_run(tmp_path, small_synthetic):
    rows, valid, injected = expected(small_synthetic)
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic, chunk_size=100)) as rt:
        rt.run(load)
        result = rt.run(load, all=True).result
    assert result["chunk"]["read"] == rows - 100
    assert (result["total"]["read"], result["total"]["loaded"]) == (rows, valid)
    assert sum(result["total"]["reasons"].values()) == injected
    assert result["done"]


def test_every_zero_also_loads_at_once(tmp_path, small_synthetic):
    settings = settings_for(tmp_path, small_synthetic, every="0", chunk_size=10)
    with TestRuntime(app, settings=settings) as rt:
        result = rt.run(load).result
    assert result["chunk"]["read"] == expected(small_synthetic)[0]


def test_the_load_report_has_every_file_and_reason(tmp_path, small_synthetic):
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        run = rt.run(load, all=True)
        lines = [line.message for line in rt.logs(run.id)]
    files = run.result["total"]["files"]
    assert files["Adult.data"] == {"read": 600, "loaded": 598, "quarantined": 2}
    assert files["Adult.test"] == {"read": 300, "loaded": 299, "quarantined": 1}
    for injection in (i for f in small_synthetic for i in f.injections):
        assert f"{injection.column}: not an integer" in run.result["total"]["reasons"]
    assert any(line.startswith("total: 900 records read, 897 loaded") for line in lines)
    assert any("Adult.test: 300 read, 299 loaded, 1 quarantined" in line for line in lines)


def test_a_racing_loader_commits_nothing(tmp_path, small_synthetic, description):
    """Two loaders read the same checkpoint; the second to commit gets a conflict."""
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic, chunk_size=100)) as rt:
        rt.run(load)  # creates the tables, commits the first chunk
        files = [fetch(str(f.path), None) for f in small_synthetic]
        stale = target.checkpoint(checkpoint_name("adult"))

        class Stale:
            """The warehouse as a slower loader saw it: the checkpoint before the other commit
            (on PostgreSQL two transactions can read the same value before either moves it)."""

            def __getattr__(self, name):
                return getattr(target, name)

            @contextmanager
            def transaction(self):
                with target.transaction() as transaction:
                    transaction.checkpoint = lambda name: stale
                    yield transaction

        load_chunk(target, description, "adult", files, 100)
        before = count("adult"), target.checkpoint(checkpoint_name("adult"))
        with pytest.raises(CheckpointConflict, match="not the expected"):
            load_chunk(Stale(), description, "adult", files, 100)
        assert (count("adult"), target.checkpoint(checkpoint_name("adult"))) == before
        early = [i for i in small_synthetic[0].injections if i.line <= 200]
        assert before[0] == 200 - len(early)  # two chunks of 100


def test_loaders_starting_together_on_a_new_postgresql_table_load_one_after_the_other(
    postgres, small_synthetic, description, monkeypatch
):
    """Both reached CREATE TABLE IF NOT EXISTS at once: the second failed in PostgreSQL's
    catalog ("duplicate key value violates unique constraint pg_type_typname_nsp_index")."""
    together = threading.Barrier(2)

    def prepare_together(*args):
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait(timeout=0.5)  # a loader that waits its turn never comes
        prepare(*args)

    monkeypatch.setattr(loader, "prepare", prepare_together)
    with TestRuntime(app, settings={"db": postgres.url}):
        files = [fetch(str(f.path), None) for f in small_synthetic]
        with ThreadPoolExecutor(2) as pool:
            loads = [pool.submit(load_chunk, target, description, "adult", files, 100)
                     for _ in range(2)]
            cursors = sorted(future.result().state.cursor.line for future in loads)
        assert cursors == [100, 200]
        assert count("adult") + count("adult_rejected") == 200


def test_a_postgresql_loader_waiting_its_turn_says_so(postgres, small_synthetic, description):
    """A loader waiting for another load of the table to commit used to wait in silence."""
    turn = f"{loader.TURN_PREFIX}{checkpoint_name('adult')}"
    postgres.connection.execute("SELECT pg_advisory_lock(hashtext(current_schema() || ':' || %s))",
                                [turn])
    said: list[str] = []
    with TestRuntime(app, settings={"db": postgres.url}), ThreadPoolExecutor(1) as pool:
        files = [fetch(str(f.path), None) for f in small_synthetic]
        loading = pool.submit(load_chunk, target, description, "adult", files, 100,
                              waiting=said.append)
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not loading.done()
        postgres.connection.execute(
            "SELECT pg_advisory_unlock(hashtext(current_schema() || ':' || %s))", [turn])
        assert loading.result(timeout=30).state.cursor.line == 100
    assert said == ["another load of table 'adult' is in its transaction: this one waits for "
                    "it to commit, then loads the chunk after it"]


def test_a_chunk_in_many_batches_loads_as_one(tmp_path, small_synthetic, monkeypatch):
    rows, valid, injected = expected(small_synthetic)
    monkeypatch.setattr(loader, "OVERLAP_FROM", 128)
    monkeypatch.setattr(loader, "BATCH_RECORDS", 128)  # 900 records: 8 batches
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        total = rt.run(load, all=True).result["total"]
        lines = scalar('SELECT COUNT(DISTINCT "_line" || "_source") AS n FROM "adult"')
        assert (count("adult"), count("adult_rejected"), lines) == (valid, injected, valid)
    assert (total["read"], total["loaded"], total["quarantined"]) == (rows, valid, injected)
    assert total["duplicates"] == sum(f.duplicates for f in small_synthetic)


@pytest.mark.parametrize("records", [0, 1, 8_192, 8_193, 48_842, 65_536 * 2, 65_536 * 2 + 1])
def test_batches_cover_a_chunk_in_order(records):
    bounds = list(loader._batch_bounds(records))
    ends = [start + size for start, size in bounds]
    assert [start for start, _ in bounds] == [0, *ends[:-1]] and ends[-1:] in ([], [records])
    assert all(size <= loader.BATCH_RECORDS for _, size in bounds)
    # a chunk large enough is written while its next batch is checked
    assert len(bounds) == (1 if records <= loader.OVERLAP_FROM else max(2, -(-records // 65_536)))
    assert max(s for _, s in bounds) - min(s for _, s in bounds) <= 1


def test_a_batch_that_fails_leaves_nothing_committed(tmp_path, small_synthetic, monkeypatch):
    monkeypatch.setattr(loader, "OVERLAP_FROM", 128)
    monkeypatch.setattr(loader, "BATCH_RECORDS", 128)
    checked = []

    def failing(records, description):
        if len(checked) == 3:
            raise RuntimeError("the fourth batch breaks")
        checked.append(records.height)
        return validate(records, description)

    monkeypatch.setattr(loader, "validate", failing)
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        run = rt.run(load, all=True)
        assert "the fourth batch breaks" in run.error
        # Not even the tables: they are created in the chunk's transaction.
        assert not target.table_exists("adult")
        assert target.checkpoint(checkpoint_name("adult")) is None


def test_a_load_cancelled_before_its_commit_loads_nothing(tmp_path, small_synthetic,
                                                         monkeypatch):
    """Ctrl-C or `cauce runs cancel` while a chunk is written: the run ends cancelled and the
    chunk is not committed behind its back (it used to be, and the run said cancelled)."""
    monkeypatch.setattr(loader, "BATCH_RECORDS", 128)
    monkeypatch.setattr(Context, "cancelled", property(lambda ctx: ctx.name == "load"))
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        run = rt.run(load, all=True)
        assert run.status == RunStatus.CANCELLED
        assert "nothing of it was loaded" in run.error
        assert not target.table_exists("adult")
        assert target.checkpoint(checkpoint_name("adult")) is None


def test_a_changed_source_is_refused(tmp_path, small_synthetic):
    copy = tmp_path / "Adult.data"
    copy.write_bytes(small_synthetic[0].path.read_bytes())
    description = small_synthetic[0].path.with_name(DESCRIPTION_FILE)
    (tmp_path / DESCRIPTION_FILE).write_bytes(description.read_bytes())
    settings = {"db": f"sqlite:///{tmp_path / 'census.db'}", "source": [str(copy)],
                "chunk_size": 100}
    with TestRuntime(app, settings=settings) as rt:
        rt.run(load)
        copy.write_bytes(copy.read_bytes().replace(b"Private", b"Federal-gov", 1))
        run = rt.run(load)
    assert "Adult.data changed since the load of this table began" in run.error


@pytest.mark.parametrize(("first_chunk", "refusal"), [
    (100, "Adult.test comes before it in the sources but was never loaded, so it would be "
          "skipped"),
    (700, "Adult.data comes after it in the sources but was loaded before, so it would be "
          "loaded twice"),
])
def test_sources_reordered_mid_load_are_refused(tmp_path, small_synthetic, description,
                                                 first_chunk, refusal):
    """Reordered sources lost a file (the load ended 'done' without it) or loaded one twice."""
    files = [fetch(str(f.path), None) for f in small_synthetic]
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)):
        load_chunk(target, description, "adult", files, first_chunk)
        with pytest.raises(CauceError, match=refusal):
            load_chunk(target, description, "adult", files[::-1], None)
        total = load_chunk(target, description, "adult", files, None).state.totals
        rows, loaded, quarantined = expected(small_synthetic)
        assert (total.read, total.loaded, total.quarantined) == (rows, loaded, quarantined)
        assert count("adult") == loaded


def test_a_source_added_after_the_loaded_ones_is_loaded(tmp_path, small_synthetic, description):
    data, test = (fetch(str(f.path), None) for f in small_synthetic)
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)):
        assert load_chunk(target, description, "adult", [data], None).state.done
        total = load_chunk(target, description, "adult", [data, test], None).state.totals
        assert total.read == sum(f.rows for f in small_synthetic)
        assert count("adult") == expected(small_synthetic)[1]


def test_rows_no_checkpoint_accounts_for_are_refused(tmp_path, small_synthetic):
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        rt.run(load)
        target.execute("DELETE FROM _cauce_checkpoints")
        run = rt.run(load)
    assert "'adult' already holds 897 rows that no census checkpoint accounts for" in run.error


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize(("name", "columns"), [
    ("adult_rejected", "_source, _line, raw, reason"),
    ("adult_income_by_sex", "sex, rows, over_50k, share_over_50k"),
])
def test_a_table_name_taken_by_another_relation_is_refused_naming_its_columns(
    request, tmp_path, small_synthetic, database, name, columns
):
    """--table naming the quarantine or a view of another load failed with the database's
    words about a missing column 'age' (on PostgreSQL while creating the views)."""
    url = (f"sqlite:///{tmp_path / 'census.db'}" if database == "sqlite"
           else request.getfixturevalue("postgres").url)
    settings = {**settings_for(tmp_path, small_synthetic), "db": url}
    with TestRuntime(app, settings=settings) as rt:
        assert rt.run(load, all=True).error is None
    with TestRuntime(app, settings={**settings, "table": name}) as rt:
        run = rt.run(load, all=True)
    assert f"{name!r} is not a census table of this Description: its columns are {columns}" in (
        run.error)


def test_two_sources_with_one_name_are_refused(tmp_path, small_synthetic):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "Adult.data").write_bytes(small_synthetic[0].path.read_bytes())
    settings = {"db": f"sqlite:///{tmp_path / 'c.db'}",
                "source": [str(small_synthetic[0].path), str(other / "Adult.data")]}
    with TestRuntime(app, settings=settings) as rt:
        run = rt.run(load)
    assert "two sources are both named 'Adult.data'" in run.error


def test_the_report_needs_a_load_first(tmp_path, small_synthetic):
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        run = rt.run(report, out=str(tmp_path / "report"))
    assert f"nothing is loaded in 'adult' in sqlite:///{tmp_path / 'census.db'} yet" in run.error


def test_the_report_has_a_chart_per_breakdown(tmp_path, small_synthetic):
    folder = tmp_path / "report"
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        rt.run(load, all=True)
        result = rt.run(report, out=str(folder)).result
    charts = sorted(path.name for path in folder.glob("*.svg"))
    assert charts == [f"by_{name}.svg" for name in
                      ("age_band", "education", "hours_band", "occupation", "race", "sex")]
    page = (folder / "index.html").read_text()
    assert "Class distribution" in page and "adult_rejected" in page
    assert [c["check"] for c in result["class_distribution"]] == [
        ">50K on all rows", ">50K without unknowns"]
    assert all(abs(c["measured"] - c["stated"]) < 5 for c in result["class_distribution"])


def test_a_report_on_no_loaded_row_says_there_is_no_share_to_measure(tmp_path):
    """Every record in quarantine: the report said 0.00 % (0 of 0 rows), 23.93 points below
    the Description, a share the table does not hold."""
    files = write_synthetic(tmp_path / "data", data_rows=1, test_rows=1)
    folder = tmp_path / "report"
    with TestRuntime(app, settings=settings_for(tmp_path, files)) as rt:
        assert rt.run(load, all=True).result["total"]["loaded"] == 0
        run = rt.run(report, out=str(folder))
        logged = [line.message for line in rt.logs(run.id) if ">50K" in line.message]
    assert [(c["measured"], c["matches"]) for c in run.result["class_distribution"]] == [
        (None, False), (None, False)]
    assert logged == [
        ">50K on all rows: no row to measure it on; the Description says 23.93 %",
        ">50K without unknowns: no row to measure it on; the Description says 24.78 %"]
    assert "no row to measure it on" in (folder / "index.html").read_text()


def test_the_report_follows_the_description_the_load_used(tmp_path, small_synthetic):
    kept = tmp_path / "kept" / DESCRIPTION_FILE
    kept.parent.mkdir()
    kept.write_bytes(small_synthetic[0].path.with_name(DESCRIPTION_FILE).read_bytes())
    # No source at report time: only the checkpoint says which Description to read.
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic,
                                                description=str(kept))) as rt:
        rt.run(load, all=True)
    with TestRuntime(app, settings={"db": f"sqlite:///{tmp_path / 'census.db'}",
                                    "source": ["http://127.0.0.1:9/Adult.data"]}) as rt:
        first = rt.run(report, out=str(tmp_path / "one"))
        kept.write_bytes(kept.read_bytes() + b"\n")
        second = rt.run(report, out=str(tmp_path / "two"))
        warnings = [line.message for line in rt.logs(second.id) if line.level == "WARNING"]
    assert first.error is None and second.error is None
    assert [w.split(" (sha256")[0] for w in warnings] == [
        f"the Description at {kept} changed since the load"]


def test_demo_data_writes_files_the_load_takes(tmp_path):
    out = tmp_path / "data"
    files = [str(out / "Adult.data"), str(out / "Adult.test")]
    with TestRuntime(app, settings={"db": f"sqlite:///{tmp_path / 'c.db'}", "source": files}) as rt:
        made = rt.run(demo_data, out=str(out), data_rows=120, test_rows=60, seed=5).result
        assert made["files"] == files
        assert made["description"] == str(out / DESCRIPTION_FILE)
        sources = f"--source {files[0]} --source {files[1]}"
        assert made["next"] == f"cauce run census load {sources} --all"
        result = rt.run(load, all=True).result
    assert result["total"]["read"] == 180
    assert result["description"]["origin"] == made["description"]


def test_the_description_next_to_the_first_source_is_the_default(tmp_path, small_synthetic):
    beside = small_synthetic[0].path.with_name(DESCRIPTION_FILE)
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic)) as rt:
        result = rt.run(load, all=True).result
        downloaded = rt.bucket("sources").list()
    assert result["description"] == {
        "origin": str(beside), "sha256": hashlib.sha256(beside.read_bytes()).hexdigest()}
    assert result["total"]["loaded"] == expected(small_synthetic)[1]
    assert downloaded == []


def test_the_description_setting_is_the_schema_the_load_follows(tmp_path, small_synthetic):
    """A Description without `Male` given with --description: every Male row is quarantined."""
    beside = small_synthetic[0].path.with_name(DESCRIPTION_FILE).read_text(encoding="utf-8")
    narrower = tmp_path / "narrower" / DESCRIPTION_FILE
    narrower.parent.mkdir()
    narrower.write_text(beside.replace("sex           : Female, Male.", "sex           : Female."))
    settings = settings_for(tmp_path, small_synthetic, description=str(narrower))
    with TestRuntime(app, settings=settings) as rt:
        result = rt.run(load, all=True).result
        loaded = scalar("""SELECT COUNT(*) FROM "adult" WHERE "sex" = 'Male'""")
        males = scalar(
            """SELECT COUNT(*) FROM "adult_rejected" WHERE "reason" LIKE '%sex: ''Male''%'""")
    assert result["description"]["origin"] == str(narrower)
    assert loaded == 0 and males > 0
    assert result["total"]["reasons"]["sex: not one of the listed values"] == males


@pytest.fixture
def apart(tmp_path, small_synthetic):
    """The small synthetic data files in a folder without a Description."""
    folder = tmp_path / "apart"
    folder.mkdir()
    for file in small_synthetic:
        (folder / file.path.name).write_bytes(file.path.read_bytes())
    return [str(folder / file.path.name) for file in small_synthetic]


def test_else_the_original_description_is_downloaded_once_into_the_bucket(
    tmp_path, apart, http_server, monkeypatch
):
    base, requests = http_server
    monkeypatch.setattr(sources, "DEFAULT_DESCRIPTION", f"{base}/Description")
    settings = {"db": f"sqlite:///{tmp_path / 'c.db'}", "source": apart, "chunk_size": 400}
    with TestRuntime(app, settings=settings) as rt:
        first, second = rt.run(load), rt.run(load)
        keys = sorted(ref.key for ref in rt.bucket("sources").list())
        logs = [line.message for line in rt.logs(first.id)]
    assert requests == ["/Description"]
    host = urlsplit(base).netloc  # 127.0.0.1 and the server's port
    assert keys == [f"downloads/{host}/Description", f"downloads/{host}/Description.sha256"]
    assert first.result["description"]["origin"] == f"{base}/Description"
    assert second.result["description"] == first.result["description"]
    assert second.result["total"]["read"] == 800
    assert any(line.startswith(f"downloaded {base}/Description: ") for line in logs)


def test_else_without_network_one_line_says_how_to_give_the_description(
    tmp_path, apart, monkeypatch
):
    monkeypatch.setattr(sources, "DEFAULT_DESCRIPTION", "http://127.0.0.1:9/Description")
    settings = {"db": f"sqlite:///{tmp_path / 'c.db'}", "source": apart}
    with TestRuntime(app, settings=settings) as rt:
        run = rt.run(load)
    assert "\n" not in run.error
    assert run.error.startswith(
        "CauceError: cannot download http://127.0.0.1:9/Description: no network connection")
    assert "; pass --description PATH or put Description next to the data files (hint: " in (
        run.error)


@pytest.fixture
def http_server(small_synthetic):
    """The small synthetic files over HTTP on 127.0.0.1, counting the requests."""
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    folder = small_synthetic[0].path.parent
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_url_sources_are_downloaded_once_into_the_bucket(tmp_path, http_server):
    base, requests = http_server
    urls = [f"{base}/Adult.data", f"{base}/Adult.test"]
    settings = {"db": f"sqlite:///{tmp_path / 'c.db'}", "source": urls, "chunk_size": 400,
                "description": f"{base}/Description"}
    with TestRuntime(app, settings=settings) as rt:
        first, second = rt.run(load), rt.run(load)
        keys = sorted(ref.key for ref in rt.bucket("sources").list())
        logs = [line.message for line in rt.logs(second.id)]
    assert requests == ["/Adult.data", "/Adult.test", "/Description"]
    assert first.result["sources"][0]["origin"] == urls[0]
    assert second.result["total"]["read"] == 800
    assert keys == [f"downloads/{urlsplit(base).netloc}/{name}{suffix}"
                    for name in ("Adult.data", "Adult.test", "Description")
                    for suffix in ("", ".sha256")]
    assert any(line.startswith(f"read {urls[1]}: ") for line in logs)


def test_a_load_out_of_memory_says_to_load_in_chunks(tmp_path, small_synthetic, monkeypatch):
    """A load that ran out of memory failed with a bare `MemoryError` and the hint to read its
    traceback; it is one line saying to load less at once, with the option that does it."""
    def no_memory(records, description):
        raise MemoryError

    monkeypatch.setattr(loader, "validate", no_memory)
    with TestRuntime(app, settings=settings_for(tmp_path, small_synthetic,
                                                chunk_size=300)) as rt:
        everything = rt.run(load, all=True)
        chunk = rt.run(load)
        assert target.checkpoint(checkpoint_name("adult")) is None
    assert everything.status == chunk.status == "failed"
    assert everything.error.startswith(
        "CauceError: out of memory loading every remaining record at once (hint: load in "
        "chunks: leave out --all (and --every 0), each run then loads --chunk-size records "
        "(300); this process ran out of memory")
    assert chunk.error.startswith("CauceError: out of memory loading a chunk of 300 records "
                                  "(hint: a smaller --chunk-size; this process ran out of memory")
