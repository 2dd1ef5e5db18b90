"""One Spark engine shared by every test of a run (starting Spark costs ~15 s), skipped with
the reason when PySpark or Java is missing."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator

import pytest

from cauce.apps.contracting.engine import Engine, connect


@pytest.fixture(scope="session", name="spark")
def spark_engine() -> Iterator[Engine]:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("PySpark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("no java on the PATH: PySpark needs Java 17")
    engine = connect("spark", spark_master="local[2]")
    yield engine
    engine.close()
