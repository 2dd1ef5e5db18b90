"""Job runs on a Dask cluster: a backfill of tiny transit days with one Dask worker SIGKILLed
while it runs a day, failures and cancellations recorded as they are locally, workers that keep
dying, and the choice of executor."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from runtime_helpers import wait_for

from cauce import App
from cauce.apps.transit import app as transit
from cauce.backends.state import open_state
from cauce.errors import CauceError, ConfigError, DeclarationError
from cauce.runtime.backfill import backfill
from cauce.runtime.dask_executor import run_task
from cauce.runtime.execute import RunSpec
from cauce.runtime.processes import child_task
from cauce.runtime.runtime import Runtime
from cauce.settings import ConfigSources

distributed = pytest.importorskip("distributed", reason="Dask is not installed (cauce[dask])")
import dask  # noqa: E402  (installed with distributed)

DAYS = ["2021-04-22", "2021-04-23", "2021-04-24"]


TEST_APP = """
import os, signal, time
from cauce import App

app = App("dasktest")

@app.job()
def wait(ctx) -> None:
    while not ctx.cancelled:
        time.sleep(0.05)
    ctx.log.info("saw the cancellation")

@app.job(retries=1, retry_delay="0s")
def die(ctx) -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # as an out-of-memory kill would

def _spin(ctx) -> None:
    spins = 0
    try:
        while True:  # never looks at ctx.cancelled
            spins += 1
    finally:
        ctx.log.info("stopped spinning")

@app.job()
def hello(ctx) -> str:
    return "hello"

@app.job(timeout="3s")
def nap(ctx) -> str:
    time.sleep(1)
    return "rested"

@app.job()
def chatty(ctx) -> str:
    import sys
    print("said by print", 1)
    print("said to stderr", file=sys.stderr)
    sys.stdout.write("no line end")
    return "said"

spin = app.job(name="spin")(_spin)
spin_briefly = app.job(name="spin-briefly", timeout="0.5s")(_spin)
"""


@pytest.fixture(scope="module")
def test_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """An app of this module's own, importable here and by the workers started meanwhile."""
    folder = tmp_path_factory.mktemp("apps")
    (folder / "dask_test_app.py").write_text(TEST_APP)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        patch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH",
                                                                                "")]))
        from dask_test_app import app

        yield app


@pytest.fixture(scope="module")
def cluster(test_app: App) -> Iterator[distributed.LocalCluster]:
    """Two single-threaded worker processes, shared by the tests of this module."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as found:
        yield found


@pytest.fixture
def url(cluster: distributed.LocalCluster) -> str:
    return cluster.scheduler_address.replace("tcp://", "dask://")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the inputs of the three tiny days, made once."""
    home = tmp_path_factory.mktemp("dask") / "home"
    with Runtime(transit, home=home) as rt:
        for day in DAYS:
            assert rt.run("synth", scale="tiny", date=day).succeeded
    return home


@pytest.fixture
def home(inputs: Path, tmp_path: Path) -> Path:
    """A copy of that home of the test's own."""
    return Path(shutil.copytree(inputs, tmp_path / "home"))


class Killer(threading.Thread):
    """SIGKILLs the Dask worker that runs a day, once that day's run has logged its start."""

    def __init__(self, cluster: distributed.LocalCluster, state_url: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.state_url = cluster, state_url
        self.killed: str | None = None  # the run whose worker was killed
        self.done = threading.Event()

    def run(self) -> None:
        state = open_state(self.state_url)
        try:
            with distributed.Client(self.cluster) as client:
                while not self.done.is_set() and self.killed is None:
                    self._try(state, client)
                    self.done.wait(0.02)
        finally:
            state.close()

    def _try(self, state: object, client: distributed.Client) -> None:
        started = {line.run_id for line in state.logs.read(app="transit")  # type: ignore[attr-defined]
                   if "of adatrap started" in line.message}
        for address, keys in client.processing().items():
            for key in keys:
                run_id = str(key).split("-")[1] if str(key).startswith("cauce-") else None
                if run_id in started:
                    pid = client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)
                    self.killed = run_id
                    return


def test_a_backfill_on_dask_survives_a_killed_worker_and_runs_each_day_once(
        cluster: distributed.LocalCluster, url: str, home: Path) -> None:
    with Runtime(transit, home=home, executor=url, role="backfill") as rt:
        killer = Killer(cluster, rt.state_url)
        killer.start()
        try:
            report = backfill(rt, transit.get_job("adatrap"), DAYS[0], DAYS[-1])
        finally:
            killer.done.set()
            killer.join(10)
        assert killer.killed is not None, "no worker was killed while it ran a day"
        assert report.ok, report.failed
        assert sorted(report.succeeded) == DAYS
        runs = rt.runs("adatrap")
        assert Counter((r.partition, r.status.value) for r in runs) == Counter(
            (day, "succeeded") for day in DAYS)
        # the killed worker's day ran again elsewhere, as the same run
        rerun = [line.message for line in rt.logs(killer.killed)
                 if "on Dask worker" in line.message]
        assert len(rerun) == 2 and rerun[0] != rerun[1]
        outputs = rt.bucket("output").list()
        assert sorted(ref.key for ref in outputs if ref.key.endswith(".zip")) == [
            f"{day}.zip" for day in DAYS]


def test_a_day_that_fails_on_dask_is_recorded_as_it_is_here(url: str, home: Path) -> None:
    missing = "2021-04-26"  # no inputs were generated for it
    with Runtime(transit, home=home) as rt:
        here = rt.run("adatrap", missing)
    with Runtime(transit, home=home, executor=url) as rt:
        there = rt.run("adatrap", missing)
        lines = [line.message for line in rt.logs(there.id)]
    assert there.status.value == here.status.value == "failed"
    assert there.error == here.error and there.error.startswith("MissingInputs: no input")
    assert any(m.startswith("run ") and "on Dask worker tcp://" in m for m in lines)
    assert any("Traceback" in m for m in lines)


def test_a_rerun_of_a_task_that_finished_does_not_run_the_job_again(
        cluster: distributed.LocalCluster, url: str, home: Path) -> None:
    with Runtime(transit, home=home, executor=url) as rt:
        run = rt.run("adatrap", DAYS[0])
        assert run.succeeded
        spec = RunSpec(run.id, transit.get_job("adatrap"), 1, run.id, DAYS[0], {})
        task = child_task(rt, spec)
        before = len(rt.logs(run.id))
        with distributed.Client(cluster) as client:
            outcome = client.submit(run_task, task, pure=False).result()
        assert outcome.ok and outcome.result == run.result
        assert len(rt.logs(run.id)) == before  # nothing ran, nothing was logged


def test_a_served_app_sends_its_job_runs_to_the_cluster(url: str, home: Path) -> None:
    with Runtime(transit, home=home, executor=url, role="worker") as rt:
        run_id = rt.submit(transit.get_job("adatrap"), partition=DAYS[1])
        rt.serve(until="idle", timeout="60s", threads=2, scheduler=False)
        run = rt.get_run(run_id)
        lines = [line.message for line in rt.logs(run_id)]
    assert run.succeeded and run.partition == DAYS[1]
    assert any("on Dask worker tcp://" in m for m in lines)


def test_a_run_cancelled_while_it_runs_on_dask_stops_there_and_ends_cancelled(
        test_app: App, url: str, tmp_path: Path) -> None:
    with Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
        def cancel_once_running() -> None:
            wait_for(lambda: bool(rt.state.runs.query(name="wait", status="running")), 60,
                     "the run to start")
            rt.cancel(rt.state.runs.query(name="wait", status="running")[0].id)

        canceller = threading.Thread(target=cancel_once_running, daemon=True)
        canceller.start()
        run = rt.run("wait")
        canceller.join(10)
        assert run.status.value == "cancelled"
        wait_for(lambda: any(line.message == "saw the cancellation" for line in rt.logs(run.id)),
                 30, "the job on the cluster to see the cancellation")


def test_a_run_whose_dask_workers_keep_dying_is_lost_then_dead_lettered(
        test_app: App, tmp_path: Path) -> None:
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                     dashboard_address=":0") as cluster, \
            Runtime(test_app, home=tmp_path / "home", role="worker",
                    executor=cluster.scheduler_address.replace("tcp://", "dask://")) as rt:
        rt.submit(test_app.get_job("die"))
        rt.serve(until="idle", timeout="60s", threads=1, scheduler=False)
        runs = rt.runs("die")
        dead = rt.dlq_errors(test_app.get_job("die"))
    assert [r.status.value for r in runs] == ["failed", "dead-lettered"]
    assert runs[0].error.startswith("the Dask workers running it died")
    assert len(dead) == 1 and dead[0].startswith("worker lost while handling it 2 times")


def test_where_a_job_runs_is_the_option_then_the_declaration_then_the_setting() -> None:
    app = App("executors")

    @app.job(executor="dask")
    def heavy(ctx) -> None: ...

    @app.job()
    def light(ctx) -> None: ...

    def chosen(job, option=None, setting=None):
        config = ConfigSources(environ={"CAUCE_EXECUTOR": setting} if setting else {})
        runtime = Runtime(app, config=config, executor=option)
        return runtime.executors.url_for(job)

    assert chosen(light) == "local" and chosen(heavy) == "dask"
    assert chosen(light, setting="dask://sched:8786") == "dask://sched:8786"
    assert chosen(heavy, setting="dask://sched:8786") == "dask://sched:8786"
    assert chosen(heavy, option="local", setting="dask://sched:8786") == "local"
    with pytest.raises(ConfigError, match="environment CAUCE_EXECUTOR: unknown executor 'ray'"):
        chosen(light, setting="ray")
    with pytest.raises(DeclarationError, match="job 'bad': executor 'dask://sched' names no"):
        app.job(name="bad", executor="dask://sched")(lambda ctx: None)


def test_a_worker_that_cannot_see_the_state_refuses_rather_than_start_an_empty_one(
        cluster: distributed.LocalCluster, home: Path, tmp_path: Path) -> None:
    with Runtime(transit, home=home) as rt:
        spec = RunSpec("r1", transit.get_job("adatrap"), 1, "r1", DAYS[0], {})
        elsewhere = f"sqlite:///{tmp_path}/elsewhere/state.db"
        task = replace(child_task(rt, spec), state=elsewhere)
    with distributed.Client(cluster) as client, pytest.raises(
            CauceError, match=re.escape(f"state {elsewhere} is not reachable from Dask worker")):
        client.submit(run_task, task, pure=False).result()
    assert not (tmp_path / "elsewhere").exists()


def test_a_worker_address_is_refused_and_a_scheduler_without_workers_is_said(
        cluster: distributed.LocalCluster, test_app: App, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    worker = next(iter(cluster.workers.values())).worker_address
    with Runtime(test_app, home=tmp_path / "one", executor=worker.replace("tcp://", "dask://")
                 ) as rt, pytest.raises(CauceError, match=re.escape(
                     f"{worker} is not a Dask scheduler: a Dask Worker answers there")):
        rt.executors.open_all()
    with distributed.LocalCluster(n_workers=0, dashboard_address=":0") as empty, \
            Runtime(test_app, home=tmp_path / "two",
                    executor=empty.scheduler_address.replace("tcp://", "dask://")) as rt, \
            caplog.at_level(logging.WARNING, logger="cauce.runtime.dask_executor"):
        rt.executors.open_all()
    assert caplog.messages == [f"the Dask scheduler at {empty.scheduler_address} has no workers: "
                               "runs sent to it wait until one joins "
                               f"(`dask worker {empty.scheduler_address}`)"]


def messages(rt: Runtime, run_id: str) -> list[str]:
    """The lines logged for a run, recorded or not."""
    return [line.message for line in rt.state.logs.read(run_id=run_id)]


def stopped_spinning(rt: Runtime, run_id: str) -> bool:
    return "stopped spinning" in messages(rt, run_id)


def test_a_run_on_dask_past_its_timeout_is_stopped_on_its_worker(
        test_app: App, url: str, tmp_path: Path) -> None:
    with Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
        run = rt.run("spin-briefly")
        assert run.status.value == "failed"
        assert run.error == "timed out after 0.5 s; the job was interrupted"
        # it was asked to stop, then interrupted, on the worker: before, it spun there for
        # ever, holding a thread Dask took for free
        wait_for(lambda: stopped_spinning(rt, run.id), 30, "the job to be interrupted")


def test_a_task_whose_claimer_stops_waiting_is_stopped_on_its_worker(
        test_app: App, url: str, tmp_path: Path) -> None:
    with Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
        job = test_app.get_job("spin")
        spec = RunSpec("r-abandoned", job, 1, "r-abandoned")
        cancel = threading.Event()
        outcomes: list[object] = []
        waiting = threading.Thread(target=lambda: outcomes.append(
            rt.executors.remote(job).execute(spec, cancel)), daemon=True)
        waiting.start()
        wait_for(lambda: any("of spin started" in m for m in messages(rt, spec.run_id)), 30,
                 "the job to start on the cluster")
        cancel.set()  # as a claimer stopping: nothing is asked through the state
        waiting.join(10)
        assert outcomes and outcomes[0].cancelled
        wait_for(lambda: stopped_spinning(rt, spec.run_id), 30, "the job to be interrupted")
        assert any(m.startswith("its Dask task was cancelled")
                   for m in messages(rt, spec.run_id))


def test_runs_after_the_scheduler_went_away_fail_and_reach_it_again_when_it_is_back(
        test_app: App, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port, for a scheduler started twice on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def cluster() -> distributed.LocalCluster:
        return distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", scheduler_port=port,
                                        dashboard_address=":0")

    def run_in_time(rt: Runtime) -> object:
        # before, a run sent through a client Dask had closed waited for ever
        runs: list[object] = []
        runner = threading.Thread(target=lambda: runs.append(rt.run("hello")), daemon=True)
        runner.start()
        runner.join(60)
        assert runs, "the run did not end"
        return runs[0]

    with Runtime(test_app, home=tmp_path / "home", executor=f"dask://127.0.0.1:{port}") as rt:
        with cluster():
            assert rt.run("hello").succeeded
            client = rt.executors.remote(test_app.get_job("hello")).client
        wait_for(lambda: client.status == "closed", 60, "Dask to give the scheduler up")
        gone = run_in_time(rt)
        assert gone.status.value == "failed"
        assert gone.error == (f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} "
                              "(Connection refused); start one with `dask scheduler` and `dask "
                              f"worker tcp://127.0.0.1:{port}`, or use --executor dask for a "
                              "cluster on this machine")
        with cluster():
            assert run_in_time(rt).succeeded


def test_a_task_that_fails_outside_the_job_says_why_in_the_runs_log(
        test_app: App, url: str, tmp_path: Path) -> None:
    with Runtime(test_app, home=tmp_path / "home", executor=url,
                 app_ref="nowhere_to_import:app") as rt:
        run = rt.run("hello")
        lines = [line.message for line in rt.logs(run.id)]
    error = ("its Dask task failed: ModuleNotFoundError: No module named 'nowhere_to_import' "
             "(hint: Dask workers import the app as 'nowhere_to_import': start them where it "
             "can be imported, e.g. with its package installed)")
    assert run.status.value == "failed" and run.error == error
    # before, the log the failure's hint points at was empty
    [line] = lines
    assert line.startswith(f"attempt 1 failed: {error}\nTraceback")


def test_a_timeout_counts_from_when_the_job_starts_not_while_its_task_waits_for_a_worker(
        test_app: App, tmp_path: Path) -> None:
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as one, \
            Runtime(test_app, home=tmp_path / "home", role="worker",
                    executor=one.scheduler_address.replace("tcp://", "dask://")) as rt:
        for _ in range(4):  # one at a time on the one worker: the last waits 3 s or more
            rt.submit(test_app.get_job("nap"))
        rt.serve(until="idle", timeout="60s", threads=4, scheduler=False)
        runs = rt.runs("nap")
    assert [(r.status.value, r.result) for r in runs] == [("succeeded", "rested")] * 4


def test_a_relative_sqlite_state_is_found_by_workers_started_elsewhere(
        test_app: App, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the cluster's workers were started in another folder
    with Runtime(test_app, home=tmp_path / "home", state="sqlite:///here.db", executor=url) as rt:
        run = rt.run("hello")
    assert (run.status.value, run.error) == ("succeeded", None)


def test_an_app_file_the_workers_cannot_import_says_where_it_is(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "dask_file_app.py").write_text(TEST_APP)
    monkeypatch.syspath_prepend(str(folder))  # here only: the cluster's workers cannot see it
    from dask_file_app import app

    with Runtime(app, home=tmp_path / "home", executor=url, app_ref="dask_file_app:app") as rt:
        run = rt.run("hello")
    assert run.error.endswith("(hint: Dask workers import the app as 'dask_file_app': start "
                              f"them where it can be imported, e.g. with PYTHONPATH={folder})")


def test_a_wait_distributed_cancels_is_looked_at_again_not_taken_for_the_tasks_failure(
        test_app: App, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's client can cancel its wait for a task's result (as it closes when the scheduler
    goes away, or reconnects), and its sync() then raises UnboundLocalError ('result') instead
    of an answer: the attempt was reported as the task's own failure ("its Dask task failed:
    UnboundLocalError") though the job ran. The answer is waited for again."""
    result = distributed.Future.result

    def cancelled_once(self: distributed.Future, timeout: float | None = None) -> object:
        monkeypatch.setattr(distributed.Future, "result", result)
        raise UnboundLocalError("cannot access local variable 'result' where it is not "
                                "associated with a value")

    monkeypatch.setattr(distributed.Future, "result", cancelled_once)
    with Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
        run = rt.run("hello")
    assert run.succeeded and run.result == "hello", run.error


def _tls_config(security: distributed.security.Security) -> dict[str, str]:
    """Dask's settings naming a client's TLS files (here their PEM text, which Dask takes too)."""
    return {"distributed.comm.tls.ca-file": security.tls_ca_file,
            "distributed.comm.tls.client.cert": security.tls_client_cert,
            "distributed.comm.tls.client.key": security.tls_client_key}


def test_runs_go_to_a_scheduler_listening_with_tls(test_app: App, tmp_path: Path) -> None:
    # a cluster on other machines gets the task — the state URL and settings, secrets among
    # them — over the network: with TLS it can, through dask+tls://, which was no executor
    pytest.importorskip("cryptography", reason="Dask's temporary certificates need it")
    security = distributed.security.Security.temporary()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", security=security,
                                  protocol="tls://") as cluster:
        url = cluster.scheduler_address.replace("tls://", "dask+tls://")
        with pytest.raises(CauceError, match="takes TLS, and Dask's configuration names no "
                           "certificates") as info, \
                Runtime(test_app, home=tmp_path / "none", executor=url) as rt:
            rt.run("hello")
        assert "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" in (info.value.hint or "")
        stranger = distributed.security.Security.temporary()
        with dask.config.set(_tls_config(stranger)), \
                pytest.raises(CauceError, match=r"the TLS handshake with the Dask scheduler at "
                              r"tls://\S+ failed: self-signed certificate"), \
                Runtime(test_app, home=tmp_path / "stranger", executor=url) as rt:
            rt.run("hello")
        with dask.config.set(_tls_config(security)), \
                Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
            run = rt.run("hello")
            lines = [line.message for line in rt.logs(run.id)]
        assert (run.succeeded, run.result) == (True, "hello")
        assert any("on Dask worker tls://" in m for m in lines)


def test_dask_tls_without_certificates_says_so_before_trying_the_network(
        test_app: App, tmp_path: Path) -> None:
    # with no scheduler there (yet), the missing certificates were not named: "cannot reach",
    # with a hint to start a plain `dask scheduler`
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"dask+tls://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(CauceError, match="takes TLS, and Dask's configuration names no "
                       "certificates"), \
            Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
        rt.run("hello")
    pytest.importorskip("cryptography", reason="Dask's temporary certificates need it")
    with dask.config.set(_tls_config(distributed.security.Security.temporary())), \
            pytest.raises(CauceError, match="cannot reach the Dask scheduler") as info, \
            Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
        rt.run("hello")
    assert "`dask scheduler --protocol tls` (and its certificates)" in (info.value.hint or "")


def test_what_a_run_prints_on_dask_is_printed_where_it_was_sent_from(
        test_app: App, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As a run in a thread of this process prints here (to this process's stdout, not into
    the run's log), a run on a Dask worker prints here too, not on the worker's terminal."""
    out, err = [], []

    def printed() -> bool:
        found = capsys.readouterr()
        out.append(found.out)
        err.append(found.err)
        return "no line end" in "".join(out) and "said to stderr" in "".join(err)

    with Runtime(test_app, home=tmp_path / "home", executor=url) as rt:
        run = rt.run("chatty")
        assert run.succeeded
        wait_for(printed, timeout=10, what="the run's printed text here")
        lines = [line.message for line in rt.logs(run.id)]
    assert "said by print 1\n" in "".join(out)
    assert "said by print 1" not in "".join(err) and not any("said" in m for m in lines)


_FEW_FILES = """
import resource, sys
from cauce.errors import ConfigError
from cauce.runtime.dask_executor import DaskExecutor, make_room_for_files
soft, hard = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
try:
    DaskExecutor(None, "dask") if hard < 1000 else make_room_for_files(500, "a test")
except ConfigError as err:
    print(err.message)
    print(err.hint)
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def _few_files(soft: int, hard: int) -> list[str]:
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[2] / "src"
    out = subprocess.run([sys.executable, "-c", _FEW_FILES, str(soft), str(hard)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(src)})
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_a_local_cluster_with_too_few_open_files_is_refused_before_it_starts() -> None:
    """At `ulimit -n 64` a local cluster started, its scheduler's accept loop failed on every
    turn and logged it (200,000 lines in 45 s of `cauce serve`), and runs hung."""
    message, hint, soft = _few_files(64, 64)
    workers = os.cpu_count() or 1
    assert message == (f"a local Dask cluster of {workers} worker(s) needs about "
                       f"{64 + 24 * workers} open files, and this process may have 64 "
                       "(ulimit -n, its hard limit too)")
    assert "ulimit -n 4096" in hint and "--executor local" in hint
    assert soft == "64"


def test_a_soft_limit_on_open_files_is_raised_as_far_as_the_hard_one_allows() -> None:
    assert _few_files(64, 4096) == ["500"]
