"""The alert consumer killed with SIGKILL twenty times at random moments while the producer
runs: at the end every record produced has exactly its eight warehouse rows, each as a clean
single pass over the same records computes them, every contract with a `Si` alert exactly
one message on topic `alerts` — none twice, none missing — and every record is in exactly one
file of the staging sink (which the killed workers ran too, closing a file each second)."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest

from cauce import Runtime
from cauce.apps.contracting import app
from cauce.apps.contracting.stream import alerts, reference, sample
from cauce.apps.contracting.stream.store import ALERTS_TABLE, PAIRS_TABLE
from state_file_reads import lag, query

KILLS = 20
SINK = "contracts-to-staging"
STREAM = "contracting:contracts"
# the contracting app with short shard leases for the alert handler and the staging sink (a
# killed worker's batch is taken over after 2 s, not 60 s), retries after at most 2 s (not
# 2^attempt s: a batch killed eight times in a row waited over a minute) and no dead-lettering
# from kills alone, plus a queue that keeps what the topic publishes. With SELF_KILL set, a
# worker also kills itself at a random message it publishes: between the warehouse commit and
# the stream checkpoint, the narrowest of the moments.
TEST_APP = """
import os, random, signal, time
from pathlib import Path
from cauce.apps.contracting import app

if os.environ.get("WARM_UNTIL"):  # a spare worker: loads what the handler loads, then waits
    import cauce.apps.contracting.stream.consumer
    while not Path(os.environ["WARM_UNTIL"]).exists():
        time.sleep(0.01)

for handler in (app.handlers["alert"], app.handlers["contracts-to-staging"]):
    handler.visibility, handler.max_attempts, handler.max_retry_delay = 2.0, 1000, 2.0
topic = app.get_resource("alerts")
topic.subscribe(app.queue("alerts_seen"))
if os.environ.get("SELF_KILL"):
    publish, left = topic.publish, [random.randint(1, 100)]

    def dying(body):
        left[0] -= 1
        if left[0] == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return publish(body)

    topic.publish = dying
"""


def _cauce(args: list[str], cwd: Path, log: Path, **env: str) -> subprocess.Popen:
    # the staging sink closes a file once its first record is a second old, so the kills land
    # on its writes too and every file is written before the test ends
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CAUCE_CONTRACTING_SINK_MAX_SECONDS": "1s",
           **env}
    with open(log, "a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cauce.cli.main", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _until(condition, timeout: float) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds (looked at every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _wait(condition, timeout: float, what: str) -> None:
    if not _until(condition, timeout):
        raise AssertionError(f"timed out waiting for {what}")


def _sunk(home: Path) -> list[str]:
    """The contract of every record in the staging sink's files, as many times as written."""
    with Runtime(app, home=home, settings={"download": False}) as rt:
        staging = rt.bucket("staging")
        return [
            json.loads(line)["id_no_contrato"]
            for ref in staging.list("t_streaming_contracts/")
            for line in gzip.decompress(staging.get(ref.key)).splitlines()
        ]


def _expected(home: Path) -> tuple[dict[tuple[str, str], str], set[str], dict[tuple, int]]:
    """Every record's eight flags from one pass over the whole stream, in order, and the
    stream's contracts per (entity, provider)."""
    rows = query(
        home,
        "SELECT data, ts FROM stream_records WHERE stream = 'contracting:contracts' ORDER BY seq",
    )
    with Runtime(app, home=home, settings={"download": False}) as rt:
        raw = rt.bucket("raw")
        ref = reference.load(raw, reference.latest(raw))
    arrival = np.array([t for _, t in rows])
    df = alerts.frame([json.loads(d) for d, _ in rows], arrival)
    ev = alerts.evaluate(df, ref, {}, None, rt.clock.now(), arrival)
    got = ev.alerts.select(["id_no_contrato", "nombre_indicador", "tipo_alerta_irregularidad"])
    flags = {
        (c, i): f for c, i, f in zip(*(got[n].to_pylist() for n in got.column_names), strict=True)
    }
    pairs = (
        df.filter(~df["id_nit_proveedor"].is_in(["No Definido", "No Adjudicado"]))
        .group_by("id_nit_entidad", "id_nit_proveedor")
        .len()
        .rows()
    )
    return flags, {c for (c, _), f in flags.items() if f == "Si"}, {(e, p): n for e, p, n in pairs}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_record_has_its_alerts_once_whatever_the_kills(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "processes.log"
    (tmp_path / "killed_app.py").write_text(TEST_APP)
    ref = f"{tmp_path / 'killed_app.py'}:app"
    with Runtime(app, home=home, settings={"download": False}) as rt:
        sample.publish(rt.bucket("raw"), rt.bucket("quarantine"), date(2023, 4, 16), 300)
    producer = _cauce(
        [
            "run",
            ref,
            "produce",
            "--home",
            str(home),
            "--rate",
            "300",
            "--for",
            "30s",
            "--seed",
            "11",
        ],
        tmp_path,
        log,
    )
    chance = random.Random(29)

    def spare(n: int) -> subprocess.Popen:
        # worker n starts (Python, the app, the handler's Polars and DuckDB) while worker n - 1
        # runs, and waits for its file `go-n`: each kill costs the lease it tests, not a start
        env = {"WARM_UNTIL": str(tmp_path / f"go-{n}")} | ({"SELF_KILL": "1"} if n < KILLS else {})
        return _cauce(["worker", ref, "--home", str(home), "--no-download"], tmp_path, log, **env)

    spares = [spare(0)]
    try:
        try:
            for n in range(KILLS):
                consumer = spares[-1]
                (tmp_path / f"go-{n}").touch()
                spares.append(spare(n + 1))
                # once it is up: killed from outside at a random moment (loading the reference,
                # computing, committing), or left to kill itself while publishing, after its
                # warehouse commit
                _wait(
                    lambda c=consumer: (
                        c.poll() is not None
                        or query(home, f"SELECT count(*) FROM workers WHERE pid = {c.pid}")[0][0]
                    ),
                    120,
                    "the worker to start",
                )
                if chance.random() < 0.5:
                    time.sleep(chance.uniform(0.0, 2.0))
                else:  # else killed from outside after 3 s, or once the backlog is gone for good
                    _until(
                        lambda c=consumer: (
                            c.poll() is not None
                            or (producer.poll() is not None and lag(home, STREAM, "alert") == 0)
                        ),
                        3,
                    )
                consumer.send_signal(signal.SIGKILL)
                consumer.wait(timeout=30)
        finally:
            assert producer.wait(timeout=300) == 0, log.read_text()[-3000:]
        (tmp_path / f"go-{KILLS}").touch()  # the last spare is the one worker not killed
        _wait(lambda: lag(home, STREAM, "alert") == 0, 300, "the alert consumer to catch up")
        _wait(lambda: lag(home, STREAM, SINK) == 0, 120, "the staging sink to catch up")
    finally:
        for process in spares:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=60)
    expected, with_si, pairs = _expected(home)
    assert len(expected) == 8 * 9_000  # 300 records/s for 30 s, each with 8 indicators
    assert sorted(_sunk(home)) == sorted({c for c, _ in expected}), "each record in one file"

    with duckdb.connect(
        str(home / "warehouses" / "contracting" / "results.duckdb"), read_only=True
    ) as con:
        rows = con.sql(
            f"SELECT id_no_contrato, nombre_indicador, tipo_alerta_irregularidad, "
            f'"window" FROM {ALERTS_TABLE}'
        ).fetchall()
        counted = con.sql(f"SELECT * FROM {PAIRS_TABLE}").fetchall()
    assert {(e, p): n for e, p, n in counted} == pairs, "each contract counted once for abuse"
    keys = [(c, i, w) for c, i, _, w in rows]
    assert len(keys) == len(set(keys)), "no (contract, indicator, window) twice"
    assert {(c, i): f for c, i, f, _ in rows} == expected, "every record's alerts, none missing"

    bodies = [
        json.loads(b)
        for (b,) in query(
            home, "SELECT body FROM messages WHERE queue = 'contracting:alerts_seen'"
        )
    ]
    ids = [b["id_alerta"] for b in bodies]
    assert len(ids) == len(set(ids)), "no alert message twice"
    assert {b["id_no_contrato"] for b in bodies} == with_si, "a message per contract with a Si"
    assert all(
        {a["nombre_indicador"] for a in b["alertas"]}
        == {i for (c, i), f in expected.items() if c == b["id_no_contrato"] and f == "Si"}
        for b in bodies[:500]
    )
    assert query(home, "SELECT count(*) FROM messages WHERE queue LIKE '%.dlq'") == [(0,)]
    lost = query(
        home, "SELECT count(*) FROM runs WHERE name = 'alert' AND error LIKE 'worker lost%'"
    )[0][0]
    assert lost >= 1, "some kills landed while a batch was being applied"
