"""Same seed, same bytes: a generator's command run in fresh interpreters with different hash
seeds, time zones, locales, thread counts and working directories, and the seeds users may
type, including the ones the command refuses."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

#: seeds the generators must take: zero, the largest 32- and 64-bit signed integers
SEEDS = [0, 2**31 - 1, 2**63 - 1]
#: what a command line refuses as a seed, in one line
REFUSED = ["-1", "1.5"]
SEED_CASES = [*SEEDS, *REFUSED]
#: the seed the others are compared with: a different seed must give different data
OTHER_SEED = 3

#: what else differs between two runs of a generator, by their hash seed: the time zone (one
#: far from UTC), the locale, and Polars' and Arrow's threads (one, or one per core)
SURROUNDINGS = {
    "1": {"TZ": "UTC", "LANG": "C", "LC_ALL": "C", "POLARS_MAX_THREADS": "1",
          "OMP_NUM_THREADS": "1"},
    "2": {"TZ": "Pacific/Kiritimati", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
}
THREAD_LIMITS = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS")

CLI = "import sys; from cauce.cli.main import main; sys.exit(main(sys.argv[1:]))"


def run(code: str, *args: str, hash_seed: str = "1", cwd: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -c code args`` in a fresh interpreter with PYTHONHASHSEED=``hash_seed`` and the
    rest of its `SURROUNDINGS`, in ``cwd`` (else a new empty folder)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CAUCE_") and k not in THREAD_LIMITS}
    env["PYTHONHASHSEED"] = hash_seed
    env.update(SURROUNDINGS.get(hash_seed, {}))
    with tempfile.TemporaryDirectory() as elsewhere:
        return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd or elsewhere,
                              check=check, capture_output=True, text=True, timeout=240)


def cauce(*args: str, hash_seed: str = "1", check: bool = True) -> subprocess.CompletedProcess[str]:
    """The `cauce` command in a fresh interpreter."""
    return run(CLI, *args, hash_seed=hash_seed, check=check)


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by path relative to it."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refused_in_one_line(result: subprocess.CompletedProcess[str], seed: str) -> None:
    """The command refused the seed: exit status 2, one error line naming it, no traceback."""
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--seed" in errors[0] and seed in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def generated(generate: Callable[..., subprocess.CompletedProcess[str]], folder: Path,
              seed: int | str, output: str, hash_seed: str = "1") -> dict[str, str]:
    """``generate(folder, seed, hash_seed=...)`` in a fresh interpreter: the digests of what it
    wrote under ``output``."""
    generate(folder, seed, hash_seed=hash_seed)
    return digests(folder / output)


def generated_twice(generate: Callable[..., subprocess.CompletedProcess[str]], folder: Path,
                    seed: int | str, output: str) -> dict[str, str] | None:
    """``generate(folder, seed, hash_seed=..., check=...)`` run in two fresh interpreters with
    different hash seeds and `SURROUNDINGS`, into ``folder/a`` and ``folder/b``: the digests
    of what each wrote under ``output``, checked equal. None for a seed the command must refuse
    (checked refused in one line)."""
    if str(seed) in REFUSED:
        assert_refused_in_one_line(generate(folder, seed, check=False), str(seed))
        return None
    first = generated(generate, folder / "a", seed, output, hash_seed="1")
    assert generated(generate, folder / "b", seed, output, hash_seed="2") == first
    return first
