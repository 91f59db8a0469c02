from pathlib import Path

import pytest

from jobs import config
from jobs.config import WRITE_CLASS_ARCHIVE
from jobs.spark import (
    DELTA_CATALOG,
    DELTA_EXTENSION,
    MissingJarsError,
    delta_jars,
    driver_java_options,
    spark_conf,
    submit_command,
)


def test_missing_jars_name_the_command_that_fetches_them(tmp_path: Path):
    with pytest.raises(MissingJarsError, match="make jars") as error:
        delta_jars(tmp_path / "nowhere")
    assert "mvn" in str(error.value)


def test_a_folder_without_delta_storage_is_incomplete(tmp_path: Path):
    (tmp_path / "delta-spark_4.2_2.13-4.4.0.jar").write_bytes(b"")
    with pytest.raises(MissingJarsError, match="delta-storage"):
        delta_jars(tmp_path)
    (tmp_path / "delta-storage-4.4.0.jar").write_bytes(b"")
    assert [j.name for j in delta_jars(tmp_path)] == [
        "delta-spark_4.2_2.13-4.4.0.jar",
        "delta-storage-4.4.0.jar",
    ]


def test_conf_turns_delta_on_and_never_resolves_packages(tmp_path: Path):
    cfg = config.load({"home": str(tmp_path), "shuffle_partitions": 3}, env={})
    conf = spark_conf(cfg, "x")
    assert conf["spark.sql.extensions"] == DELTA_EXTENSION
    assert conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    assert conf["spark.sql.shuffle.partitions"] == "3"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.databricks.delta.snapshotPartitions"] == "2"  # the default
    # listing (VACUUM) in four tasks per shuffle partition, not Spark's 10,000
    assert conf["spark.sql.sources.parallelPartitionDiscovery.parallelism"] == "12"
    assert not any(key.startswith("spark.jars.packages") for key in conf)


def test_submit_command_attaches_the_jars_from_disk(tmp_path: Path):
    for name in ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar"):
        (tmp_path / name).write_bytes(b"")
    cfg = config.load({"home": str(tmp_path), "jars_dir": str(tmp_path)}, env={})
    cmd = submit_command(
        cfg, Path("jobs/cli.py"), ["roundtrip", "--lake", "/l"], master="spark://h:1"
    )
    assert cmd[cmd.index("--master") + 1] == "spark://h:1"
    jars = cmd[cmd.index("--jars") + 1].split(",")
    assert jars == [
        str(tmp_path / "delta-spark_4.2_2.13-4.4.0.jar"),
        str(tmp_path / "delta-storage-4.4.0.jar"),
    ]
    assert cmd[-4:] == ["jobs/cli.py", "roundtrip", "--lake", "/l"]
    assert "--packages" not in cmd


def test_shared_session_has_delta_and_the_test_settings(spark):
    assert spark.conf.get("spark.sql.extensions") == DELTA_EXTENSION
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.sparkContext.master == "local[2]"
    assert spark.sparkContext.uiWebUrl is None


def test_the_class_archive_is_used_only_once_it_exists(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(WRITE_CLASS_ARCHIVE, raising=False)
    cfg = config.load({"home": str(tmp_path), "jars_dir": str(tmp_path)}, env={})
    assert "SharedArchiveFile" not in driver_java_options(cfg)
    (tmp_path / "driver.jsa").write_bytes(b"archive")
    assert f"-XX:SharedArchiveFile={tmp_path / 'driver.jsa'}" in driver_java_options(cfg).split()


def test_writing_the_class_archive_never_maps_the_old_one(tmp_path: Path, monkeypatch):
    (tmp_path / "driver.jsa").write_bytes(b"archive")
    monkeypatch.setenv(WRITE_CLASS_ARCHIVE, str(tmp_path / "new.jsa"))
    cfg = config.load({"home": str(tmp_path), "jars_dir": str(tmp_path)}, env={})
    options = driver_java_options(cfg).split()
    assert f"-XX:ArchiveClassesAtExit={tmp_path / 'new.jsa'}" in options
    assert not any(o.startswith("-XX:SharedArchiveFile") for o in options)
