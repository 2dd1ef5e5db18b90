"""``cauce config`` and ``cauce apps``: what an app is made of and how it is configured."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..durations import format_duration
from ..errors import CauceError
from . import console
from .console import escape
from .home import GLOBALS, HomeOption, JsonOption, StateOption, home_option_value, state_url
from .loading import bundled_apps, load_app

if TYPE_CHECKING:
    from ..app import App
    from ..resources.base import Resource
    from ..runtime.runtime import Runtime
    from ..settings import Settings


def config_command(app_ref: str = typer.Argument(..., metavar="APP"),
                   as_json: bool = JsonOption, home: Path = HomeOption,
                   state_option: str = StateOption) -> None:
    """The effective configuration of an app: each setting, its source, and resource locations.

    Secrets are masked. Example: cauce config opendata
    """
    from ..backends.state import redact
    from ..runtime.runtime import Runtime
    from ..settings import MASK, resolve

    app, reference = load_app(app_ref)
    home_path = home_option_value(home)
    rt = Runtime(app, home=home_path, app_ref=reference,
                 state=state_url(home_path, state_option))
    problems = None
    try:
        settings = resolve(app.settings, rt.config, {}, app=app.name, resources=app.resources)
    except CauceError as err:
        problems = err.message
        settings = resolve(app.settings, rt.config, {}, lenient=True)
    home_source = "option --home" if home or GLOBALS.home else rt.config.home()[1]
    state_source = ("option --state" if state_option or GLOBALS.state
                    else rt.config.state()[1])
    rows = [{"setting": name,
             "value": MASK if s.secret and settings[name] not in (None, "") else settings[name],
             "source": settings.origin(name), "env": s.env_name, "help": s.help}
            for name, s in app.settings.items()]
    resources = [{"resource": r.name, "kind": r.kind, "location": _location(rt, r, settings)}
                 for r in app.resources.values()]
    if as_json:
        console.print_json({"app": app.name, "home": str(rt.home), "home_source": home_source,
                            "state": redact(rt.state_url), "state_source": state_source,
                            "settings": rows, "resources": resources, "problems": problems})
        return
    console.out.print(f"[bold]{app.name}[/]  home {escape(str(rt.home))} ({home_source})")
    console.out.print(f"state {escape(redact(rt.state_url))} ({escape(state_source)})")
    table = console.table(box=None)
    for column in ("setting", "value", "source", "environment variable", "what it is"):
        table.add_column(column)
    for row in rows:
        shown = MASK if row["value"] == MASK else repr(row["value"])
        table.add_row(row["setting"], escape(shown), escape(row["source"]), row["env"],
                      escape(row["help"]))
    console.print_table(table)
    if resources:
        places = console.table(box=None)
        for column in ("resource", "kind", "location"):
            places.add_column(column)
        for row in resources:
            places.add_row(row["resource"], row["kind"], escape(row["location"]))
        console.print_table(places)
    if problems:
        console.err.print(f"[red]problems:[/] {escape(problems)}")


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


def _location(rt: Runtime, resource: Resource, settings: Settings) -> str:
    """Where a resource keeps its data, and why (a URL given by a secret setting stays hidden),
    and how often a watched bucket is looked into."""
    from ..app import watch_of
    from ..resources.bucket import Bucket
    from ..settings import MASK, Setting

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
