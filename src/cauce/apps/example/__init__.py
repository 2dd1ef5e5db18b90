"""A small example app: the event chain, a schedule and a partitioned job, in one screen of code.

    cauce run example seed --files 3       # put three CSV files in the inbox
    cauce serve example --for 10s          # handlers run the chain; the schedule ticks
    cauce run example daily-summary --partition 2024-01-01
"""

from __future__ import annotations

import csv
import io
import shlex
from typing import Annotated

from annotated_types import Ge

from cauce import App, Context, Message, ObjectRef, Runtime, daily

app = App("example", timezone="America/Santiago",
          description="bucket → queue → table → topic chain, a schedule and a daily job")

greeting = app.setting("greeting", str, default="hola",
                       help="word the notifier logs with each event")
inbox = app.bucket("inbox")
work = app.queue("work", max_receives=3, visibility_timeout="30s")
files = app.table("files", key="key", indexes=["rows"])
events = app.topic("events")
summaries = app.warehouse("summaries")


@app.on(inbox, prefix="in/", suffix=".csv")
def on_file(obj: ObjectRef, ctx: Context) -> None:
    """A CSV arrived: queue it for counting."""
    work.send({"key": obj.key})


@app.on(work, batch_size=10)
def count_rows(messages: list[Message], ctx: Context) -> None:
    """Count each file's rows once (a conditional put makes redeliveries harmless), then
    announce it."""
    for message in messages:
        key = message.body["key"]
        rows = sum(1 for _ in csv.reader(io.StringIO(inbox.text(key)))) - 1
        if files.get(key) is None:
            files.put({"key": key, "rows": rows, "event_id": message.event_id}, if_absent=True)
            events.publish({"key": key, "rows": rows})


@app.on(events)
def notify(message: Message, ctx: Context) -> None:
    ctx.log.info("%s: %s has %d rows", ctx.settings.greeting, message.body["key"],
                 message.body["rows"])


@app.job(every="5s")
def heartbeat(ctx: Context) -> dict[str, int]:
    """Every five seconds: how many files have been counted so far."""
    return {"files": files.count()}


@app.job(partitions=daily(start="2024-01-01"))
def daily_summary(ctx: Context) -> dict[str, object]:
    """Per day: the files counted, written to the warehouse (idempotent per partition)."""
    rows = [{"day": ctx.partition, "key": f["key"], "rows": f["rows"]} for f in files.scan()]
    with summaries.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS daily (day TEXT, key TEXT, rows BIGINT)")
        tx.execute("DELETE FROM daily WHERE day = ?", [ctx.partition])
        if rows:
            tx.load("daily", rows)
    return {"day": ctx.partition, "files": len(rows)}


@app.job(after=[daily_summary])
def publish_summary(ctx: Context) -> None:
    """Runs once the day's summary succeeded."""
    ctx.log.info("summary for %s is ready", ctx.partition)


@app.job
def seed(ctx: Context,
         files: Annotated[int, "how many CSV files to write", Ge(0)] = 3) -> list[str]:
    """Write small CSV files into the inbox, which starts the chain."""
    keys = []
    for n in range(files):
        key = f"in/sample-{n:03d}.csv"
        inbox.put(key, "id,value\n" + "".join(f"{i},{i * n}\n" for i in range(n + 2)))
        keys.append(key)
    return keys


@app.demo
def demo(rt: Runtime) -> list[str]:
    """Seed three files, serve until the chain has counted them, then summarise a day."""
    rt.run(seed, files=3)
    rt.serve(until="idle", timeout="30s")
    day = rt.today().isoformat()
    rt.run(daily_summary, partition=day)
    rt.serve(until="idle", timeout="10s")
    summary_rows = summaries.query("SELECT count(*) AS n FROM daily").column("n")[0].as_py()
    return [
        f"{files.count()} files counted through bucket → queue → table → topic",
        f"daily summary for {day}: {summary_rows} rows in the summaries warehouse",
        f"see it: cauce --home {shlex.quote(str(rt.home))} runs --app example",
    ]
