"""The sources, tests and benchmarks pass ruff with the configuration in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_finds_nothing() -> None:
    pytest.importorskip("ruff", reason="ruff is not installed (it comes with the dev extra)")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"ruff check reported problems:\n{result.stdout}{result.stderr}"
