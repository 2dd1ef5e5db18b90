"""`cauce demo`: a bundled app's demo in a fresh home, offline, ending with what it made."""

from __future__ import annotations

import shlex
from pathlib import Path


def test_the_example_demo(cli, tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 0, result.err
    assert "✓ example in" in result.err
    assert "3 files counted through bucket → queue → table → topic" in result.out
    assert f"see it: cauce --home {home} runs --app example" in result.out
    assert f"cauce --home {home} runs --limit 20" in result.out
    runs = cli("--home", str(home), "runs", "--app", "example", "--json", "--limit", "100").json()
    assert {"seed", "on_file", "count_rows", "notify", "daily-summary",
            "publish-summary"} <= {r["name"] for r in runs}
    # a demo home is recreated each time
    again = cli("demo", "--app", "example", "--home", str(home))
    assert again.status == 0


def test_the_commands_a_demo_prints_work_as_printed_whatever_the_home(cli,
                                                                     tmp_path: Path) -> None:
    """A home with a space or a quote printed `cauce --home /tmp/my demo runs`, which a shell
    splits at the space."""
    home = tmp_path / "my demo's home"
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 0, result.err
    printed = [line.split("see it: ", 1)[-1].strip() for line in result.out.splitlines()
               if "cauce --home" in line and "<app>" not in line and "#" not in line]
    assert printed and all(shlex.split(line)[:3] == ["cauce", "--home", str(home)]
                           for line in printed)


def test_the_demo_leaves_other_folders_alone(cli, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("precious")
    result = cli("demo", "--app", "example", "--home", str(busy))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: {busy} exists and is not a demo home, so it is left alone",
        "hint: pass --home with a new folder name"]
    assert (busy / "thesis.tex").read_text() == "precious"


def test_an_unknown_demo_app(cli, tmp_path: Path) -> None:
    result = cli("demo", "--app", "exampl", "--home", str(tmp_path / "d"))
    assert result.status == 1
    assert result.err.splitlines()[0] == "error: no app named 'exampl'"


def test_the_opendata_demo_profiles_against_its_own_portal(cli, tmp_path: Path) -> None:
    """Queued downloads read the portal setting, so the demo points it at its local portal;
    a dead letter anywhere fails the demo instead of passing unseen."""
    home = tmp_path / "demo-home"
    result = cli("demo", "--app", "opendata", "--home", str(home))
    assert result.status == 0, result.err
    assert "✓ opendata in" in result.err
    queues = cli("--home", str(home), "queues", "opendata", "--json").json()
    assert all(q["dlq"] == 0 and q["visible"] == 0 for q in queues), queues
