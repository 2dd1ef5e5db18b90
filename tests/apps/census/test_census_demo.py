"""The demo hook: synthetic files loaded on a shortened schedule, then the report, offline."""

from __future__ import annotations

import shlex

from cauce import Runtime
from cauce.apps.census import DEMO_DATA, app, demo, sources
from cauce.apps.census.description import DESCRIPTION_FILE


def test_the_demo_loads_on_its_schedule_and_writes_the_report(tmp_path, monkeypatch):
    home = tmp_path / "my demo's home"  # the sqlite3 commands it prints, copied, must run
    home.mkdir()
    monkeypatch.chdir(home)  # as `cauce demo` does: relative paths land in the home
    # Any download of the Description would fail: the demo must find it next to its files.
    monkeypatch.setattr(sources, "DEFAULT_DESCRIPTION", "http://127.0.0.1:9/Description")
    settings = {"every": "0.2s", "chunk_size": 20_000,
                "source": [f"{DEMO_DATA}/Adult.data", f"{DEMO_DATA}/Adult.test"]}
    with Runtime(app, home=home, settings=settings) as runtime:
        lines = demo(runtime)
        downloaded = runtime.bucket("sources").list()
    assert lines[0].startswith("48,842 synthetic records in 3 scheduled runs of 20,000: "
                               "48,837 loaded, 5 quarantined")
    assert lines[1] == f"report: {home / 'census-report' / 'index.html'}"
    assert shlex.split(lines[2]) == ["tables:", "sqlite3", str(home / "census.db"),
                                     "SELECT * FROM adult_income_by_education"]
    assert shlex.split(lines[3])[2] == str(home / "census.db")
    assert (home / "census-report" / "by_education.svg").is_file()
    assert (home / "census.db").is_file()
    assert (home / DEMO_DATA / DESCRIPTION_FILE).is_file()
    assert downloaded == []
