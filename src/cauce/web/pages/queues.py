"""Queues, topics and streams of an app, and each queue's dead letters: replay, purge."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...errors import CauceError, Conflict
from ...runtime.inspection import NotDeadLettered
from ..base_path import see_page
from . import cursor

if TYPE_CHECKING:
    from ..server import UI

WINDOW, BUCKETS = 3600.0, 30  # the sparkline: runs per 2 minutes over the last hour
PAGE = 50  # dead letters per page


def emptied(target: str, action: str) -> Conflict:
    """The 409 for "all" of a dead-letter queue that another page or process emptied since
    its page was drawn (a form posted twice, too)."""
    return Conflict(f"the dead-letter queue of {target} is empty: its messages were replayed "
                    f"or dropped meanwhile, by another page or process; nothing was {action}",
                    hint="reload the page to see it")


def routes(ui: UI) -> list[Route]:
    home = ui.home

    def queues_page(request: Request) -> Response:
        app = request.path_params["app"]
        context = {"title": f"{app} queues", "section": "queues", "app_name": app,
                   "queues": home.queues(app, window=WINDOW, buckets=BUCKETS),
                   "topics": home.topics(app), "streams": home.streams(app),
                   "window_minutes": int(WINDOW / 60)}
        if request.headers.get("hx-request"):
            return ui.pages.render(request, "queues_body.html", **context)
        return ui.pages.render(request, "queues.html", **context)

    def dlq_page(request: Request) -> Response:
        app, target = request.path_params["app"], request.path_params["target"]
        store_name, messages = home.dead_letters(app, target, limit=PAGE + 1,
                                                 after_id=cursor(request, "after") or 0)
        return ui.pages.render(request, "dlq.html", title=f"{app} {target} dead letters",
                               section="queues", app_name=app, target=target,
                               store_name=store_name, messages=messages[:PAGE],
                               more=len(messages) > PAGE,
                               flash=ui.pages.flash(request))

    async def replay(request: Request) -> Response:
        app, target = request.path_params["app"], request.path_params["target"]
        form = await request.form()
        chosen = [str(v) for v in form.getlist("id")]
        everything = form.get("all") == "yes"
        if not chosen and not everything:
            raise CauceError("no message was selected", hint="tick the messages to replay, "
                             "or use “replay all”")
        try:
            moved = home.runtime(app).replay(target, None if everything else chosen)
        except NotDeadLettered as gone:
            # ticked on this page, so dead-lettered when it was drawn: another page, a `cauce
            # dlq` or a worker's replay took them since; the state keeps no word of which
            which = ", ".join(map(str, gone.missing))
            plural = len(gone.missing) > 1
            raise Conflict(f"message{'s' if plural else ''} {which} of {target} "
                           f"{'were' if plural else 'was'} replayed or dropped meanwhile, by "
                           "another page or process; nothing was replayed",
                           hint="reload the page for the dead letters left") from None
        if everything and not moved:  # the button shows only over dead letters
            raise emptied(target, "replayed")
        done = (f"replayed {moved} message(s)" + ("" if home.serving(app) else
                "; they wait in their queue until a serve or worker of the app runs"))
        return see_page(request, f"/apps/{quote(app)}/dlq/{quote(target)}?"
                        f"{ui.pages.flash_query(done)}")

    async def purge(request: Request) -> Response:
        app, target = request.path_params["app"], request.path_params["target"]
        form = await request.form()
        if form.get("confirm") != target:
            raise CauceError("purge not confirmed",
                             hint=f"type the queue's name ({target}) in the box to purge it")
        removed = home.runtime(app).purge_dead_letters(target)
        if not removed:  # the form shows only over dead letters
            raise emptied(target, "purged")
        done = f"purged {removed} dead-lettered message(s)"
        return see_page(request, f"/apps/{quote(app)}/dlq/{quote(target)}?"
                        f"{ui.pages.flash_query(done)}")

    return [Route("/apps/{app}/queues", queues_page),
            Route("/apps/{app}/dlq/{target}", dlq_page),
            Route("/apps/{app}/dlq/{target}/replay", replay, methods=["POST"]),
            Route("/apps/{app}/dlq/{target}/purge", purge, methods=["POST"])]
