"""Exactly once under SIGKILL: loader processes killed at random points, then run to the end.

Each loader is a real Python process running the app's `load` job chunk after chunk (a few
records each) on its own cauce home; the test kills it with SIGKILL after a random short
delay, 20 times per database, then lets one last loader finish (in chunks of FINAL_CHUNK
records: the kills land in the first hundred records, and the ~160 runs of five records that
would follow them took half of the test's time). Whatever the kills
interrupted (reading, validating, inserting, committing), the table must then hold every
valid record exactly once, the quarantine table every invalid one, and the checkpoint's
totals must count each once. Loaders are started ahead of time and wait for a go, so their
start-up is not the test's.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import deque
from pathlib import Path

import polars as pl
import pytest

from cauce.apps.census.reader import read_lines
from cauce.apps.census.validate import validate

KILLS = 20
CHUNK = 5
FINAL_CHUNK = 60  # the last loader's chunks: still several, and one spans the two files
WARM = 1  # loader started ahead, importing while the previous one loads

LOADER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from cauce import Runtime
    from cauce.apps.census import app, load, target
    from cauce.apps.census.description import read_description
    from cauce.apps.census.reader import read_lines
    from cauce.apps.census.validate import validate

    home, settings = sys.argv[1], json.loads(sys.argv[2])
    with Runtime(app, home=home, settings=settings) as runtime:
        # Warm up (connect, first query, Polars' threads) so the kill lands in the load itself.
        target.checkpoint("census:adult")
        target.query("SELECT 1 AS one")
        beside = Path(settings["source"][0]).with_name("Description")
        validate(read_lines("warm-up", b"1, 2\\n").records,
                 read_description(beside.read_bytes(), str(beside)))
        print("ready", flush=True)
        sys.stdin.readline()
        while True:
            run = runtime.run(load)
            if run.error:
                sys.exit(f"load failed: {run.error}")
            if run.result["done"]:
                break
    """
)


class Loaders:
    """Loader processes, started ahead and waiting for a go."""

    def __init__(self, folder: Path, settings: dict) -> None:
        self.folder, self.settings, self.started = folder, settings, 0
        self.waiting: deque[subprocess.Popen] = deque()

    def _spawn(self, settings: dict | None = None) -> subprocess.Popen:
        self.started += 1
        home = self.folder / f"home{self.started}"
        return subprocess.Popen(
            [sys.executable, "-c", LOADER, str(home), json.dumps(settings or self.settings)],
            cwd=self.folder, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=(self.folder / f"loader{self.started}.err").open("w"),
        )

    def go(self) -> subprocess.Popen:
        while len(self.waiting) < WARM + 1:
            self.waiting.append(self._spawn())
        return self._go(self.waiting.popleft())

    def finish(self, **settings: object) -> subprocess.Popen:
        """A last loader, started now with ``settings`` over the others'."""
        return self._go(self._spawn({**self.settings, **settings}))

    @staticmethod
    def _go(loader: subprocess.Popen) -> subprocess.Popen:
        assert loader.stdout.readline() == "ready\n"
        loader.stdin.write("go\n")
        loader.stdin.flush()
        return loader

    def close(self) -> None:
        for loader in self.waiting:
            loader.kill()
            loader.wait()


def committed(checkpoint) -> int:
    state = checkpoint()
    return state["totals"]["read"] if state else 0


def wait_for_a_commit(checkpoint, before: int) -> None:
    """Until the running loader has committed a chunk (so a busy machine cannot make every
    kill land before the first one)."""
    deadline = time.monotonic() + 30
    while committed(checkpoint) == before:
        assert time.monotonic() < deadline, "the loader committed nothing in 30 s"
        time.sleep(0.005)


def kill_and_finish(folder: Path, settings: dict, checkpoint, seed: int) -> list[int]:
    """Kill KILLS loaders at random points; return the records committed after each kill.

    Every other kill comes after a random delay from the go (anywhere: its first query, the
    table creation, any chunk); the others after a random delay from the loader's first commit.
    """
    rng = random.Random(seed)
    loaders = Loaders(folder, settings)
    progress = [0]
    try:
        for kill in range(KILLS):
            loader = loaders.go()
            if kill % 2:
                wait_for_a_commit(checkpoint, progress[-1])
            time.sleep(rng.uniform(0.0, 0.15))
            loader.send_signal(signal.SIGKILL)
            assert loader.wait() == -signal.SIGKILL, "the load finished before it was killed"
            progress.append(committed(checkpoint))
        last = loaders.finish(chunk_size=FINAL_CHUNK)
        number = loaders.started
        assert last.wait(timeout=60) == 0, (folder / f"loader{number}.err").read_text()
    finally:
        loaders.close()
    return progress[1:]


def expected_records(files, description) -> tuple[set, set]:
    records = pl.concat(read_lines(f.path.name, f.path.read_bytes()).records for f in files)
    result = validate(records, description)
    return set(result.rows.select("_source", "_line").rows()), set(
        result.rejected.select("_source", "_line").rows()
    )


def check_exactly_once(rows: list, rejected: list, state: dict, files, description) -> None:
    valid, invalid = expected_records(files, description)
    assert len(rows) == len(set(rows)) == len(valid)
    assert set(rows) == valid
    assert sorted(rejected) == sorted(invalid)
    totals = state["totals"]
    assert (totals["read"], totals["loaded"], totals["quarantined"]) == (
        len(valid) + len(invalid), len(valid), len(invalid))
    assert state["done"]


def assert_kills_landed_mid_load(progress: list[int], total: int) -> None:
    assert progress == sorted(progress), "committed work never goes back"
    assert progress[-1] < total, "every kill interrupted an unfinished load"
    assert len(set(progress)) >= KILLS // 2, f"kills landed at too few points: {progress}"
    assert len(progress) == KILLS


def kill_and_check(folder: Path, settings: dict, query, checkpoint, seed: int, files,
                   description) -> None:
    """`kill_and_finish`, then: the kills landed mid-load, and the target holds each record of
    ``files`` once, valid or rejected (``query`` reads the target database)."""
    progress = kill_and_finish(folder, settings, checkpoint, seed)
    assert_kills_landed_mid_load(progress, sum(f.rows for f in files))
    check_exactly_once(
        query('SELECT "_source", "_line" FROM "adult"'),
        query('SELECT "_source", "_line" FROM "adult_rejected"'),
        checkpoint(), files, description,
    )


@pytest.mark.slow
def test_sigkill_on_sqlite_loses_nothing_and_loads_nothing_twice(
    tmp_path, small_synthetic, description
):
    database = tmp_path / "census.db"
    settings = {"db": f"sqlite:///{database}", "chunk_size": CHUNK,
                "source": [str(f.path) for f in small_synthetic]}

    def query(sql: str) -> list:
        with sqlite3.connect(database) as connection:
            return connection.execute(sql).fetchall()

    def checkpoint() -> dict | None:
        found = query("SELECT name FROM sqlite_master WHERE name = '_cauce_checkpoints'")
        if not found:
            return None
        values = query("SELECT value FROM _cauce_checkpoints WHERE name = 'census:adult'")
        return json.loads(values[0][0]) if values else None

    kill_and_check(tmp_path, settings, query, checkpoint, 11, small_synthetic, description)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_on_postgresql_loses_nothing_and_loads_nothing_twice(
    tmp_path, small_synthetic, description, postgres
):
    settings = {"db": postgres.url, "chunk_size": CHUNK,
                "source": [str(f.path) for f in small_synthetic]}

    def query(sql: str) -> list:
        return postgres.connection.execute(sql).fetchall()

    def checkpoint() -> dict | None:
        if not query("SELECT 1 FROM pg_tables WHERE tablename = '_cauce_checkpoints' "
                     "AND schemaname = current_schema()"):
            return None
        values = query("SELECT value FROM _cauce_checkpoints WHERE name = 'census:adult'")
        return json.loads(values[0][0]) if values else None

    kill_and_check(tmp_path, settings, query, checkpoint, 12, small_synthetic, description)
