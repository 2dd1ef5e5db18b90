"""The stream producer: the original's record schema and value pools, contract numbers that
continue across runs, the original's 20-second pace by default, and the same records for the
same seed whatever the rate or batches."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime

import pyarrow as pa
import pytest

from cauce import ConfigError
from cauce.apps.contracting import app
from cauce.apps.contracting.stream import records as rec
from cauce.testing import TestRuntime
from cli_runner import clean_environment, in_process

START = "2023-04-17T09:00:00"


def sunk(rt: TestRuntime) -> list[dict]:
    """Every record on the stream, as the staging sink wrote them (after its 100 s)."""
    rt.advance("101s")
    rt.drain()
    out = []
    for obj in sorted(rt.bucket("staging").list("t_streaming_contracts/"), key=lambda o: o.key):
        text = gzip.decompress(rt.bucket("staging").get(obj.key)).decode()
        out += [json.loads(line) for line in text.splitlines()]
    return out


def produced(seed: int, **params) -> list[dict]:
    with TestRuntime(app, start=START) as rt:
        run = rt.run("produce", seed=seed, **params)
        assert run.succeeded, run.error
        return sunk(rt)


def _in_pool(value: str, spec: tuple[tuple[str, ...], tuple[int, ...]]) -> bool:
    pool, digits = spec
    return value in pool or (value.isdigit() and len(value) in digits)


def test_records_have_the_original_schema_and_pools():
    got = produced(3, rate=20.0, for_="10s")
    assert len(got) == 200
    assert [list(r) for r in got] == [rec.SCHEMA.names] * 200
    assert [r["id_no_contrato"] for r in got] == [
        f"CO1.REQ.{n:07d}" for n in range(1_100_069, 1_100_269)
    ]
    for r in got:
        assert r["event_date"] == "2023-04-17" and re.fullmatch(r"09\d{4}", r["event_time"])
        assert _in_pool(r["id_nit_entidad"], rec.ENTIDADES)
        assert _in_pool(r["id_nit_proveedor"], rec.PROVEEDORES)
        assert _in_pool(r["id_nit_empresa"], rec.EMPRESAS)
        assert _in_pool(r["id_portafolio"], rec.PORTAFOLIOS)
        assert r["nombre_proveedor"] in rec.NOMBRES
        assert r["nombre_responsable_fiscal"] in rec.RESPONSABLES
        assert (
            0 <= r["monto_contrato"] < 1e8 and round(r["monto_contrato"], 3) == r["monto_contrato"]
        )
    # both pool values and random ones are drawn
    assert {r["id_nit_proveedor"] in rec.PROVEEDORES[0] for r in got} == {True, False}
    table = pa.Table.from_pylist(got).cast(
        pa.schema([f.with_type(pa.string()) if f.name == "event_date" else f for f in rec.SCHEMA])
    )
    assert table.num_rows == 200


def test_the_default_pace_is_one_record_every_20_seconds():
    got = produced(1, for_="60s")
    assert [r["event_time"] for r in got] == ["090000", "090020", "090040"]


def test_the_same_seed_puts_the_same_records_whatever_the_rate():
    slow, fast = produced(7, rate=10.0, for_="30s"), produced(7, rate=1000.0, for_="0.3s")
    fields = [f for f in rec.SCHEMA.names if f != "event_time"]
    assert [{f: r[f] for f in fields} for r in slow] == [{f: r[f] for f in fields} for r in fast]
    other = produced(8, rate=10.0, for_="30s")
    assert [r["id_nit_proveedor"] for r in other] != [r["id_nit_proveedor"] for r in slow]
    assert produced(7, rate=10.0, for_="30s") == slow


def test_contract_numbers_continue_across_runs():
    with TestRuntime(app, start=START) as rt:
        assert rt.run("produce", rate=5.0, for_="2s").result["last"] == "CO1.REQ.1100078"
        second = rt.run("produce", rate=5.0, for_="2s").result
        assert (second["first"], second["last"]) == ("CO1.REQ.1100079", "CO1.REQ.1100088")
        assert len(sunk(rt)) == 20


def test_a_batch_draws_what_single_records_draw():
    when = datetime(2023, 4, 17, 10, 0, 0)
    whole = rec.draw(5, rec.FIRST_ID, 9000, when)
    parts = [rec.draw(5, rec.FIRST_ID + i, 1, when)[0] for i in (0, 4095, 4096, 8999)]
    assert [whole[i] for i in (0, 4095, 4096, 8999)] == parts
    assert {key for _, key in whole} == set(rec.PARTITION_KEYS)


def test_a_rate_out_of_range_is_refused_before_the_run():
    with TestRuntime(app, start=START) as rt:
        for rate in (60_000.0, 0.01):
            with pytest.raises(ConfigError, match=f"--rate: {rate} is invalid"):
                rt.run("produce", rate=rate, for_="1s")
        assert rt.runs() == []
    assert app.get_job("produce").params["rate"].bounds == "0.05<=x<=50000.0"


def test_the_duration_option_is_spelt_for():
    assert app.get_job("produce").params["for_"].option == "--for"


@pytest.mark.parametrize(("given", "problem"), [
    ("-1s", "Invalid value for '--for': '-1s' is negative; a duration is 0 or more, e.g. \"30s\""),
    ("0s", "--for: '0s' is invalid (Input should be greater than 0)"),
    ("soon", "Invalid value for '--for': 'soon' is not a duration; use a number of seconds or "
     'units ms, s, m, h, d, w, e.g. "10s", "1h30m", "8w"')])
def test_a_duration_of_no_time_is_an_option_error_not_a_failed_run(tmp_path, monkeypatch,
                                                                    capsys, given, problem):
    clean_environment(monkeypatch, tmp_path)
    cli = in_process(capsys)
    result = cli("run", "contracting", "produce", "--for", given)
    assert (result.status, result.err.splitlines()) == (2, [
        f"error: {problem}", "hint: see `cauce run contracting produce --help`"])
    assert not (tmp_path / ".cauce").exists(), "refused before the home is opened"


def test_a_duration_is_given_to_the_job_as_seconds():
    with TestRuntime(app, start=START) as rt:
        run = rt.run("produce", rate=2.0, for_="1.5s")
        assert run.succeeded, run.error
        assert run.params["for_"] == 1.5 and run.result["records"] == 3


def test_the_sink_files_a_record_without_a_valid_event_date_under_sin_fecha():
    """Only a real YYYY-MM-DD day names a folder: 2023-13-45, a trailing newline or digits of
    another script made folders of their own."""
    dates = ["2023-04-17", "2023-13-45", "2023-04-17\n", "٢٠٢٣-٠٤-١٧", None, 20230417]
    with TestRuntime(app, start=START) as rt:
        rt.stream("contracts").put_many(
            [({"event_date": d, "id_no_contrato": f"C{i}"}, "test-0") for i, d in enumerate(dates)]
        )
        sunk(rt)
        folders = {o.key.split("/")[1] for o in rt.bucket("staging").list("t_streaming_contracts/")}
    assert folders == {"2023-04-17", "sin-fecha"}
