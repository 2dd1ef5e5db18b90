import gzip
import io
import sys
import textwrap
import uuid
import zipfile

import pytest

from cauce import RunStatus
from cauce.apps.transit import app
from cauce.apps.transit.app import adatrap, output_bucket, synth, trx_bucket, warehouse
from cauce.apps.transit.layouts import GENERAL
from cauce.apps.transit.outputs import read_output
from cauce.apps.transit.params import default_par_text
from cauce.settings import ConfigSources
from cauce.testing import TestRuntime

DAY = "2021-04-22"


@pytest.fixture(scope="module")
def day_inputs(tmp_path_factory):
    """The files of a tiny synthetic day, generated once for this module."""
    with TestRuntime(app) as rt:
        run = rt.run(synth, scale="tiny", date=DAY, seed=3)
        assert run.status == RunStatus.SUCCEEDED, run.error
        saved = {}
        for name in ("gps", "po", "file196", "transactions", "service-detail", "truth"):
            bucket = rt.bucket(name)
            saved[name] = {ref.key: bucket.get(ref.key) for ref in bucket.list()}
        return saved


def _load(rt, inputs, skip=()):
    for name, objects in inputs.items():
        if name in skip:
            continue
        for key, data in objects.items():
            rt.bucket(name).put(key, data)


def test_a_tiny_day_reads_and_writes_buckets_in_s3(day_inputs, s3_endpoint):
    """Every input bucket and the output bucket on an S3 server, chosen by URL alone."""
    prefix = f"s3://cauce-test/transit-{uuid.uuid4().hex[:8]}"
    buckets = ("gps", "po", "file196", "transactions", "service-detail", "truth", "output")
    environ = {f"CAUCE_TRANSIT_{name.upper().replace('-', '_')}_URL": f"{prefix}/{name}"
               for name in buckets}
    with TestRuntime(app, config=ConfigSources(environ=environ)) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert f"{DAY}.zip" in {ref.key for ref in output_bucket.list()}
        with zipfile.ZipFile(io.BytesIO(output_bucket.get(f"{DAY}.zip"))) as archive:
            etapas = read_output(archive.read(f"{DAY}.etapas"))
        assert etapas.height == run.result["rows"]["etapas"] > 1000
    import s3fs

    uploaded = s3fs.S3FileSystem().find(f"{prefix.removeprefix('s3://')}/output")
    assert any(path.endswith(f"/output/{DAY}.zip") for path in uploaded)


def test_a_tiny_day_runs_end_to_end_with_outputs_warehouse_and_accuracy(day_inputs):
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY)
        assert run.status == RunStatus.SUCCEEDED, run.error
        result = run.result
        assert result["output"] == f"{DAY}.zip"
        with zipfile.ZipFile(output_bucket.path(f"{DAY}.zip")) as archive:
            names = set(archive.namelist())
            etapas = read_output(archive.read(f"{DAY}.etapas"))
        assert {f"{DAY}.{k}" for k in ("etapas", "viajes", "profile", "odbyroute", "expediciones",
                                      "speed", "bip", "general", "rechazos")} == names
        assert etapas.height == result["rows"]["etapas"] > 1000
        assert set(etapas["tipo_transporte"]) <= {"BUS", "METRO", "ZP"}
        assert result["accuracy"]["alighting_share"] > 0.8
        assert result["accuracy"]["within_one_stop"] > 0.85
        assert result["rejects"]["gps: impossible coordinates"] > 0
        stages = warehouse.query("SELECT count(*) AS n FROM stages").to_pylist()[0]["n"]
        assert stages == result["rows"]["etapas"]
        again = rt.run(adatrap, partition=DAY)  # a rerun replaces the day's rows
        assert again.status == RunStatus.SUCCEEDED
        assert warehouse.query("SELECT count(*) AS n FROM stages").to_pylist()[0]["n"] == stages
        assert any("unusable rows: gps: impossible coordinates" in line.message
                   for line in rt.logs(run.id))


def test_dry_run_prepares_everything_but_runs_nothing(day_inputs):
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY, dry_run=True)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert run.result["dry_run"] is True and run.result["inputs"]["po"] == f"{DAY}.po.zip"
        assert not output_bucket.exists(f"{DAY}.zip")


def test_missing_inputs_fail_before_any_work_naming_each_bucket(day_inputs):
    with TestRuntime(app) as rt:
        _load(rt, day_inputs, skip=("gps", "transactions"))
        run = rt.run(adatrap, partition=DAY)
        assert run.status != RunStatus.SUCCEEDED
        assert "gps (2021-04-22.gps.gz) in bucket 'gps'" in run.error
        assert "trx (2021-04-22.trx.gz) in bucket 'transactions'" in run.error
        assert not any("downloading" in line.message for line in rt.logs(run.id))


def test_a_truncated_gz_fails_naming_the_file(day_inputs):
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        key = f"{DAY}.trx.gz"
        trx_bucket.put(key, day_inputs["transactions"][key][:200])
        run = rt.run(adatrap, partition=DAY)
        assert run.status != RunStatus.SUCCEEDED
        assert "2021-04-22.trx.gz (bucket 'transactions'): not a readable gzip file" in run.error


def test_the_day_is_submitted_once_when_its_inputs_have_arrived(day_inputs):
    with TestRuntime(app) as rt:
        _load(rt, day_inputs, skip=("transactions",))
        rt.drain()
        assert not rt.runs(job="adatrap")
        _load(rt, {"transactions": day_inputs["transactions"]})
        rt.drain()
        runs = rt.runs(job="adatrap")
        assert [r.partition for r in runs] == [DAY]
        assert runs[0].status == RunStatus.SUCCEEDED, runs[0].error


def test_inputs_dropped_by_other_programs_are_found_by_the_watch(day_inputs):
    with TestRuntime(app, settings={"watch_inputs": "5m"}) as rt:
        for name, objects in day_inputs.items():
            folder = rt.runtime.bucket_store(rt.bucket(name)).root
            for key, data in objects.items():  # written into the folders, not through cauce
                (folder / key).parent.mkdir(parents=True, exist_ok=True)
                (folder / key).write_bytes(data)
        rt.drain()
        assert not rt.runs(job="adatrap")
        rt.advance("5m")
        runs = rt.runs(job="adatrap")
        assert [r.partition for r in runs] == [DAY]
        assert runs[0].status == RunStatus.SUCCEEDED, runs[0].error


STAND_IN = textwrap.dedent('''
    import pathlib, sys
    par = pathlib.Path(sys.argv[1]).read_text(encoding="latin-1").splitlines()
    out = pathlib.Path(par[3].split("*")[0].strip()).parent
    out.mkdir(parents=True, exist_ok=True)
    gps = par[25].split("*")[0].strip()
    (out / "stand-in.etapas").write_text(f"par|lines|gps\\n{sys.argv[1]}|{len(par)}|{gps}\\n")
    (out / "kmls").mkdir(exist_ok=True)
    (out / "kmls" / "map.kml").write_text("<kml/>")
    print("read", sys.argv[1], "with", len(par), "lines; gps at", gps)
''')


def test_the_executable_runs_through_the_launcher_with_the_rendered_par(day_inputs, tmp_path):
    executable = tmp_path / "pvmtsc_v0.2.exe"
    executable.write_text(STAND_IN)
    with TestRuntime(app, settings={"launcher": sys.executable}) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY, engine="adatrap", executable=str(executable))
        assert run.status == RunStatus.SUCCEEDED, run.error
        messages = [line.message for line in rt.logs(run.id)]
        assert any(m.startswith(f"$ {sys.executable} ") and m.endswith(" 2021-04-22.par")
                   for m in messages)
        with zipfile.ZipFile(output_bucket.path(f"{DAY}.zip")) as archive:
            assert archive.namelist() == ["stand-in.etapas"]
            seen = read_output(archive.read("stand-in.etapas")).row(0, named=True)
        assert seen == {"par": "2021-04-22.par", "lines": "173", "gps": "tmp/2021-04-22.gps"}


def test_a_launcher_path_with_spaces_is_quoted_as_in_a_shell(tmp_path):
    from cauce.apps.transit.errors import TransitError
    from cauce.apps.transit.pipeline import executable_argv

    exe, par = tmp_path / "my exe.exe", tmp_path / "2021-04-22.par"
    argv = executable_argv("'/opt/my wine/wine' --quiet", exe, par)
    assert argv == ["/opt/my wine/wine", "--quiet", str(exe), "2021-04-22.par"]
    with pytest.raises(TransitError, match="cannot be split into words") as raised:
        executable_argv("'/opt/my wine", exe, par)
    assert "quote a path with spaces" in raised.value.hint


def test_a_failing_executable_fails_the_run(day_inputs, tmp_path):
    executable = tmp_path / "broken.exe"
    executable.write_text("import sys; print('boom', file=sys.stderr); sys.exit(3)")
    with TestRuntime(app, settings={"launcher": sys.executable}) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY, engine="adatrap", executable=str(executable))
        assert run.status != RunStatus.SUCCEEDED
        assert "status 3" in run.error
        assert not output_bucket.exists(f"{DAY}.zip")


@pytest.mark.parametrize("option", ["executable", "par"])
@pytest.mark.parametrize("given", ["/no/such/file.exe", "../outside.par", "/dev/null"])
def test_a_path_that_is_not_a_file_is_named_not_taken_for_a_bad_key(day_inputs, option, given):
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY, engine="adatrap",
                     **{"executable": "x.exe", option: given})
        assert run.status == RunStatus.FAILED
        assert f"'{given}' is neither a file nor a key of bucket 'executables'" in run.error


@pytest.mark.parametrize(("setting", "value"), [("walk_cap_m", "-5"), ("walk_cap_m", "nan"),
                                                 ("walk_weight", "inf"), ("walk_weight", "-1")])
def test_a_walk_setting_out_of_its_range_is_refused_up_front(setting, value):
    from cauce.errors import ConfigError

    with pytest.raises(ConfigError, match=f"{setting}: '{value}'.* is invalid"):
        TestRuntime(app, settings={setting: value}).__enter__()


def test_a_day_cancelled_after_processing_publishes_nothing(day_inputs, monkeypatch):
    from cauce import Context
    from cauce.apps.transit.engine import run as engine

    processed = []
    real = engine.run_engine

    def then_cancelled(*args, **kwargs):
        result = real(*args, **kwargs)
        processed.append(True)  # Ctrl-C lands here, after the engine's last check
        return result

    monkeypatch.setattr(engine, "run_engine", then_cancelled)
    monkeypatch.setattr(Context, "cancelled", property(lambda ctx: bool(processed)))
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY)
        assert run.status == RunStatus.CANCELLED
        assert "nothing was uploaded or loaded" in run.error
        assert not output_bucket.exists(f"{DAY}.zip") and not output_bucket.list("parquet/")
        assert not warehouse.table_exists("stages")


def test_a_day_cancelled_while_its_accuracy_is_measured_publishes_nothing(day_inputs,
                                                                          monkeypatch):
    """The day's tables were put in the bucket and the warehouse before the accuracy was
    measured: a Ctrl-C then said 'nothing was uploaded or loaded' over published tables."""
    import importlib

    from cauce import Context

    transit_app = importlib.import_module("cauce.apps.transit.app")  # the module, not the App
    measured = []
    real = transit_app._accuracy

    def then_cancelled(*args, **kwargs):
        measured.append(True)  # Ctrl-C lands while the accuracy is measured
        return real(*args, **kwargs)

    monkeypatch.setattr(transit_app, "_accuracy", then_cancelled)
    monkeypatch.setattr(Context, "cancelled", property(lambda ctx: bool(measured)))
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY)
        assert run.status == RunStatus.CANCELLED and measured
        assert "nothing was uploaded or loaded" in run.error
        assert not output_bucket.exists(f"{DAY}.zip") and not output_bucket.list("parquet/")
        assert not warehouse.table_exists("stages")


def test_a_ctrl_c_inside_a_polars_query_cancels_the_day(day_inputs, monkeypatch):
    """Polars answers the first SIGINT in a query with a KeyboardInterrupt of its own, where
    `cauce run` only set the cancel flag: the run was left running, then marked lost."""
    from cauce import Context
    from cauce.apps.transit.engine import run as engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_engine", interrupted)
    monkeypatch.setattr(Context, "cancelled", property(lambda ctx: True))
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        try:
            run = rt.run(adatrap, partition=DAY)
        except KeyboardInterrupt:
            pytest.fail("the KeyboardInterrupt left the job")
        assert run.status == RunStatus.CANCELLED
        assert "cancelled in the middle of a processing step" in run.error
        assert not output_bucket.exists(f"{DAY}.zip") and not output_bucket.list("parquet/")


def test_a_bad_par_is_named_as_the_user_gave_it(day_inputs, tmp_path):
    par = tmp_path / "mine.par"
    par.write_text("\n".join(default_par_text().splitlines()[:80]), encoding="latin-1")
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY, par=str(par))
        assert run.status == RunStatus.FAILED
        assert f"{par}: ends at line 80" in run.error


def test_an_unreadable_par_is_one_line_naming_it(day_inputs, tmp_path, monkeypatch):
    import shutil

    par = tmp_path / "locked.par"
    par.write_text(default_par_text(), encoding="latin-1")

    def denied(source, target, **kwargs):  # as chmod 000 does for anyone but root
        raise PermissionError(13, "Permission denied", str(source))

    monkeypatch.setattr(shutil, "copyfile", denied)
    with TestRuntime(app) as rt:
        _load(rt, day_inputs)
        run = rt.run(adatrap, partition=DAY, par=str(par))
        assert run.status == RunStatus.FAILED
        assert run.error.startswith(f"CauceError: cannot read the parameter file '{par}': "
                                    "Permission denied")


def test_unknown_plates_and_stations_are_counted_not_fatal(day_inputs):
    inputs = dict(day_inputs)
    key = f"{DAY}.trx.gz"
    text = gzip.decompress(inputs["transactions"][key]).decode()
    text += "99;2021-04-22 10:00:00;XX-0000;5\n98;2021-04-22 10:00:00;Nowhere Station;1\n"
    inputs["transactions"] = {key: gzip.compress(text.encode())}
    with TestRuntime(app) as rt:
        _load(rt, inputs)
        run = rt.run(adatrap, partition=DAY)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert run.result["rejects"]["trx: unknown plate, station or validator"] == 2
        with zipfile.ZipFile(io.BytesIO(output_bucket.get(f"{DAY}.zip"))) as archive:
            general = archive.read(f"{DAY}.general").decode()
            rejects = read_output(archive.read(f"{DAY}.rechazos"))
    # `.general` keeps the reference's shape exactly: 97 names, data lines ending with `|`
    header, row = general.splitlines()
    assert header.split("|") == GENERAL.header and len(GENERAL.header) == 97
    assert len(row.split("|")) == 98 and row.endswith("|")
    # the counts per reason are in cauce's own file
    counts = dict(zip(rejects["motivo"], rejects["filas"], strict=True))
    assert counts["trx: unknown plate, station or validator"] == "2"


def test_a_late_po_completes_the_day(day_inputs):
    with TestRuntime(app) as rt:
        _load(rt, day_inputs, skip=("po",))
        rt.drain()
        assert not rt.runs(job="adatrap")
        _load(rt, {"po": day_inputs["po"]})
        rt.drain()
        assert [r.partition for r in rt.runs(job="adatrap")] == [DAY]


def test_synth_reports_its_progress():
    heard = []
    with TestRuntime(app) as rt:
        rt.runtime.on_progress(lambda run_id, done, total, label: heard.append((done, total,
                                                                                label)))
        run = rt.run(synth, scale="tiny", date=DAY, seed=2)
        assert run.status == RunStatus.SUCCEEDED, run.error
        progress_lines = [line.message for line in rt.logs(run.id) if "progress:" in line.message]
    assert [(done, total) for done, total, _ in heard] == [(0, 4), (1, 4), (2, 4), (3, 4),
                                                          (4, 4)]
    assert heard[0][2] == "synth: laying out the city", "said before the first step"
    assert heard[-1][2] == "synth: files written"
    assert progress_lines[0] == "progress: synth: laying out the city: 0/4 (0%)"
    assert progress_lines[-1] == "progress: synth: files written: 4/4 (100%)"


@pytest.mark.parametrize("day", ["0001-01-01", "2017-12-31"])
def test_synth_refuses_a_day_adatrap_would_not_process(day):
    """Year 1 also gave a service-detail name without its zeros (`_10101_10128`)."""
    with TestRuntime(app) as rt:
        run = rt.run(synth, scale="tiny", date=day, seed=1)
        assert run.status == RunStatus.FAILED
        assert f"{day} is before the first day adatrap processes (2018-01-01)" in run.error
        assert not rt.bucket("gps").list()


@pytest.mark.parametrize(("day", "said"), [
    # the hint was "use YYYY-MM-DD", which it is
    ("2021-02-29", "'2021-02-29' is no date of the calendar (hint: 2021-02 has 28 days"),
    # read as 2021-04-22 by date.fromisoformat, a spelling no partition key has
    ("20210422", "'20210422' is not a daily partition key (hint: write it like 2021-04-22)"),
])
def test_synth_says_why_a_day_is_none(day, said):
    with TestRuntime(app) as rt:
        run = rt.run(synth, scale="tiny", date=day, seed=1)
        assert run.status == RunStatus.FAILED
        assert said in run.error
        assert not rt.bucket("gps").list()


def test_a_cancelled_synth_puts_no_file_in_the_buckets(monkeypatch):
    """A Ctrl-C while generating was obeyed only after every file was put (the run then said
    cancelled), or, forced mid-way, left part of a new day beside part of an older one."""
    from cauce import Context

    monkeypatch.setattr(Context, "cancelled", property(lambda ctx: True))
    with TestRuntime(app) as rt:
        run = rt.run(synth, scale="tiny", date=DAY, seed=1)
        assert run.status == RunStatus.CANCELLED
        assert "nothing was put in the input buckets" in run.error
        for name in ("gps", "po", "file196", "transactions", "service-detail", "truth"):
            assert not rt.bucket(name).list(), name
