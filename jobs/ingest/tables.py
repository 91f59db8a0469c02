"""Writes ingest needs: per-file replacement in bronze and quarantine, and the ledgers.

Every write of a file's rows replaces that file's rows (``replaceWhere
source_file IN (...)``), so a run killed part way and run again leaves the same
rows as one uninterrupted run: re-ingesting a file is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from jobs import lake

LEDGER_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("source", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("sha256", StringType(), False),
        StructField("records_read", LongType(), False),
        StructField("to_silver", LongType(), False),
        StructField("quarantined", LongType(), False),
        StructField("duplicates", LongType(), False),
        StructField("superseded", LongType(), False),
        StructField("finished_at", TimestampType(), False),
    ]
)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in_list(files: Sequence[str]) -> str:
    return f"source_file IN ({', '.join(_quoted(f) for f in files)})"


def contents_predicate(files: Sequence) -> str:
    """SQL: the rows of exactly these contents (path and checksum) of the landed ``files``.

    Bronze and quarantine keep every content a path has had: a sender's correction
    file re-sent under its name adds its own rows beside the first content's, which
    its ledger row still counts.
    """
    pairs = [
        f"(source_file = {_quoted(f.relative)} AND sha256 = {_quoted(f.sha256)})" for f in files
    ]
    return " OR ".join(pairs)


def with_checksum(df: DataFrame, files: Sequence) -> DataFrame:
    """Add ``sha256``: the checksum of the content each row's file had when it was read."""
    pairs = [F.lit(x) for f in files for x in (f.relative, f.sha256)]
    return df.withColumn("sha256", F.create_map(*pairs)[F.col("source_file")])


def replace_contents(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    files: Sequence,
    stats: Sequence[str] = ("source_file", "line"),
) -> None:
    """Replace exactly the rows of these file contents in the table at ``path`` with ``df``."""
    if not lake.is_table(spark, path):
        replace_files(spark, df, path, [f.relative for f in files], stats)
        return
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", contents_predicate(files))
        .option("mergeSchema", "true")  # a lake from before a kept column gains it
        .save(path)
    )


def replace_files(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    files: Sequence[str],
    stats: Sequence[str] = ("source_file", "line"),
) -> None:
    """Replace exactly the rows of ``files`` in the table at ``path`` with ``df``.

    A new table keeps file statistics only for ``stats``: they prune the per-file
    replacement, while statistics on every wide text column would cost a large
    share of the write for nothing.
    """
    if not lake.is_table(spark, path):
        (
            df.write.format("delta")
            .mode("overwrite")
            .option("delta.dataSkippingStatsColumns", ",".join(stats))
            .save(path)
        )
        return
    (df.write.format("delta").mode("overwrite").option("replaceWhere", _in_list(files)).save(path))


def quarantine_rows(
    rejected: DataFrame, run_id: str, files: Sequence, keep: Sequence[str] = ()
) -> DataFrame:
    """SPEC 4's quarantine columns, then the ``keep`` columns (null where unreadable)."""
    return with_checksum(
        rejected.select(
            F.col("record_id").cast("string"),
            "source_file",
            F.col("line").cast("int"),
            "reasons",
            F.col("text").alias("raw"),
            F.lit(run_id).alias("run_id"),
            *keep,
        ),
        files,
    )


def ingested_contents(spark: SparkSession, path: str) -> set[tuple[str, str]]:
    """(source_file, sha256) pairs a finished run recorded in the ledger (or rejected)."""
    if not lake.is_table(spark, path):
        return set()
    return {
        (r.source_file, r.sha256)
        for r in spark.read.format("delta").load(path).select("source_file", "sha256").collect()
    }


REJECTIONS_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("source", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("sha256", StringType(), False),
        StructField("size", LongType(), False),
        StructField("reason", StringType(), False),
        StructField("rejected_at", TimestampType(), False),
    ]
)


def record_rejections(spark: SparkSession, path: str, files: Sequence, run_id: str) -> None:
    """One ``ops/file_rejections`` row per file rejected whole (keyed by path and checksum)."""
    if not files:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(run_id, f.source, f.relative, f.sha256, f.size, f.problem, now) for f in files]
    insert_new_contents(spark, spark.createDataFrame(rows, REJECTIONS_SCHEMA), path)


def insert_new_contents(spark: SparkSession, df: DataFrame, path: str) -> None:
    """Add the rows of file contents (path and checksum) the table does not hold yet: the
    ledger and the rejections are written once per content, whatever reruns."""
    if not lake.is_table(spark, path):
        df.write.format("delta").save(path)
        return
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(df.alias("s"), "t.source_file = s.source_file AND t.sha256 = s.sha256")
        .whenNotMatchedInsertAll()
        .execute()
    )
