"""One read-only SELECT on a SQLite warehouse file, in a process of its own.

The SQLite warehouse backend writes through the ADBC driver, which bundles its own SQLite
library. Two SQLite libraries in one process do not see each other's POSIX locks, and closing a
file that one of them opened drops the locks the other holds on it: a reader opened with
Python's ``sqlite3`` beside a running load could let another process write under the loader.
So a look (the web UI's SQL box) runs here, in a child process: the file opened read-only,
ATTACH refused, at most ``cap + 1`` rows fetched, the answer returned as JSON on stdout (the
child is `sqlite_reader.py`, which needs only the standard library).

The time limit is held by killing the child when it is reached. SQLite checks for an interrupt
only between steps of its engine, and some steps run for minutes (one ``instr()`` over a long
text), as do the wait for a lock and the encoding of a large answer; none of them outlasts
the child. A killed reader leaves the file as it was: it holds no write lock.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import CauceError

READER = Path(__file__).with_name("sqlite_reader.py")


def query(path: Path, sql: str, *, cap: int, timeout: float) -> tuple[list[str], list[list[Any]]]:
    """Columns and up to ``cap + 1`` rows of ``sql`` on the file at ``path``, read-only.

    Raises TimeoutError when ``timeout`` seconds pass before the answer is in, whatever the
    child is doing (the caller words it), and CauceError with one line when SQLite refuses
    the query."""
    request = json.dumps({"path": str(path), "sql": sql, "cap": cap, "timeout": timeout})
    try:
        # -I -S: the reader needs only the standard library, so it starts in milliseconds
        done = subprocess.run([sys.executable, "-I", "-S", str(READER)], input=request,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError from None
    answer = json.loads(done.stdout or "{}") if done.returncode == 0 else {
        "error": (done.stderr.strip().splitlines() or ["the reader process failed"])[-1]}
    if "error" in answer:
        if answer.get("interrupted"):
            raise TimeoutError
        raise CauceError(f"the warehouse refused it: {answer['error']}")
    rows = [[_value(v) for v in row] for row in answer["rows"]]
    return answer["columns"], rows


def _value(value: Any) -> Any:
    """Blobs travel as {"blob": base64}; everything else as JSON gives it."""
    if isinstance(value, dict) and "blob" in value:
        return base64.b64decode(value["blob"])
    return value
