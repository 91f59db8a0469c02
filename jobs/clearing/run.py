"""``diplake clearing``: the year-end DIP clearing (SPEC 5.3), drafted, then published.

    diplake clearing run --year 2025 --budget 1850000000 [--pv-method ratio] [--dry-run]
    diplake clearing publish --run-id R [--reason "why this replaces the published run"]
    diplake clearing show [--year 2025]

``run`` checks its inputs (case points of Y, and the year-Y rows of the
assessment, deduction and prepayment tables against their suites), computes
the clearing exactly (jobs/clearing/allocate.py), and writes a **draft**:
``gold/dip_clearing_runs`` (with the Delta version of every input, so the run
can be reproduced by time travel) and ``gold/dip_clearing_hospital``, plus the
statements under ``reports/clearing-<run_id>/``. ``--dry-run`` prints and
writes nothing. ``publish`` makes a draft final; a published run is never
changed. Publishing a second run for a year needs ``--reason`` and is recorded
in ``gold/dip_clearing_publications`` as superseding the earlier one.
Every refusal says why and writes nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from jobs import lake, quality, site
from jobs.clearing import statements
from jobs.clearing.allocate import (
    PV_METHODS,
    Clearing,
    ClearingRefused,
    HospitalInput,
    clear,
    parse_budget,
)
from jobs.config import Config
from jobs.terms import ASSESSMENT_SOURCES

RUNS_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("settlement_year", IntegerType(), False),
        StructField("budget", DecimalType(18, 2), False),
        StructField("pv_method", StringType(), False),
        StructField("total_points", DecimalType(22, 4), False),
        StructField("r", DecimalType(12, 6), False),
        StructField("point_value", DecimalType(18, 6), False),
        StructField("catalogue_version", IntegerType(), False),
        StructField("input_versions", StringType(), False),
        StructField("status", StringType(), False),
        StructField("created_at", TimestampType(), False),
        StructField("total_settlement", DecimalType(18, 2), False),
        StructField("retained", DecimalType(18, 2), False),
        StructField("total_payable", DecimalType(18, 2), False),
        StructField("assessment", StringType(), True),  # feed | computed (SPEC 9.3)
    ]
)
MONEY = DecimalType(18, 2)
HOSPITAL_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("settlement_year", IntegerType(), False),
        StructField("hospital_code", StringType(), False),
        StructField("cases", LongType(), False),
        StructField("points", DecimalType(22, 4), False),
        StructField("gross_fund", MONEY, False),
        StructField("assessment_coef", DecimalType(6, 4), False),
        StructField("deductions", MONEY, False),
        StructField("settlement", MONEY, False),
        StructField("prepaid", MONEY, False),
        StructField("payable", MONEY, False),
        # Where A came from (feed | computed | default) and what special review changed.
        StructField("assessment_source", StringType(), True),
        StructField("review_cases", LongType(), True),
        StructField("review_adjustment", DecimalType(22, 4), True),
        # SPEC 10.2: paid with the clearing as its own line, outside Σ gross = budget.
        StructField("procurement_retention", MONEY, True),
    ]
)
PUBLICATIONS_SCHEMA = (
    "run_id string, settlement_year int, published_at timestamp, reason string, supersedes string"
)


def inputs(spark: SparkSession, cfg: Config, year: int, assessment: str = "feed"):
    """Year-Y aggregates per hospital, each input checked, with the versions read.

    Returns ``(hospitals, fund_paid, total_cost, reads, details)``: what :func:`clear`
    takes (a what-if calls it with other budgets and methods, writing nothing), and
    per hospital where its coefficient came from, the deductions of a computed
    assessment and what special review changed (:func:`_details`).
    """
    if assessment not in ASSESSMENT_SOURCES:
        raise ClearingRefused(
            f"unknown assessment {assessment!r}: one of {', '.join(ASSESSMENT_SOURCES)}"
        )
    reads = lake.PinnedReads(spark, cfg)
    pts, adjustments = _checked_inputs(spark, cfg, reads, year)
    computed = _computed_assessment(spark, cfg, reads, year) if assessment == "computed" else {}
    retention = _procurement_retention(spark, cfg, reads, year)
    try:
        rows = _case_sums(spark, cfg, reads, pts, year)
        hospitals, details = _hospital_inputs(rows, adjustments, computed, retention)
    finally:
        for df in (pts, *adjustments.values()):
            if df is not None:
                df.unpersist()
    fund_paid = sum((r.fund_paid for r in rows), Decimal(0))
    total_cost = sum((r.total_cost for r in rows), Decimal(0))
    return hospitals, fund_paid, total_cost, reads, details


def _computed_assessment(
    spark: SparkSession, cfg: Config, reads: lake.PinnedReads, year: int
) -> dict[str, tuple[Decimal, list[dict], str]]:
    """hospital -> (A, deductions, scheme version) of gold/dip_assessment for ``year``."""
    if not lake.is_table(spark, lake.table_path(cfg, "gold", "dip_assessment")):
        raise ClearingRefused(
            "assessment=computed, but no gold/dip_assessment: "
            f"run `diplake dip assess --year {year}`"
        )
    rows = reads.table("gold", "dip_assessment").filter(F.col("year") == year).collect()
    if not rows:
        raise ClearingRefused(
            f"assessment=computed, but no assessment of {year}: "
            f"run `diplake dip assess --year {year}`"
        )
    return {
        r.hospital_code: (
            r.coefficient,
            [
                {
                    "indicator": d.indicator,
                    "points": d.points,
                    "value": d.value,
                    "threshold": d.threshold,
                }
                for d in r.deductions
            ],
            r.scheme_version,
        )
        for r in rows
    }


def _procurement_retention(
    spark: SparkSession, cfg: Config, reads: lake.PinnedReads, year: int
) -> dict[str, Decimal]:
    """hospital -> its surplus retention of contract year ``year`` (gold/vbp_surplus_retention,
    SPEC 10.2); none before `diplake procurement retention --year Y` has run."""
    if not lake.is_table(spark, lake.table_path(cfg, "gold", "vbp_surplus_retention")):
        return {}
    rows = (
        reads.table("gold", "vbp_surplus_retention")
        .filter(F.col("contract_year") == year)
        .groupBy("hospital_code")
        .agg(F.sum("retained").alias("retained"))
        .collect()
    )
    return {r.hospital_code: Decimal(r.retained) for r in rows}


ADJUSTMENTS = ("assessment_scores", "audit_deductions", "prepayments")
ZERO_YUAN = Decimal("0.00")
ZERO_POINTS = Decimal("0.0000")


def _checked_inputs(spark: SparkSession, cfg: Config, reads: lake.PinnedReads, year: int):
    """The year's case points and adjustment tables (None where a table is absent), cached,
    each passing its suite; a refusal names what to run first."""
    if not lake.is_table(spark, lake.table_path(cfg, "gold", "dip_case_points")):
        raise ClearingRefused(f"no case points at all: run `diplake points --year {year}` first")
    if not lake.is_table(spark, lake.table_path(cfg, "gold", "dip_catalogue")):
        raise ClearingRefused(f"no catalogue: run `diplake catalogue --year {year}` first")
    if reads.table("gold", "dip_catalogue").filter(F.col("catalogue_version") == year).isEmpty():
        raise ClearingRefused(f"no catalogue version {year}: run `diplake catalogue --year {year}`")
    pts = reads.table("gold", "dip_case_points").filter(F.col("settlement_year") == year).cache()
    if pts.isEmpty():
        pts.unpersist()
        raise ClearingRefused(f"no case points for {year}: run `diplake points --year {year}`")
    adjustments = {
        name: reads.table("silver", name).filter(F.col("year") == year).cache()
        if lake.is_table(spark, lake.table_path(cfg, "silver", name))
        else None
        for name in ADJUSTMENTS
    }
    checks = [(pts, "gold", "dip_case_points")] + [
        (df, "silver", name) for name, df in adjustments.items() if df is not None
    ]
    for df, layer, name in checks:
        report = quality.validate(df, layer, name, cfg.quality_root)
        if report.critical:
            failed = "; ".join(str(f) for f in report.critical)
            raise ClearingRefused(f"{layer}/{name} for {year} fails its suite: {failed}")
    return pts, adjustments


def _case_sums(spark: SparkSession, cfg: Config, reads: lake.PinnedReads, pts, year: int) -> list:
    """Per hospital: cases, points, self-paid, fund-paid and total cost of its cases.

    One pass over the join of points and discharges; a case with points that silver
    does not hold refuses the clearing (the points are stale). A case decided by
    special review (gold/special_review_outcomes, SPEC 9.5) counts its review points.
    """
    cases = reads.table("silver", "discharges").filter(F.col("discharge_year") == year)
    per_case = pts.select("case_id", "hospital_code", "points").join(
        cases.select("case_id", "fund_paid", "total_cost", "self_paid"), "case_id", "left"
    )
    if lake.is_table(spark, lake.table_path(cfg, "gold", "special_review_outcomes")):
        outcomes = reads.table("gold", "special_review_outcomes").filter(F.col("year") == year)
        # Decided on other points than the case has now (the points were recomputed since):
        # the decisions must be applied again before a clearing may count them.
        stale = (
            outcomes.select("case_id", F.col("points").alias("_decided_on"))
            .join(pts.select("case_id", "points"), "case_id")
            .filter(F.col("_decided_on") != F.col("points"))
            .count()
        )
        if stale:
            raise ClearingRefused(
                f"{stale} special-review outcome(s) of {year} were decided on other points than "
                f"the cases have now: run `diplake review apply --year {year}` first"
            )
        reviewed = outcomes.filter(F.col("passed") == "passed").select("case_id", "review_points")
        per_case = per_case.join(F.broadcast(reviewed), "case_id", "left")
    else:
        per_case = per_case.withColumn("review_points", F.lit(None).cast("decimal(18,4)"))
    used = F.coalesce("review_points", "points")
    rows = (
        per_case.groupBy("hospital_code")
        .agg(
            F.count("*").alias("cases"),
            F.sum(used).alias("points"),
            F.count("review_points").alias("review_cases"),
            F.sum(used - F.col("points")).alias("review_adjustment"),
            F.sum("self_paid").alias("self_paid"),
            F.sum("fund_paid").alias("fund_paid"),
            F.sum("total_cost").alias("total_cost"),
            F.count_if(F.col("total_cost").isNull()).alias("missing"),
        )
        .collect()
    )
    missing = sum(r.missing for r in rows)
    if missing:
        raise ClearingRefused(
            f"{missing} case(s) with points are not in silver/discharges for {year}: "
            "recompute the points first"
        )
    return rows


def _hospital_inputs(
    rows: list, adjustments: dict, computed: dict, retention: dict | None = None
) -> tuple[dict[str, HospitalInput], dict[str, dict]]:
    """What :func:`clear` takes per hospital, and where each coefficient came from.

    A hospital with a deduction or a prepayment but no case is in the clearing with
    gross 0. Its coefficient A (SPEC 9.3): the quality department's row in
    silver/assessment_scores (``feed``), else, when the run asks for it, the computed
    assessment (``computed``, with its deductions), else 1 (``default``).
    """

    def per_hospital(name: str, column: str, how: str) -> dict[str, Decimal]:
        df = adjustments[name]
        if df is None:
            return {}
        agg = F.sum(column) if how == "sum" else F.max(column)
        return {
            r.hospital_code: r.v for r in df.groupBy("hospital_code").agg(agg.alias("v")).collect()
        }

    assessment = per_hospital("assessment_scores", "coefficient", "max")
    deductions = per_hospital("audit_deductions", "amount", "sum")
    prepaid = per_hospital("prepayments", "amount", "sum")
    hospitals: dict[str, dict] = {
        r.hospital_code: {"cases": r.cases, "points": r.points, "self_paid": r.self_paid}
        for r in rows
    }
    for code in set(deductions) | set(prepaid):
        hospitals.setdefault(code, {})
    details: dict[str, dict] = {}
    for code in hospitals:
        row = next((r for r in rows if r.hospital_code == code), None)
        if code in assessment:
            source, found = "feed", []
        elif code in computed:
            assessment[code] = computed[code][0]
            source, found = "computed", computed[code][1]
        else:
            source, found = "default", []
        details[code] = {
            "assessment_source": source,
            "assessment_deductions": found,
            "review_cases": int(row.review_cases) if row else 0,
            "review_adjustment": Decimal(row.review_adjustment)
            if row and row.review_cases
            else ZERO_POINTS,
            "procurement_retention": (retention or {}).get(code, ZERO_YUAN),
        }
    return {
        code: HospitalInput(
            cases=int(v.get("cases", 0)),
            # Absent: zero (or one) at the scale of the column it stands for, so a
            # statement shows 0.00 yuan, not 0.
            points=Decimal(v.get("points", ZERO_POINTS)),
            self_paid=Decimal(v.get("self_paid", ZERO_YUAN)),
            assessment=Decimal(assessment.get(code, Decimal("1.0000"))),
            deductions=Decimal(deductions.get(code, ZERO_YUAN)),
            prepaid=Decimal(prepaid.get(code, ZERO_YUAN)),
        )
        for code, v in hospitals.items()
    }, details


def run(
    spark: SparkSession,
    cfg: Config,
    year: int,
    budget_text: str | Decimal,
    pv_method: str = "ratio",
    dry_run: bool = False,
    assessment: str = "feed",
) -> tuple[str | None, Clearing]:
    budget = parse_budget(budget_text)
    if pv_method not in PV_METHODS:  # before reading anything; clear() checks it as well
        raise ClearingRefused(f"unknown pv method {pv_method!r}: one of {', '.join(PV_METHODS)}")
    hospitals, fund_paid, total_cost, reads, details = inputs(spark, cfg, year, assessment)
    result = clear(budget, pv_method, hospitals, fund_paid, total_cost)
    if dry_run:
        return None, result
    # Read before the run row is written, so its input versions name every table read.
    levels = {
        r.institution_code: r.level
        for r in reads.table("silver", "institutions").select("institution_code", "level").collect()
    }
    run_id = f"clearing-{year}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).replace(tzinfo=None)
    hospital_rows = [
        (
            run_id,
            year,
            h.hospital_code,
            h.cases,
            h.points,
            h.gross_fund,
            h.assessment_coef,
            h.deductions,
            h.settlement,
            h.prepaid,
            h.payable,
            details[h.hospital_code]["assessment_source"],
            details[h.hospital_code]["review_cases"],
            details[h.hospital_code]["review_adjustment"],
            details[h.hospital_code]["procurement_retention"],
        )
        for h in result.hospitals
    ]
    run_row = (
        run_id,
        year,
        result.budget,
        pv_method,
        result.total_points,
        result.r,
        result.point_value,
        year,
        reads.as_json(),
        "draft",
        now,
        result.total_settlement,
        result.retained,
        result.total_payable,
        assessment,
    )
    # Hospitals first: a run row only exists once its hospital rows do.
    # mergeSchema: a lake from before the assessment and review columns gains them.
    spark.createDataFrame(hospital_rows, HOSPITAL_SCHEMA).write.format("delta").mode(
        "append"
    ).option("mergeSchema", "true").partitionBy("settlement_year").save(
        lake.table_path(cfg, "gold", "dip_clearing_hospital")
    )
    spark.createDataFrame([run_row], RUNS_SCHEMA).write.format("delta").mode("append").option(
        "mergeSchema", "true"
    ).save(lake.table_path(cfg, "gold", "dip_clearing_runs"))
    statements.write(cfg, run_id, year, result, levels, reads.versions, details)
    return run_id, result


def _runs(spark: SparkSession, cfg: Config):
    path = lake.table_path(cfg, "gold", "dip_clearing_runs")
    if not lake.is_table(spark, path):
        return None
    return lake.read_version(spark, path)


def _publications(spark: SparkSession, cfg: Config) -> list:
    path = lake.table_path(cfg, "gold", "dip_clearing_publications")
    if not lake.is_table(spark, path):
        return []
    return lake.read_version(spark, path).collect()


def publish(spark: SparkSession, cfg: Config, run_id: str, reason: str | None = None) -> str:
    runs = _runs(spark, cfg)
    row = None if runs is None else runs.filter(F.col("run_id") == run_id).first()
    if row is None:
        raise ClearingRefused(f"no clearing run {run_id!r}: see `diplake clearing show`")
    if row.status == "published":
        raise ClearingRefused(f"{run_id} is already published; a published run is never changed")
    year = row.settlement_year
    earlier = [p for p in _publications(spark, cfg) if p.settlement_year == year]
    current = max(earlier, key=lambda p: p.published_at).run_id if earlier else None
    if current and not (reason and reason.strip()):
        raise ClearingRefused(
            f"{year} already has a published clearing ({current}); publishing {run_id} "
            "instead needs --reason, which is recorded"
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    # Only the draft's status changes; the published row is final from here on.
    DeltaTable.forPath(spark, lake.table_path(cfg, "gold", "dip_clearing_runs")).update(
        condition=(F.col("run_id") == run_id) & (F.col("status") == "draft"),
        set={"status": F.lit("published")},
    )
    spark.createDataFrame(
        [(run_id, year, now, (reason or "").strip() or None, current)], PUBLICATIONS_SCHEMA
    ).write.format("delta").mode("append").save(
        lake.table_path(cfg, "gold", "dip_clearing_publications")
    )
    # The reports follow (their pages at the next `diplake reports build`).
    if (statements.folder(cfg, run_id) / site.FACTS).is_file():
        site.set_status(statements.folder(cfg, run_id), "published")
    if current and (statements.folder(cfg, current) / site.FACTS).is_file():
        site.set_status(statements.folder(cfg, current), "superseded")
    return f"{run_id} published for {year}" + (f", superseding {current}" if current else "")


def show(spark: SparkSession, cfg: Config, year: int | None = None) -> str:
    runs = _runs(spark, cfg)
    if runs is None:
        return "No clearing runs yet."
    if year is not None:
        runs = runs.filter(F.col("settlement_year") == year)
    frame = (
        runs.select(
            "run_id",
            "settlement_year",
            "status",
            "pv_method",
            "budget",
            "point_value",
            "total_payable",
            "created_at",
        )
        .orderBy("created_at")
        .toPandas()
    )
    if frame.empty:
        return f"No clearing runs for {year}."
    pubs = {p.run_id: p for p in _publications(spark, cfg)}
    frame["supersedes"] = frame.run_id.map(lambda r: pubs[r].supersedes if r in pubs else None)
    return frame.to_string(index=False)


def summary_text(run_id: str | None, year: int, result: Clearing) -> str:
    head = "DRY RUN (nothing written)" if run_id is None else f"Draft {run_id}"
    return "\n".join(
        [
            f"{head}: year {year}, {result.pv_method}",
            f"  budget        {result.budget:>20,}",
            f"  total points  {result.total_points:>20,}",
            f"  r             {result.r:>20}",
            f"  point value   {result.point_value:>20}",
            f"  settlement    {result.total_settlement:>20,}",
            f"  retained      {result.retained:>20,}",
            f"  payable       {result.total_payable:>20,}",
            f"  hospitals     {len(result.hospitals):>20,}",
        ]
    )
