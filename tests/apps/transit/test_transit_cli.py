"""The transit app from the command line, as a user runs it (exit codes included)."""

import json
import os
import shlex

import pytest

from cli_runner import clean_environment, in_process

DAY = "2021-04-22"


@pytest.fixture
def cauce(tmp_path, monkeypatch, capsys):
    """`cauce(...)` runs the command line in-process in a fresh folder: (status, out, err)."""
    clean_environment(monkeypatch, tmp_path)
    return in_process(capsys)


@pytest.mark.parametrize("name", ["demo", "my demo 'día'"])
def test_the_commands_the_demo_suggests_work_when_copied(cauce, tmp_path, name):
    home = tmp_path / name
    status, out, err = cauce("demo", "--app", "transit", "--home", str(home))
    assert status == 0, err
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "transit: look at it with" in line)
    suggested = [line.strip() for line in lines[start + 1:start + 3]]
    assert len(suggested) == 2 and all(f"--home {shlex.quote(str(home))}" in c
                                       for c in suggested)
    os.chdir(tmp_path.parent)  # elsewhere: the commands must not depend on the folder
    for command in suggested:
        status, _, err = cauce(*shlex.split(command)[1:])
        assert status == 0, f"{command}: {err}"


@pytest.mark.slow
def test_serve_does_not_process_again_a_day_run_by_hand(cauce, tmp_path):
    home = str(tmp_path / "home")
    assert cauce("--home", home, "run", "transit", "synth", "--scale", "tiny", "--date", DAY,
                 "--seed", "2")[0] == 0
    assert cauce("--home", home, "run", "transit", "adatrap", "--partition", DAY)[0] == 0
    status, _, err = cauce("--home", home, "serve", "transit", "--for", "8s", "--processes",
                           "1")
    assert status == 0, err
    status, out, _ = cauce("--home", home, "runs", "--app", "transit", "--json",
                           "--limit", "100")
    assert status == 0
    adatrap_runs = [r for r in json.loads(out) if r["name"] == "adatrap"]
    assert len(adatrap_runs) == 1, adatrap_runs


def test_an_input_without_a_date_is_named_in_full():
    from cauce import RunStatus
    from cauce.apps.transit import app
    from cauce.testing import TestRuntime

    key = "Diccionario-DetalleServicioZP_20210401_20210519.trx.gz"
    with TestRuntime(app) as rt:
        rt.bucket("transactions").put(key, b"")
        rt.drain()
        handled = [r for r in rt.runs() if r.name == "transactions-arrived"]
        assert handled and handled[0].status == RunStatus.SUCCEEDED
        messages = [line.message for line in rt.logs(handled[0].id)]
    assert (f"ignoring {key} in bucket 'transactions': its name does not start with a date "
            "(YYYY-MM-DD)") in messages


def test_a_service_detail_arriving_late_completes_every_waiting_day(tmp_path):
    """The detail file is no daily file: its arrival checks each day whose GPS is in."""
    from cauce import RunStatus
    from cauce.apps.transit import app
    from cauce.testing import TestRuntime

    with TestRuntime(app) as rt:
        assert rt.run(app.jobs["synth"], scale="tiny", date=DAY, seed=4).status == \
            RunStatus.SUCCEEDED
        detail = rt.bucket("service-detail")
        (key,) = [ref.key for ref in detail.list()]
        data = detail.get(key)
        detail.delete(key)
        rt.drain()
        assert not [r for r in rt.runs() if r.name == "adatrap"]
        detail.put(key, data)
        rt.drain()
        handled = [r for r in rt.runs() if r.name == "service-detail-arrived"]
        messages = [line.message for r in handled for line in rt.logs(r.id)]
        assert not any("does not start with a date" in m for m in messages), messages
        assert [r.partition for r in rt.runs() if r.name == "adatrap"] == [DAY]


def test_bounded_walk_settings_are_still_numbers_on_the_command_line(cauce):
    status, out, _ = cauce("run", "transit", "adatrap", "--help")
    assert status == 0
    assert "--walk-cap-m FLOAT" in out and "--walk-weight FLOAT" in out
    status, _, err = cauce("run", "transit", "adatrap", "--partition", DAY, "--walk-cap-m", "far")
    assert status == 2 and "'far' is not a valid float" in err


def test_an_unknown_scale_is_a_usage_error_listing_the_scales(cauce):
    from cauce.apps.transit.synth.city import SCALES

    status, _, err = cauce("run", "transit", "synth", "--scale", "huge")
    assert status == 2
    listed = ", ".join(f"'{scale}'" for scale in SCALES)
    assert f"'huge' is not one of {listed}" in err


@pytest.mark.parametrize(("location", "says"), [
    ("ftp://x/y", "URL 'ftp://x/y' is not supported: ftp:// is no object storage"),
    ("gps.gz", "gps.gz is a file, not a folder"),
])
def test_a_bucket_location_that_cannot_hold_a_bucket_is_one_line_and_a_hint(cauce, tmp_path,
                                                                            location, says):
    (tmp_path / "gps.gz").write_bytes(b"")
    status, _, err = cauce("run", "transit", "adatrap", "--partition", DAY,
                           "--gps-bucket", location)
    assert status == 1
    *_, error, hint = err.splitlines()
    assert error.startswith("✗ run ") and says in error
    assert "(setting gps_bucket, option --gps-bucket)" in error
    assert hint.startswith("hint: use a folder path, file:///path/to/folder, s3://bucket/prefix")
