"""The stream indicators on planted records: each of the eight on a positive, a negative, both
sides of a window edge and a late record; abuse over history and the stream; the reference
reloaded when a newer ETL lands; one row per (contract, indicator, window) and one message per
`Si` alert."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from contracting_fixtures import proc, write_raw

from cauce.apps.contracting import app, rawzone
from cauce.apps.contracting.etl import EtlOutput
from cauce.apps.contracting.stream import consumer
from cauce.apps.contracting.stream.alerts import INDICATORS
from cauce.apps.contracting.stream.store import ALERTS_TABLE, checkpoint_name
from cauce.apps.contracting.tables import (
    CANCELADOS,
    FISCALES,
    MULTAS,
    OBRAS,
    PEP,
    PROCESOS,
    PUESTOS,
    RUES,
)
from cauce.testing import TestRuntime

DAY = "2023-04-16"
# after the records' event times (10:00-10:30, in the app's time zone): a record from the
# future moves the watermark only as far as its arrival plus five minutes
START = "2023-04-17T11:00:00"

REFERENCE: dict[str, list[dict[str, Any]]] = {
    PEP: [{"id_nit_pep": "111"}],
    PUESTOS: [{"id_nit_identificacion": "222"}],
    CANCELADOS: [
        {"id_nit_rep_legal": "333", "id_proveedor": "900"},
        {"id_nit_rep_legal": "No Definido", "id_proveedor": "901"},
    ],
    MULTAS: [{"nombre_contratista_sancionado": "MULTADO SAS"}],
    OBRAS: [{"nombre_rol_1": "OBRA INCONCLUSA SAS"}],
    FISCALES: [
        {"nombre_responsable_fiscal": "FISCAL SAS"},
        {"nombre_responsable_fiscal": "CONTADO SAS", "cant_registros_responsable_fiscal": 2},
    ],
    RUES: [
        {"id_nit_empresa": "444", "id_empresa": "9444", "tipo_estado_matricula": "CANCELADA"},
        {"id_nit_empresa": "446", "id_empresa": "9446", "tipo_estado_matricula": "ACTIVA"},
    ],
    PROCESOS: [
        proc(id_nit_entidad="E1", id_nit_proveedor="P1"),
        proc(id_nit_entidad="E1", id_nit_proveedor="P1"),
        proc(n="77777", id_nit_entidad="E3", id_nit_proveedor="P3"),
        proc(n="77777", id_nit_entidad="E3", id_nit_proveedor="P3"),  # a phase row
        proc(id_nit_entidad="E4", id_nit_proveedor="No Definido"),
        proc(id_nit_entidad="E4", id_nit_proveedor="No Definido"),
    ],
}

# indicator -> (fields of a matching record, fields of one that does not match)
CASES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "contratos con proveedores PEP": ({"id_nit_proveedor": "111"}, {"id_nit_proveedor": "112"}),
    "contratos con proveedores con puestos sensibles": (
        {"id_nit_proveedor": "222"},
        {"id_nit_proveedor": "223"},
    ),
    "contratistas con contratos cancelados": (
        {"id_nit_proveedor": "333"},
        {"id_nit_proveedor": "900"},
    ),
    "inhabilitados por multa": (
        {"nombre_proveedor": "MULTADO SAS"},
        {"nombre_proveedor": "MULTADO S.A.S."},
    ),
    "inhabilitados por obras inconclusas": (
        {"nombre_proveedor": "OBRA INCONCLUSA SAS"},
        {"nombre_proveedor": "OBRA SAS"},
    ),
    "inhabilitados por responsabilidad fiscal": (
        {"nombre_responsable_fiscal": "FISCAL SAS"},
        {"nombre_responsable_fiscal": "CONTADO SAS"},
    ),
    # fixed: the provider, by NIT or by identification number, never the record's empresa
    "contratos con proveedores inactivos": (
        {"id_nit_proveedor": "444"},
        {"id_nit_proveedor": "446", "id_nit_empresa": "444"},
    ),
    # two historic processes of E1 to P1, plus this contract
    "abuso de la contratación": (
        {"id_nit_entidad": "E1", "id_nit_proveedor": "P1"},
        {"id_nit_entidad": "E3", "id_nit_proveedor": "P3"},
    ),
}
NEUTRAL = {
    "id_nit_proveedor": "700000001",
    "id_nit_empresa": "600000001",
    "id_portafolio": "21082091",
    "nombre_proveedor": "NADIE SAS",
    "nombre_responsable_fiscal": "NADIE",
}


def record(n: int, time: str, **fields: str) -> dict[str, Any]:
    return {
        "event_date": "2023-04-17",
        "event_time": time,
        "id_no_contrato": f"CO1.REQ.{n:07d}",
        "id_nit_entidad": f"8{n:08d}",
        **NEUTRAL,
        **fields,
        "monto_contrato": 1234.5,
    }


def publish(
    rt: TestRuntime, folder: Path, day: str, tables: dict[str, list[dict]], run: str
) -> None:
    """Commit raw-zone partitions as the ETL does (parts, then `_SUCCESS`)."""
    for table, (path,) in write_raw(folder / run, tables).items():
        output = EtlOutput(table, 1, "utf-8", parts=[(f"part-{run}-0.parquet", path)])
        rawzone.publish(
            rt.bucket("raw"), rt.bucket("quarantine"), table, date.fromisoformat(day), run, output
        )


def put(rt: TestRuntime, *records: dict[str, Any]) -> None:
    rt.stream("contracts").put_many([(r, "test-0") for r in records])
    rt.drain()


def alerts(rt: TestRuntime) -> dict[tuple[str, str], dict[str, Any]]:
    rows = rt.warehouse("results").query(f"SELECT * FROM {ALERTS_TABLE}").to_pylist()
    keyed = {(r["id_no_contrato"], r["nombre_indicador"]): r for r in rows}
    assert len(keyed) == len(rows), "a (contract, indicator) has two rows"
    return keyed


def subscribed() -> None:
    """Topic `alerts` delivered to a queue the test reads (declared once per process)."""
    if "alerts_seen" not in app.resources:
        app.get_resource("alerts").subscribe(app.queue("alerts_seen"))


def seen(rt: TestRuntime) -> list[dict[str, Any]]:
    queue = rt.queue("alerts_seen")
    out = []
    while batch := queue.receive(100):
        out += [m.body for m in batch]
        queue.ack(batch)
    return out


@pytest.fixture
def rt(tmp_path):
    subscribed()
    with TestRuntime(app, settings={"download": False}, start=START) as runtime:
        publish(runtime, tmp_path, DAY, REFERENCE, "r1")
        yield runtime


def test_a_record_from_the_future_does_not_make_the_later_ones_late(rt):
    """A record dated 2099 (a clock set wrong, a mistyped year) moved the watermark there, and
    every record after it counted as late; its event time now counts only up to its arrival
    plus the five minutes allowed. Its alerts are in its own window as before."""
    put(
        rt,
        record(1, "110100"),
        record(2, "000000", event_date="2099-01-01"),
        record(3, "110130"),
        record(4, "110200"),
    )  # they reach the stream at 11:00 in Bogotá
    state = rt.warehouse("results").checkpoint(checkpoint_name("contracts", 0))
    assert state["late"] == 0 and state["seq"] == 4
    assert state["watermark"] <= rt.clock.time() + 300  # not 2099
    got = alerts(rt)
    assert json.loads(got[("CO1.REQ.0000002", INDICATORS[0][1])]["window"])["start"] == (
        "2099-01-01T00:00:00.000-05:00")


@pytest.mark.parametrize("indicator", list(CASES))
def test_each_indicator_positive_negative_window_edge_and_late(rt, indicator):
    hit, miss = CASES[indicator]
    put(
        rt,
        record(1, "100459", **hit),
        record(2, "100500", **miss),
        record(3, "103000"),
        record(4, "101200", **hit),
    )  # 4 is 18 minutes late
    got = alerts(rt)
    assert len(got) == 4 * len(INDICATORS)
    flag = {
        n: got[(f"CO1.REQ.{n:07d}", indicator)]["tipo_alerta_irregularidad"] for n in (1, 2, 3, 4)
    }
    assert flag == {1: "Si", 2: "No", 3: "No", 4: "Si"}
    window = {
        n: json.loads(got[(f"CO1.REQ.{n:07d}", indicator)]["window"])["start"] for n in (1, 2, 4)
    }
    assert window == {
        1: "2023-04-17T10:00:00.000-05:00",
        2: "2023-04-17T10:05:00.000-05:00",
        4: "2023-04-17T10:10:00.000-05:00",
    }
    others = [
        k for k, r in got.items() if r["tipo_alerta_irregularidad"] == "Si" and k[1] != indicator
    ]
    assert others == []
    state = rt.warehouse("results").checkpoint(checkpoint_name("contracts", 0))
    assert state["late"] == 1 and state["seq"] == 4
    messages = seen(rt)
    assert {m["id_alerta"]: [a["nombre_indicador"] for a in m["alertas"]] for m in messages} == {
        "CO1.REQ.0000001|2023-04-17T10:00:00.000-05:00": [indicator],
        "CO1.REQ.0000004|2023-04-17T10:10:00.000-05:00": [indicator],
    }


def test_the_alert_row_keeps_the_original_columns_and_amount(rt):
    put(rt, record(1, "100000", id_nit_proveedor="111"))
    row = alerts(rt)[("CO1.REQ.0000001", "contratos con proveedores PEP")]
    assert list(row) == [
        "id_no_contrato",
        "nombre_grupo_indicador",
        "nombre_indicador",
        "tipo_alerta_irregularidad",
        "monto_contrato",
        "window",
        "fecha_ejecucion",
    ]
    assert row["nombre_grupo_indicador"] == "otros indicadores"
    assert str(row["monto_contrato"]) == "1234.500"
    assert len(row["fecha_ejecucion"]) == 25 and len(row["window"]) <= 100
    groups = {k[1]: r["nombre_grupo_indicador"] for k, r in alerts(rt).items()}
    assert groups["inhabilitados por responsabilidad fiscal"] == "indicadores por inhabilidad"


def test_abuse_counts_the_stream_with_the_history(rt):
    pair = {"id_nit_entidad": "E2", "id_nit_proveedor": "P2"}
    put(rt, record(1, "100000", **pair), record(2, "100100", **pair))
    put(
        rt,
        record(3, "100200", **pair),
        record(4, "100300", **pair),
        record(5, "100400", id_nit_entidad="E4", id_nit_proveedor="No Definido"),
        record(6, "100500", id_nit_entidad="E3", id_nit_proveedor="P3"),
        record(7, "100600", id_nit_entidad="E3", id_nit_proveedor="P3"),
    )
    got = alerts(rt)
    flags = {
        n: got[(f"CO1.REQ.{n:07d}", "abuso de la contratación")]["tipo_alerta_irregularidad"]
        for n in range(1, 8)
    }
    # E2→P2: no history, third stream contract on; E3→P3: one process (two rows) + 2 contracts
    assert flags == {1: "No", 2: "No", 3: "Si", 4: "Si", 5: "No", 6: "No", 7: "Si"}


def test_a_contract_sent_again_replaces_its_rows(rt):
    put(rt, record(1, "100000"))
    put(rt, record(1, "100100", id_nit_proveedor="111"))
    got = alerts(rt)
    assert len(got) == len(INDICATORS)
    assert (
        got[("CO1.REQ.0000001", "contratos con proveedores PEP")]["tipo_alerta_irregularidad"]
        == "Si"
    )


def test_a_newer_etl_replaces_the_reference_without_stopping(rt, tmp_path):
    put(rt, record(1, "100000", id_nit_proveedor="111"))
    publish(rt, tmp_path, "2023-04-23", {PEP: [{"id_nit_pep": "999"}]}, "r2")
    rt.advance(f"{rt.settings['reference_check'] + 1}s")
    put(rt, record(2, "100100", id_nit_proveedor="111"))  # still the old sets while loading
    consumer.wait_for_reference()
    put(
        rt, record(3, "100200", id_nit_proveedor="111"), record(4, "100300", id_nit_proveedor="999")
    )
    got = alerts(rt)
    pep = {
        n: got[(f"CO1.REQ.{n:07d}", "contratos con proveedores PEP")]["tipo_alerta_irregularidad"]
        for n in (1, 3, 4)
    }
    assert pep == {1: "Si", 3: "No", 4: "Si"}
    assert len(got) == 4 * len(INDICATORS)


def test_a_batch_failing_after_its_warehouse_commit_is_applied_once(rt, monkeypatch):
    topic, calls = app.get_resource("alerts"), []
    publish = topic.publish

    def failing(body):  # the first publish fails: the rows are committed, the checkpoint not
        calls.append(body["id_no_contrato"])
        if len(calls) == 1:
            raise ConnectionError("topic unreachable")
        return publish(body)

    monkeypatch.setattr(topic, "publish", failing)
    pair = {"id_nit_entidad": "E2", "id_nit_proveedor": "P2"}
    rt.stream("contracts").put_many(
        [
            (record(1, "100000", nombre_proveedor="MULTADO SAS", **pair), "test-0"),
            (record(2, "100100", **pair), "test-0"),
        ]
    )
    rt.drain()
    rt.advance("10s")
    put(rt, record(3, "100200", **pair))
    pairs = rt.warehouse("results").query("SELECT * FROM t_stream_pares_abuso").to_pylist()
    assert pairs == [{"id_nit_entidad": "E2", "id_nit_proveedor": "P2", "contratos": 3}]
    flags = {
        k[0]: r["tipo_alerta_irregularidad"]
        for k, r in alerts(rt).items()
        if k[1] == "abuso de la contratación"
    }
    assert flags == {"CO1.REQ.0000001": "No", "CO1.REQ.0000002": "No", "CO1.REQ.0000003": "Si"}
    assert [m["id_no_contrato"] for m in seen(rt)] == ["CO1.REQ.0000001", "CO1.REQ.0000003"]
    assert len(rt.runs("alert", status="failed")) == 1


def test_a_record_without_a_usable_contract_id_is_quarantined_and_its_batch_goes_on(rt):
    """One such record used to fail its whole batch, good records included, into the DLQ."""
    put(
        rt,
        record(1, "100459"),
        {},
        "not a record",  # type: ignore[arg-type]
        record(2, "100500", id_no_contrato="C" * 101),
        record(3, "100500"),
    )
    assert {contract for contract, _ in alerts(rt)} == {"CO1.REQ.0000001", "CO1.REQ.0000003"}
    bucket = rt.bucket("quarantine")
    kept = [json.loads(bucket.get(o.key)) for o in bucket.list("t_streaming_contracts/")]
    assert sorted((q["seq"], q["reason"]) for q in kept) == [
        (2, "no id_no_contrato"),
        (3, "not a JSON object"),
        (4, "id_no_contrato longer than 100 characters"),
    ]
    assert rt.dlq("alert") == []
    assert rt.warehouse("results").checkpoint(checkpoint_name("contracts", 0))["seq"] == 5


def test_a_batch_of_records_it_cannot_alert_still_moves_the_checkpoint(rt):
    put(rt, {}, {"id_no_contrato": " "})
    assert alerts(rt) == {} and rt.dlq("alert") == []
    assert rt.warehouse("results").checkpoint(checkpoint_name("contracts", 0))["seq"] == 2
    put(rt, record(1, "100459"))
    assert {contract for contract, _ in alerts(rt)} == {"CO1.REQ.0000001"}


def test_an_amount_that_is_no_decimal_30_3_is_null_and_its_batch_goes_on(rt):
    """1e40, "NaN" or "Infinity" failed the cast to decimal(30,3): the batch was retried until
    it went to the dead-letter queue, good records with it. Spark's schema read them as null."""
    amounts = [1e40, "NaN", "-Infinity", True, "1.234,56", 1234.5]
    put(rt, *({**record(n, "100000"), "monto_contrato": a} for n, a in enumerate(amounts, 1)))
    got = alerts(rt)
    monto = {c: r["monto_contrato"] for (c, _), r in got.items()}
    assert [monto[f"CO1.REQ.{n:07d}"] for n in range(1, 7)] == [None] * 5 + [Decimal("1234.500")]
    assert rt.dlq("alert") == []


def test_nul_characters_are_dropped_and_the_id_length_is_the_stored_one(rt):
    """A NUL in a field failed the batch on PostgreSQL (invalid byte sequence 0x00), so it went
    to the dead-letter queue; an id of 100 characters after a leading space was let through
    and overflowed varchar(100)."""
    put(
        rt,
        record(1, "100000", id_nit_proveedor="11\x001", id_no_contrato="CO1.REQ.\x001"),
        record(2, "100000", id_no_contrato=" " + "C" * 100),
    )
    got = alerts(rt)
    assert {contract for contract, _ in got} == {"CO1.REQ.1"}
    assert got[("CO1.REQ.1", "contratos con proveedores PEP")]["tipo_alerta_irregularidad"] == "Si"
    bucket = rt.bucket("quarantine")
    [kept] = [json.loads(bucket.get(o.key)) for o in bucket.list("t_streaming_contracts/")]
    assert kept["reason"] == "id_no_contrato longer than 100 characters"


def test_a_lone_surrogate_in_a_field_is_replaced_and_its_batch_goes_on(rt):
    """JSON may escape half a surrogate pair (``"\\ud800"``), which has no UTF-8 form: the
    batch failed to encode, was retried into the dead-letter queue with every good record of
    it, and the shard stalled meanwhile. It is now U+FFFD, as a decoder writes it."""
    put(
        rt,
        record(1, "100000", nombre_proveedor="MULTADO\ud800 SAS", id_no_contrato="CO1.\udc80"),
        record(2, "100000", nombre_proveedor="MULTADO SAS"),
        {"nombre_proveedor": "\ud800"},  # quarantined: no id
    )
    got = alerts(rt)
    assert {contract for contract, _ in got} == {"CO1.\ufffd", "CO1.REQ.0000002"}
    bucket = rt.bucket("quarantine")
    [kept] = [json.loads(bucket.get(o.key)) for o in bucket.list("t_streaming_contracts/")]
    assert kept["record"] == {"nombre_proveedor": "\ud800"}
    assert got[("CO1.REQ.0000002", "inhabilitados por multa")]["tipo_alerta_irregularidad"] == "Si"
    assert got[("CO1.\ufffd", "inhabilitados por multa")]["tipo_alerta_irregularidad"] == "No"
    assert rt.dlq("alert") == []


def test_a_dead_lettered_batch_replayed_after_later_batches_is_alerted(rt, monkeypatch):
    """The shard moves on past a dead-lettered batch, so later batches move the warehouse
    checkpoint beyond it; its replay then counted as a batch applied before a crash and did
    nothing, saying it succeeded: its records were never alerted. A replay that fails after its
    warehouse commit is applied once, and its messages are published once."""
    evaluate, broken = consumer.evaluate, [True]

    def failing(df, *args):
        if broken[0]:
            raise RuntimeError("reference unreadable")
        return evaluate(df, *args)

    monkeypatch.setattr(consumer, "evaluate", failing)
    pair = {"id_nit_entidad": "E2", "id_nit_proveedor": "P2"}
    put(rt, record(1, "100000", nombre_proveedor="MULTADO SAS", **pair), record(2, "100100"))
    assert len(rt.dlq("alert")) == 1 and "reference unreadable" in rt.dlq_errors("alert")[0]
    broken[0] = False
    put(rt, record(3, "100200", nombre_proveedor="MULTADO SAS", **pair))
    assert {contract for contract, _ in alerts(rt)} == {"CO1.REQ.0000003"}
    topic, calls = app.get_resource("alerts"), []
    publish = topic.publish

    def lost_once(body):  # the replay's first publish fails after its warehouse commit
        calls.append(body["id_no_contrato"])
        if len(calls) == 1:
            raise ConnectionError("topic unreachable")
        return publish(body)

    monkeypatch.setattr(topic, "publish", lost_once)
    assert rt.replay("alert") == 1
    rt.drain()
    rt.advance("10s")
    got = alerts(rt)
    assert {contract for contract, _ in got} == {f"CO1.REQ.000000{n}" for n in (1, 2, 3)}
    assert [m["id_no_contrato"] for m in seen(rt)] == ["CO1.REQ.0000003", "CO1.REQ.0000001"]
    assert calls == ["CO1.REQ.0000001"] * 2
    pairs = rt.warehouse("results").query(
        "SELECT contratos FROM t_stream_pares_abuso WHERE id_nit_entidad = 'E2'"
    ).to_pylist()
    assert pairs == [{"contratos": 2}]
    assert rt.dlq("alert") == []
