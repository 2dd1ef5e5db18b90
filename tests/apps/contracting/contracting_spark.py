"""One Spark engine shared by every test of a run (starting Spark costs ~15 s), skipped with
the reason when PySpark or Java is missing."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator

import pytest

from cauce.apps.contracting.engine import Engine, connect

# The tests' JVM compiles with C1 alone and collects garbage in one thread: their many small
# queries then cost the JVM about 40% less CPU (C2 recompiles code these short runs hardly
# reuse), which the other test processes on the machine get instead. What Java code computes
# does not depend on the JIT tier or the collector, so the results are a default JVM's. A
# PYSPARK_SUBMIT_ARGS of the caller's own is kept.
SUBMIT_ARGS = '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" pyspark-shell'


@pytest.fixture(scope="session", name="spark")
def spark_engine() -> Iterator[Engine]:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("PySpark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("no java on the PATH: PySpark needs Java 17")
    with pytest.MonkeyPatch.context() as patch:  # read once, when the JVM starts
        patch.setenv("PYSPARK_SUBMIT_ARGS", os.environ.get("PYSPARK_SUBMIT_ARGS", SUBMIT_ARGS))
        engine = connect("spark", spark_master="local[2]")
    yield engine
    engine.close()
