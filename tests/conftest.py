"""One SparkSession for the whole suite (local[2], UI off, two shuffle partitions).

Every test gets its own lake folder under pytest's tmp_path through ``cfg``;
the session is shared because starting a JVM costs seconds and tests stay fast
only when they do not pay it again (the pattern of delta's own test utils).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from jobs import config
from jobs.config import Config
from jobs.spark import get_spark

TEST_SETTINGS = {
    "spark_master": "local[2]",
    "shuffle_partitions": 2,
    "spark_ui": False,
    "driver_memory": "2g",
}


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("diplake-home")


@pytest.fixture(scope="session")
def spark(session_home: Path):
    # Settings from the developer's shell must not leak into the suite.
    for name in [n for n in os.environ if n.startswith(config.ENV_PREFIX)]:
        os.environ.pop(name)
    session = get_spark(config.load({"home": str(session_home), **TEST_SETTINGS}), "dip-lake tests")
    yield session
    session.stop()


@pytest.fixture
def cfg(tmp_path: Path, spark) -> Config:
    """Settings pointing at a fresh lake and landing folder for this test only."""
    del spark  # requested so the shared session exists before a test builds its own
    return config.load({"home": str(tmp_path), **TEST_SETTINGS})


@pytest.fixture(scope="session")
def tiny_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated city with a high defect rate, generated once for the suite: the
    generator's defect tests and the ingest's end-to-end tests read it, never change it."""
    from jobs.generate import run as generate
    from jobs.generate.knobs import preset

    knobs = preset("demo").replace(
        seed=21, institutions=30, insured=4_000, discharges_per_year=500, mess_rate=0.08
    )
    out = tmp_path_factory.mktemp("tiny-landing")
    generate.run(out, knobs, progress=False)
    return out


# `make test` keeps the demo home in build/test-demo (the notebooks read it after the
# suite) and names it here; without it, the suite builds one in a temporary folder.
DEMO_HOME_VARIABLE = "DIP_TEST_DEMO_HOME"


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where the demo city went through every DAG of the chain (tests/demo_home.py):
    landing, lake, MLflow store, Airflow metadata. Read it, never change it: a test
    that writes copies what it needs first (:func:`copy_home`)."""
    import demo_home as demo

    given = os.environ.get(DEMO_HOME_VARIABLE)
    home = Path(given).resolve() if given else tmp_path_factory.mktemp("demo-home")
    return home if demo.is_built(home) else demo.build(home)


def copy_home(source: Path, target: Path, parts=("landing", "lake", ".secrets")) -> Path:
    """The ``parts`` of a home, copied (Delta tables keep relative paths: a copy is a table)."""
    for part in parts:
        if (source / part).exists():
            shutil.copytree(source / part, target / part)
    return target


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(seventeen: str) -> str:
    """A GB 11643 ID number: the 17 digits and their mod 11-2 check character, written
    out here independently of the generator and the ingest."""
    total = sum(int(d) * w for d, w in zip(seventeen, ID_WEIGHTS, strict=True))
    return seventeen + "10X98765432"[total % 11]
