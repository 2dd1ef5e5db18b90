"""Exports dropped into bucket staging by hand start their source's ETL for today in Bogotá;
the exports the app writes itself (synth, download) do not start a second one."""

from __future__ import annotations

from cauce.apps.contracting import app
from cauce.apps.contracting.rawzone import committed
from cauce.apps.contracting.sources import SOURCES
from cauce.testing import TestRuntime

MULTAS = SOURCES["t_seii_multasysanci_secopiimulsa"]


def test_a_dropped_export_is_loaded_and_the_apps_own_writes_are_not_loaded_twice() -> None:
    with TestRuntime(app, settings={"download": False}) as rt:
        for _ in range(2):  # written twice before the watch sees either event
            assert rt.run("synth", scale="tiny", date="2023-04-16").succeeded
        rt.drain()
        assert not [r for r in rt.runs() if r.name.startswith("etl")]  # synth's own exports
        assert (
            rt.table("staging_own").get(
                (f"origen/{MULTAS.file}", len(rt.bucket("staging").get(f"origen/{MULTAS.file}")))
            )
            is None
        )  # all counted off
        staging = rt.bucket("staging")
        export = staging.get(f"origen/{MULTAS.file}")
        staging.delete(f"origen/{MULTAS.file}")
        staging.put(f"origen/{MULTAS.file}", export)  # as `cauce put` does
        staging.put("origen/notas.txt", b"not an export")
        rt.drain()
        etl = [r for r in rt.runs() if r.name.startswith("etl")]
        today = rt.now().date()
        assert [(r.name, r.partition, r.status.value) for r in etl] == [
            ("etl-multas", today.isoformat(), "succeeded")
        ]
        commit = committed(rt.bucket("raw"), MULTAS.key, today)
        assert commit is not None and commit.rows > 0
        assert any("not an export this app reads" in line.message for line in rt.logs())


def test_an_object_named_as_a_dataset_id_or_raw_table_is_left_alone() -> None:
    """Only the export's file name starts its ETL: `origen/it5q-hg94` started the ETL of
    multas, which read another object (the export, or none)."""
    with TestRuntime(app, settings={"download": False}) as rt:
        staging = rt.bucket("staging")
        staging.put(f"origen/{MULTAS.dataset}", b"ID Proceso\n")
        staging.put(f"origen/{MULTAS.key}", b"ID Proceso\n")
        rt.drain()
        assert not [r for r in rt.runs() if r.name.startswith("etl")]
