"""What a worker costs while it waits: CPU per second of `cauce worker` processes on an empty
queue (the SQLite state), measured from /proc after they have started, and how soon a message
sent then is handled (the wake-up that lets a waiting worker poll rarely).

    python benchmarks/idle_worker.py                 # 4 processes, 10 s
    python benchmarks/idle_worker.py --processes 1 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from cauce import Runtime
from cauce.backends.state import open_state, sqlite_url
from cauce.cli.loading import load_app

APP = """
from cauce import App
app = App("idle")
work = app.queue("work")
done = app.table("done", key="n")

@app.on(work)
def handle(message, ctx):
    done.put({"n": message.id, "latency": __import__("time").time() - message.body})
"""

PRODUCER = """
import sys, time
from cauce import Runtime
from cauce.cli.loading import load_app
app, _ = load_app(sys.argv[1])
with Runtime(app, home=sys.argv[2], role="producer"):
    for i in range(int(sys.argv[3])):
        app.resources["work"].send(time.time())
        time.sleep(1.0)
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sends", type=int, default=5, help="messages sent after, 1 s apart")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "idleapp.py").write_text(textwrap.dedent(APP))
        (folder / "producer.py").write_text(textwrap.dedent(PRODUCER))
        ref, home = f"{folder / 'idleapp.py'}:app", folder / "home"
        env = {**os.environ, "CAUCE_STATE": sqlite_url(home / "state.db")}
        subprocess.run([sys.executable, str(folder / "producer.py"), ref, str(home), "0"],
                       check=True, env=env)
        workers = [subprocess.Popen([sys.executable, "-m", "cauce.cli.main", "worker", ref,
                                     "--home", str(home)], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(args.processes)]
        store = open_state(env["CAUCE_STATE"])
        try:
            while len(store.workers.running()) < args.processes:
                time.sleep(0.05)
            time.sleep(1.0)  # past the start
            before = [cpu_seconds(w.pid) for w in workers]
            time.sleep(args.seconds)
            spent = [cpu_seconds(w.pid) - b for w, b in zip(workers, before, strict=True)]
            per_second = [1000 * s / args.seconds for s in spent]
            print(f"{args.processes} waiting worker(s), {args.seconds:.0f} s: CPU ms per second "
                  + ", ".join(f"{v:.1f}" for v in per_second))
            if args.sends:
                subprocess.run([sys.executable, str(folder / "producer.py"), ref, str(home),
                                str(args.sends)], check=True, env=env)
                deadline = time.monotonic() + 30
                while store.copying.count("messages") and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=60)
            store.close()
        if args.sends:
            app, _ = load_app(ref)
            with Runtime(app, home=home, role="producer"):
                latencies = sorted(1000 * item["latency"] for item in app.resources["done"].scan())
            print(f"{len(latencies)} message(s) sent 1 s apart, handled after (ms): "
                  + ", ".join(f"{v:.1f}" for v in latencies))


if __name__ == "__main__":
    main()
