"""Commands that look at a home: runs, logs, queues, dead letters, schedules, configuration, apps;
and the ones that put work in: send, publish, put."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from .. import logs as log_streams
from .. import runs as run_store
from ..app import App, suggest, watch_of
from ..durations import format_duration, parse_duration
from ..errors import CauceError, NotFound
from ..logs import LogLine
from ..resources.base import Resource
from ..resources.bucket import Bucket
from ..resources.queue import Queue
from ..resources.topic import Topic
from ..runtime.runtime import Runtime
from ..settings import MASK, Setting, Settings
from . import console
from .loading import bundled_apps, load_app
from .state import GLOBALS, home_option_value, open_state

HomeOption = typer.Option(None, "--home", help="cauce home folder [default: .cauce, or CAUCE_HOME]")
JsonOption = typer.Option(False, "--json", help="machine-readable output")


@contextmanager
def attached(app_ref: str, home: Path | None) -> Iterator[Runtime]:
    """A runtime on an existing home, for commands that inspect or feed it (settings lenient)."""
    app, reference = load_app(app_ref)
    with Runtime(app, home=home_option_value(home), app_ref=reference, lenient_settings=True) as rt:
        yield rt


def _when(text: str | None) -> float | None:
    """``2021-04-22``, ``2021-04-22T10:00``, or an age such as ``10m`` (that long ago)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            return (datetime.now(UTC) - timedelta(seconds=parse_duration(text))).timestamp()
        except CauceError:
            raise CauceError(f"{text!r} is not a date, a time or an age",
                             hint="use 2021-04-22, 2021-04-22T10:30 "
                             "or an age like 15m, 2h, 1d") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def register(cli: typer.Typer) -> None:
    runs_cli = typer.Typer(help="List, show and cancel runs, newest first.\n\n"
                           "Example: cauce runs --app census --job load --limit 5",
                           no_args_is_help=False)
    dlq_cli = typer.Typer(help="Look at and replay dead-lettered messages.\n\n"
                          "Example: cauce dlq list example work", no_args_is_help=True)
    cli.add_typer(runs_cli, name="runs")
    cli.add_typer(dlq_cli, name="dlq")

    @runs_cli.callback(invoke_without_command=True)
    def runs_list(
        ctx: typer.Context,
        app: str = typer.Option(None, "--app", help="only this app"),
        job: str = typer.Option(None, "--job", help="only this job or handler"),
        status: str = typer.Option(None, "--status", help="queued, running, succeeded, failed, "
                                   "dead-lettered, cancelled"),
        partition: str = typer.Option(None, "--partition"),
        limit: int = typer.Option(20, "--limit", help="newest N runs"),
        as_json: bool = JsonOption,
        home: Path = HomeOption,
    ) -> None:
        """List runs, newest first. Example: cauce runs --app census --job load --limit 5"""
        if ctx.invoked_subcommand is not None:
            return
        if status is not None and status not in {s.value for s in run_store.RunStatus}:
            raise CauceError(f"unknown status {status!r}",
                             hint="one of: " + ", ".join(s.value for s in run_store.RunStatus))
        db = open_state(home)
        rows = run_store.query(db.read(), app=app, name=job, status=status, partition=partition,
                               limit=limit)
        if as_json:
            console.print_json([console.run_dict(r) for r in rows])
        elif rows:
            console.out.print(console.runs_table(rows))
        else:
            console.err.print("no runs match")

    @runs_cli.command("show")
    def runs_show(run_id: str = typer.Argument(..., metavar="RUN_ID"), as_json: bool = JsonOption,
                  home: Path = HomeOption) -> None:
        """Show one run (a unique prefix of its id is enough) and its log.

        Example: cauce runs show 018f3a2b4c
        """
        db = open_state(home)
        run = _get_run(db, run_id)
        if as_json:
            console.print_json(console.run_dict(run))
            return
        for key, value in console.run_dict(run).items():
            if value is not None:
                console.out.print(f"[bold]{key:>10}[/]  {escape(str(value))}")
        for line in log_streams.read(db.read(), run_id=run.id):
            console.out.print(line.format(datetime.now().astimezone().tzinfo), markup=False)

    @runs_cli.command("cancel")
    def runs_cancel(run_id: str = typer.Argument(..., metavar="RUN_ID"),
                    home: Path = HomeOption) -> None:
        """Cancel a queued or running run: its worker stops it (and any program it runs) within a second.

        Example: cauce runs cancel 018f3a2b4c5d6e7f80
        """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
        db = open_state(home)
        run = _get_run(db, run_id)
        if run.status.finished:
            raise CauceError(f"run {run.id} already ended ({run.status.value})",
                             hint="only queued or running runs can be cancelled; "
                             "see `cauce runs --status running`")
        with db.write() as con:
            run_store.request_cancel(con, run.id)
        console.out.print(f"asked run {run.id} ({run.app}.{run.name}) to cancel")

    @cli.command("logs")
    def logs_command(
        stream: str = typer.Argument(None, metavar="[STREAM]",
                                     help="a run id, 'general', or a worker stream"),
        app: str = typer.Option(None, "--app", help="only this app"),
        since: str = typer.Option(None, "--since", "-s",
                                  help="from this date/time or age (e.g. 2021-04-22, 1h)"),
        until: str = typer.Option(None, "--until", "-e", help="up to this date/time or age"),
        output: Path = typer.Option(None, "--output", "-o", help="write the lines to this file"),
        follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines"),
        utc: bool = typer.Option(False, "--utc", help="show times in UTC instead of local time"),
        home: Path = HomeOption,
    ) -> None:
        """Show a log stream (`cauce logs RUN_ID`, `cauce logs general --app transit`), or list streams.

        Example: cauce logs general --app transit --since 2021-04-22 -o day.log
        """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
        db = open_state(home)
        tz = UTC if utc else datetime.now().astimezone().tzinfo
        if stream is None:
            table = Table(box=None)
            for column in ("app", "stream", "last line", "lines"):
                table.add_column(column)
            for app_name, name, last, count in log_streams.streams(db.read(), app):
                table.add_row(app_name, name,
                              datetime.fromtimestamp(last, tz).strftime("%Y-%m-%d %H:%M:%S"),
                              str(count))
            console.out.print(table)
            return
        query: dict[str, Any] = {"since": _when(since), "until": _when(until)}
        run = None
        if stream not in ("general",) and not stream.startswith("worker"):
            run = _find_run(db, stream)
        if run is not None:
            query["run_id"] = run.id
        else:
            query.update(stream=stream, app=app)
        lines = log_streams.read(db.read(), **query)
        if (not lines and not follow and run is None
                and not log_streams.read(db.read(), stream=stream, app=app, limit=1)):
            _no_stream(db, stream, app)
        sink = output.open("w", encoding="utf-8") if output else None
        try:
            _emit(lines, sink, tz)
            last_id = lines[-1].id if lines else 0
            while follow:
                time.sleep(0.5)
                fresh = log_streams.read(db.read(), after_id=last_id, **query)
                _emit(fresh, sink, tz)
                if fresh:
                    last_id = fresh[-1].id
                if run is not None and _get_run(db, run.id).status.finished and not fresh:
                    break
        except KeyboardInterrupt:
            pass  # Ctrl-C is how --follow ends
        finally:
            if sink:
                sink.close()
                console.err.print(f"wrote {output}")

    @cli.command("queues")
    def queues_command(app_ref: str = typer.Argument(..., metavar="APP"),
                       as_json: bool = JsonOption, home: Path = HomeOption) -> None:
        """Depth, in-flight and dead-letter counts of every queue of an app (handlers' and jobs' too).

        Example: cauce queues example --json
        """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
        with attached(app_ref, home) as rt:
            rows = rt.queue_stats()
        if as_json:
            console.print_json(rows)
            return
        table = Table(box=None)
        for column in ("queue", "visible", "in flight / delayed", "dead letters", "oldest (s)"):
            table.add_column(column, justify="left" if column == "queue" else "right")
        for row in rows:
            dlq = f"[red]{row['dlq']}[/]" if row["dlq"] else "0"
            table.add_row(row["queue"], str(row["visible"]), str(row["in_flight_or_delayed"]), dlq,
                          str(row["oldest_seconds"]))
        console.out.print(table)

    @dlq_cli.command("list")
    def dlq_list(app_ref: str = typer.Argument(..., metavar="APP"),
                 queue: str = typer.Argument(..., metavar="QUEUE",
                                             help="a queue, handler or job name"),
                 as_json: bool = JsonOption, home: Path = HomeOption) -> None:
        """Dead-lettered messages of a queue (or of a handler or job), with their last error.

        Example: cauce dlq list example work
        """
        with attached(app_ref, home) as rt:
            messages, errors = rt.dlq(queue), rt.dlq_errors(queue)
        rows = [{"id": m.id, "event_id": m.event_id, "receives": m.receive_count,
                 "sent_at": m.sent_at, "body": m.body, "error": e}
                for m, e in zip(messages, errors, strict=True)]
        if as_json:
            console.print_json(rows)
            return
        if not rows:
            console.err.print("the dead-letter queue is empty")
        for row in rows:
            first = (row["error"] or "").splitlines()[0] if row["error"] else ""
            console.out.print(f"[bold]{row['id']}[/] receives={row['receives']} "
                              f"sent={console.local(row['sent_at'])}")
            console.out.print(f"  body: {json.dumps(row['body'], ensure_ascii=False)[:200]}",
                              markup=False)
            console.out.print(f"  [red]{escape(first)}[/]")

    @dlq_cli.command("replay")
    def dlq_replay(app_ref: str = typer.Argument(..., metavar="APP"),
                   queue: str = typer.Argument(..., metavar="QUEUE",
                                               help="a queue, handler or job name"),
                   ids: list[str] = typer.Option(None, "--id", help="only these message ids"),
                   home: Path = HomeOption) -> None:
        """Send dead-lettered messages back to their queue for a fresh round of attempts.

        Example: cauce dlq replay opendata downloaded
        """
        with attached(app_ref, home) as rt:
            moved = rt.replay(queue, ids or None)
        console.out.print(f"replayed {moved} message(s); a running `cauce serve` picks them up")

    @cli.command("schedules")
    def schedules_command(app_ref: str = typer.Argument(..., metavar="APP"),
                          resume: str = typer.Option(None, "--resume", metavar="JOB",
                                                     help="resume a paused job"),
                          as_json: bool = JsonOption, home: Path = HomeOption) -> None:
        """Scheduled jobs of an app: next fire time, and whether a job paused its own schedule.

        Example: cauce schedules opendata --resume refresh
        """
        with attached(app_ref, home) as rt:
            if resume:
                job = rt.app.get_job(resume)
                if not rt.resume_schedule(job):
                    raise CauceError(f"job {job.name!r} has no schedule state yet",
                                     hint=f"`cauce serve {rt.app.name}` creates it")
                console.out.print(f"resumed {job.name}; "
                                  "its next tick is computed by the running serve")
                return
            states = rt.schedule_states()
        rows = [{"job": s["job"], "spec": s["spec"], "paused": s["paused"],
                 "next": datetime.fromtimestamp(s["next_at"], UTC) if s["next_at"] else None}
                for s in states]
        if as_json:
            console.print_json(rows)
            return
        for row in rows:
            state = (f"[yellow]paused: {escape(row['paused'])}[/]" if row["paused"]
                     else f"next {console.local(row['next'])}")
            console.out.print(f"{row['job']}: {row['spec'] or '(not started)'}  {state}")
        if not rows:
            console.err.print("no schedule state yet (start `cauce serve`)")

    @cli.command("config")
    def config_command(app_ref: str = typer.Argument(..., metavar="APP"),
                       as_json: bool = JsonOption, home: Path = HomeOption) -> None:
        """The effective configuration of an app: each setting, its source, and resource locations.

        Secrets are masked. Example: cauce config opendata
        """
        app, reference = load_app(app_ref)
        rt = Runtime(app, home=home_option_value(home), app_ref=reference)
        from ..settings import resolve

        problems = None
        try:
            settings = resolve(app.settings, rt.config, {})
        except CauceError as err:
            problems = err.message
            settings = resolve(app.settings, rt.config, {}, lenient=True)
        home_source = "option --home" if home or GLOBALS.home else rt.config.home()[1]
        rows = [{"setting": name,
                 "value": MASK if s.secret and settings[name] not in (None, "") else settings[name],
                 "source": settings.origin(name), "env": s.env_name, "help": s.help}
                for name, s in app.settings.items()]
        resources = [{"resource": r.name, "kind": r.kind, "location": _location(rt, r, settings)}
                     for r in app.resources.values()]
        if as_json:
            console.print_json({"app": app.name, "home": str(rt.home), "home_source": home_source,
                                "settings": rows, "resources": resources, "problems": problems})
            return
        console.out.print(f"[bold]{app.name}[/]  home {rt.home} ({home_source})")
        table = Table(box=None)
        for column in ("setting", "value", "source", "environment variable", "what it is"):
            table.add_column(column)
        for row in rows:
            shown = MASK if row["value"] == MASK else repr(row["value"])
            table.add_row(row["setting"], escape(shown), escape(row["source"]), row["env"],
                          escape(row["help"]))
        console.out.print(table)
        if resources:
            places = Table(box=None)
            for column in ("resource", "kind", "location"):
                places.add_column(column)
            for row in resources:
                places.add_row(row["resource"], row["kind"], escape(row["location"]))
            console.out.print(places)
        if problems:
            console.err.print(f"[red]problems:[/] {escape(problems)}")

    @cli.command("apps")
    def apps_command(as_json: bool = JsonOption) -> None:
        """The bundled apps and what each contains.

        Example: cauce apps --json
        """
        described = []
        for name, reference in bundled_apps().items():
            try:
                app, _ = load_app(name)
            except Exception as err:  # one broken app must not hide the others
                described.append({"name": name, "reference": reference,
                                  "error": f"{type(err).__name__}: {err}"})
                continue
            described.append(_describe(app, reference))
        if as_json:
            console.print_json(described)
            return
        for item in described:
            console.out.print(f"[bold cyan]{item['name']}[/]  "
                              f"{escape(item.get('description', ''))}  "
                              f"[dim]{item['reference']}[/]")
            if "error" in item:
                console.out.print(f"  [red]cannot load: {escape(item['error'])}[/]")
                continue
            for kind in ("buckets", "queues", "topics", "tables", "streams", "warehouses"):
                if item[kind]:
                    console.out.print(f"  {kind}: {', '.join(item[kind])}")
            for job in item["jobs"]:
                console.out.print(f"  job [green]{job['name']}[/] {escape(job['trigger'])}  "
                                  f"{escape(job['description'])}")
            for handler in item["handlers"]:
                console.out.print(f"  handler {handler}")

    @cli.command("send")
    def send_command(app_ref: str = typer.Argument(..., metavar="APP"),
                     queue: str = typer.Argument(..., metavar="QUEUE"),
                     body: str = typer.Argument(..., metavar="JSON"),
                     home: Path = HomeOption) -> None:
        """Send one JSON message to a queue. Example: cauce send demo work '{"key": "in/a.csv"}'"""
        with attached(app_ref, home) as rt:
            message_id = rt.app.get_resource(queue, Queue).send(_json_arg(body))
        console.out.print(f"sent message {message_id}")

    @cli.command("publish")
    def publish_command(app_ref: str = typer.Argument(..., metavar="APP"),
                        topic: str = typer.Argument(..., metavar="TOPIC"),
                        body: str = typer.Argument(..., metavar="JSON"),
                        home: Path = HomeOption) -> None:
        """Publish one JSON message to a topic. Example: cauce publish demo events '{"n": 1}'"""
        with attached(app_ref, home) as rt:
            event_id = rt.app.get_resource(topic, Topic).publish(_json_arg(body))
        console.out.print(f"published event {event_id}")

    @cli.command("put")
    def put_command(app_ref: str = typer.Argument(..., metavar="APP"),
                    bucket: str = typer.Argument(..., metavar="BUCKET"),
                    key: str = typer.Argument(..., metavar="KEY"),
                    file: Path = typer.Argument(..., metavar="FILE"),
                    home: Path = HomeOption) -> None:
        """Store a local file in a bucket (which emits object-created). Example: cauce put demo inbox in/a.csv a.csv"""  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
        with attached(app_ref, home) as rt:
            ref = rt.app.get_resource(bucket, Bucket).put_file(key, file)
        console.out.print(f"stored {ref.key} ({ref.size:,} bytes) in bucket {bucket}")


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CauceError(f"the message is not valid JSON: {err.msg} at character {err.pos}",
                         hint="""quote it for the shell: '{"key": "value"}'""") from None


def _get_run(db: Any, run_id: str) -> run_store.Run:
    run = _find_run(db, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}", hint="list runs with `cauce runs`")
    return run


def _find_run(db: Any, run_id: str) -> run_store.Run | None:
    run = run_store.get(db.read(), run_id)
    if run is not None:
        return run
    matches = run_store.find_by_prefix(db.read(), run_id)
    if len(matches) > 1:
        raise CauceError(f"run id prefix {run_id!r} is ambiguous", hint="give more characters")
    return matches[0] if matches else None


def _location(rt: Runtime, resource: Resource, settings: Settings) -> str:
    """Where a resource keeps its data, and why (a URL given by a secret setting stays hidden),
    and how often a watched bucket is looked into."""
    url = resource.url
    if isinstance(url, Setting) and rt.config.resource_url(rt.app.name, resource.name) is None:
        value = settings[url.name]
        if value in (None, ""):
            where = f"the default location (setting {url.name} is not set)"
        else:
            where = f"{MASK if url.secret else value}  (setting {url.name})"
    else:
        where = rt.resource_url(resource)
    every = watch_of(resource, settings) if isinstance(resource, Bucket) else None
    return where if every is None else f"{where}; watched every {format_duration(every)}"


def _no_stream(db: Any, stream: str, app: str | None) -> None:
    """Raise NotFound for a stream that is neither a run id nor a stream name, naming the
    closest one."""
    named = sorted({name for _, name, _, _ in log_streams.streams(db.read(), app, limit=1000)
                    if "/" not in name})
    where = f" of app {app!r}" if app else ""
    hint = (f"{suggest(stream, named)} — or give a run id from `cauce runs`" if named
            else "list streams with `cauce logs`")
    raise NotFound(f"no log stream or run {stream!r}{where}", hint=hint)


def _emit(lines: list[LogLine], sink: Any, tz: Any) -> None:
    for line in lines:
        text = line.format(tz)
        if sink is not None:
            sink.write(text.replace("\n", " ⏎ ") + "\n")
        else:
            console.out.print(text, markup=False, highlight=False)


def _describe(app: App, reference: str) -> dict[str, Any]:
    kinds: dict[str, list[str]] = {k: [] for k in ("buckets", "queues", "topics", "tables",
                                                   "streams", "warehouses")}
    for resource in app.resources.values():
        kinds[resource.kind + "s"].append(resource.name)
    jobs = []
    for job in app.jobs.values():
        trigger = []
        if job.schedule:
            trigger.append(f"cron {job.schedule}")
        if job.every is not None:
            trigger.append(f"every {job.every}" if not hasattr(job.every, 'name')
                           else f"every <setting {job.every.name}>")
        if job.partitions:
            trigger.append(f"{job.partitions.unit} from {job.partitions.start}")
        if job.after:
            trigger.append("after " + ", ".join(u.name for u in job.after))
        jobs.append({"name": job.name,
                     "trigger": "(" + "; ".join(trigger) + ")" if trigger else "(by hand)",
                     "description": job.description})
    handlers = [f"{h.name} ← {h.resource.kind} {h.resource.name}" for h in app.handlers.values()]
    return {"name": app.name, "reference": reference, "description": app.description, **kinds,
            "jobs": jobs, "handlers": handlers, "settings": list(app.settings)}
