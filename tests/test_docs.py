"""The docs pages' examples run as written, where that is quick: a page that drifts from the
code fails here instead of in a reader's hands."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from cauce.testing import TestRuntime

DOCS = Path(__file__).parents[1] / "docs"


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), flags=re.S)


def run_block(page: str, index: int, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Run one ```python block of a page as a module of its own and return it."""
    module = types.ModuleType(f"doc_{page.replace('.', '_')}_{index}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(python_blocks(page)[index], f"docs/{page} (block {index + 1})", "exec"),
         module.__dict__)
    return module


def test_the_testing_page_tests_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    page = run_block("testing.md", 0, monkeypatch)
    tests = [name for name in vars(page) if name.startswith("test_")]
    assert tests == ["test_a_file_flows_through_the_chain", "test_eight_weeks_of_schedules"]
    for name in tests:
        getattr(page, name)()


def test_the_reports_page_job_writes_its_report(monkeypatch: pytest.MonkeyPatch) -> None:
    page = run_block("reports.md", 0, monkeypatch)
    with TestRuntime(page.app, start="2024-01-03T08:00:00") as rt:
        run = rt.run(page.report, partition="2024-01-02")
        assert run.status == "succeeded"
        index = Path(run.result)
        assert index == rt.home / "reports" / "2024-01-02" / "index.html"
        assert "load of 2024-01-02" in index.read_text(encoding="utf-8")
        assert (index.parent / "outcome.svg").read_text(encoding="utf-8").startswith("<svg")


def test_the_state_page_shows_the_current_postgresql_schema_version() -> None:
    from cauce.backends.postgres.schema import SCHEMA_VERSION

    text = (DOCS / "state.md").read_text(encoding="utf-8")
    shown = re.findall(r"^postgresql://\S+: schema version (\d+) \(", text, flags=re.M)
    assert shown and set(shown) == {str(SCHEMA_VERSION)}


def test_the_streams_page_app_alerts_and_sinks_its_records(monkeypatch: pytest.MonkeyPatch) -> None:
    page = run_block("streams.md", 0, monkeypatch)
    alerts_seen = page.app.queue("alerts-seen")
    page.alerts.subscribe(alerts_seen)
    with TestRuntime(page.app, start="2021-04-22T08:00:00") as rt:
        page.readings.put_many([({"v": 3.2}, "sensor-7"), ({"v": 120.0}, "sensor-7")])
        rt.advance("100s")  # the sink's max_seconds
        [alert] = alerts_seen.receive(max=5)
        assert alert.body == {"sensor": "sensor-7", "v": 120.0, "seq": 2}
        [written] = page.lake.list("raw/")
        # named as the page's example of a name says (shard 2, records 1 to 2)
        text = (DOCS / "streams.md").read_text(encoding="utf-8")
        assert f"(`{written.key}`)" in text


def cited_commands(text: str) -> set[str]:
    """The first word after `cauce` in inline code and in fenced blocks: the command cited."""
    options = r"(?:--[a-z-]+(?:[ =][^ `\n]+)? )*"
    blocks = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S))
    return (set(re.findall(rf"`cauce {options}([a-z][a-z-]*)", text))
            | set(re.findall(rf"^(?:\$ )?cauce {options}([a-z][a-z-]*)", blocks, flags=re.M)))


def test_every_command_the_pages_cite_exists() -> None:
    import typer

    from cauce.cli.main import cli

    commands = set(typer.main.get_command(cli).commands)
    root = DOCS.parent
    pages = [root / "README.md", *sorted(DOCS.glob("*.md")), *sorted(DOCS.glob("apps/*.md")),
             *sorted(root.glob("src/cauce/apps/*/README.md"))]
    unknown = {str(page.relative_to(root)): sorted(cited_commands(page.read_text("utf-8"))
                                                    - commands) for page in pages}
    assert {page: words for page, words in unknown.items() if words} == {}
