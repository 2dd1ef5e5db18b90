"""How long a stream batch waits after its worker is SIGKILLed: two `cauce worker` processes on
a PostgreSQL state (a schema of its own, dropped at the end), one record put, the worker whose
thread runs the batch killed a second into it; the time from the kill to the batch's next
attempt starting on the other worker, and where it went (the dead worker's lease end, the
claim, the start note, the handler's first line). ``--busy N`` runs N busy loops meanwhile.

    python benchmarks/stream_redelivery.py                  # 3 runs idle, 3 with 2 busy loops
    python benchmarks/stream_redelivery.py --runs 1 --postgres postgresql://user@host/db
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from cauce.backends.state import open_state

APP = '''
import os, time
from pathlib import Path
from cauce import App

app = App("redelivery")
events = app.stream("events")
FOLDER = Path(__file__).parent


@app.on(events, batch_size=10)  # the default lease: 60 s
def consume(records, ctx):
    with (FOLDER / "starts").open("a") as starts:
        starts.write(f"{os.getpid()} {time.time()}\\n")
    while not (FOLDER / "go").exists():
        time.sleep(0.02)
'''


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def measure(server: str, folder: Path) -> dict[str, float]:
    """One kill: seconds from it to each step of the batch's second attempt."""
    schema = f"redelivery_{uuid.uuid4().hex[:10]}"
    url = f"{server}?schema={schema}"
    (folder / "redelivery.py").write_text(APP)
    env = {**os.environ, "CAUCE_STATE": url, "CAUCE_HOME": str(folder / "home")}
    cauce = [sys.executable, "-m", "cauce"]
    workers = [subprocess.Popen([*cauce, "worker", "redelivery.py:app", "--threads", "2"],
                                cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(2)]
    state = open_state(url)
    starts = folder / "starts"
    try:
        _wait(lambda: len(state.workers.running("worker")) == 2, 60)
        subprocess.run([*cauce, "put", "redelivery.py:app", "events", "--key", "a", "1"],
                       cwd=folder, env=env, check=True, capture_output=True)
        _wait(lambda: starts.exists() and len(starts.read_text().splitlines()) == 1, 60)
        time.sleep(1.0)  # a second into the batch
        holder = state.streams.consumer_states("redelivery:events", "consume")[0]
        pid = int(starts.read_text().split()[0])  # the batch runs in that worker's thread
        victim = next(w for w in workers if w.pid == pid)
        victim.send_signal(signal.SIGKILL)
        killed = time.time()
        victim.wait()
        if not _wait(lambda: len(starts.read_text().splitlines()) == 2, 300):
            raise SystemExit("no second attempt within 300 s")
        began = float(starts.read_text().split()[3])
        (folder / "go").touch()
        _wait(lambda: state.streams.consumer_states("redelivery:events",
                                                    "consume")[0].seq == 1, 60)
        second = next(r for page in state.copying.rows("runs") for r in page if r["attempt"] == 2)
        return {"lease end": holder.lease_until - killed, "claimed": second["queued_at"] - killed,
                "start noted": second["started_at"] - killed, "handler began": began - killed}
    finally:
        (folder / "go").touch()  # a batch in hand ends, and its worker with it
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            worker.wait(60)
        state.close()
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--runs", type=int, default=3, help="kills per load (default 3)")
    parser.add_argument("--busy", type=int, nargs="*", default=[0, 2],
                        help="busy loops running meanwhile, one load per value (default 0 2)")
    args = parser.parse_args()
    for busy in args.busy:
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(busy)]
        try:
            for _ in range(args.runs):
                load = os.getloadavg()[0]
                with tempfile.TemporaryDirectory() as folder:
                    steps = measure(args.postgres, Path(folder))
                print(f"busy loops {busy}, load {load:.1f}: next attempt began "
                      f"{steps['handler began']:.2f} s after the kill (" + ", ".join(
                          f"{name} {seconds:+.2f} s" for name, seconds in steps.items()) + ")",
                      flush=True)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()


if __name__ == "__main__":
    main()
