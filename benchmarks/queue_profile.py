"""Where the time of a queue-throughput run goes, per process: write turns, claims, CPU.

Runs `queue_throughput.bench_cauce` (the SQLite state, N messages, 1 producer) with a
``sitecustomize`` on the path of every process it starts, which counts the write turns of the
process (how many, seconds waiting for them and holding them), its claims (how many found
nothing, messages claimed), its acknowledgement transactions, its CPU time (its start
included; and from its first claim on, per message claimed) and its context switches, and
writes them out when the process exits. Counts hold better than rates on a shared machine:
a rate varies 2x from one run to the next when other work takes the cores.

    python benchmarks/queue_profile.py --processes 1,4
    python benchmarks/queue_profile.py --n 5000 --batch
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from queue_throughput import bench_cauce

COUNTER = '''
import atexit, json, os, resource, threading, time
from contextlib import contextmanager
from cauce.backends.sqlite import queues, turns

counts = {"turns": 0, "turn_wait": 0.0, "turn_hold": 0.0, "claims": 0, "empty_claims": 0,
          "claimed": 0, "acks": 0, "first_claim_cpu": 0.0}
lock = threading.Lock()

def add(**values):
    with lock:
        for key, value in values.items():
            counts[key] += value

receive, ack, turn = queues.SQLiteQueues.receive, queues.SQLiteQueues.ack, turns.WriterTurns.turn

def counted_receive(self, *args, **kwargs):
    if not counts["claims"]:
        counts["first_claim_cpu"] = time.process_time()
    got = receive(self, *args, **kwargs)
    add(claims=1, empty_claims=int(not got), claimed=len(got))
    return got

def counted_ack(self, *args, **kwargs):
    add(acks=1)
    return ack(self, *args, **kwargs)

@contextmanager
def counted_turn(self, **kwargs):
    asked = time.perf_counter()
    with turn(self, **kwargs):
        got = time.perf_counter()
        try:
            yield
        finally:
            add(turns=1, turn_wait=got - asked, turn_hold=time.perf_counter() - got)

queues.SQLiteQueues.receive, queues.SQLiteQueues.ack = counted_receive, counted_ack
turns.WriterTurns.turn = counted_turn

@atexit.register
def write():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts.update(cpu=time.process_time(), voluntary_switches=usage.ru_nvcsw,
                  preempted=usage.ru_nivcsw)
    with open(os.path.join(OUT, f"{os.getpid()}.json"), "w") as f:
        json.dump(counts, f)
'''


def profile(n: int, processes: int, batch: bool) -> tuple[float, list[dict[str, float]]]:
    """Messages per second and the counts of every process that took a write turn."""
    folder = Path(tempfile.mkdtemp(prefix="cauce-qprofile-"))
    counts, work = folder / "counts", folder / "work"
    counts.mkdir()
    work.mkdir()
    (folder / "sitecustomize.py").write_text(f"OUT = {str(counts)!r}\n{COUNTER}")
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), *filter(None, [before])])
    try:
        seconds = bench_cauce(work, n, processes, batch_send=batch)
        found = [json.loads(p.read_text()) for p in sorted(counts.glob("*.json"))]
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
        shutil.rmtree(folder, ignore_errors=True)
    return n / seconds, [c for c in found if c["turns"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--processes", default="1,4", help="worker processes, comma-separated")
    parser.add_argument("--batch", action="store_true", help="send_batch instead of send")
    args = parser.parse_args()
    print(f"{'processes':>9} {'role':>8} {'turns':>6} {'wait s':>7} {'hold s':>7} "
          f"{'claims':>6} {'empty':>6} {'per claim':>9} {'acks':>5} {'cpu s':>6} "
          f"{'us/msg':>6} {'preempted':>9}")
    for processes in (int(p) for p in args.processes.split(",")):
        rate, found = profile(args.n, processes, args.batch)
        for c in found:
            role = "worker" if c["claims"] else "producer"
            full = c["claims"] - c["empty_claims"]
            per = f"{c['claimed'] / full:.1f}" if full else "-"
            # CPU from the first claim on (the start left out), per message claimed
            steady = (f"{(c['cpu'] - c['first_claim_cpu']) / c['claimed'] * 1e6:.0f}"
                      if c["claimed"] else "-")
            print(f"{processes:>9} {role:>8} {c['turns']:>6} {c['turn_wait']:>7.2f} "
                  f"{c['turn_hold']:>7.2f} {c['claims']:>6} {c['empty_claims']:>6} {per:>9} "
                  f"{c['acks']:>5} {c['cpu']:>6.2f} {steady:>6} {c['preempted']:>9}")
        workers = [c for c in found if c["claims"]]
        steady_all = sum(c["cpu"] - c["first_claim_cpu"] for c in workers)
        print(f"{processes:>9} {'all':>8} {rate:,.0f} msg/s; workers from their first claim: "
              f"{steady_all:.2f} s CPU, {steady_all / args.n * 1e6:.0f} us per message")


if __name__ == "__main__":
    main()
