"""The same job, unchanged, through spark-submit to a real standalone cluster on 127.0.0.1."""

import os
import subprocess
from decimal import Decimal

import pytest

from jobs import lake
from jobs.config import REPO_ROOT
from jobs.spark import submit_command
from jobs.tools.cluster import standalone_cluster

pytestmark = pytest.mark.cluster


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_roundtrip_through_spark_submit_on_a_standalone_cluster(spark, cfg, tmp_path):
    with standalone_cluster(tmp_path / "cluster", workers=1, cores=1, memory="1g") as cluster:
        assert cluster.alive_workers() == 1
        pids = cluster.pids
        command = submit_command(
            cfg,
            REPO_ROOT / "jobs" / "cli.py",  # the diplake command line as the driver script
            ["roundtrip", "--lake", str(cfg.lake), "--home", str(cfg.home)],
            master=cluster.master_url,
            extra_conf={"spark.executor.memory": "512m", "spark.driver.memory": "1g"},
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "version 1 (after the MERGE upsert)" in done.stdout

    assert not any(_pid_running(pid) for pid in pids)
    path = lake.table_path(cfg, "ops", "delta_roundtrip")
    assert sorted(tuple(r) for r in lake.read_version(spark, path).collect()) == [
        ("H350200001", 3, Decimal("1250.5000")),
        ("H350200002", 2, Decimal("845.7500")),
        ("H350200003", 1, Decimal("97.0000")),
        ("H350200004", 1, Decimal("12.3400")),
    ]
    assert [h["operation"] for h in lake.history(spark, path)] == ["WRITE", "MERGE"]
