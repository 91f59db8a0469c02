"""``diplake ingest``: landing -> bronze -> silver, with quarantine and a ledger.

    diplake ingest [--landing DIR] [--lake DIR] [--date YYYY-MM-DD]

Per source, in dependency order (institutions before the discharges that name
them): new files (by path and checksum) are decoded and parsed into
``bronze/<source>``; each record is conformed and checked; rejected records go
to ``quarantine/<source>`` with their reason codes; exact duplicates and older
versions of a case are counted, not promoted; the rest is pseudonymised and
MERGEd into silver. ``ops/ingest_ledger`` gets one row per file, and
records_read = to_silver + quarantined + duplicates + superseded is checked
before the row is written. A file is marked done only by its ledger row, so a
killed run is simply run again.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from functools import partial, reduce

import pandas as pd
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake, quality, vocab
from jobs.config import Config
from jobs.ingest import codes, dialects, discharges, feeds, reference, registry, schedule, tables
from jobs.ingest.batch import (
    FileCounts,
    counts_by_file,
    drop_staging,
    land_and_check,
    mark_duplicates,
    numbered_lines,
    release_held,
    stage,
)
from jobs.ingest.landing import LandedFile, discover, wrong_headers
from jobs.ingest.pseudonymise import person_key
from jobs.spark import get_spark

log = logging.getLogger(__name__)

# Dependency order: institutions and persons before the records that name them.
SOURCES = (
    "institutions",
    "doctors",
    "insured_registry",
    "external_enrolments",
    "settlement_lists",
    "fee_details",
    "outpatient_pharmacy",
    "face_checks",
    "prepayments",
    "assessment_scores",
    "audit_deductions",
    "audit_outcomes",
)


def ingest_settlement_lists(
    spark: SparkSession, cfg: Config, files: list[LandedFile], run_id: str
) -> list[FileCounts]:
    strays = [f.relative for f in files if dialects.dialect_of_name(f.relative) is None]
    if strays:
        log.warning("settlement lists of no known dialect, not read: %s", strays[:5])
        files = [f for f in files if f.relative not in strays]
    by_dialect = {
        name: [f for f in files if dialects.dialect_of_name(f.relative) == name]
        for name in dialects.PARSERS
    }
    lines = numbered_lines(spark, files)
    header_files = [
        f.relative for name, mine in by_dialect.items() if dialects.HEADERS[name] for f in mine
    ]
    # Bronze holds the record lines as received: a dialect's header line is not a record.
    lines = lines.filter((F.col("line") > 1) | ~F.col("source_file").isin(header_files))
    wrong = [
        r
        for name, mine in by_dialect.items()
        if dialects.HEADERS[name] and mine
        for r in wrong_headers(mine, dialects.HEADERS[name], dialects.SEPARATOR[name])
    ]
    refs = reference.load(spark, cfg)
    persons = registry.load(spark, cfg)
    key = cfg.hmac_key()

    def check(bronze: DataFrame) -> DataFrame:
        parsed = reduce(
            DataFrame.unionByName,
            [
                dialects.PARSERS[name](
                    bronze.filter(F.col("source_file").isin([f.relative for f in mine]))
                )
                for name, mine in by_dialect.items()
                if mine
            ],
        ).withColumn("unexpected_header", F.col("source_file").isin(wrong))
        checked = discharges.check_references(
            discharges.conform(parsed), refs.icd10, refs.icd9, refs.hospitals
        )
        usable = F.col("id_no").isNotNull() & codes.id_number_valid(F.col("id_no"))
        keyed = checked.withColumn("person_key", F.when(usable, person_key(F.col("id_no"), key)))
        return discharges.check_enrolment(keyed, persons)

    batch = land_and_check(spark, cfg, "settlement_lists", lines, files, run_id, check)
    names = [f.relative for f in files]
    bronze_path = lake.table_path(cfg, "bronze", "settlement_lists")
    marked = mark_duplicates(spark, batch.clean.drop("text"), bronze_path, names)
    ranked = _rank_versions(spark, cfg, marked.filter(~F.col("_duplicate")))
    versions = stage(spark, cfg, ranked, "settlement_lists", "versions")
    winners = versions.filter(~F.col("_superseded")).drop("_superseded")
    _merge_discharges(spark, cfg, winners)
    read, quarantined = batch.counts()
    dup = counts_by_file(marked.filter("_duplicate"))
    sup = counts_by_file(versions.filter("_superseded"))
    promoted = counts_by_file(winners.filter(F.col("source_file").isin(names)))
    return [
        FileCounts(
            "settlement_lists",
            f.relative,
            f.sha256,
            read.get(f.relative, 0),
            promoted.get(f.relative, 0),
            quarantined.get(f.relative, 0),
            dup.get(f.relative, 0),
            sup.get(f.relative, 0),
        )
        for f in files
    ]


def _rank_versions(spark: SparkSession, cfg: Config, batch: DataFrame) -> DataFrame:
    """Add ``_version`` and ``_superseded``: a newer submission of the case exists, in this
    batch or already in silver (an equal version is this very record, promoted by a run
    that died before its ledger row)."""
    batch = batch.drop("_duplicate").withColumn(
        "_version",
        F.concat_ws("|", "day", "source_file", F.lpad(F.col("line").cast("string"), 9, "0")),
    )
    path = lake.table_path(cfg, "silver", "discharges")
    stale = None
    if lake.is_table(spark, path):
        held = lake.read_version(spark, path).select(
            "case_id", F.col("source_version").alias("_held")
        )
        batch = batch.join(held, "case_id", "left")
        stale = F.col("_held").isNotNull() & (F.col("_version") < F.col("_held"))
    return discharges.mark_superseded(batch, "_version", stale).drop("_held")


def _merge_discharges(spark: SparkSession, cfg: Config, winners: DataFrame) -> None:
    silver = winners.select(
        "case_id",
        "hospital_code",
        "person_key",
        "sex",
        "birth_date",
        "admission_date",
        "discharge_date",
        F.col("discharge_year").cast("int").alias("discharge_year"),
        "admission_type",
        "discharge_status",
        "principal_dx",
        "other_dx",
        "procedures",
        "doctor_id",
        *[F.col(f"{p}_cost") for p in discharges.PARTS],
        "total_cost",
        "fund_paid",
        "self_paid",
        "enrolled_on_admission",
        "after_death",
        "record_id",
        F.col("_version").alias("source_version"),
    )
    quality.gate(silver, "silver", "discharges", cfg.quality_root)  # raises before any write
    lake_path = lake.table_path(cfg, "silver", "discharges")
    if not lake.is_table(spark, lake_path):
        silver.write.format("delta").partitionBy("discharge_year").save(lake_path)
        return
    (
        DeltaTable.forPath(spark, lake_path)
        .alias("t")
        .merge(silver.alias("s"), "t.case_id = s.case_id")
        .whenMatchedUpdateAll(condition="s.source_version > t.source_version")
        .whenNotMatchedInsertAll()
        .execute()
    )


def _write_ledger(spark: SparkSession, cfg: Config, counts: list[FileCounts], run_id: str):
    for c in counts:
        c.check()
    if not counts:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = pd.DataFrame([{**c.__dict__, "run_id": run_id, "finished_at": now} for c in counts])
    df = spark.createDataFrame(
        rows[[f.name for f in tables.LEDGER_SCHEMA.fields]], tables.LEDGER_SCHEMA
    )
    path = lake.table_path(cfg, "ops", "ingest_ledger")
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


INGESTERS = {
    "institutions": reference.ingest_institutions,
    "insured_registry": registry.ingest_insured_registry,
    "settlement_lists": ingest_settlement_lists,
    **{source: partial(feeds.ingest, feed) for source, feed in feeds.FEEDS.items()},
}
assert set(INGESTERS) == set(SOURCES), "every source has an ingester"


RUNS_SCHEMA = (
    "run_id string, status string, sources string, files int, message string, finished_at timestamp"
)


def _record_run(spark: SparkSession, cfg: Config, run_id: str, status: str, report, message: str):
    """One row per run in ``ops/ingest_runs``: succeeded, or failed with the reason shown."""
    row = (
        run_id,
        status,
        ",".join(sorted({c.source for c in report})),
        len(report),
        message,
        datetime.now(UTC).replace(tzinfo=None),
    )
    df = spark.createDataFrame([row], RUNS_SCHEMA)
    df.write.format("delta").mode("append").save(lake.table_path(cfg, "ops", "ingest_runs"))


# What each source reads from another source's silver (see jobs/ingest/schedule.py).
DEPENDS_ON = {source: ("institutions",) for source in SOURCES[1:]} | {
    "settlement_lists": ("institutions", "insured_registry")
}
# Ready sources start longest chain first: the registry and the settlement lists it
# unlocks on one core, the fee details on the other, the small feeds in the gaps.
# (A third worker for the small feeds was measured slower: it starves the registry,
# which the settlement lists wait for.)
LONGEST_FIRST = (
    "institutions",
    "insured_registry",
    "settlement_lists",
    "fee_details",
    "outpatient_pharmacy",
)
PRIORITY = LONGEST_FIRST + tuple(s for s in SOURCES if s not in LONGEST_FIRST)
_LEDGER_LOCK = threading.Lock()  # one ledger MERGE at a time: they would conflict


def _ingest_source(
    spark: SparkSession, cfg: Config, source: str, files: list[LandedFile], run_id: str
) -> list[FileCounts]:
    """One source, start to ledger; its cached frames and staging go in every outcome."""
    # Its own pool of the fair scheduler: two sources share the cores job by job.
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", source)
    started = time.monotonic()
    try:
        counts = INGESTERS[source](spark, cfg, files, run_id)
    finally:
        release_held()
        drop_staging(cfg, source)
    with _LEDGER_LOCK:
        _write_ledger(spark, cfg, counts, run_id)
    log.info("%s: %d files in %.1f s", source, len(files), time.monotonic() - started)
    return counts


def run(spark: SparkSession, cfg: Config, day: str | None = None) -> list[FileCounts]:
    """Ingest every new landed file; a failed quality gate marks the run failed and re-raises.

    Sources run ``cfg.ingest_workers`` at a time, each after the sources it reads
    (``DEPENDS_ON``). When one fails, no other starts, the running ones finish and
    are recorded, and the error is raised. Files whose source failed keep no ledger
    row, so the next run takes them again.
    """
    cfg.hmac_key()  # refuse to start without a key, before touching anything
    lake.ensure_layout(cfg)
    reference.ensure_vocabularies(spark, cfg, vocab.load())
    run_id = f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    done = tables.already_ingested(spark, lake.table_path(cfg, "ops", "ingest_ledger"))
    work = {}
    for source in SOURCES:
        files = [
            f for f in discover(cfg.landing, [source], day) if (f.relative, f.sha256) not in done
        ]
        if files:
            work[source] = partial(_ingest_source, spark, cfg, source, files, run_id)
    outcome = schedule.run(work, DEPENDS_ON, PRIORITY, cfg.ingest_workers)
    report = [c for source in SOURCES for c in outcome.results.get(source, [])]
    if outcome.error is not None:
        if outcome.not_started:
            log.warning("not started after %s failed: %s", outcome.failed, outcome.not_started)
        if isinstance(outcome.error, quality.QualityGateError):
            _record_run(spark, cfg, run_id, "failed", report, f"{outcome.failed}: {outcome.error}")
            quality.build_docs(cfg.quality_root)  # the failed validation is on the site
        raise outcome.error
    if report:
        _record_run(spark, cfg, run_id, "succeeded", report, "")
        log.info("Data Docs: %s", quality.build_docs(cfg.quality_root))
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="only the landing folders of this day (YYYY-MM-DD)")


def command(cfg: Config, args: argparse.Namespace) -> int:
    spark = get_spark(cfg, "dip-lake ingest", preload=quality.PRELOAD)
    report = run(spark, cfg, args.date)
    if not report:
        print("Nothing new in the landing zone.")
        return 0
    frame = pd.DataFrame([c.__dict__ for c in report]).drop(columns=["sha256"])
    totals = frame.groupby("source")[
        ["records_read", "to_silver", "quarantined", "duplicates", "superseded"]
    ].sum()
    print(totals.to_string())
    print(f"\n{len(report)} files ingested into {cfg.lake}")
    return 0
