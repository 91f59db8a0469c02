"""``diplake ingest``: landing -> bronze -> silver, with quarantine and a ledger.

    diplake ingest [--landing DIR] [--lake DIR] [--date YYYY-MM-DD]

The run date (``--date``, default today) decides what is taken: every file not
ingested before (by path and checksum) in a landing folder dated on or before
it; later folders are held until their day. Per source, in dependency order
(institutions before the discharges that name them): a file that cannot hold
records (empty, compressed, binary, undecodable, of no known dialect) is
rejected whole into ``ops/file_rejections``; the others are decoded and parsed
into ``bronze/<source>``; each record is conformed and checked; rejected records
go to ``quarantine/<source>`` with their reason codes; exact resends are counted
as duplicates and older versions of a key as superseded, whatever day they
arrive (jobs/ingest/identity.py, jobs/ingest/versions.py); the rest is
pseudonymised and MERGEd into silver. ``ops/ingest_ledger`` gets one row per
file, and records_read = to_silver + quarantined + duplicates + superseded is
checked before the row is written. A file is marked done only by its ledger row
(or its rejection), so a killed run is simply run again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial, reduce
from zoneinfo import ZoneInfo

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake, quality, site, vocab
from jobs.config import Config
from jobs.ingest import (
    codes,
    csv_feeds,
    dialects,
    discharges,
    feeds,
    reference,
    registry,
    schedule,
    steps,
    tables,
    versions,
)
from jobs.ingest.batch import FileCounts, drop_staging, land_and_check, numbered_lines, release_held
from jobs.ingest.landing import (
    Checksums,
    LandedFile,
    discover,
    undecodable,
    with_revisions,
    wrong_headers,
)
from jobs.pseudonymise import person_key

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
    "fund_budgets",
    "experts",
    "special_review_applications",
    "special_review_decisions",
    "drug_catalogue",
    "vbp_agreements",
    "procurement_orders",
    "deliveries",
    "distributor_payments",
    "offsite_settlements",
    "offsite_clearing_statements",
    "offsite_statement_lines",
)


def ingest_settlement_lists(
    spark: SparkSession, cfg: Config, files: list[LandedFile], run_id: str
) -> list[FileCounts]:
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

    batch = land_and_check(
        spark,
        cfg,
        "settlement_lists",
        lines,
        files,
        run_id,
        check,
        content=discharges.CONTENT,
        keep=("hospital_code", "discharge_year"),
    )
    return versions.promote(
        spark,
        cfg,
        files,
        batch,
        source="settlement_lists",
        table="discharges",
        newest_by=["case_id"],
        merge_key=["case_id"],
        to_silver=_discharge_rows,
        partition_by=["discharge_year"],
        submitted="submitted_at",
    )


def _discharge_rows(winners: DataFrame) -> DataFrame:
    """The silver/discharges columns (SPEC 4) and the trail the ledger and MERGE need."""
    return winners.select(
        "case_id",
        "hospital_code",
        "person_key",
        "sex",
        "birth_date",
        "insured_region",
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
        versions.VERSION,
        "source_file",
    )


def _write_ledger(spark: SparkSession, cfg: Config, counts: list[FileCounts], run_id: str):
    """Append the run's rows for these files to ``ops/ingest_ledger``.

    A plain append, not a MERGE on (path, checksum): the run took only contents the
    ledger did not hold when it started (:func:`run`), and one ingest runs at a time
    (the DAG allows one active run). Appends of two sources commit side by side
    (Delta retries a blind append on the next version); only the table's creation,
    on a first load, is taken one source at a time. The MERGE read the whole ledger
    for every source: 3 s a source of the tiny city's 9-step ingest, the largest step.
    """
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
    with nullcontext() if lake.is_table(spark, path) else _LEDGER_CREATED:
        df.write.format("delta").mode("append").save(path)


INGESTERS = {
    "institutions": reference.ingest_institutions,
    "insured_registry": registry.ingest_insured_registry,
    "settlement_lists": ingest_settlement_lists,
    **{source: partial(csv_feeds.ingest, feed) for source, feed in feeds.FEEDS.items()},
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
# A feed whose fields refer to another feed's table (feeds.Ref) runs after that source.
_SOURCE_OF = {feed.table: feed.source for feed in feeds.FEEDS.values()}
DEPENDS_ON = (
    {source: ("institutions",) for source in SOURCES[1:]}
    | {"settlement_lists": ("institutions", "insured_registry")}
    | {
        feed.source: ("institutions", *(_SOURCE_OF[r.table] for r in feed.refs))
        for feed in feeds.FEEDS.values()
        if feed.refs
    }
)
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
_LEDGER_CREATED = threading.Lock()  # the first load's sources create the ledger one at a time
CHECKSUMS = "_landing_checksums.json"  # under <lake>/ops: see landing.Checksums


def _ingest_source(
    spark: SparkSession, cfg: Config, source: str, files: list[LandedFile], run_id: str
) -> list[FileCounts]:
    """One source, start to ledger; its cached frames and staging go in every outcome."""
    # Its own pool of the fair scheduler: two sources share the cores job by job.
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", source)
    started = time.monotonic()
    steps.begin()
    try:
        counts = INGESTERS[source](spark, cfg, files, run_id)
    finally:
        release_held()
        drop_staging(cfg, source)
    with steps.step("ledger"):
        _write_ledger(spark, cfg, counts, run_id)
    seconds = steps.end()
    log.info("%s: %d files in %.1f s %s", source, len(files), time.monotonic() - started, seconds)
    return SourceRun(counts, seconds)


@dataclass(frozen=True)
class SourceRun:
    """One source's file counts and its seconds per step (jobs/ingest/steps.py)."""

    counts: list[FileCounts]
    seconds: dict[str, float]


# What the ledger counts of every file: each record read ends in exactly one of the others.
LEDGER = ("records_read", "to_silver", "quarantined", "duplicates", "superseded")


@dataclass(frozen=True)
class IngestReport:
    """What a run did: per-file counts, files rejected whole, files held for a later day."""

    run_date: str
    files: list[FileCounts] = field(default_factory=list)
    rejected: list[LandedFile] = field(default_factory=list)
    held: list[LandedFile] = field(default_factory=list)
    # seconds per source and step (jobs/ingest/steps.py); "run": finding the new files
    # (checksums of the landing zone) and starting, before any source
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def nothing_new(self) -> bool:
        return not self.files and not self.rejected

    def by_source(self) -> dict[str, dict[str, int]]:
        """source -> files and the ledger's counts (:data:`LEDGER`), summed over its files."""
        sources: dict[str, dict[str, int]] = {}
        for c in self.files:
            mine = sources.setdefault(c.source, dict.fromkeys(("files", *LEDGER), 0))
            mine["files"] += 1
            for column in LEDGER:
                mine[column] += getattr(c, column)
        return sources


# A file the source's reader cannot take, whatever its bytes (see landing.FILE_PROBLEMS).
SOURCE_FILE_CHECKS = {
    "settlement_lists": lambda f: (
        None if dialects.dialect_of_name(f.relative) else "unknown_dialect"
    )
}


def today(cfg: Config) -> str:
    """The run date when none is given: today in the bureau's time zone."""
    return datetime.now(ZoneInfo(cfg.timezone)).date().isoformat()


def _rejected_file(f: LandedFile) -> LandedFile:
    """The new file with its problem, if any: its head's, its source's, or its encoding's."""
    check = SOURCE_FILE_CHECKS.get(f.source)
    problem = f.problem or (check(f) if check else None)
    if problem is None and undecodable(f.path):
        problem = "undecodable_file"
    return f if problem == f.problem else replace(f, problem=problem)


def _report(spark: SparkSession, cfg: Config, run_id: str, report: IngestReport) -> None:
    """``reports/<run_id>/``: what the run read, kept, quarantined and held, per source and
    file, and the version of every silver table as it left them (for the data-quality page)."""
    sources = report.by_source()
    totals = {k: sum(s[k] for s in sources.values()) for k in ("files", *LEDGER)}
    written = {}
    for t in feeds.SILVER_TABLES:
        try:
            written[f"silver/{t}"] = lake.latest_version(spark, lake.table_path(cfg, "silver", t))
        except lake.TableMissingError:  # a source this lake has not received yet
            continue
    site.write_report(
        cfg.reports / run_id,
        kind="ingest",
        title=f"Ingest {report.run_date}",
        year=int(report.run_date[:4]),
        month=int(report.run_date[5:7]),
        run_id=run_id,
        status="succeeded",
        reads=written,
        data={
            "run_date": report.run_date,
            "totals": totals,
            "sources": sources,
            "files": [
                {"file": c.source_file} | {k: getattr(c, k) for k in LEDGER} for c in report.files
            ],
            "rejected": [{"file": f.relative, "problem": f.problem} for f in report.rejected],
            "held_files": len(report.held),
            "seconds": report.seconds,
        },
    )


def run(spark: SparkSession, cfg: Config, run_date: str | None = None) -> IngestReport:
    """Ingest every new landed file up to ``run_date``; a failed quality gate marks the run
    failed and re-raises.

    Sources run ``cfg.ingest_workers`` at a time, each after the sources it reads
    (``DEPENDS_ON``). When one fails, no other starts, the running ones finish and
    are recorded, and the error is raised. Files whose source failed keep no ledger
    row, so the next run takes them again.
    """
    cfg.hmac_key()  # refuse to start without a key, before touching anything
    started = time.monotonic()
    run_date = date.fromisoformat(run_date or today(cfg)).isoformat()
    lake.ensure_layout(cfg)
    reference.ensure_vocabularies(spark, cfg, vocab.load())
    run_id = f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    ledger = tables.ingested_contents(spark, lake.table_path(cfg, "ops", "ingest_ledger"))
    rejections = tables.ingested_contents(spark, lake.table_path(cfg, "ops", "file_rejections"))
    done = ledger | rejections
    revisions = Counter(path for path, _ in ledger)
    looked = time.monotonic()
    checksums = Checksums(cfg.lake / "ops" / CHECKSUMS)
    found = discover(cfg.landing, list(SOURCES), run_date, checksums)
    checksums.save()
    looked = time.monotonic() - looked
    new = [_rejected_file(f) for f in found.files if (f.relative, f.sha256) not in done]
    rejected = [f for f in new if f.problem]
    held = [f for f in found.held if (f.relative, f.sha256) not in done]
    if held:
        log.warning(
            "held until their day (after the run date %s): %d files, first %s",
            run_date,
            len(held),
            held[0].relative,
        )
    for f in rejected:
        log.warning("%s rejected whole: %s", f.relative, f.problem)
    tables.record_rejections(
        spark, lake.table_path(cfg, "ops", "file_rejections"), rejected, run_id
    )
    work = {}
    for source in SOURCES:
        files = with_revisions([f for f in new if f.source == source and not f.problem], revisions)
        if files:
            work[source] = partial(_ingest_source, spark, cfg, source, files, run_id)
    before = {
        "discover": round(looked, 1),
        "start": round(time.monotonic() - started - looked, 1),
    }
    outcome = schedule.run(work, DEPENDS_ON, PRIORITY, cfg.ingest_workers)
    done_sources = [s for s in SOURCES if s in outcome.results]
    counts = [c for s in done_sources for c in outcome.results[s].counts]
    seconds = {"run": before} | {s: outcome.results[s].seconds for s in done_sources}
    report = IngestReport(run_date, counts, rejected, held, seconds)
    if outcome.error is not None:
        if outcome.not_started:
            log.warning("not started after %s failed: %s", outcome.failed, outcome.not_started)
        if isinstance(outcome.error, quality.QualityGateError):
            _record_run(spark, cfg, run_id, "failed", counts, f"{outcome.failed}: {outcome.error}")
        raise outcome.error
    if counts:
        _record_run(spark, cfg, run_id, "succeeded", counts, "")
    if counts or rejected:
        _report(spark, cfg, run_id, report)
        # Each validation rendered its own page (jobs/quality.py): no second pass over the site.
        log.info("Data Docs: %s", quality.docs_index(cfg.quality_root))
    return report
