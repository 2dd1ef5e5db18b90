"""The red flags planted in the synthetic exports: the truth file's count and amount of every
flag equals what the app computes, each planted positive fires its flag and no near miss does."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from cauce.apps.contracting import app
from cauce.apps.contracting.results import FLAGS_TABLE
from cauce.apps.contracting.synth import generate, truth
from cauce.apps.contracting.synth.redflags import BACKGROUND, CODES
from cauce.testing import TestRuntime

DAY = "2023-04-16"


def test_every_flag_equals_the_planted_truth_and_near_misses_stay_quiet(tmp_path: Path) -> None:
    settings = {"download": False, "dashboard_images": False, "dashboard_dir": str(tmp_path)}
    with TestRuntime(app, settings=settings) as rt:
        made = rt.run("synth", scale="tiny", date=DAY)
        assert made.succeeded, made.error
        run = rt.run("weekly", partition=DAY)
        assert run.succeeded, run.error
        expected = json.loads(rt.bucket("staging").get(f"truth/{DAY}.json"))
        rows = rt.warehouse("results").query(
            f"SELECT codigo_bandera, id_proceso, monto_bandera FROM {FLAGS_TABLE} "
            "WHERE codigo_bandera LIKE 'RF%'"  # not the ten indicators' I01..I10
        ).to_pylist()
    fired: dict[str, set[str]] = {code: set() for code in CODES}
    amounts: dict[str, Decimal] = {code: Decimal(0) for code in CODES}
    for row in rows:
        fired[row["codigo_bandera"]].add(row["id_proceso"])
        amounts[row["codigo_bandera"]] += row["monto_bandera"]
    got = {
        code: {"procesos": len(fired[code]), "monto": f"{amounts[code]:.3f}"} for code in CODES
    }
    assert got == expected["flags"]
    for code, cases in expected["planted_flags"].items():
        assert cases["positives"] and cases["near_misses"], code
        assert set(cases["positives"]) <= fired[code], code
        assert not set(cases["near_misses"]) & fired[code], code


def test_the_background_fires_only_the_flags_real_exports_fire_on_their_own() -> None:
    """Flags such as splitting or identical bids come only from planted cases; modality, award
    and date flags fire in the background too, so their truth is more than the planted cases."""
    frames, planted = generate("tiny", seed=5)
    flags = truth(frames, planted, DAY, "tiny", 5)["flags"]
    for code in CODES:
        planted_count = planted.flags[code][0]
        if code in BACKGROUND:
            assert flags[code]["procesos"] >= planted_count, code
        else:
            assert flags[code]["procesos"] == planted_count, code
    assert flags["RF03"]["procesos"] > 600  # most awarded processes are not competitive
