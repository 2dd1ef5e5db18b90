"""An app whose every name, key, message and log line a browser could mistake for markup."""

from __future__ import annotations

import threading

from cauce import App, daily

SECRET = "s3cr3t-value-1234"
XSS = "<script>alert('x')</script>"

app = App("hostile", timezone="America/Santiago", description=f"desc {XSS}")
api_token = app.setting("api_token", str, default=SECRET, secret=True, help="an API token")
inbox = app.bucket("inbox")
work = app.queue("work", max_receives=1)
items = app.table("items", key="id")
readings = app.stream("readings", shards=2)


@app.on(work)
def handle(message, ctx):
    raise ValueError(f"{XSS} refused {message.body!r} with {SECRET}")


@app.job(partitions=daily(start="2021-01-01"))
def per_day(ctx):
    ctx.log.info("<img src=x onerror=alert(1)> day %s", ctx.partition)
    items.put({"id": f"day/{ctx.partition}", "note": XSS})


@app.job(after=[per_day])
def summary(ctx):
    ctx.log.info("summary of %s", ctx.partition)


@app.job
def boom(ctx, note: str = "plain"):
    ctx.log.info("calling with %s and %s", note, SECRET)
    raise RuntimeError(f"{XSS} broke")


# released by a test once per line: a run of slow logs a line, then waits for its release
next_line = threading.Semaphore(0)
STEP_WAIT = 60.0  # seconds a run of slow waits for a release before it goes on by itself


@app.job
def slow(ctx, lines: int = 8):
    """Logs ``lines`` lines, each followed by a wait for ``next_line``: the run stays running
    until a test has seen each line, however slowly the machine goes."""
    for i in range(lines):
        ctx.log.info("tick %d %s", i, XSS)
        next_line.acquire(timeout=STEP_WAIT)
