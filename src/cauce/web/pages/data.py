"""Data: key–value tables (paged, searched by key), buckets (folders, metadata, preview,
download) and warehouses (tables, schema, count, first rows, a read-only SQL box)."""

from __future__ import annotations

import codecs
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ...errors import CauceError
from ...resources.bucket import Bucket
from ...resources.table import Table
from ...resources.warehouse import Warehouse
from ...settings import sqlbox_env
from .. import sqlbox
from ..render import CONTROLS

if TYPE_CHECKING:
    from ..server import UI


def from_elsewhere(request: Request) -> bool:
    """Whether the browser says this request came from another site's page (a link or a form
    there): a page of another site could otherwise make the SQL box run a query of its choice
    with the UI's rights, through a browser that reaches the UI."""
    return request.headers.get("sec-fetch-site", "none") not in ("same-origin", "none")


def superuser_line(app: str, name: str, who: str, where: str | None) -> str:
    """The one line a warehouse page shows when its SQL box runs as a PostgreSQL superuser."""
    env = sqlbox_env(app, name)
    if where is not None:
        return (f"the SQL box runs as {who}, a PostgreSQL superuser, through {env}: a SELECT "
                f"can take the superuser's rights back (hint: give {env} a user that is not a "
                "superuser, one granted pg_read_all_data, say)")
    return (f"the SQL box runs as {who}, a PostgreSQL superuser: its read-only role guards "
            f"against mistakes, but a SELECT can take the superuser's rights back (hint: set "
            f"{env} in the environment or .env to the URL of a user that is not a superuser, "
            "one granted pg_read_all_data, say)")

PAGE = 50
PREVIEW = 64 * 1024
BUCKET_PAGE = 200


def folders(keys: list[tuple[str, int, float]], prefix: str) -> tuple[list[str], list[Any]]:
    """The sub-folders and the objects directly under ``prefix`` of a bucket listing."""
    subfolders: dict[str, None] = {}
    objects = []
    for key, size, mtime in sorted(keys):
        rest = key[len(prefix):]
        if "/" in rest:
            subfolders[prefix + rest.split("/", 1)[0] + "/"] = None
        else:
            objects.append((key, size, mtime))
    return sorted(subfolders), objects


def content_disposition(key: str) -> str:
    """An attachment header naming the object's last segment, safe for any characters.

    Controls and bidirectional overrides become ``_``: a saved ``invoice\u202etxt.exe`` would
    otherwise be listed by the browser as ``invoiceexe.txt``.
    """
    name = CONTROLS.sub("_", key.rsplit("/", 1)[-1])
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in name)
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(name)}"


def routes(ui: UI) -> list[Route]:
    home, pages = ui.home, ui.pages

    def index(request: Request) -> Response:
        app = request.path_params["app"]
        tables = [(t, home.table_count(app, t.name)) for t in home.resources(app, Table)]
        return pages.render(request, "data.html", title=f"{app} data", section="data",
                            app_name=app, tables=tables, buckets=home.resources(app, Bucket),
                            warehouses=home.resources(app, Warehouse))

    def table_page(request: Request) -> Response:
        app, name = request.path_params["app"], request.path_params["name"]
        prefix = request.query_params.get("key", "")
        after = request.query_params.get("after") or None
        items = home.table_items(app, name, prefix=prefix, after=after, limit=PAGE + 1)
        more = len(items) > PAGE
        items = items[:PAGE]
        for item in items:
            item["pretty"] = json.dumps(json.loads(item["value"]), indent=2, ensure_ascii=False)
        table: Table = home.resource(app, name, Table)
        return pages.render(request, "table.html", title=f"{app} table {name}", section="data",
                            app_name=app, table=table, items=items, prefix=prefix,
                            count=home.table_count(app, name),
                            next_after=items[-1]["stored_key"] if more and items else None)

    def bucket_page(request: Request) -> Response:
        app, name = request.path_params["app"], request.path_params["name"]
        prefix = request.query_params.get("prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        bucket = home.bucket(app, name)
        listed = [(o.key, o.size, o.created_at.timestamp()) for o in bucket.list(prefix)]
        subfolders, objects = folders(listed, prefix)
        # one page of entries (folders, then objects, each in key order) after ``after``
        after = request.query_params.get("after", "")
        entries = [(f, None) for f in subfolders] + [(o[0], o) for o in objects]
        if after:
            entries = [e for e in entries if e[0] > after]
        page, more = entries[:BUCKET_PAGE], len(entries) > BUCKET_PAGE
        subfolders = [key for key, obj in page if obj is None]
        objects = [obj for _, obj in page if obj is not None]
        crumbs = []
        walked = ""
        for part in prefix.strip("/").split("/") if prefix else []:
            walked += part + "/"
            crumbs.append((part, walked))
        return pages.render(request, "bucket.html", title=f"{app} bucket {name}",
                            section="data", app_name=app, bucket=bucket, prefix=prefix,
                            crumbs=crumbs, subfolders=subfolders, objects=objects,
                            next_after=page[-1][0] if more else None, total=len(listed))

    def object_page(request: Request) -> Response:
        app, name = request.path_params["app"], request.path_params["name"]
        key = request.query_params.get("key", "")
        bucket = home.bucket(app, name)
        ref = bucket.info(key)  # refuses keys that would leave the bucket ('..', absolute)
        with bucket.open(key) as f:
            head = f.read(PREVIEW + 1)
        cut = len(head) > PREVIEW
        try:
            # where the preview is cut, a character's first bytes are left out, not an error
            preview = codecs.getincrementaldecoder("utf-8")().decode(head[:PREVIEW],
                                                                     final=not cut)
        except UnicodeDecodeError:
            preview = None
        return pages.render(request, "object.html", title=f"{app} {name} {key}", section="data",
                            app_name=app, bucket=bucket, ref=ref, preview=preview, cut=cut,
                            parent=key.rsplit("/", 1)[0] + "/" if "/" in key else "")

    def download(request: Request) -> Response:
        app, name = request.path_params["app"], request.path_params["name"]
        key = request.query_params.get("key", "")
        bucket = home.bucket(app, name)
        ref = bucket.info(key)
        handle = bucket.open(key)

        def chunks() -> Any:
            with handle:
                while block := handle.read(1 << 16):
                    yield block

        # never rendered by the browser, whatever the object holds
        return StreamingResponse(chunks(), media_type="application/octet-stream", headers={
            "content-disposition": content_disposition(key), "content-length": str(ref.size),
            "x-content-type-options": "nosniff"})

    async def warehouse_page(request: Request) -> Response:
        app, name = request.path_params["app"], request.path_params["name"]
        warehouse = home.warehouse(app, name)
        backend = home.warehouse_backend(app, name)
        chosen = request.query_params.get("table")
        sql = request.query_params.get("sql", "")
        context: dict[str, Any] = {"title": f"{app} warehouse {name}", "section": "data",
                                   "app_name": app, "warehouse": warehouse,
                                   "url": home.mask(app, backend.url), "chosen": chosen,
                                   "sql": sql, "cap": sqlbox.ROW_CAP,
                                   "timeout": ui.sql_timeout, "problem": None}
        if not sqlbox.supported(backend.url):
            context["problem"] = "this kind of warehouse cannot be browsed here"
            return pages.render(request, "warehouse.html", **context)
        limit = sqlbox.Limit(ui.sql_timeout)  # one for all the page's looks
        try:
            box, where = ui.sql_backend(app, name)
            if where is not None:
                context["box_url"] = f"{home.mask(app, box.url)} ({where})"
            who = await run_in_threadpool(sqlbox.superuser, box, limit)
            if who is not None:
                context["notice"] = superuser_line(app, name, who, where)
            context["tables"] = await run_in_threadpool(sqlbox.tables, box, limit)
            if chosen:
                context["detail"] = await run_in_threadpool(sqlbox.describe, box, chosen,
                                                            limit=limit)
            if sql.strip() and who is not None and ui.shared:
                raise CauceError(
                    f"typed SQL is refused: this UI is shared (it has a token), and its SQL "
                    f"box would run as the PostgreSQL superuser {who}",
                    hint=f"set {sqlbox_env(app, name)} to the URL of a user that is not a "
                    "superuser (one granted pg_read_all_data, say)")
            if sql.strip() and from_elsewhere(request):
                raise CauceError("the query was not run: it came in a link from another site",
                                 hint="read it in the box, then press Run to run it")
            if sql.strip():
                context["result"] = await run_in_threadpool(sqlbox.run, box, sql,
                                                            limit=limit)
        except CauceError as err:
            context["problem"] = err.message + (f" (hint: {err.hint})" if err.hint else "")
        return pages.render(request, "warehouse.html", **context)

    return [Route("/apps/{app}/data", index),
            Route("/apps/{app}/data/table/{name}", table_page),
            Route("/apps/{app}/data/bucket/{name}", bucket_page),
            Route("/apps/{app}/data/bucket/{name}/object", object_page),
            Route("/apps/{app}/data/bucket/{name}/download", download),
            Route("/apps/{app}/data/warehouse/{name}", warehouse_page)]
