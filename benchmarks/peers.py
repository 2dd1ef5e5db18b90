"""What the queue benchmarks share: a fresh PostgreSQL schema for a run, and procrastinate (the
PostgreSQL task queue they measure cauce against) set up in one, its workers started."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# a procrastinate worker process of procapp.py's app: python worker.py FOLDER CONCURRENCY
PROCRASTINATE_WORKER = """
import sys
sys.path.insert(0, sys.argv[1])
from procapp import app
with app.open():
    app.run_worker(concurrency=int(sys.argv[2]))
"""


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a new schema, dropped afterwards (cauce's state URL
    names it ``?schema=``)."""
    import psycopg

    schema = f"bench_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}schema={schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def split_schema(url: str) -> tuple[str, str]:
    """The server and the schema of a `fresh_schema` URL."""
    server, _, schema = url.rpartition("schema=")
    return server.rstrip("?&"), schema


def start_procrastinate(folder: Path, app: str, producer: str, url: str, *, processes: int,
                        concurrency: int) -> list[subprocess.Popen[bytes]]:
    """procrastinate in the schema of ``url`` (from `fresh_schema`): ``app`` (its source, with
    ``{conninfo}`` and ``{schema}`` to fill) as procapp.py, ``producer`` as producer.py, whose
    ``schema`` step makes the tables; then ``processes`` workers of ``concurrency`` each."""
    import psycopg

    server, schema = split_schema(url)
    folder.mkdir()
    (folder / "procapp.py").write_text(textwrap.dedent(app.format(conninfo=server,
                                                                   schema=schema)))
    (folder / "producer.py").write_text(textwrap.dedent(producer))
    (folder / "worker.py").write_text(textwrap.dedent(PROCRASTINATE_WORKER))
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    subprocess.run([sys.executable, str(folder / "producer.py"), str(folder), "schema"],
                   check=True)
    return [subprocess.Popen([sys.executable, str(folder / "worker.py"), str(folder),
                              str(concurrency)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(processes)]
