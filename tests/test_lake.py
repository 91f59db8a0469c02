"""The Delta round trip on the shared session: write, MERGE, time travel, schema enforcement."""

import stat
from decimal import Decimal

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql.types import StringType, StructField, StructType

from jobs import lake
from jobs.ops.roundtrip import SCHEMA


def _rows(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def _content(df):
    return sorted(tuple(r) for r in df.collect())


def test_write_merge_and_time_travel(spark, cfg):
    path = lake.table_path(cfg, "silver", "points_sample")
    lake.overwrite(_rows(spark, [("A", 3, Decimal("1.5000")), ("B", 2, Decimal("2.0000"))]), path)
    lake.merge_upsert(
        spark,
        _rows(spark, [("B", 2, Decimal("2.2500")), ("C", 1, Decimal("0.0100"))]),
        path,
        keys=["hospital_code"],
    )
    assert lake.latest_version(spark, path) == 1
    assert _content(lake.read_version(spark, path, 0)) == [
        ("A", 3, Decimal("1.5000")),
        ("B", 2, Decimal("2.0000")),
    ]
    assert _content(lake.read_version(spark, path)) == [
        ("A", 3, Decimal("1.5000")),
        ("B", 2, Decimal("2.2500")),
        ("C", 1, Decimal("0.0100")),
    ]
    merge = lake.history(spark, path)[-1]
    assert merge["operation"] == "MERGE"
    assert merge["metrics"]["numTargetRowsUpdated"] == "1"
    assert merge["metrics"]["numTargetRowsInserted"] == "1"


def test_merge_creates_the_table_and_a_rerun_changes_nothing(spark, cfg):
    path = lake.table_path(cfg, "silver", "rerun_sample")
    batch = _rows(spark, [("A", 3, Decimal("1.0000")), ("B", 1, Decimal("9.9900"))])
    lake.merge_upsert(spark, batch, path, keys=["hospital_code"])
    first = _content(lake.read_version(spark, path))
    lake.merge_upsert(spark, batch, path, keys=["hospital_code"])
    assert _content(lake.read_version(spark, path)) == first
    rerun = lake.history(spark, path)[-1]
    assert rerun["metrics"].get("numTargetRowsUpdated", "0") == "0"
    assert rerun["metrics"].get("numTargetRowsInserted", "0") == "0"


def test_a_versioned_merge_keeps_the_newest_version_whatever_arrives_last(spark, cfg):
    path = lake.table_path(cfg, "silver", "versioned_sample")
    schema = "case_id string, status string, source_version string"

    def merge(rows):
        df = spark.createDataFrame(rows, schema)
        lake.merge_upsert(spark, df, path, ["case_id"], version="source_version")

    def content():
        return sorted(tuple(r) for r in lake.read_version(spark, path).collect())

    merge([("C1", "cured", "2024-03-05|b"), ("C2", "died", "2024-02-05|a")])
    merge([("C1", "left", "2024-02-05|a"), ("C2", "cured", "2024-03-05|b")])  # older, newer
    assert content() == [("C1", "cured", "2024-03-05|b"), ("C2", "cured", "2024-03-05|b")]
    merge([("C1", "died", "2024-03-05|b")])  # the same version: the row already there
    assert content()[0] == ("C1", "cured", "2024-03-05|b")


def test_schema_enforcement_rejects_a_wrong_column_type(spark, cfg):
    path = lake.table_path(cfg, "gold", "typed")
    lake.overwrite(_rows(spark, [("A", 3, Decimal("1.0000"))]), path)
    wrong = spark.createDataFrame(
        [("A", "three", "1.0")],
        StructType(
            [
                StructField("hospital_code", StringType()),
                StructField("level", StringType()),
                StructField("points", StringType()),
            ]
        ),
    )
    with pytest.raises(AnalysisException):
        wrong.write.format("delta").mode("append").save(path)
    assert lake.latest_version(spark, path) == 0


def test_pinned_reads_record_the_version_they_read(spark, cfg):
    path = lake.table_path(cfg, "silver", "pinned")
    lake.overwrite(_rows(spark, [("A", 3, Decimal("1.0000"))]), path)
    lake.overwrite(_rows(spark, [("A", 3, Decimal("2.0000"))]), path)
    latest = lake.PinnedReads(spark, cfg)
    assert _content(latest.table("silver", "pinned")) == [("A", 3, Decimal("2.0000"))]
    assert latest.versions == {"silver/pinned": 1}

    replay = lake.PinnedReads(spark, cfg)
    assert _content(replay.table("silver", "pinned", version=0)) == [("A", 3, Decimal("1.0000"))]
    assert replay.as_json() == '{"silver/pinned": 0}'
    # One run sees one version of each input, or its result could not be reproduced.
    with pytest.raises(ValueError, match="already read"):
        replay.table("silver", "pinned", version=1)


def test_a_missing_table_is_named(spark, cfg):
    with pytest.raises(lake.TableMissingError, match="no Delta table"):
        lake.PinnedReads(spark, cfg).table("gold", "dip_catalogue")


def test_unknown_layer_is_refused(cfg):
    with pytest.raises(ValueError, match="unknown layer"):
        lake.table_path(cfg, "platinum", "x")


def test_private_layers_are_owner_only(cfg):
    lake.ensure_layout(cfg)
    modes = {layer: stat.S_IMODE((cfg.lake / layer).stat().st_mode) for layer in lake.LAYERS}
    assert modes["bronze"] == 0o700
    assert modes["quarantine"] == 0o700
    assert set(modes) == {"bronze", "silver", "gold", "quarantine", "ops"}


def test_latest_version_reads_the_newest_commit_past_a_checkpoint(spark, cfg):
    """Delta checkpoints every 10 commits; the listing still finds the newest one."""
    path = lake.table_path(cfg, "silver", "versions")
    for i in range(12):
        spark.createDataFrame([(i,)], "n int").write.format("delta").mode("append").save(path)
    assert lake.latest_version(spark, path) == 11
    assert lake.history(spark, path)[-1]["version"] == 11


def test_maintenance_keeps_ten_years_of_history_of_what_a_clearing_records(spark, cfg):
    """VACUUM at 0 hours (safety check off) removes a scratch table's old files; an audited
    table's version 0 survives it, because the ten-year retention is the table's own."""
    from jobs.ops import maintain

    rows = [("A", 3, Decimal("1.5000"))]
    audited = lake.table_path(cfg, "gold", "dip_case_points")
    scratch = lake.table_path(cfg, "silver", "face_checks")
    for path in (audited, scratch):
        lake.overwrite(_rows(spark, rows), path)
        lake.overwrite(_rows(spark, rows * 2), path)  # version 0's file is now removed
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    spark.conf.set(check, "false")
    try:
        done = maintain.run(spark, cfg, retain_hours=0)
    finally:
        spark.conf.unset(check)
    assert set(done) == {"gold/dip_case_points", "silver/face_checks"}

    def properties(path):
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()
        return detail.properties

    kept = properties(audited)
    assert kept["delta.logRetentionDuration"] == "interval 3650 days"
    assert kept["delta.deletedFileRetentionDuration"] == "interval 3650 days"
    assert "delta.deletedFileRetentionDuration" not in properties(scratch)
    assert _content(lake.read_version(spark, audited, 0)) == [("A", 3, Decimal("1.5000"))]
    with pytest.raises(Exception, match=r"(?i)not ?found|does not exist|FILE_NOT_EXIST"):
        lake.read_version(spark, scratch, 0).collect()


def test_a_merge_adds_a_column_the_table_lacks(spark, cfg):
    """A lake from before a column (silver/discharges before insured_region): the MERGE
    adds it, the new rows carry it and the old ones read null, instead of dropping it."""
    path = lake.table_path(cfg, "silver", "lists")
    old = spark.createDataFrame([("C1", 10)], "case_id string, cost int")
    lake.merge_upsert(spark, old, path, keys=["case_id"])
    new = spark.createDataFrame(
        [("C1", 10, "350200"), ("C2", 20, "360700")], "case_id string, cost int, region string"
    )
    lake.merge_upsert(spark, new, path, keys=["case_id"])
    rows = {r.case_id: (r.cost, r.region) for r in lake.read_version(spark, path).collect()}
    assert rows == {"C1": (10, "350200"), "C2": (20, "360700")}


def test_a_merge_within_partitions_reads_only_theirs_and_moves_a_row(spark, cfg):
    """``within`` confines a MERGE to the listed partitions: the other years' files are
    neither read nor rewritten, and a key whose partition value changed is matched where
    it lay (its old partition listed) and moved, never left behind as a second row."""
    path = lake.table_path(cfg, "silver", "within")
    schema = "k string, year int, v int"
    rows = [("a", 2023, 1), ("b", 2024, 1), ("c", 2025, 1)]
    lake.overwrite(spark.createDataFrame(rows, schema), path, ["year"])
    # c corrected into 2026 (its old year 2025 listed), d new in 2026
    day = spark.createDataFrame([("c", 2026, 2), ("d", 2026, 1)], schema)
    lake.merge_upsert(spark, day, path, ["k"], ["year"], within={"year": [2025, 2026]})
    got = sorted(tuple(r) for r in lake.read_version(spark, path).collect())
    assert got == [("a", 2023, 1), ("b", 2024, 1), ("c", 2026, 2), ("d", 2026, 1)]
    metrics = lake.history(spark, path)[-1]["metrics"]
    # three files before (one per year), one read: 2025's (2026 had none yet)
    assert metrics["numTargetFilesRemoved"] == "1"
    if "numTargetFilesAfterSkipping" in metrics:
        assert metrics["numTargetFilesAfterSkipping"] == "1"
    with pytest.raises(ValueError, match="partition value"):
        lake.merge_upsert(spark, day, path, ["k"], ["year"], within={"year": ["x'y"]})
