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

from jobs import lake
from jobs.config import Config
from jobs.ingest import decode, identity, steps, tables
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
    """A batch after bronze: every checked record (staged, with ``_identity``: the exact
    resends of records accepted before are counted, never promoted; :mod:`identity`) and
    the clean originals."""

    checked: DataFrame
    clean: DataFrame

    def counts(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(records read, rejected, exact resends) per file, in one pass over the staged batch
        (the resends were a second pass of their own: a job chain a source for three numbers)."""
        bad = F.size("reasons") > 0
        resend = ~bad & (F.col("_identity") == identity.DUPLICATE)
        rows = (
            self.checked.groupBy("source_file")
            .agg(
                F.count("*").alias("read"),
                F.sum(bad.cast("int")).alias("bad"),
                F.sum(resend.cast("int")).alias("dup"),
            )
            .collect()
        )
        return (
            {r.source_file: r.read for r in rows},
            {r.source_file: r.bad for r in rows},
            {r.source_file: r.dup for r in rows if r.dup},
        )


def land_and_check(
    spark: SparkSession,
    cfg: Config,
    source: str,
    bronze: DataFrame,
    files: list[LandedFile],
    run_id: str,
    check: Callable[[DataFrame], DataFrame],
    content: Sequence[str],
    keep: Sequence[str] = (),
) -> Checked:
    """Write the batch's bronze rows, check them, and quarantine the rejected ones.

    Both writes replace exactly the rows of these file contents (path and checksum),
    so a rerun after a crash leaves the same rows, and a file re-sent under its name
    keeps its first content's rows beside its own. ``check`` parses and conforms
    bronze lines and adds the ``reasons`` array; ``content`` names the conformed
    columns that make a record's content, for its identity (:mod:`jobs.ingest.identity`:
    an exact resend is a duplicate, another content under a known ``record_id`` a
    conflict). The checked batch is written once to a staging folder inside the
    (owner-only) bronze layer and read from there by every later step (quarantine,
    duplicates, silver, counts): Parquet lets each read only the columns it needs,
    and the batch is never held in memory, whatever its size. The raw line is kept
    only on rejected records (a conflict's is read back from bronze). ``keep`` names
    conformed columns a rejected record also keeps in quarantine, where they could be
    read (the settlement lists keep the hospital and the discharge year, so that a
    hospital's quarantine rate can be computed: SPEC 9.2).
    """
    names = [f.relative for f in files]
    path = lake.table_path(cfg, "bronze", source)
    started = time.monotonic()
    rows = tables.with_checksum(bronze.withColumn("run_id", F.lit(run_id)), files)
    with steps.step("read"):
        tables.replace_contents(spark, rows, path, files)
    log.info(
        "%s: %d files decoded into bronze in %.1f s", source, len(files), time.monotonic() - started
    )
    started = time.monotonic()
    bronze = lake.read_version(spark, path).filter(F.expr(tables.contents_predicate(files)))
    checked = check(bronze)
    checked = checked.withColumn("text", F.when(F.size("reasons") > 0, F.col("text")))
    checked = checked.withColumn(
        "_fingerprint", F.when(F.size("reasons") == 0, identity.fingerprint(content))
    )
    with steps.step("checks"):
        checked = stage(spark, cfg, checked, source, "checked")
    index = identity.index_path(cfg, source)
    with steps.step("identity"):
        marked = identity.mark(checked, hold(identity.resolve(spark, checked, index, names)))
        rejected = marked.filter(F.size("reasons") > 0)
        conflicts = hold(rejected.filter(F.col("_identity") == identity.CONFLICT))
        any_conflict = not conflicts.isEmpty()
    if any_conflict:
        # A conflict was clean until compared, so its staged line has no text: read it back.
        where = F.broadcast(conflicts.select("source_file", "line"))
        raw = bronze.join(where, ["source_file", "line"], "left_semi").select(
            "source_file", "line", F.col("text").alias("_raw")
        )
        rejected = (
            rejected.join(F.broadcast(hold(raw)), ["source_file", "line"], "left")
            .withColumn("text", F.coalesce("text", "_raw"))
            .drop("_raw")
        )
    with steps.step("quarantine"):
        tables.replace_contents(
            spark,
            tables.quarantine_rows(rejected, run_id, files, keep),
            lake.table_path(cfg, "quarantine", source),
            files,
        )
    with steps.step("identity"):
        identity.record(spark, marked, index, names)
    log.info("%s: checked, rejects quarantined in %.1f s", source, time.monotonic() - started)
    clean = F.size("reasons") == 0
    return Checked(
        marked,
        marked.filter(clean & (F.col("_identity") == identity.ORIGINAL)),
    )


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
