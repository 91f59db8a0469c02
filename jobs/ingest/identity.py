"""Record identity: the sender's serial number ``record_id`` (流水号) across every day of files.

A record that passed its checks is compared, by ``record_id``, with the records
accepted before it, in this batch (earlier day, file, line) and in every earlier
file of the source (``bronze/<source>_record_ids``, the index this module keeps):

* the same ``record_id`` with the same content is an exact resend: a counted
  **duplicate**, promoted nowhere;
* the same ``record_id`` with other content is a **conflict**: the later record is
  quarantined with ``record_id_conflict`` (docs/quarantine-reasons.md), never
  dropped silently nor counted as a duplicate.

Content is the record's *conformed* values (a fingerprint of them), so a resend
that writes ``K35.8`` as ``K358`` is still the same record. Only accepted records
are in the index: a record quarantined for a defect may be sent again, repaired,
under its serial number. A file re-sent under its own name is compared with the
other files only; its earlier content's index rows are replaced with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.ingest import tables

ORIGINAL, DUPLICATE, CONFLICT = "original", "duplicate", "conflict"
CONFLICT_REASON = "record_id_conflict"
POSITION = ("day", "source_file", "line")


def index_path(cfg: Config, source: str) -> str:
    """The source's index of accepted record ids (bronze: owner-only, like the raw lines)."""
    return lake.table_path(cfg, "bronze", f"{source}_record_ids")


def fingerprint(content: Sequence[str]) -> Column:
    """A 64-bit hash of the record's conformed values as JSON (named fields, so a value
    in one field never passes for the same value in another). It only ever compares
    two contents sent under one ``record_id``: a chance collision is negligible, and
    eight bytes a record keep the index small at 37 million records."""
    return F.xxhash64(F.to_json(F.struct(*[F.col(c) for c in content])))


def resolve(spark: SparkSession, checked: DataFrame, index: str, names: list[str]) -> DataFrame:
    """The small table of record ids whose identity is in question, one row per id.

    ``checked`` has ``record_id``, ``reasons``, ``_fingerprint`` and the position
    columns. Returned: ``record_id``, ``_first`` (the position and fingerprint of
    its first clean line in this batch, when it occurs more than once) and
    ``_seen`` (the fingerprint accepted in an earlier file). Ids are nearly always
    new and unique, so this is a few rows: the caller broadcasts it.
    """
    clean = checked.filter(F.size("reasons") == 0).select("record_id", "_fingerprint", *POSITION)
    first = (
        clean.groupBy("record_id")
        .agg(
            F.count("*").alias("_copies"),
            F.min(F.struct(*POSITION, "_fingerprint")).alias("_first"),
        )
        .filter("_copies > 1")
        .drop("_copies")
    )
    earlier = spark.createDataFrame([], "record_id string, _seen bigint")
    if lake.is_table(spark, index):
        before = lake.read_version(spark, index).filter(~F.col("source_file").isin(names))
        # A first load has no earlier files: no join of every id of the batch for nothing.
        if not before.isEmpty():
            earlier = (
                before.join(clean.select("record_id"), "record_id", "left_semi")
                .groupBy("record_id")
                .agg(F.min(F.struct(*POSITION, "fingerprint"))["fingerprint"].alias("_seen"))
            )
    return first.join(earlier, "record_id", "full")


def mark(checked: DataFrame, resolved: DataFrame) -> DataFrame:
    """Add ``_identity`` (original, duplicate, conflict; null on rejected records) and the
    conflict's reason. ``resolved`` comes from :func:`resolve` (held, small)."""
    joined = checked.join(F.broadcast(resolved), "record_id", "left")
    first = F.col("_first")
    is_first = first.isNull() | (
        (first["day"] == F.col("day"))
        & (first["source_file"] == F.col("source_file"))
        & (first["line"] == F.col("line"))
    )
    # The content accepted first: an earlier file's, else this batch's first clean line.
    accepted = F.coalesce(F.col("_seen"), F.when(~is_first, first["_fingerprint"]))
    identity = (
        F.when(F.size("reasons") > 0, F.lit(None))
        .when(accepted.isNull(), F.lit(ORIGINAL))
        .when(accepted == F.col("_fingerprint"), F.lit(DUPLICATE))
        .otherwise(F.lit(CONFLICT))
    )
    return (
        joined.withColumn("_identity", identity)
        .withColumn(
            "reasons",
            F.when(F.col("_identity") == CONFLICT, F.array(F.lit(CONFLICT_REASON))).otherwise(
                F.col("reasons")
            ),
        )
        .drop("_first", "_seen")
    )


def record(spark: SparkSession, marked: DataFrame, index: str, names: list[str]) -> None:
    """Replace these files' rows of the index with their accepted originals."""
    rows = marked.filter(F.col("_identity") == ORIGINAL).select(
        "record_id", F.col("_fingerprint").alias("fingerprint"), *POSITION
    )
    tables.replace_files(spark, rows, index, names, stats=("source_file", "record_id"))
