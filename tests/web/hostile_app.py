"""An app whose every name, key, message and log line a browser could mistake for markup."""

from __future__ import annotations

import time

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


@app.job
def slow(ctx, lines: int = 8, pause: float = 0.3):
    for i in range(lines):
        ctx.log.info("tick %d %s", i, XSS)
        time.sleep(pause)
