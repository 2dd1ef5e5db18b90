"""The generator: the same scale, date and seed give the same bytes, in any process."""

import hashlib
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from seeded import OTHER_SEED, SEED_CASES, cauce, generated, generated_twice

GENERATE = textwrap.dedent("""
    import sys
    from datetime import date
    from pathlib import Path
    from cauce.apps.transit.params import default_par_text, parse_par
    from cauce.apps.transit.synth.day import generate_day
    scale, seed, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    generate_day(scale, date(2021, 4, 22), seed, parse_par(default_par_text()), folder)
""")


def _generate(scale: str, seed: int, folder: Path, hash_seed: str, threads: str) -> dict:
    """Generate in a fresh interpreter with its own hash seed and Polars thread count."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "POLARS_MAX_THREADS": threads}
    subprocess.run([sys.executable, "-c", GENERATE, scale, str(seed), str(folder)], env=env,
                   check=True, timeout=240)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_the_same_seed_gives_the_same_bytes_across_processes(scale, tmp_path):
    first = _generate(scale, 7, tmp_path / "a", hash_seed="1", threads="1")
    second = _generate(scale, 7, tmp_path / "b", hash_seed="2", threads="4")
    assert len(first) == 6
    assert first == second


def _synth(folder: Path, seed: int | str, hash_seed: str = "1", check: bool = True):
    """`cauce run transit synth` in a fresh interpreter with its own hash seed."""
    return cauce("--home", str(folder), "run", "transit", "synth", "--seed", str(seed),
                 hash_seed=hash_seed, check=check)


@pytest.fixture(scope="module")
def other_seed(tmp_path_factory) -> dict[str, str]:
    return generated(_synth, tmp_path_factory.mktemp("other"), OTHER_SEED, "buckets")


@pytest.mark.parametrize("seed", SEED_CASES)
def test_a_seed_gives_the_same_day_in_any_process_and_another_seed_another(
    tmp_path, seed, other_seed
):
    first = generated_twice(_synth, tmp_path, seed, "buckets")
    if first is None:
        return
    assert len(first) == 6 and first.keys() == other_seed.keys()
    assert all(first[key] != other_seed[key] for key in first), "a file the seed does not change"


def test_the_last_day_of_the_calendar_can_be_generated(tmp_path):
    from cauce.apps.transit.params import default_par_text, parse_par
    from cauce.apps.transit.synth.day import generate_day

    generated = generate_day("tiny", date(9999, 12, 31), 1, parse_par(default_par_text()),
                             tmp_path)
    assert generated.files.service_detail == (
        "Diccionario-DetalleServicioZP_99991201_99991231.csv.gz")
    assert (tmp_path / "9999-12-31.gps.gz").is_file()
