"""The DIP year between catalogue and clearing, as lake jobs (SPEC 9.1–9.3).

    diplake dip indicators --year 2025
    diplake dip proposal --year 2025 --month 6
    diplake dip assess --year 2025 [--scheme 2025.1]

Each job reads its inputs at one pinned Delta version (recorded in every row it
writes), computes with the pure, hand-tested functions beside it
(:mod:`jobs.dip.indicators`, :mod:`jobs.dip.presettle`, :mod:`jobs.dip.assessment`),
passes its gold suite and replaces its own rows (a year, or a year and month)
atomically. A run's id is derived from the versions it read, so a rerun on the
same lake writes the same rows, id included.

* ``gold/dip_hospital_indicators``: the year's indicators per hospital over the
  matched cases scored so far (the monthly DAG rewrites it each month);
* ``gold/dip_prepayment_proposals``: month m's proposal per hospital;
* ``gold/dip_assessment``: the scheme's score, coefficient and every deduction.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DecimalType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

from jobs import Refused, lake, quality
from jobs.config import Config
from jobs.dip import assessment, indicators, presettle

log = logging.getLogger(__name__)

MONEY = DecimalType(18, 2)
DEFAULT_DEPOSIT_RATE = Decimal("0.0500")  # SPEC 9.1, where the budget's row gives none

PROPOSALS_SCHEMA = StructType(
    [
        StructField("year", IntegerType(), False),
        StructField("month", IntegerType(), False),
        StructField("hospital_code", StringType(), False),
        StructField("ytd_points", DecimalType(20, 4), False),
        StructField("ytd_gross", MONEY, False),
        StructField("deposit", MONEY, False),
        StructField("prepaid_to_date", MONEY, False),
        StructField("proposed", MONEY, False),
        StructField("pv_est", DecimalType(18, 6), False),
        StructField("budget", MONEY, False),
        StructField("deposit_rate", DecimalType(6, 4), False),
        StructField("run_id", StringType(), False),
        StructField("input_versions", StringType(), False),
    ]
)

DEDUCTION = StructType(
    [
        StructField("id", StringType(), False),
        StructField("indicator", StringType(), False),
        StructField("value", DoubleType(), False),
        StructField("threshold", DoubleType(), False),
        StructField("points", IntegerType(), False),
    ]
)

ASSESSMENT_SCHEMA = StructType(
    [
        StructField("year", IntegerType(), False),
        StructField("hospital_code", StringType(), False),
        StructField("level", IntegerType(), True),
        StructField("score", IntegerType(), False),
        StructField("coefficient", DecimalType(6, 4), False),
        StructField("deductions", ArrayType(DEDUCTION, False), False),
        StructField("scheme_version", StringType(), False),
        StructField("run_id", StringType(), False),
        StructField("input_versions", StringType(), False),
    ]
)


class YearJobRefused(Refused):
    """A DIP-year job that cannot run as asked (no points, no budget): the message says why."""


def run_id(kind: str, year: int, reads: lake.PinnedReads, *more: object) -> str:
    """``<kind>-<year>[-<more>]-<hash of the versions read>``: a rerun on the same lake
    writes the same id, a run on newer inputs a new one."""
    return reads.run_id(kind, year, *more)


def _need(spark: SparkSession, cfg: Config, layer: str, table: str, hint: str) -> None:
    if not lake.is_table(spark, lake.table_path(cfg, layer, table)):
        raise YearJobRefused(f"no {layer}/{table} in {cfg.lake}: {hint}")


def _points(spark: SparkSession, cfg: Config, reads: lake.PinnedReads, year: int) -> DataFrame:
    _need(spark, cfg, "gold", "dip_case_points", f"run `diplake points --year {year}` first")
    points = reads.table("gold", "dip_case_points").filter(F.col("settlement_year") == year)
    if points.limit(1).count() == 0:
        raise YearJobRefused(f"no case points of {year}: run `diplake points --year {year}`")
    return points


def quarantine_counts(
    spark: SparkSession, cfg: Config, reads: lake.PinnedReads, discharges: DataFrame, year: int
) -> DataFrame:
    """Per hospital: settlement-list records of ``year`` quarantined, and received.

    Received = quarantined + the cases of ``year`` in silver (one accepted record per
    case; exact resends and superseded versions are not counted twice). A quarantined
    record counts where its hospital and discharge year could be read; a lake from
    before the quarantine kept them counts none (rate 0, said in the log).
    """
    accepted = (
        discharges.filter(F.col("discharge_year") == year)
        .groupBy("hospital_code")
        .agg(F.count("*").alias("accepted"))
    )
    path = lake.table_path(cfg, "quarantine", "settlement_lists")
    quarantined = None
    if lake.is_table(spark, path):
        rows = reads.table("quarantine", "settlement_lists")
        if {"hospital_code", "discharge_year"} <= set(rows.columns):
            quarantined = (
                rows.filter((F.col("discharge_year") == year) & F.col("hospital_code").isNotNull())
                .groupBy("hospital_code")
                .agg(F.count("*").alias("quarantined"))
            )
        else:
            log.warning("quarantine/settlement_lists keeps no hospital: quarantine_rate is 0")
    if quarantined is None:
        quarantined = accepted.select("hospital_code", F.lit(0).alias("quarantined"))
    return (
        accepted.join(quarantined, "hospital_code", "full")
        .fillna(0, ["accepted", "quarantined"])
        .select(
            "hospital_code",
            "quarantined",
            (F.col("accepted") + F.col("quarantined")).alias("received"),
        )
    )


def indicators_run(
    spark: SparkSession, cfg: Config, year: int, scheme_version: str = assessment.DEFAULT_SCHEME
) -> dict:
    """``gold/dip_hospital_indicators`` of ``year`` over the cases scored so far."""
    scheme = assessment.load_scheme(scheme_version)
    params = indicators.IndicatorParams(**scheme.indicators)
    reads = lake.PinnedReads(spark, cfg)
    points = _points(spark, cfg, reads, year)
    discharges = reads.table("silver", "discharges")
    rows = indicators.compute(
        points,
        discharges,
        reads.table("silver", "procedure_classes"),
        quarantine_counts(spark, cfg, reads, discharges, year),
        year,
        params,
    )
    rid = run_id("indicators", year, reads, scheme.version)
    out = (
        rows.withColumn("scheme_version", F.lit(scheme.version))
        .withColumn("run_id", F.lit(rid))
        .withColumn("input_versions", F.lit(reads.as_json()))
    )
    out = out.cache()
    try:
        quality.gate(out, "gold", "dip_hospital_indicators", cfg.quality_root)
        lake.replace_where(
            spark,
            out,
            lake.table_path(cfg, "gold", "dip_hospital_indicators"),
            f"year = {year}",
            merge_schema=True,
        )
        n = out.count()
    finally:
        out.unpersist()
    return {"year": year, "hospitals": n, "run_id": rid, "input_versions": reads.versions}


def _budget(reads: lake.PinnedReads, year: int) -> tuple[Decimal, Decimal]:
    row = reads.table("silver", "fund_budgets").filter(F.col("year") == year).first()
    if row is None:
        raise YearJobRefused(f"silver/fund_budgets has no budget for {year}: ingest its file")
    rate = DEFAULT_DEPOSIT_RATE if row.deposit_rate is None else Decimal(row.deposit_rate)
    return Decimal(row.budget), rate


def proposal_run(spark: SparkSession, cfg: Config, year: int, month: int) -> dict:
    """``gold/dip_prepayment_proposals`` of (``year``, ``month``): SPEC 9.1, to the fen."""
    if not 1 <= month <= 12:
        raise YearJobRefused(f"month {month} is not 1 to 12")
    reads = lake.PinnedReads(spark, cfg)
    points = _points(spark, cfg, reads, year)
    _need(spark, cfg, "silver", "fund_budgets", "ingest the fund's budget file first")
    budget, deposit_rate = _budget(reads, year)
    cases = reads.table("silver", "discharges").filter(
        (F.col("discharge_year") == year) & (F.month("discharge_date") <= month)
    )
    ytd = points.join(cases.select("case_id", "fund_paid"), "case_id")
    # One pass: per hospital its points, fund paid and cost; the city's r from their sums.
    sums = (
        ytd.groupBy("hospital_code")
        .agg(
            F.sum("points").alias("p"),
            F.sum("fund_paid").alias("fund"),
            F.sum("total_cost").alias("cost"),
        )
        .collect()
    )
    per_hospital = {r.hospital_code: Decimal(r.p) for r in sums}
    fund_ytd = sum((Decimal(r.fund) for r in sums), Decimal(0))
    cost_ytd = sum((Decimal(r.cost) for r in sums), Decimal(0))
    prepaid: dict[str, Decimal] = {}
    if lake.is_table(spark, lake.table_path(cfg, "silver", "prepayments")):
        prepaid = {
            r.hospital_code: Decimal(r.amount)
            for r in reads.table("silver", "prepayments")
            .filter((F.col("year") == year) & (F.col("month") < month))
            .groupBy("hospital_code")
            .agg(F.sum("amount").alias("amount"))
            .collect()
        }
    try:
        result = presettle.propose(
            month,
            budget,
            deposit_rate,
            per_hospital,
            prepaid,
            fund_ytd,
            cost_ytd,
        )
    except presettle.PresettlementRefused as refused:
        raise YearJobRefused(f"{year}-{month:02d}: {refused}") from refused
    rid = run_id("proposal", year, reads, f"{month:02d}")
    versions = reads.as_json()
    rows = [
        (
            year,
            month,
            p.hospital_code,
            p.ytd_points,
            p.ytd_gross,
            p.deposit,
            p.prepaid_to_date,
            p.proposed,
            result.pv_est,
            budget,
            deposit_rate,
            rid,
            versions,
        )
        for p in result.proposals
    ]
    df = spark.createDataFrame(rows, PROPOSALS_SCHEMA)
    quality.gate(df, "gold", "dip_prepayment_proposals", cfg.quality_root)
    lake.replace_where(
        spark,
        df,
        lake.table_path(cfg, "gold", "dip_prepayment_proposals"),
        f"year = {year} AND month = {month}",
    )
    return {
        "year": year,
        "month": month,
        "hospitals": len(rows),
        "proposed": str(sum((p.proposed for p in result.proposals), Decimal("0.00"))),
        "deposit": str(sum((p.deposit for p in result.proposals), Decimal("0.00"))),
        "pv_est": str(result.pv_est),
        "run_id": rid,
        "input_versions": reads.versions,
    }


def confirmed_fraud_cases(reads: lake.PinnedReads, discharges: DataFrame, year: int) -> DataFrame:
    """Per hospital, the confirmed fraud cases of ``year`` in silver/audit_outcomes."""
    outcomes = reads.table("silver", "audit_outcomes").filter(
        (F.col("entity_type") == "case") & (F.col("outcome") == "confirmed")
    )
    return (
        outcomes.select(F.col("entity_id").alias("case_id"))
        .distinct()
        .join(discharges.filter(F.col("discharge_year") == year), "case_id")
        .groupBy("hospital_code")
        .agg(F.count("*").alias("confirmed"))
    )


def assessment_run(
    spark: SparkSession, cfg: Config, year: int, scheme_version: str = assessment.DEFAULT_SCHEME
) -> dict:
    """``gold/dip_assessment`` of ``year`` from its indicators and confirmed fraud cases."""
    scheme = assessment.load_scheme(scheme_version)
    reads = lake.PinnedReads(spark, cfg)
    _need(
        spark,
        cfg,
        "gold",
        "dip_hospital_indicators",
        f"run `diplake dip indicators --year {year}` first",
    )
    rows = [
        r.asDict()
        for r in reads.table("gold", "dip_hospital_indicators")
        .filter(F.col("year") == year)
        .collect()
    ]
    if not rows:
        raise YearJobRefused(f"no indicators of {year}: run `diplake dip indicators --year {year}`")
    built = {r.get("scheme_version") for r in rows}
    if built != {scheme.version}:
        # The scheme sets the indicators' day limits: indicators of another scheme's limits
        # would be judged by this one's thresholds.
        raise YearJobRefused(
            f"the indicators of {year} were computed for scheme {sorted(map(str, built))}, not "
            f"{scheme.version}: run `diplake dip indicators --year {year} --scheme "
            f"{scheme.version}` first"
        )
    fraud: dict[str, int] = {}
    if lake.is_table(spark, lake.table_path(cfg, "silver", "audit_outcomes")):
        discharges = reads.table("silver", "discharges")
        fraud = {
            r.hospital_code: r.confirmed
            for r in confirmed_fraud_cases(reads, discharges, year).collect()
        }
    results = assessment.assess(rows, fraud, scheme)
    level = {r["hospital_code"]: r["level"] for r in rows}
    rid = run_id("assessment", year, reads, scheme.version)
    versions = reads.as_json()
    out = [
        (
            year,
            a.hospital_code,
            level[a.hospital_code],
            a.score,
            a.coefficient,
            [
                (d["id"], d["indicator"], float(d["value"]), float(d["threshold"]), d["points"])
                for d in a.deductions
            ],
            scheme.version,
            rid,
            versions,
        )
        for a in results
    ]
    df = spark.createDataFrame(out, ASSESSMENT_SCHEMA)
    quality.gate(df, "gold", "dip_assessment", cfg.quality_root)
    lake.replace_where(spark, df, lake.table_path(cfg, "gold", "dip_assessment"), f"year = {year}")
    scores = [a.score for a in results]
    return {
        "year": year,
        "hospitals": len(results),
        "scheme_version": scheme.version,
        "deducted": sum(1 for a in results if a.deductions),
        "lowest_score": min(scores),
        "mean_coefficient": str(
            (sum((a.coefficient for a in results), Decimal(0)) / len(results)).quantize(
                Decimal("0.0001")
            )
        ),
        "run_id": rid,
        "input_versions": json.loads(versions),
    }
