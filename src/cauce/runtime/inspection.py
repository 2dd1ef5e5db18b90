"""Looking at an attached app, and acting on what it left: runs, log streams, cancellation,
dead letters and their replay, queue depths, schedules."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..app import App, Handler, Job, suggest
from ..errors import CauceError, NotFound
from ..events import Message
from ..logs import LogLine
from ..resources.queue import Queue, message_from
from ..runs import Run, RunStatus
from .execute import log_general
from .jobs import drop_cancelled, requeue_replayed

if TYPE_CHECKING:
    from .runtime import Runtime

Target = Queue | Handler | Job | str


def get_run(rt: Runtime, run_id: str) -> Run:
    run = rt.state.runs.get(run_id)
    if run is None:
        matches = rt.state.runs.find_by_prefix(run_id)
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"no run {run_id!r}", hint="list runs with `cauce runs`")
    return run


def runs(rt: Runtime, job: Job | Handler | str | None = None, *, status: str | None = None,
         partition: str | None = None, limit: int | None = None,
         newest_first: bool = False) -> list[Run]:
    """Runs of this app (of one job or handler), oldest first unless ``newest_first``."""
    name = job if isinstance(job, str) or job is None else job.name
    return rt.state.runs.query(app=rt.app.name, name=name, status=status, partition=partition,
                               limit=limit, newest_first=newest_first)


def logs(rt: Runtime, run_id: str | None = None, *, stream: str | None = None) -> list[LogLine]:
    """Lines of a run's log stream, or of a named stream of this app (e.g. ``general``)."""
    rt.sink.flush()
    if run_id is not None:
        return rt.state.logs.read(run_id=get_run(rt, run_id).id)
    return rt.state.logs.read(app=rt.app.name, stream=stream)


def cancel(rt: Runtime, run_id: str) -> Run:
    """Ask a queued or running run to stop: a queued one is dropped from its queue now (unless
    a worker already holds it), a running one's worker notices within a second."""
    run = get_run(rt, run_id)
    rt.state.runs.request_cancel(run.id)
    if run.status is RunStatus.QUEUED:
        drop_cancelled(rt.state, rt.clock.time())
    return rt.state.runs.get(run.id) or run


def dead_letter_queue(rt: Runtime, target: Target) -> str:
    """The state store's name of the DLQ behind a queue, a handler or a job (or their name)."""
    app = rt.app
    if isinstance(target, str):
        if target.endswith(".dlq"):
            target = target.removesuffix(".dlq")
        if target in app.resources and isinstance(app.resources[target], Queue):
            target = app.resources[target]
        elif target in app.handlers:
            target = app.handlers[target]
        elif target in app.jobs:
            target = app.jobs[target]
        else:
            choices = [n for n, r in app.resources.items() if isinstance(r, Queue)]
            choices += list(app.handlers) + list(app.jobs)
            raise NotFound(f"app {app.name!r} has no queue, handler or job {target!r}",
                           hint=suggest(target, choices))
    if isinstance(target, Queue):
        return target.store_name + ".dlq"
    return target.store_queue + ".dlq"


def dlq(rt: Runtime, target: Target, limit: int | None = None) -> list[Message]:
    """Messages dead-lettered by a queue's consumer, a handler or a job (the first ``limit``)."""
    return [message_from(m)
            for m in rt.state.queues.listing(dead_letter_queue(rt, target), limit)]


def dlq_errors(rt: Runtime, target: Target, limit: int | None = None) -> list[str | None]:
    return [m.last_error
            for m in rt.state.queues.listing(dead_letter_queue(rt, target), limit)]


def replay(rt: Runtime, target: Target,
           ids: Sequence[int | str] | int | str | None = None) -> int:
    """Send dead-lettered messages back for another round of attempts; returns how many."""
    numbers = _message_ids(ids) if ids is not None else None
    dlq_name = dead_letter_queue(rt, target)
    with rt.state.atomic():
        if numbers is not None:
            _all_dead_lettered(rt, dlq_name, numbers, getattr(target, "name", target),
                               "replayed")
        moved = rt.state.queues.replay(dlq_name, now=rt.clock.time(), ids=numbers)
        for m in moved:
            if m.queue.split(":", 1)[1].startswith("job/"):
                requeue_replayed(rt, m.queue, m.id, m.body)
    rt.new_work()
    return len(moved)


class NotDeadLettered(NotFound):
    """Message ids that are not in a dead-letter queue (``missing``): mistyped, or replayed or
    dropped since they were listed."""

    def __init__(self, message: str, *, hint: str, missing: Sequence[int]) -> None:
        super().__init__(message, hint=hint)
        self.missing = list(missing)


def _all_dead_lettered(rt: Runtime, dlq_name: str, numbers: Sequence[int], name: str,
                       done: str) -> None:
    """Refuse ids not in the dead-letter queue, before any message moves or goes: an id
    mistyped, or a message replayed already, would otherwise be a silent "replayed 0"."""
    held = {m.id for m in rt.state.queues.listing(dlq_name)}
    missing = [n for n in dict.fromkeys(numbers) if n not in held]
    if missing:
        which = ", ".join(map(str, missing))
        raise NotDeadLettered(f"message{'s' if len(missing) > 1 else ''} {which} "
                              f"{'are' if len(missing) > 1 else 'is'} not in the dead-letter "
                              f"queue of {name}; nothing was {done}",
                              hint="`cauce dlq list APP QUEUE` shows the ids", missing=missing)


def _message_ids(ids: Sequence[int | str] | int | str) -> list[int]:
    """Message ids as the state stores them: positive whole numbers, checked before any SQL.
    One id alone (``"12"``) is one id, not the ids ``1`` and ``2`` of its characters."""
    items = [ids] if isinstance(ids, int | str) else list(ids)
    numbers = [_message_id(i) for i in items]
    bad = [item for item, n in zip(items, numbers, strict=True)
           if n is None or not 0 < n < 2**63]
    if bad:
        shown = ", ".join(repr(b if len(str(b)) <= 40 else f"{str(b)[:40]}…") for b in bad[:5])
        raise CauceError(f"message ids are positive whole numbers, not {shown}",
                         hint="`cauce dlq list APP QUEUE` shows the ids")
    return [n for n in numbers if n is not None]


def _message_id(value: object) -> int | None:
    """An id given as an integer or its ASCII digits; None for anything else (``1.9`` is no
    id, not message 1; nor are ``²``, digits of other scripts, or more digits than any id)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,19}", value.strip()):
        return int(value)
    return None


def purge_dead_letters(rt: Runtime, target: Target,
                       ids: Sequence[int | str] | int | str | None = None) -> int:
    """Delete dead-lettered messages of a queue, handler or job for good (all, or those of
    ``ids``: one id or several); returns how many. An id that is not in that dead-letter queue
    is refused before any message goes."""
    numbers = _message_ids(ids) if ids is not None else None
    dlq_name = dead_letter_queue(rt, target)
    with rt.state.atomic():
        if numbers is not None:
            _all_dead_lettered(rt, dlq_name, numbers, getattr(target, "name", target), "dropped")
        return rt.state.queues.purge(dlq_name, numbers)


def queue_names(app: App) -> list[tuple[str, str]]:
    """(label, state store name) of every queue an app consumes or owns."""
    names = [(q.name, q.store_name) for q in app.resources.values() if isinstance(q, Queue)]
    names += [(f"{h.resource.kind} {h.resource.name} → {h.name}", h.store_queue)
              for h in app.handlers.values() if not isinstance(h.resource, Queue)]
    names += [(f"job {j.name}", j.store_queue) for j in app.jobs.values()]
    return names


def queue_stats(rt: Runtime) -> list[dict[str, Any]]:
    """Depth, in flight and dead-letter depth of every queue of the app."""
    pairs = queue_names(rt.app)
    store_names = [n for _, n in pairs] + [n + ".dlq" for _, n in pairs]
    stats = rt.state.queues.stats(store_names, now=rt.clock.time())
    rows = []
    for label, name in pairs:
        visible, later, oldest = stats.get(name, (0, 0, 0))
        dead = sum(stats.get(name + ".dlq", (0, 0, 0))[:2])
        rows.append({"queue": label, "visible": visible, "in_flight_or_delayed": later,
                     "dlq": dead, "oldest_seconds": oldest})
    return rows


def pause_schedule(rt: Runtime, app: App, job: str, reason: str) -> str:
    """Pause ``job``'s schedule; returns the reason kept. A blank reason is kept as "no reason
    given": the state knows a pause by its reason, so an empty one left the schedule firing."""
    reason = reason.strip() or "no reason given"
    rt.state.schedules.pause(app.name, job, reason)
    log_general(rt, app.name, logging.INFO, "%s: schedule paused: %s", job, reason)
    return reason


def schedule_states(rt: Runtime) -> list[dict[str, Any]]:
    """Each scheduled job's ``job``, ``spec``, ``next_at`` and ``paused`` (the reason)."""
    return [asdict(s) for s in rt.state.schedules.states(rt.app.name)]
