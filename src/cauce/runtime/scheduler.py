"""The scheduler: fires each scheduled job when its time comes, in the app's time zone, and
looks into each watched bucket as often as it asks.

Next fire times live in the state store, so a restart keeps step. Missed ticks while nothing
ran are coalesced into one run (like cron, unlike a catch-up storm), but for a partitioned job
each partition a missed tick would have run runs once; a tick is skipped when the
previous run of that job (or partition) is still queued or running. Only one process per app
fires schedules: the holder of a short lease in the state store, which it gives up when it
stops, and which a process killed on this machine is relieved of, so that the next serving
process fires at once instead of after the lease runs out. Watched buckets are listed
by every serving process (the first look right at start, so what arrived while nothing ran is
found); the state store decides which objects are new, once.
"""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import datetime, time
from typing import TYPE_CHECKING

from ..app import Job
from ..backends.state import new_token
from ..errors import CauceError
from ..pids import gone
from ..resources.bucket import Bucket
from ..schedules import Schedule, make_schedule
from .execute import log_general

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("cauce.scheduler")


class Scheduler:
    """Fires the schedules of one app."""

    LEASE = 15.0

    def __init__(self, runtime: Runtime, *, looks_aside: bool = False,
                 recheck: float | None = None) -> None:
        """``looks_aside``: list watched buckets in threads of their own (``serve``), so that a
        storage slow to answer holds up no schedule, dispatch or heartbeat; otherwise each
        look is made within `tick` (`TestRuntime`, whose clock only moves when told).
        ``recheck``: at most how long the schedules' state goes unread (`RECHECK`); 0 reads
        it at every tick (`TestRuntime`: a clock that stands still between two of its steps
        would keep what the test changed meanwhile, a resume say, unread until the next tick
        due, as a serve never does)."""
        self.runtime = runtime
        self._recheck = self.RECHECK if recheck is None else recheck
        self.owner = runtime.worker_id + ":" + new_token()
        self.schedules: dict[str, Schedule] = {}
        for job in runtime.app.jobs.values():
            schedule = self._schedule_of(job)
            if schedule is not None:
                self.schedules[job.name] = schedule
        self._announced_pauses: set[str] = set()
        self._skips: dict[str, int] = {}  # ticks skipped since each job last fired
        self._lead_until = 0.0
        self._next_due: float | None = None
        self._checked_at = -1.0
        self.watched = {r.name: (r, every) for r in runtime.app.resources.values()
                        if isinstance(r, Bucket) and (every := runtime.watch_of(r)) is not None}
        self._next_look = {name: runtime.clock.time() for name in self.watched}
        self._looks_aside = looks_aside
        self._looking: dict[str, threading.Thread] = {}
        self._closed = False

    def _schedule_of(self, job: Job) -> Schedule | None:
        every = job.every
        if every is not None and not isinstance(every, str | int | float):
            every = self.runtime.settings_for(job.app)[every.name]
        return make_schedule(cron=job.schedule, every=every, timezone=job.app.timezone)

    # how often state is read even when nothing is due (other processes may change it)
    RECHECK = 1.0

    @property
    def _lease(self) -> str:
        return f"scheduler:{self.runtime.app.name}"

    def _lead(self, now: float) -> bool:
        if now < self._lead_until - self.LEASE / 3:
            return True
        leases = self.runtime.state.leases
        leading = leases.acquire(self._lease, self.owner, now=now, until=now + self.LEASE)
        if not leading and self._holder_killed(now):
            leading = leases.acquire(self._lease, self.owner, now=now, until=now + self.LEASE)
        self._lead_until = now + self.LEASE if leading else 0.0
        return leading

    def _holder_killed(self, now: float) -> bool:
        """Whether the process holding the lease is gone without giving it up: killed on this
        machine, or already marked stopped (the takeback of a killed worker's leases marks
        it so; a process that stops gives the lease up first). The lease is released for it;
        one held by a process still registered as running elsewhere runs out by itself."""
        holder = self.runtime.state.leases.holder(self._lease, now=now)
        if holder is None:
            return False
        worker = holder.rsplit(":", 1)[0]  # the owner is "<worker id>:<token>"
        running = next((w for w in self.runtime.state.workers.listing() if w.id == worker), None)
        if running is not None and not gone(running.host, running.pid):
            return False
        self.runtime.state.leases.release(self._lease, holder)
        return True

    def close(self) -> None:
        """Give the lease up, if held: the next serving process fires schedules at once. A
        look still waiting for its storage is left to end by itself, unheard."""
        self._closed = True
        if self._lead_until:
            self.runtime.state.leases.release(self._lease, self.owner)
            self._lead_until = 0.0

    def tick(self) -> float | None:
        """Fire every schedule and look into every watched bucket due now; returns when the
        next is due (None: nothing scheduled or watched)."""
        next_look = self._look_into_buckets()
        next_fire = self._fire_schedules()
        due = [t for t in (next_look, next_fire) if t is not None]
        return min(due) if due else None

    def _look_into_buckets(self) -> float | None:
        if not self.watched:
            return None
        now = self.runtime.clock.time()
        for bucket, every in self.watched.values():
            # more than an interval ahead: the clock was stepped back, look now, not after it
            if now < self._next_look[bucket.name] <= now + every:
                continue
            self._next_look[bucket.name] = now + every
            if not self._looks_aside:
                self._look(bucket)
                continue
            looking = self._looking.get(bucket.name)
            if looking is None or not looking.is_alive():  # one look at a time per bucket
                looking = threading.Thread(target=self._look, args=(bucket,), daemon=True,
                                           name=f"cauce-watch-{bucket.name}")
                self._looking[bucket.name] = looking
                looking.start()
        return min(self._next_look.values())

    def looking(self) -> bool:
        """Whether a look made aside is still listing a bucket (its events not queued yet)."""
        return any(thread.is_alive() for thread in self._looking.values())

    def _look(self, bucket: Bucket) -> None:
        try:
            self.runtime.scan_bucket(bucket)
        except (CauceError, OSError) as error:  # unreachable: say so, look again later
            if not self._closed:
                log_general(self.runtime, self.runtime.app.name, logging.WARNING,
                            "bucket %s: cannot look for new objects: %s", bucket.name, error)
        except Exception as error:
            if self._closed:  # the serve ended meanwhile, and its state may be closed
                return
            if not self._looks_aside:
                raise  # the serving loop's to report
            # in a thread of its own no caller sees it (its traceback was printed on the
            # terminal): one line said, the general log keeps the traceback
            line = f"bucket {bucket.name}: looking for new objects failed: " \
                   f"{type(error).__name__}: {error}"
            self.runtime.sink.write(self.runtime.app.name, "general", logging.ERROR,
                                    f"{line}\n{traceback.format_exc()}")
            logging.getLogger(f"cauce.general.{self.runtime.app.name}").error("%s", line)

    def _fire_schedules(self) -> float | None:
        if not self.schedules:
            return None
        runtime = self.runtime
        now = runtime.clock.time()
        # Nothing due and state read recently: no database work on this loop iteration.
        # A clock stepped back makes now earlier than the last read: read again then, or what
        # another process changed (a schedule resumed) would wait as long as the step.
        if (self._next_due is not None and now < self._next_due
                and 0 <= now - self._checked_at < self._recheck):
            return self._next_due
        self._checked_at = now
        if not self._lead(now):
            return now + self.LEASE / 3
        app, store = runtime.app, runtime.state.schedules
        next_times = []
        with runtime.state.atomic():
            rows = {r.job: r for r in store.states(app.name)}
            for name, schedule in self.schedules.items():
                row = rows.get(name)
                if row is None or row.spec != schedule.spec:
                    # changed while nothing served: the ticks its old spec missed are still
                    # missed ones (not after a resume, which blanks the spec: from now on)
                    if row is not None and row.spec and not row.paused and row.next_at <= now:
                        self._fire(app.jobs[name], schedule, row.next_at, now)
                    next_at = schedule.next_after(now)
                    store.set(app.name, name, spec=schedule.spec, next_at=next_at)
                    next_times.append(next_at)
                    continue
                if row.paused:
                    self._announce_pause(name, row.paused)
                    continue
                next_at = row.next_at
                if next_at <= now:
                    self._fire(app.jobs[name], schedule, next_at, now)
                    next_at = schedule.next_after(max(now, next_at))
                    store.advance(app.name, name, next_at=next_at)
                next_times.append(next_at)
        self._next_due = min(next_times) if next_times else None
        return self._next_due

    def _fire(self, job: Job, schedule: Schedule, due: float, now: float) -> None:
        runtime = self.runtime
        if job.partitions is None:
            if runtime.has_pending_run(job, None):
                self._skipped(job)
            else:
                self._fired(job, None, now)
            return
        missed = _missed_partitions(job, schedule, due, now)
        if len(missed) > 1:
            log_general(runtime, job.app.name, logging.INFO,
                        "%s: catching up the %d partitions whose ticks were missed while "
                        "nothing served, %s to %s", job.name, len(missed), missed[0], missed[-1])
        # one read each, not one per partition: a month of missed days behind a long backfill
        # would pass over its queue thirty times
        pending = runtime.pending_partitions(job)
        if len(missed) > 1:
            done = runtime.state.runs.succeeded_partitions(job.app.name, job.name)
        else:
            done = {p for p in missed if runtime.partition_succeeded(job, p)}
        for partition in missed:
            if partition in pending:
                self._skipped(job)
            elif partition not in done:
                self._fired(job, partition, now)

    def _fired(self, job: Job, partition: str | None, now: float) -> None:
        skipped = self._skips.pop(job.name, 0)
        if skipped > 1:
            log_general(self.runtime, job.app.name, logging.INFO,
                        "%s: %d ticks were skipped while its previous run was queued or "
                        "running", job.name, skipped)
        self.runtime.enqueue_job(job, partition=partition, params={}, trigger="schedule",
                                 now=now)

    def _skipped(self, job: Job) -> None:
        """Say the first tick skipped; the others are counted, said when the job fires again
        (a 1 s schedule of a job running an hour wrote 3,600 lines in the general log)."""
        self._skips[job.name] = self._skips.get(job.name, 0) + 1
        if self._skips[job.name] == 1:
            log_general(self.runtime, job.app.name, logging.INFO,
                        "%s: tick skipped, its previous run is still queued or running (the "
                        "next skipped ticks are counted)", job.name)

    def _announce_pause(self, job: str, reason: str) -> None:
        if job not in self._announced_pauses:
            self._announced_pauses.add(job)
            log_general(self.runtime, self.runtime.app.name, logging.INFO,
                        "%s: schedule paused (%s); resume with `cauce schedules %s --resume %s`",
                        job, reason, self.runtime.app.name, job)

    def next_due(self) -> float | None:
        """The earliest next fire time of an active schedule or look into a watched bucket
        (without doing anything)."""
        times = list(self._next_look.values())
        if self.schedules:
            times += [r.next_at for r in self.runtime.state.schedules.states(self.runtime.app.name)
                      if not r.paused and r.job in self.schedules]
        return min(times) if times else None


def _missed_partitions(job: Job, schedule: Schedule, due: float, now: float) -> list[str]:
    """The partitions the ticks from ``due`` to ``now`` would have run, oldest first, each
    once: one tick's when the schedule is on time, every day's a stopped serve missed when it
    comes back (coalesced into one run, the days in between were never run by the schedule).
    Ticks that would run the same partition are stepped over, so a serve down for a month
    costs a step per partition, not one per tick of a schedule firing every few seconds."""
    partitions, tz = job.partitions, job.app.tz
    assert partitions is not None
    keys: list[str] = []
    tick = due
    while tick <= now:
        key = partitions.last_complete(datetime.fromtimestamp(tick, tz).date())
        if keys and key == keys[-1]:  # the declared end: nothing after it
            break
        if key is not None:
            keys.append(key)
        day_start = datetime.combine(partitions.completed_from(key), time(), tz).timestamp()
        tick = schedule.next_after(max(tick, day_start - 1e-3))
    return keys
