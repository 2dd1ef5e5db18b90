"""An app drawn as a graph: resources, handlers and jobs, left to right in the order data flows.

Edges come from the declarations (a handler's resource, a topic's subscriber queues, a job's
``after=``) and, dashed, from what each handler's or job's code names: a function that mentions
the module-level ``work`` queue writes to (or reads from) it. The layout is a layered one: each
node's column is its longest path from a source (see `_layout` for the edges that count), and
nodes within a column are ordered by kind and name. Apps have tens of nodes, so nothing
cleverer is needed.
"""

from __future__ import annotations

import html
import types
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..app import App
from ..resources.base import Resource

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 170, 44, 70, 18, 16
ORDER = {"bucket": 0, "stream": 1, "queue": 2, "handler": 3, "job": 3, "topic": 4, "table": 5,
         "warehouse": 6}


@dataclass
class Node:
    id: str
    kind: str
    name: str
    href: str
    column: int = 0
    row: int = 0


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, "trigger"|"uses")

    def add_edge(self, a: str, b: str, how: str) -> None:
        if a != b and a in self.nodes and b in self.nodes and (a, b, how) not in self.edges:
            self.edges.append((a, b, how))


def _referenced_names(func: Any, module: Any) -> set[str]:
    """Global names a function's code mentions, and those of the module's own functions it
    calls (so a job that loads through a helper still names the warehouse)."""
    names: set[str] = set()
    seen: set[int] = set()
    start = getattr(getattr(func, "__wrapped__", func), "__code__", None)
    todo = [start] if start is not None else []
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        names.update(current.co_names)
        todo.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
        for name in current.co_names:
            helper = getattr(module, name, None)
            if (isinstance(helper, types.FunctionType)
                    and helper.__module__ == getattr(module, "__name__", None)):
                todo.append(helper.__code__)
    return names


def build(app: App, root: str = "") -> Graph:
    """The graph of ``app``, each node linking to its page in the UI (under the path prefix
    ``root``)."""
    g = Graph()
    prefix = f"{root}/apps/{quote(app.name)}"
    runs = f"{root}/runs?app={quote(app.name)}&name="
    for resource in app.resources.values():
        g.nodes[f"r:{resource.name}"] = Node(f"r:{resource.name}", resource.kind, resource.name,
                                             _resource_href(prefix, resource))
    for handler in app.handlers.values():
        g.nodes[f"h:{handler.name}"] = Node(f"h:{handler.name}", "handler", handler.name,
                                            runs + quote(handler.name))
    for job in app.jobs.values():
        href = (f"{prefix}/partitions/{quote(job.name)}" if job.partitions
                else runs + quote(job.name))
        g.nodes[f"j:{job.name}"] = Node(f"j:{job.name}", "job", job.name, href)
    for handler in app.handlers.values():
        g.add_edge(f"r:{handler.resource.name}", f"h:{handler.name}", "trigger")
    for resource in app.resources.values():
        for queue in getattr(resource, "queues", ()) if resource.kind == "topic" else ():
            g.add_edge(f"r:{resource.name}", f"r:{queue.name}", "trigger")
    for job in app.jobs.values():
        for upstream in job.after:
            g.add_edge(f"j:{upstream.name}", f"j:{job.name}", "trigger")
    _code_edges(app, g)
    _layout(g)
    return g


def _code_edges(app: App, g: Graph) -> None:
    import sys

    module = sys.modules.get(app.module)
    by_global: dict[str, Resource] = {}
    for name, value in vars(module).items() if module else ():
        if isinstance(value, Resource) and app.resources.get(value.name) is value:
            by_global[name] = value
    workers = [(f"h:{h.name}", h.func, h.resource) for h in app.handlers.values()]
    workers += [(f"j:{j.name}", j.func, None) for j in app.jobs.values()]
    for node, func, source in workers:
        for name in sorted(_referenced_names(func, module) & set(by_global)):
            resource = by_global[name]
            if resource is not source:
                g.add_edge(node, f"r:{resource.name}", "uses")


def _layout(g: Graph) -> None:
    """Columns by longest path over the edges that cannot close a cycle: every trigger, a job's
    uses (nothing leads back into a job but another job), and a handler's uses of a resource
    that triggers nothing (a table it fills). A handler's use of a resource that triggers other
    handlers does not move anything: drawn at all, it would point backwards."""
    triggers_out = {a for a, _, how in g.edges if how == "trigger"}
    layering = [(a, b) for a, b, how in g.edges
                if how == "trigger" or a.startswith("j:") or b not in triggers_out]
    for _ in range(len(g.nodes)):  # at most one pass per node on an acyclic graph
        changed = False
        for a, b in layering:
            if g.nodes[a].column + 1 > g.nodes[b].column:
                g.nodes[b].column = g.nodes[a].column + 1
                changed = True
        if not changed:
            break
    g.edges = [(a, b, how) for a, b, how in g.edges
               if how == "trigger" or g.nodes[b].column > g.nodes[a].column]
    columns: dict[int, list[Node]] = {}
    for node in sorted(g.nodes.values(), key=lambda n: (ORDER.get(n.kind, 9), n.name)):
        columns.setdefault(node.column, []).append(node)
    for nodes in columns.values():
        for row, node in enumerate(nodes):
            node.row = row


def svg(g: Graph) -> str:
    """The graph as inline SVG; every node is a link to its page."""
    if not g.nodes:
        return "<p class=muted>This app declares no resources, handlers or jobs.</p>"
    width = PAD * 2 + (max(n.column for n in g.nodes.values()) + 1) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + (max(n.row for n in g.nodes.values()) + 1) * (BOX_H + GAP_Y) - GAP_Y

    def pos(node: Node) -> tuple[int, int]:
        return PAD + node.column * (BOX_W + GAP_X), PAD + node.row * (BOX_H + GAP_Y)

    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             'aria-label="resources, handlers and jobs of the app">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
             'class="arrowhead"/></marker></defs>']
    for a, b, how in g.edges:
        (x1, y1), (x2, y2) = pos(g.nodes[a]), pos(g.nodes[b])
        sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        if x2 <= x1:  # same column or backwards: loop around below
            sx, ex = x1 + BOX_W / 2, x2 + BOX_W / 2
            sy, ey = y1 + BOX_H, y2 + BOX_H
        mid = (sx + ex) / 2
        parts.append(f'<path class="edge {how}" d="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" '
                     'marker-end="url(#arrow)"/>')
    for node in g.nodes.values():
        x, y = pos(node)
        name = html.escape(node.name)
        shown = html.escape(node.name if len(node.name) <= 22 else node.name[:21] + "…")
        parts.append(
            f'<a href="{html.escape(node.href)}" class="node {node.kind}" '
            f'data-node="{html.escape(node.id)}"><title>{node.kind} {name}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text x="{x + 10}" y="{y + 17}" class="kind">{node.kind}</text>'
            f'<text x="{x + 10}" y="{y + 35}" class="name">{shown}</text></a>')
    parts.append("</svg>")
    return "".join(parts)


def _resource_href(prefix: str, resource: Resource) -> str:
    if resource.kind in ("queue", "topic", "stream"):
        return f"{prefix}/queues#{resource.kind}-{quote(resource.name)}"
    return f"{prefix}/data/{resource.kind}/{quote(resource.name)}"
