"""One read-only SELECT on a SQLite warehouse file, in a process of its own.

The SQLite warehouse backend writes through the ADBC driver, which bundles its own SQLite
library. Two SQLite libraries in one process do not see each other's POSIX locks, and closing a
file that one of them opened drops the locks the other holds on it: a reader opened with
Python's ``sqlite3`` beside a running load could let another process write under the loader.
So a look (the web UI's SQL box) runs here, in a child process: the file opened read-only,
ATTACH refused, a progress check ending queries that run past their time, at most ``cap + 1``
rows fetched, the answer returned as JSON on stdout.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import CauceError

OPEN_RETRY = 5.0  # seconds to wait for a file another process holds locked


def query(path: Path, sql: str, *, cap: int, timeout: float) -> tuple[list[str], list[list[Any]]]:
    """Columns and up to ``cap + 1`` rows of ``sql`` on the file at ``path``, read-only.

    Raises CauceError with one line: the query ran past ``timeout`` seconds, or SQLite
    refused it."""
    request = json.dumps({"path": str(path), "sql": sql, "cap": cap, "timeout": timeout})
    try:
        done = subprocess.run([sys.executable, "-m", __name__], input=request,
                              capture_output=True, text=True, timeout=timeout + OPEN_RETRY + 10)
    except subprocess.TimeoutExpired:
        raise _too_long(timeout) from None
    answer = json.loads(done.stdout or "{}") if done.returncode == 0 else {
        "error": (done.stderr.strip().splitlines() or ["the reader process failed"])[-1]}
    if "error" in answer:
        if answer.get("interrupted"):
            raise _too_long(timeout)
        raise CauceError(f"the warehouse refused it: {answer['error']}")
    rows = [[_value(v) for v in row] for row in answer["rows"]]
    return answer["columns"], rows


def _too_long(timeout: float) -> CauceError:
    return CauceError(f"the query ran longer than {timeout:g} s and was stopped",
                      hint="add a WHERE or a LIMIT")


def _value(value: Any) -> Any:
    """Blobs travel as {"blob": base64}; everything else as JSON gives it."""
    if isinstance(value, dict) and "blob" in value:
        return base64.b64decode(value["blob"])
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"blob": base64.b64encode(value).decode()}
    return value


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    path, timeout = Path(request["path"]), float(request["timeout"])
    con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=OPEN_RETRY)
    started = time.monotonic()
    con.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY
                       if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK)
    con.set_progress_handler(lambda: int(time.monotonic() - started > timeout), 10_000)
    try:
        cur = con.execute(request["sql"])
        rows = cur.fetchmany(int(request["cap"]) + 1)
        columns = [d[0] for d in cur.description or []]
    except sqlite3.Error as err:
        return {"error": str(err), "interrupted": "interrupted" in str(err)}
    finally:
        con.close()
    return {"columns": columns, "rows": [[_plain(v) for v in row] for row in rows]}


if __name__ == "__main__":
    json.dump(_answer(json.loads(sys.stdin.read())), sys.stdout)
