"""Data in, end to end: synthetic exports, the download from a local portal, the raw zone."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cauce import RunCancelled
from cauce.apps.contracting import app, rawzone
from cauce.apps.contracting.errors import ContractingError
from cauce.apps.contracting.jobs_in import SHORT, chosen, download, etl, synth
from cauce.apps.contracting.jobs_out import dashboard
from cauce.apps.contracting.sources import SOURCES
from cauce.apps.contracting.synth import generate
from cauce.apps.contracting.synth.portal import portal_datasets
from cauce.connectors.soda.portal import Portal, PortalState
from cauce.errors import ConfigError
from cauce.testing import TestRuntime
from seeded import OTHER_SEED, SEED_CASES, cauce, generated, generated_twice

DAY = "2023-04-16"
PROCESOS = "t_seii_procecotrata_compraadjudi"


@pytest.fixture
def rt() -> Iterator[TestRuntime]:
    with TestRuntime(app, settings={"retries": 3, "backoff": 0.0, "page_size": 500}) as runtime:
        yield runtime


def raw_rows(rt: TestRuntime, table: str) -> int:
    return sum(
        pq.read_metadata(p).num_rows
        for p in rawzone.local_paths(rt.bucket("raw"), table, date.fromisoformat(DAY))
    )


def _synth(folder: Path, seed: int | str, hash_seed: str = "1", check: bool = True) -> Any:
    """`cauce run contracting synth` in a fresh interpreter with its own hash seed."""
    return cauce("--home", str(folder), "run", "contracting", "synth", "--scale", "tiny",
                 "--date", DAY, "--seed", str(seed), hash_seed=hash_seed, check=check)


@pytest.fixture(scope="module")
def other_seed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return generated(_synth, tmp_path_factory.mktemp("other"), OTHER_SEED, "buckets")


@pytest.mark.parametrize("seed", SEED_CASES)
def test_the_same_seed_writes_the_same_bytes_in_any_process(
    tmp_path: Path, seed: int | str, other_seed: dict[str, str]
) -> None:
    first = generated_twice(_synth, tmp_path, seed, "buckets")
    if first is None:
        return
    assert len(first) == 12 and first.keys() == other_seed.keys()  # 11 exports and the truth
    assert all(first[key] != other_seed[key] for key in first), "a file the seed does not change"


def test_synth_then_etl_fills_the_raw_zone_and_reruns_replace_it(rt: TestRuntime) -> None:
    made = rt.run(synth, scale="tiny", date=DAY)
    assert made.succeeded, made.error
    truth = json.loads(rt.bucket("staging").get(f"truth/{DAY}.json"))
    assert set(truth["indicators"]) == {"fixed", "as_published"}
    first = rt.run(etl, partition=DAY)
    assert first.succeeded, first.error
    for key, count in truth["rows"].items():
        ragged = (
            1
            if key in ("t_seii_ejecucioncon_avancerevses", "t_otro_pernajuesadl_camarcomerci")
            else 0
        )
        assert raw_rows(rt, key) == count, key
        commit = rawzone.committed(rt.bucket("raw"), key, date.fromisoformat(DAY))
        assert commit is not None and commit.rows == count
        assert first.result["sources"][key]["quarantined_rows"] == ragged
    parts = {o.key for o in rt.bucket("raw").list(PROCESOS)}
    # a run killed after writing its parts, before its commit: its parts are not read...
    stray = f"{PROCESOS}/fecha_corte_datos={DAY}/part-killed-0.parquet"
    rt.bucket("raw").put(
        stray,
        rt.bucket("raw").get(sorted(parts - {f"{PROCESOS}/fecha_corte_datos={DAY}/_SUCCESS"})[0]),
    )
    assert raw_rows(rt, PROCESOS) == truth["rows"][PROCESOS]
    # ...and the next run of the date replaces the partition and sweeps them: no duplicates
    again = rt.run(etl, partition=DAY, source=["procesos"])
    assert again.succeeded, again.error
    keys = {o.key for o in rt.bucket("raw").list(PROCESOS)}
    assert stray not in keys and len(keys) == len(parts) and keys != parts
    assert raw_rows(rt, PROCESOS) == truth["rows"][PROCESOS]


def test_a_missing_export_fails_its_source_only(rt: TestRuntime) -> None:
    rt.run(synth, scale="tiny", date=DAY)
    rt.bucket("staging").delete("origen/SECOPII_-_Multas_y_Sanciones.csv")
    run = rt.run(etl, partition=DAY)
    assert not run.succeeded
    assert (
        "1 of 11 source(s) failed: multas: SECOPII_-_Multas_y_Sanciones.csv: not found in "
        "bucket staging at origen/SECOPII_-_Multas_y_Sanciones.csv" in run.error
    )
    assert rawzone.committed(rt.bucket("raw"), PROCESOS, date.fromisoformat(DAY)) is not None


@pytest.mark.parametrize("kind", ["folder", "pipe"])
def test_a_folder_or_pipe_under_an_export_name_is_named_so(rt: TestRuntime, kind: str) -> None:
    """It was reported as not found, though `ls` shows it there; a pipe must not be opened
    (reading one blocks until something writes into it)."""
    rt.run(synth, scale="tiny", date=DAY)
    key = "origen/SECOPII_-_Multas_y_Sanciones.csv"
    path = rt.bucket("staging").path(key)
    path.unlink()
    path.mkdir() if kind == "folder" else os.mkfifo(path)
    run = rt.run(etl, partition=DAY, source=["multas"])
    assert not run.succeeded
    what = "a folder" if kind == "folder" else "not a regular file"
    assert f"multas: SECOPII_-_Multas_y_Sanciones.csv: {key} in bucket staging is {what}" in (
        run.error
    )
    assert "not found" not in run.error


def test_download_from_a_local_portal_all_pages_with_retries() -> None:
    frames, _ = generate("tiny", seed=1)
    state = PortalState.of(portal_datasets(frames))
    state.throttle("p6dx-8zbt", times=1, retry_after=0)
    state.fail("p6dx-8zbt", times=1, status=500, from_offset=500)
    settings = {"retries": 3, "backoff": 0.0, "page_size": 500}
    with (
        Portal(state) as portal,
        TestRuntime(app, settings={**settings, "portal": portal.url}) as rt,
    ):
        run = rt.run(download, partition=DAY, source=["procesos", "ofertas"])
        assert run.succeeded, run.error
        got = run.result["downloaded"][PROCESOS]
        assert got["rows"] == frames[PROCESOS].height and got["pages"] >= 4
        state.drop("wi7w-2nvm", 404)
        gone = rt.run(download, partition=DAY, source=["ofertas"])
        assert not gone.succeeded and "wi7w-2nvm" in gone.error and "404" in gone.error
        loaded = rt.run(etl, partition=DAY, source=["procesos"])
        assert loaded.succeeded, loaded.error
        assert raw_rows(rt, PROCESOS) == frames[PROCESOS].height
    statuses = [r.status for r in state.requests_for("p6dx-8zbt")]
    assert 429 in statuses and 500 in statuses


@pytest.mark.slow
def test_the_portal_job_serves_every_published_source_for_download_and_etl(
    tmp_path: Path,
) -> None:
    """`cauce run contracting portal` in one process, `download` and `etl` against it from
    another home: the Socrata datasets and PACO's file arrive, obras is left to the user."""
    cauce = [str(Path(sys.executable).with_name("cauce"))]
    server = subprocess.Popen(
        [*cauce, "--home", str(tmp_path / "a"), "run", "contracting", "portal", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        url, deadline = None, time.monotonic() + 60
        assert server.stdout is not None
        while url is None and time.monotonic() < deadline:
            found = re.search(r"--portal (http://127\.0\.0\.1:\d+)", server.stdout.readline())
            url = found.group(1) if found else None
        assert url is not None, "the portal did not say how to download from it"
        home = ["--home", str(tmp_path / "b")]
        fetched = subprocess.run(
            [*cauce, *home, "run", "contracting", "download", "--partition", DAY,
             "--portal", url, "--paco", f"{url}/files/paco", "--json"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        loaded = subprocess.run(
            [*cauce, *home, "run", "contracting", "etl", "--partition", DAY, "--source",
             ",".join(s for s in SHORT.values() if s != "obras")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    result = json.loads(fetched.stdout)["result"]
    assert len(result["downloaded"]) == len(SOURCES) - 1
    assert result["manual"] == ["t_paco_registro_obras_inconclusa"]
    frames, _ = generate("tiny", seed=0)
    for key, got in result["downloaded"].items():
        assert got["rows"] == frames[key].height, key


def test_the_portal_job_says_so_when_its_port_is_taken(rt: TestRuntime) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = rt.run("portal", port=taken.getsockname()[1])
    assert not run.succeeded
    assert "cannot listen on 127.0.0.1:" in run.error and "choose another --port" in run.error


@pytest.mark.parametrize(
    ("job", "params", "expected"),
    [
        (synth, {"scale": "tiny", "date": "2023-02-30"}, "--date '2023-02-30' is not a date"),
        (synth, {"scale": "tiny", "date": "../x"}, "--date '../x' is not a date"),
        (dashboard, {"fecha": "16/04/2023"}, "--fecha '16/04/2023' is not a date"),
        (etl, {"partition": DAY, "source": [""]}, "--source '' names no source"),
        (etl, {"partition": DAY, "source": [" , "]}, "--source ' , ' names no source"),
    ],
)
def test_options_that_name_no_day_or_no_source_are_one_line(
    rt: TestRuntime, job: Any, params: dict[str, Any], expected: str
) -> None:
    run = rt.run(job, **params)
    assert not run.succeeded and run.error is not None and expected in run.error
    assert "Traceback" not in run.error and rt.bucket("staging").list() == []


def test_sources_named_twice_or_in_capitals_are_each_loaded_once() -> None:
    """`--source multas,MULTAS,it5q-hg94` loaded multas three times (or refused MULTAS)."""
    assert chosen(["multas,MULTAS", "it5q-hg94", " Pep "]) == [
        SOURCES["t_seii_multasysanci_secopiimulsa"],
        SOURCES["t_otro_persexpupoli_sigepperexpo"],
    ]


def test_a_memory_limit_duckdb_cannot_read_stops_the_etl_once(rt: TestRuntime) -> None:
    rt.configure(etl_memory="lots")
    run = rt.run(etl, partition=DAY)
    assert not run.succeeded and run.error is not None
    assert "etl_memory 'lots' is not a memory size" in run.error
    assert "sources" not in run.error  # one line, not one per source


@pytest.mark.parametrize(
    ("setting", "value"),
    [("page_size", 0), ("timeout", 0), ("retries", 0), ("backoff", -1), ("etl_lease", -5)],
)
def test_settings_out_of_range_are_refused_naming_the_setting(setting: str, value: float) -> None:
    with (
        pytest.raises(ConfigError, match=f"{setting}: .* is invalid"),
        TestRuntime(app, settings={setting: value}),
    ):
        pass


def test_a_paco_file_waiting_to_be_retried_stops_when_the_run_is_cancelled(
    tmp_path: Path,
) -> None:
    """The weekly downloads in worker threads: a retry wait must end at Ctrl-C."""
    from cauce.apps.contracting.download import _fetch_file
    from cauce.connectors.soda import RetryPolicy

    with pytest.raises(RunCancelled, match="waiting to ask the portal again"):
        _fetch_file(
            "http://127.0.0.1:9/responsabilidades_fiscales.csv",
            tmp_path / "r.csv",
            RetryPolicy(attempts=3, backoff=60),
            1.0,
            lambda: True,
        )


@pytest.mark.parametrize(
    "data",
    [
        b'"numero_documento","b"\n"1","2","3"\n',
        b'"numero_documento"\n"4\n',
        b"",
        bytes(range(256)) * 4,
    ],
    ids=["ragged", "cut-in-a-quote", "empty", "binary"],
)
def test_a_download_the_portal_garbled_fails_in_one_line(tmp_path: Path, data: bytes) -> None:
    from cauce.apps.contracting.download import as_export

    path = tmp_path / "3qxn-uc22.csv"
    path.write_bytes(data)
    with pytest.raises(ContractingError, match="the portal's CSV cannot be read") as refused:
        as_export(SOURCES["t_otro_persexpupoli_sigepperexpo"], path, {}, tmp_path / "out.csv")
    assert refused.value.hint and "cauce put contracting staging" in refused.value.hint


def test_view_columns_without_a_field_name_are_ignored(tmp_path: Path) -> None:
    from cauce.apps.contracting.download import as_export

    path, out = tmp_path / "3qxn-uc22.csv", tmp_path / "out.csv"
    path.write_bytes(b'"numero_documento"\n"1"\n')
    columns = [{"fieldName": "numero_documento", "name": "NUMERO_DOCUMENTO"}, {"name": "x"}, "?"]
    as_export(SOURCES["t_otro_persexpupoli_sigepperexpo"], path, {"columns": columns}, out)
    assert out.read_text().splitlines() == ["NUMERO_DOCUMENTO", "1"]


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_a_committed_part_that_was_damaged_later_is_named_not_read(
    rt: TestRuntime, damage: str
) -> None:
    from cauce.apps.contracting.errors import PartitionDamaged

    pep = "t_otro_persexpupoli_sigepperexpo"
    assert rt.run(synth, scale="tiny", date=DAY).succeeded
    assert rt.run(etl, partition=DAY, source=["pep"]).succeeded
    (part,) = rawzone.local_paths(rt.bucket("raw"), pep, date.fromisoformat(DAY))
    if damage == "deleted":
        part.unlink()
    else:
        part.write_bytes(part.read_bytes()[:100])
    with pytest.raises(PartitionDamaged, match="is missing or not Parquet") as refused:
        rawzone.local_paths(rt.bucket("raw"), pep, date.fromisoformat(DAY))
    assert refused.value.hint and "etl --partition 2023-04-16" in refused.value.hint


@pytest.mark.parametrize(
    ("paco", "reason"),
    [
        ("http://[::1", "not a valid address"),
        ("ftp://files.example", "not an http or https address"),
        ("notaurl", "not an http or https address"),
    ],
)
def test_a_paco_address_that_is_no_url_fails_at_once(
    tmp_path: Path, paco: str, reason: str
) -> None:
    from cauce.apps.contracting.download import _fetch_file
    from cauce.connectors.soda import RetryPolicy

    with pytest.raises(ContractingError, match=reason) as refused:
        _fetch_file(
            f"{paco}/r.csv", tmp_path / "r.csv", RetryPolicy(attempts=1), 1.0, lambda: False
        )
    assert refused.value.hint == "check the paco setting"


def test_a_cancelled_run_starts_no_further_source() -> None:
    """Ctrl-C during `etl` or `download`: the source running ends, the next ones do not start."""
    from types import SimpleNamespace

    from cauce.apps.contracting.jobs_in import each_source

    ctx = SimpleNamespace(cancelled=False, progress=lambda *args: None)
    started: list[str] = []

    def step(src: Any) -> None:
        started.append(src.key)
        ctx.cancelled = True  # Ctrl-C while the first source runs

    sources = list(SOURCES.values())[:3]
    with pytest.raises(RunCancelled, match="cancelled after 1 of 3 source"):
        each_source(ctx, sources, step, what="source(s)", hint="")  # type: ignore[arg-type]
    assert started == [sources[0].key]
