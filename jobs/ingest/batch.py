"""One ingest batch: the numbered lines of its files, and what became of each file's records."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import lake, quality
from jobs.config import Config
from jobs.ingest import decode, tables
from jobs.ingest.landing import LandedFile

log = logging.getLogger(__name__)
STAGING = "_staging"
_held = threading.local()  # the frames the current thread's source has cached


def hold(df: DataFrame) -> DataFrame:
    """Cache ``df`` until :func:`release_held` ends the source (on this thread)."""
    frames = getattr(_held, "frames", None)
    if frames is None:
        frames = _held.frames = []
    frames.append(df.cache())
    return frames[-1]


def release_held() -> None:
    """Unpersist what this thread's source cached; other sources' frames stay."""
    for df in getattr(_held, "frames", ()):
        df.unpersist()
    _held.frames = []


class LedgerMismatchError(RuntimeError):
    """A file's counts do not add up: a record would be lost, so nothing is recorded."""


@dataclass(frozen=True)
class FileCounts:
    source: str
    source_file: str
    sha256: str
    records_read: int
    to_silver: int
    quarantined: int
    duplicates: int
    superseded: int

    def check(self) -> None:
        parts = self.to_silver + self.quarantined + self.duplicates + self.superseded
        if parts != self.records_read:
            raise LedgerMismatchError(
                f"{self.source_file}: read {self.records_read} but accounted {parts} "
                f"(silver {self.to_silver}, quarantine {self.quarantined}, duplicates "
                f"{self.duplicates}, superseded {self.superseded})"
            )


def numbered_lines(spark: SparkSession, files: list[LandedFile]) -> DataFrame:
    """source_file, day, line, text, encoding of every physical line (see decode.py)."""
    chunks = [c for f in files for c in decode.plan_chunks(f.path, f.relative, f.day)]
    return decode.read_lines(spark, chunks)


@dataclass(frozen=True)
class Checked:
    """A batch after bronze: every checked record (staged), and those without reasons."""

    checked: DataFrame
    clean: DataFrame

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(records read, records rejected) per file, in one pass over the held batch."""
        rows = (
            self.checked.groupBy("source_file")
            .agg(
                F.count("*").alias("read"), F.sum((F.size("reasons") > 0).cast("int")).alias("bad")
            )
            .collect()
        )
        return {r.source_file: r.read for r in rows}, {r.source_file: r.bad for r in rows}


def land_and_check(
    spark: SparkSession,
    cfg: Config,
    source: str,
    bronze: DataFrame,
    files: list[LandedFile],
    run_id: str,
    check: Callable[[DataFrame], DataFrame],
) -> Checked:
    """Write the batch's bronze rows, check them, and quarantine the rejected ones.

    Both writes replace exactly the rows of these files, so a rerun after a crash
    leaves the same rows. ``check`` parses and conforms bronze lines and adds the
    ``reasons`` array. The checked batch is written once to a staging folder inside
    the (owner-only) bronze layer and read from there by every later step
    (quarantine, duplicates, silver, counts): Parquet lets each read only the
    columns it needs, and the batch is never held in memory, whatever its size.
    The raw line is kept only on rejected records.
    """
    names = [f.relative for f in files]
    path = lake.table_path(cfg, "bronze", source)
    started = time.monotonic()
    tables.replace_files(spark, bronze.withColumn("run_id", F.lit(run_id)), path, names)
    log.info(
        "%s: %d files decoded into bronze in %.1f s", source, len(files), time.monotonic() - started
    )
    started = time.monotonic()
    bronze = lake.read_version(spark, path).filter(F.col("source_file").isin(names))
    checked = check(bronze)
    checked = checked.withColumn("text", F.when(F.size("reasons") > 0, F.col("text")))
    checked = stage(spark, cfg, checked, source, "checked")
    rejected = checked.filter(F.size("reasons") > 0)
    tables.replace_files(
        spark,
        tables.quarantine_rows(rejected, run_id),
        lake.table_path(cfg, "quarantine", source),
        names,
    )
    log.info("%s: checked, rejects quarantined in %.1f s", source, time.monotonic() - started)
    return Checked(checked, checked.filter(F.size("reasons") == 0))


def stage(spark: SparkSession, cfg: Config, df: DataFrame, source: str, part: str) -> DataFrame:
    """Write ``df`` to the source's staging folder and read it back.

    The folder is inside the owner-only bronze layer (staged rows may hold raw ID
    numbers) and is removed when the source is done (:func:`drop_staging`). A
    staged frame is computed once, however many steps read it after.
    """
    path = str(cfg.lake / "bronze" / STAGING / source / part)
    df.write.mode("overwrite").parquet(path)
    return spark.read.parquet(path)


def drop_staging(cfg: Config, source: str) -> None:
    shutil.rmtree(cfg.lake / "bronze" / STAGING / source, ignore_errors=True)


def counts_by_file(df: DataFrame) -> dict[str, int]:
    rows = df.groupBy("source_file").agg(F.count("*").alias("n")).collect()
    return {r.source_file: r.n for r in rows}


def rank_repeated(df: DataFrame, keys: Sequence[str], order: Sequence[Column]) -> DataFrame:
    """Add ``_n``, the row's rank by ``order`` among the rows with its ``keys``.

    Keys are nearly always unique here (resends and corrections are rare), so only the
    keys that occur more than once are ranked: a grouping of the keys alone rather
    than a sort of every whole row.
    """
    # Held, so that the several reads of the result do not group the keys again each
    # time; released when the source is done.
    repeated = F.broadcast(
        hold(
            df.groupBy(*keys)
            .agg(F.count("*").alias("_copies"))
            .filter("_copies > 1")
            .drop("_copies")
        )
    )
    once = df.join(repeated, list(keys), "left_anti").withColumn("_n", F.lit(1))
    window = Window.partitionBy(*keys).orderBy(*order)
    twice = df.join(repeated, list(keys)).withColumn("_n", F.row_number().over(window))
    return once.unionByName(twice)


def mark_duplicates(
    spark: SparkSession, clean: DataFrame, bronze_path: str, names: list[str]
) -> DataFrame:
    """Add ``_duplicate``: the record_id was already read in an earlier line, here or before.

    Resends are rare, so only the record_ids seen twice are ranked (a grouping of the
    ids alone, not a sort of whole rows), and earlier files are looked at only when
    bronze has any.
    """
    ranked = rank_repeated(clean, ["record_id"], [F.col(c) for c in ("day", "source_file", "line")])
    earlier_files = lake.read_version(spark, bronze_path).filter(~F.col("source_file").isin(names))
    if earlier_files.isEmpty():
        return ranked.withColumn("_duplicate", F.col("_n") > 1).drop("_n")
    # The ids of this batch read before are few (resends are rare): found once and
    # held, so each read of the marked batch joins a small table, not all of bronze.
    earlier = hold(
        clean.select("record_id")
        .join(earlier_files.select("record_id"), "record_id", "left_semi")
        .distinct()
        .withColumn("_seen", F.lit(True))
    )
    return (
        ranked.join(earlier, "record_id", "left")
        .withColumn("_duplicate", (F.col("_n") > 1) | F.col("_seen").isNotNull())
        .drop("_n", "_seen")
    )


def split_duplicates(
    spark: SparkSession, clean: DataFrame, bronze_path: str, names: list[str]
) -> tuple[DataFrame, DataFrame]:
    """(exact resends, the rest); see :func:`mark_duplicates`."""
    marked = mark_duplicates(spark, clean, bronze_path, names)
    return (
        marked.filter("_duplicate").drop("_duplicate"),
        marked.filter(~F.col("_duplicate")).drop("_duplicate"),
    )


def promote_newest(
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
) -> list[FileCounts]:
    """Keep the newest clean line per ``newest_by``, gate it, MERGE it into ``silver/<table>``.

    Exact resends (see :func:`split_duplicates`) are counted as duplicates first;
    older lines for the same key as superseded. Unchanged rows are not rewritten
    (lake.merge_upsert), so a rerun leaves the table as it was.
    """
    names = [f.relative for f in files]
    clean = batch.clean.drop("text")  # the raw line stays in bronze; no need to shuffle it
    bronze_path = lake.table_path(cfg, "bronze", source)
    duplicates, clean = split_duplicates(spark, clean, bronze_path, names)
    newest_first = [F.col("day").desc(), F.col("source_file").desc(), F.col("line").desc()]
    ranked = rank_repeated(clean, newest_by, newest_first)
    superseded = ranked.filter("_n > 1")
    started = time.monotonic()
    silver = stage(spark, cfg, to_silver(ranked.filter("_n = 1")), source, "silver")
    log.info("%s: newest per key staged in %.1f s", source, time.monotonic() - started)
    started = time.monotonic()
    quality.gate(silver, "silver", table, cfg.quality_root)
    log.info("%s: silver validated in %.1f s", source, time.monotonic() - started)
    started = time.monotonic()
    lake.merge_upsert(spark, silver, lake.table_path(cfg, "silver", table), keys=list(merge_key))
    log.info("%s: silver merged in %.1f s", source, time.monotonic() - started)
    read, bad = batch.counts()
    older, dup = counts_by_file(superseded), counts_by_file(duplicates)
    return [
        FileCounts(
            source,
            f.relative,
            f.sha256,
            read.get(f.relative, 0),
            read.get(f.relative, 0)
            - bad.get(f.relative, 0)
            - older.get(f.relative, 0)
            - dup.get(f.relative, 0),
            bad.get(f.relative, 0),
            dup.get(f.relative, 0),
            older.get(f.relative, 0),
        )
        for f in files
    ]
