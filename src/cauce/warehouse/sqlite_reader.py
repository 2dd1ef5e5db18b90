"""The child process of `cauce.warehouse.sqlite_readonly`: one read-only SELECT on a SQLite
file, asked for as JSON on stdin, answered as JSON on stdout. Standard library only, run with
``python -I -S`` so it starts in milliseconds."""

from __future__ import annotations

import base64
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

OPEN_RETRY = 5.0  # seconds to wait for a file another process holds locked


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
    # the parent kills this process at the limit; this check also ends a runaway query whose
    # parent is gone
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
