"""The app on the command line: `cauce run opendata portal` and `cauce run opendata harvest`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cauce.connectors.soda.portal import Dataset, Portal, PortalState
from cli_runner import clean_environment, in_process

CAUCE = Path(sys.executable).with_name("cauce")


def cauce(*args: str, home: Path) -> list[str]:
    return [str(CAUCE), "--home", str(home), *args]


@pytest.mark.slow
def test_the_portal_job_serves_until_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen(
        cauce(
            "run",
            "opendata",
            "portal",
            "--port",
            "0",
            "--count",
            "8",
            "--drop",
            "xvdy-vvsk:403",
            "--fail",
            "gt2j-8ykr:1:503",
            home=tmp_path,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
            url = found.group(0) if found else None
        assert url is not None, "the portal did not say where it listens"
        with httpx.Client(base_url=url) as http:
            listed = http.get("/resource/uzcf-b9dh.json", params={"type": "dataset"}).json()
            assert len(listed) == 8
            assert http.get("/resource/xvdy-vvsk.csv").status_code == 403
            assert [http.get("/resource/gt2j-8ykr.csv").status_code for _ in range(2)] == [503, 200]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


@pytest.mark.slow
def test_a_harvest_run_from_the_command_line(
    tmp_path: Path, make_catalogue: Callable[..., list[Dataset]]
) -> None:
    state = PortalState.of(make_catalogue(6, seed=4))
    with Portal(state) as portal:
        done = subprocess.run(
            cauce(
                "run",
                "opendata",
                "harvest",
                "--portal",
                portal.url,
                "--ids",
                "it5q-hg94,gt2j-8ykr",
                "--backoff",
                "0",
                home=tmp_path,
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout[done.stdout.index("{") :])
    assert (result["datasets"], result["downloaded"]) == (2, 2)
    assert sorted(p.name for p in tmp_path.rglob("*.csv")) == ["gt2j-8ykr.csv", "it5q-hg94.csv"]


def test_a_setting_out_of_range_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_environment(monkeypatch, tmp_path)
    cauce_here = in_process(capsys)
    refused = cauce_here("run", "opendata", "harvest", "--page-size", "0")
    assert refused.status != 0 and "Traceback" not in refused.err
    assert "page_size: 0 from option --page-size is invalid" in refused.err
    # a constrained setting is still a number on the command line
    assert "--page-size INTEGER" in cauce_here("run", "opendata", "harvest", "--help").out
    wrong = cauce_here("run", "opendata", "harvest", "--concurrency", "four")
    assert wrong.status != 0 and "'four' is not a valid integer" in wrong.err


def test_the_portal_refuses_more_datasets_than_it_can_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cauce.apps.opendata import PORTAL_MAX_DATASETS, synth

    def unbounded(*args: object, **kwargs: object) -> list[Dataset]:
        raise AssertionError("the catalogue was built")

    monkeypatch.setattr(synth, "catalogue", unbounded)
    clean_environment(monkeypatch, tmp_path)
    count = str(PORTAL_MAX_DATASETS + 1)
    refused = in_process(capsys)("run", "opendata", "portal", "--port", "0", "--count", count)
    assert refused.status != 0 and "Traceback" not in refused.err
    assert f"--count: {count} is invalid" in refused.err
    assert f"less than or equal to {PORTAL_MAX_DATASETS}" in refused.err
