"""The demo city ingested day by day ends exactly where the one-shot ingest ends.

The demo city's files are landed in three increments by landing date, as senders
would send them: the first days (institutions, registries, the first settlement
lists), then a month, then the rest. The first two go through the real
`dip_ingest_daily` DAG (`airflow dags test` on two different days, new files landed
between them); the third runs in process, is killed part way and run again. Reruns
between them change nothing. At the end every silver table holds the same rows as
the lake the suite's demo home ingested in one go.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import demo_home as demo
import pytest

from jobs import lake
from jobs.ingest import run as ingest
from jobs.ingest import versions as ingest_versions
from jobs.ingest.feeds import SILVER_TABLES
from jobs.tools.bench.increments import DEFAULT_DAYS, land_until

# The generated city lands every source but the experts' decisions, which answer a review
# round's sheet later (tests/demo_home.py ingests them).
SILVER = tuple(t for t in SILVER_TABLES if t != "special_review_decisions")

pytestmark = pytest.mark.slow

# The first days, then a month, through the DAG; then the rest, in process, killed part way.
# (An increment of two years more in process between them, as the bench lands, cost the
# suite a pass over every source, about 2 minutes, and tested nothing the last one does not.)
DAG_DAYS = DEFAULT_DAYS[:2]


def versions(spark, cfg) -> dict[str, int]:
    return {
        t: lake.latest_version(spark, lake.table_path(cfg, "silver", t))
        for t in SILVER
        if lake.is_table(spark, lake.table_path(cfg, "silver", t))
    }


def ledger_balanced(spark, cfg) -> bool:
    rows = lake.read_version(spark, lake.table_path(cfg, "ops", "ingest_ledger")).collect()
    return bool(rows) and all(
        r.records_read == r.to_silver + r.quarantined + r.duplicates + r.superseded for r in rows
    )


def kill_part_way(home: Path, bronze_log: Path) -> None:
    """Start `diplake ingest` and kill it once it writes the settlement lists' bronze."""
    before = len(list(bronze_log.glob("*.json")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIPLAKE_")}
    command = [sys.executable, "-m", "jobs.cli", "ingest", "--home", str(home)]
    command += ["--master", "local[2]", "--shuffle-partitions", "2"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while (
        len(list(bronze_log.glob("*.json"))) == before
        and process.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(list(bronze_log.glob("*.json"))) > before, "killed before the increment began"


@pytest.fixture(scope="module")
def increments(spark, demo_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("increments")
    shutil.copytree(demo_home / ".secrets", home / ".secrets")  # the same pseudonyms
    cfg = demo.settings(home)
    source = demo_home / "landing"
    out: dict = {"cfg": cfg, "dag_runs": [], "reruns": []}
    env = demo.environment(home, home / "airflow-home")
    demo.airflow(env, "db", "migrate", timeout=300)
    for day in DAG_DAYS:
        out["landed_" + day] = land_until(source, cfg.landing, copy=shutil.copy2, day=day)
        demo.airflow(env, "dags", "test", "dip_ingest_daily", day)
        out["dag_runs"].append((day, ledger_balanced(spark, cfg), versions(spark, cfg)))
    before = versions(spark, cfg)
    out["reruns"].append((ingest.run(spark, cfg, DAG_DAYS[-1]), before, versions(spark, cfg)))

    land_until(source, cfg.landing, copy=shutil.copy2, day=None)
    kill_part_way(home, cfg.lake / "bronze" / "settlement_lists" / "_delta_log")
    with pytest.MonkeyPatch.context() as mp:
        # The days above looked their keys up in silver (a day's files); the rest joins
        # silver's keys whole, as a batch over LOOKUP_BATCH_BYTES does: both end alike.
        mp.setattr(ingest_versions, "LOOKUP_BATCH_BYTES", 0)
        out["after_kill"] = ingest.run(spark, cfg)
    before = versions(spark, cfg)
    out["reruns"].append((ingest.run(spark, cfg), before, versions(spark, cfg)))
    yield out


def test_the_daily_dag_ingests_two_days_with_files_landed_between(increments, demo_home):
    states = demo.run_states(increments["cfg"].home / "airflow-home")
    assert states == {"dip_ingest_daily": ["success", "success"]}
    (_, balanced1, v1), (day2, balanced2, v2) = increments["dag_runs"]
    assert balanced1 and balanced2
    assert increments["landed_" + day2] > 0  # new files came between the two days
    assert v2["discharges"] > v1["discharges"]  # and the second day wrote them
    assert "fee_details" not in v2  # landed from 2024 on: held back by the landing itself


def test_reruns_between_increments_change_nothing(increments):
    for report, before, after in increments["reruns"]:
        assert report.nothing_new
        assert after == before


def test_every_file_is_in_the_ledger_or_rejected_and_every_row_balances(increments, spark):
    cfg = increments["cfg"]
    assert ledger_balanced(spark, cfg)
    ledger = lake.read_version(spark, lake.table_path(cfg, "ops", "ingest_ledger"))
    rejected = lake.read_version(spark, lake.table_path(cfg, "ops", "file_rejections"))
    files = {r.source_file for r in ledger.select("source_file").collect()}
    files |= {r.source_file for r in rejected.select("source_file").collect()}
    landed = {str(p.relative_to(cfg.landing)) for p in cfg.landing.glob("*/*/*") if p.is_file()}
    assert files == landed


@pytest.mark.parametrize("table", SILVER)
def test_silver_is_the_one_shot_silver(increments, demo_home, spark, table):
    """Same rows, same values, as the demo home's lake ingested in one go."""
    mine = lake.read_version(spark, lake.table_path(increments["cfg"], "silver", table))
    one_shot = lake.read_version(spark, lake.table_path(demo.settings(demo_home), "silver", table))
    assert sorted(mine.columns) == sorted(one_shot.columns)
    one_shot = one_shot.select(*mine.columns)
    assert mine.count() == one_shot.count() > 0
    assert mine.exceptAll(one_shot).count() == 0
    assert one_shot.exceptAll(mine).count() == 0
