"""The off-site wing's lake job (SPEC 12): silver in, gold out, each run pinned.

:func:`monthly_run`, once the platform's statement of a month has landed (the 15th of
the next month): the month's reconciliation per counterpart region and its
differences (12.1), the month's outbound settlements whose fund share breaks their
filing (12.2), and the year's destinations so far against their peers (12.3).

The job reads its silver tables at one pinned Delta version, recorded in each row it
writes (``input_versions``); its run id is derived from those versions, so a rerun on
the same lake writes the same rows. A month's rows replace that month's rows (the
destinations: the year's), so a rerun after a correction or a late file replaces
them whole. Inbound stays are matched against silver/discharges as they stand.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import Refused, lake
from jobs.config import Config
from jobs.offsite import destinations, policy, reconcile
from jobs.offsite.scheme import DEFAULT_SCHEME, load_scheme
from jobs.terms import HOME_REGION

SOURCES = ("offsite_settlements", "offsite_clearing_statements", "offsite_statement_lines")
GOLD = (
    "offsite_reconciliation",
    "offsite_differences",
    "offsite_policy_breaks",
    "offsite_destinations",
)


class OffsiteRefused(Refused):
    """An off-site job declined: a silver table it needs is missing, or the month's
    statement has not landed."""


def _need(spark: SparkSession, cfg: Config, table: str) -> None:
    if not lake.is_table(spark, lake.table_path(cfg, "silver", table)):
        raise OffsiteRefused(
            f"no silver/{table} in {cfg.lake}: ingest the national platform's files first"
        )


def month_label(year: int, month: int) -> str:
    if not 1 <= month <= 12:
        raise OffsiteRefused(f"month {month} is not 1 to 12")
    return f"{year}-{month:02d}"


def newest_statement(spark: SparkSession, cfg: Config) -> tuple[int, int]:
    """(year, month) of the newest statement in silver: what a run without a month reconciles."""
    _need(spark, cfg, "offsite_clearing_statements")
    path = lake.table_path(cfg, "silver", "offsite_clearing_statements")
    newest = lake.read_version(spark, path).agg(F.max("month")).first()[0]
    if newest is None:
        raise OffsiteRefused("silver/offsite_clearing_statements holds no statement yet")
    return int(newest[:4]), int(newest[5:])


def _lists(spark: SparkSession, cfg: Config, reads: lake.PinnedReads) -> DataFrame:
    """silver/discharges for the inbound match (empty, of the same shape, on a lake
    without settlement lists)."""
    if lake.is_table(spark, lake.table_path(cfg, "silver", "discharges")):
        lists = reads.table("silver", "discharges")
        if "insured_region" in lists.columns:
            return lists
        return lists.withColumn("insured_region", F.lit(HOME_REGION))
    schema = (
        "hospital_code string, case_id string, insured_region string, "
        "discharge_date date, fund_paid decimal(18,2)"
    )
    return spark.createDataFrame([], schema)


def monthly_run(
    spark: SparkSession, cfg: Config, year: int, month: int, scheme_version: str = DEFAULT_SCHEME
) -> dict:
    """Reconcile (``year``, ``month``) with the platform's statement; check and watch."""
    scheme = load_scheme(scheme_version)
    label = month_label(year, month)
    for table in SOURCES:
        _need(spark, cfg, table)
    reads = lake.PinnedReads(spark, cfg)
    statements = reads.table("silver", "offsite_clearing_statements")
    if statements.filter(F.col("month") == label).limit(1).count() == 0:
        raise OffsiteRefused(
            f"no statement of {label} in silver yet: the platform's statement of a month "
            "lands on the 15th of the next month"
        )
    lines = reads.table("silver", "offsite_statement_lines")
    ours = reconcile.our_settlements(reads.table("silver", "offsite_settlements")).cache()
    try:
        differences = reconcile.statement_differences(ours, lines, label).unionByName(
            reconcile.case_differences(ours, _lists(spark, cfg, reads), HOME_REGION, label)
        )
        differences = differences.cache()
        regions = reconcile.reconciliation(ours, statements, lines, differences, label)
        breaks = policy.policy_breaks(
            ours.filter(F.col("month") == label),
            policy.shares_frame(spark, scheme),
            scheme.version,
        )
        places = destinations.destination_costs(ours, year, label, scheme)
        rid = reads.run_id("offsite", year, f"{month:02d}", scheme.version)
        month_rows = f"month = '{label}'"
        rows = lake.publish_all(
            spark,
            cfg,
            [
                (reads.stamp(regions, rid), "offsite_reconciliation", month_rows),
                (reads.stamp(differences, rid), "offsite_differences", month_rows),
                (reads.stamp(breaks, rid), "offsite_policy_breaks", month_rows),
                (
                    reads.stamp(places, rid),
                    "offsite_destinations",
                    f"year = {year} AND through_month = '{label}'",
                ),
            ],
        )
        differences.unpersist()
    finally:
        ours.unpersist()
    return {
        "year": year,
        "month": month,
        "label": label,
        "rows": rows,
        "run_id": rid,
        "scheme_version": scheme.version,
        "input_versions": reads.versions,
    }
