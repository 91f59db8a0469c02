"""Which submission of a keyed record wins, whatever day it arrives.

Every clean record gets ``source_version``, a string that sorts as the senders'
submissions do:

    <submitted> | <landing day> | <file> | <revision> | <line>

``submitted`` is the sender's own submission time where the format carries one
(settlement lists of dialect A: ``submitted_at``), else the landing day at
midnight; ``revision`` counts the earlier contents of the same file path (a
sender's correction file re-sent under its name: its records are newer than the
first content's, wherever they stand in it). The newest version of a key in the
batch is compared with the version already in silver: an older one is
*superseded* (counted, not promoted), whenever it arrives; an equal one is this
very record, promoted by a run that died before its ledger row. The MERGE updates
a row only for a strictly newer version, so a rerun rewrites nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake, quality
from jobs.config import Config
from jobs.ingest import steps
from jobs.ingest.batch import Checked, FileCounts, counts_by_file, rank_repeated, stage
from jobs.ingest.landing import LandedFile

VERSION = "source_version"
# A batch whose files hold at most this many bytes (a day's files of any source of the
# city hold a few megabytes) looks its keys up in silver instead of joining all of
# silver's keys: a left join cannot broadcast its right side, so Spark would shuffle and
# sort every key of silver, every day, for the few the day names (docs/scaling.md).
LOOKUP_BATCH_BYTES = 64 * 2**20


def version(files: list[LandedFile], submitted: str | None = None) -> Column:
    """The ``source_version`` of each record of ``files`` (see the module docstring)."""
    revised = {f.relative: f.revision for f in files if f.revision}
    revision = F.lit(0)
    if revised:
        pairs = [F.lit(x) for kv in revised.items() for x in kv]
        revision = F.coalesce(F.create_map(*pairs)[F.col("source_file")], F.lit(0))
    when = F.concat(F.col("day"), F.lit(" 00:00:00"))
    if submitted is not None:
        when = F.coalesce(F.date_format(F.col(submitted), "yyyy-MM-dd HH:mm:ss"), when)
    return F.concat_ws(
        "|",
        when,
        F.col("day"),
        F.col("source_file"),
        F.lpad(revision.cast("string"), 3, "0"),
        F.lpad(F.col("line").cast("string"), 9, "0"),
    )


def promote(
    spark: SparkSession,
    cfg: Config,
    files: list[LandedFile],
    batch: Checked,
    *,
    source: str,
    table: str,
    newest_by: Sequence[str],
    merge_key: Sequence[str],
    to_silver: Callable[[DataFrame], DataFrame],
    partition_by: Sequence[str] = (),
    submitted: str | None = None,
) -> list[FileCounts]:
    """Keep the newest clean version per ``newest_by``, gate it, MERGE it into ``silver/<table>``.

    ``to_silver`` maps the batch's rows to the table's columns and must keep
    ``source_version`` and ``source_file`` (the latter is dropped before the write).
    Exact resends were counted as duplicates already (:class:`Checked`); older
    versions, in the batch or against silver, are counted as superseded.
    """
    clean = batch.clean.drop("text").withColumn(VERSION, version(files, submitted))
    ranked = rank_repeated(clean, newest_by, [F.col(VERSION).desc()])
    older = ranked.filter("_n > 1")
    with steps.step("versions"):
        winners = stage(spark, cfg, to_silver(ranked.filter("_n = 1")), source, "silver")
    path = lake.table_path(cfg, "silver", table)
    stale = F.lit(False)
    within = None
    held_in = [f"_held_{c}" for c in partition_by]
    if lake.is_table(spark, path):
        # Pinned: the comparison is with silver as it was before this batch's MERGE.
        pinned = lake.latest_version(spark, path)
        held = lake.read_version(spark, path, pinned).select(
            *merge_key,
            F.col(VERSION).alias("_held"),
            *[F.col(c).alias(h) for c, h in zip(partition_by, held_in, strict=True)],
        )
        if looks_up(files):  # a large batch (a first load, a backfill) joins them all
            held = rows_named(held, winners, merge_key)
        winners = winners.join(held, list(merge_key), "left")
        if partition_by:  # the join is read twice: for the partitions and for the MERGE
            with steps.step("versions"):
                winners = stage(spark, cfg, winners, source, "held")
                within = _partitions(winners, partition_by, held_in)
        stale = F.col("_held").isNotNull() & (F.col(VERSION) < F.col("_held"))
    marked = winners.withColumn("_stale", stale).drop("_held", *held_in)
    silver = marked.filter(~F.col("_stale")).drop("_stale", "source_file")
    with steps.step("gate"):
        quality.gate(silver, "silver", table, cfg.quality_root)  # raises before any write
    with steps.step("merge"):
        lake.merge_upsert(
            spark, silver, path, list(merge_key), partition_by, version=VERSION, within=within
        )
    with steps.step("ledger"):
        read, bad, dup = batch.counts()
        sup = counts_by_file(older)
        for name, n in counts_by_file(marked.filter("_stale")).items():
            sup[name] = sup.get(name, 0) + n
    return [
        FileCounts(
            source,
            f.relative,
            f.sha256,
            read.get(f.relative, 0),
            read.get(f.relative, 0)
            - bad.get(f.relative, 0)
            - dup.get(f.relative, 0)
            - sup.get(f.relative, 0),
            bad.get(f.relative, 0),
            dup.get(f.relative, 0),
            sup.get(f.relative, 0),
        )
        for f in files
    ]


def looks_up(files: Sequence[LandedFile]) -> bool:
    """Whether a batch of these files is small enough to look its keys up in silver."""
    return sum(f.size for f in files) <= LOOKUP_BATCH_BYTES


def rows_named(table: DataFrame, batch: DataFrame, keys: Sequence[str]) -> DataFrame:
    """The rows of ``table`` whose ``keys`` occur in ``batch`` (a small, staged one).

    The batch's distinct keys are broadcast into a scan of ``table``, which is read but
    never shuffled; the few rows found make the caller's join with the batch a small one.
    """
    wanted = batch.select(*keys).dropna().distinct()
    return table.join(F.broadcast(wanted), list(keys), "left_semi")


def _partitions(
    winners: DataFrame, partition_by: Sequence[str], held_in: Sequence[str]
) -> dict[str, list] | None:
    """The partition values a MERGE of ``winners`` can touch: those of the batch's rows
    and those where silver holds their keys now (a corrected discharge date can move a
    case to another year: its old row is matched, and rewritten, where it lies)."""
    if not partition_by:
        return None
    out = {}
    for column, held in zip(partition_by, held_in, strict=True):
        values = winners.select(F.col(column).alias("v")).unionByName(
            winners.select(F.col(held).alias("v"))
        )
        out[column] = [r.v for r in values.filter(F.col("v").isNotNull()).distinct().collect()]
    return out
