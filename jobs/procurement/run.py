"""The procurement wing's lake jobs (SPEC 10): silver in, gold out, each run pinned.

* :func:`monthly_run`: as of a month's last day, the completion of the year's
  contracts (10.1), the month's price lights (10.4) and the distributors'
  settlement (10.3); the month's report facts.
* :func:`retention_run`: at a contract year's end, the surplus retention (10.2).

Every job reads its silver tables at one pinned Delta version, recorded in each
row it writes (``input_versions``), and its run id is derived from those versions:
a rerun on the same lake writes the same rows. A month's (or year's) rows replace
that month's (year's) rows, so a rerun after a correction replaces them whole.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import Refused, lake
from jobs.config import Config
from jobs.procurement import completion, lights, retention, settlement
from jobs.procurement.scheme import DEFAULT_SCHEME, Scheme, load_scheme

CONTRACT = ("contract_year", "hospital_code", "group_id")


class ProcurementRefused(Refused):
    """A procurement job declined: a silver table it needs is missing, or empty for the period."""


def _need(spark: SparkSession, cfg: Config, table: str) -> None:
    if not lake.is_table(spark, lake.table_path(cfg, "silver", table)):
        raise ProcurementRefused(
            f"no silver/{table} in {cfg.lake}: ingest the procurement platform's files first"
        )


def month_end(year: int, month: int) -> date:
    if not 1 <= month <= 12:
        raise ProcurementRefused(f"month {month} is not 1 to 12")
    return date(year, month, calendar.monthrange(year, month)[1])


def newest_month(spark: SparkSession, cfg: Config) -> tuple[int, int]:
    """(year, month) of the newest order in silver: what a run without a month supervises."""
    _need(spark, cfg, "procurement_orders")
    path = lake.table_path(cfg, "silver", "procurement_orders")
    # The month as Spark reads it, in the session's zone (a Python datetime would be the
    # driver's).
    newest = (
        lake.read_version(spark, path)
        .agg(F.date_format(F.max("ordered_at"), "yyyy-MM").alias("m"))
        .first()[0]
    )
    if newest is None:
        raise ProcurementRefused("silver/procurement_orders holds no order yet")
    return int(newest[:4]), int(newest[5:])


def catalogue(reads: lake.PinnedReads) -> DataFrame:
    return reads.table("silver", "drug_catalogue").select(
        "product_code",
        "group_id",
        "is_winner",
        "winning_price",
        "reference_price",
        "valid_from",
        "valid_to",
    )


def in_force(rows: DataFrame, cat: DataFrame, key: str, start: str, end: str) -> DataFrame:
    """``rows`` with the catalogue version in force for them: valid on some day of
    [``start``, ``end``], the newest ``valid_from`` of those (versions may overlap: a row
    meets one version, never two). Rows no version covers keep nulls (left join)."""
    hit = (
        rows.select(key, "product_code", start, end)
        .alias("r")
        .join(
            cat.alias("c"),
            (F.col("r.product_code") == F.col("c.product_code"))
            & (F.col("c.valid_from") <= F.col(f"r.{end}"))
            & (F.coalesce(F.col("c.valid_to"), F.col(f"r.{end}")) >= F.col(f"r.{start}")),
        )
        .withColumn(
            "_n",
            F.row_number().over(Window.partitionBy(f"r.{key}").orderBy(F.desc("c.valid_from"))),
        )
        .filter("_n = 1")
        .select(F.col(f"r.{key}").alias(key), *(F.col(f"c.{c}") for c in CATALOGUE_COLUMNS))
    )
    return rows.join(hit, key, "left")


CATALOGUE_COLUMNS = ("is_winner", "winning_price", "reference_price")


def receipts(reads: lake.PinnedReads) -> DataFrame:
    """Every accepted delivery, with the winner flag of the catalogue in force on the day
    (null where none is: the delivery is still due, and counts in no completion)."""
    deliveries = (
        reads.table("silver", "deliveries")
        .filter(F.col("accepted_at").isNotNull())
        .withColumn("accepted_on", F.to_date("accepted_at"))
        .select(
            "delivery_id",
            "hospital_code",
            "distributor_code",
            "product_code",
            "group_id",
            F.col("qty_units").alias("qty"),
            "amount",
            "accepted_on",
        )
    )
    flagged = in_force(deliveries, catalogue(reads), "delivery_id", "accepted_on", "accepted_on")
    return flagged.drop("winning_price", "reference_price")


def in_month(column: str, month: str | None):
    """Rows of ``month`` (``yyyy-MM``, in the session's zone; every row without one), as a
    range on the timestamp itself: Parquet's row-group statistics then skip the other
    months instead of every row being formatted and compared."""
    if month is None:
        return F.lit(True)
    start = datetime.strptime(month, "%Y-%m")
    after = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return (F.col(column) >= F.lit(f"{start:%Y-%m-%d} 00:00:00").cast("timestamp")) & (
        F.col(column) < F.lit(f"{after:%Y-%m-%d} 00:00:00").cast("timestamp")
    )


def purchases(
    spark: SparkSession, cfg: Config, reads: lake.PinnedReads, month: str | None = None
) -> DataFrame:
    """A month's purchases (every month's without ``month``) in one shape: hospitals'
    orders, pharmacies' and clinics' sales."""
    orders = (
        reads.table("silver", "procurement_orders")
        .filter(in_month("ordered_at", month))
        .select(
            F.date_format("ordered_at", "yyyy-MM").alias("month"),
            F.col("hospital_code").alias("institution_code"),
            "product_code",
            F.col("qty_units").alias("qty"),
            F.col("amount").cast("decimal(18,4)").alias("amount"),
        )
    )
    if not lake.is_table(spark, lake.table_path(cfg, "silver", "outpatient_pharmacy")):
        return orders
    sales = (
        reads.table("silver", "outpatient_pharmacy")
        .filter(in_month("txn_time", month))
        .select(
            F.date_format("txn_time", "yyyy-MM").alias("month"),
            "institution_code",
            F.col("item_code").alias("product_code"),
            F.col("quantity").cast("long").alias("qty"),
            F.col("amount").cast("decimal(18,4)").alias("amount"),
        )
    )
    return orders.unionByName(sales)


def monthly_run(
    spark: SparkSession, cfg: Config, year: int, month: int, scheme_version: str = DEFAULT_SCHEME
) -> dict:
    """Completion, price lights and settlement as of the last day of (``year``, ``month``)."""
    scheme = load_scheme(scheme_version)
    as_of = month_end(year, month)
    for table in ("drug_catalogue", "vbp_agreements", "procurement_orders", "deliveries"):
        _need(spark, cfg, table)
    reads = lake.PinnedReads(spark, cfg)
    got = receipts(reads).cache()
    try:
        # The contracts running in the month (a contract year need not be a calendar year).
        agreements = reads.table("silver", "vbp_agreements").filter(
            (F.col("contract_start") <= F.lit(as_of))
            & (F.col("contract_end") >= F.lit(date(year, month, 1)))
        )
        done = completion.completion(agreements, got, as_of, scheme)
        payments = payments_made(spark, cfg, reads)
        status = settlement.delivery_status(dues(got), payments, as_of, scheme)
        paid = settlement.settlement(status, as_of, scheme)
        label = f"{year}-{month:02d}"
        lit = lights.price_lights(purchases(spark, cfg, reads, label), catalogue(reads), scheme)
        rid = reads.run_id("procurement", year, f"{month:02d}", scheme.version)
        counts = lake.publish_all(
            spark,
            cfg,
            [
                (reads.stamp(done, rid), "vbp_completion", f"as_of = '{as_of}'"),
                (reads.stamp(paid, rid), "distributor_settlement", f"as_of = '{as_of}'"),
                (reads.stamp(lit, rid), "drug_price_lights", f"month = '{label}'"),
            ],
        )
    finally:
        got.unpersist()
    return {
        "year": year,
        "month": month,
        "as_of": as_of.isoformat(),
        "rows": counts,
        "run_id": rid,
        "scheme_version": scheme.version,
        "input_versions": reads.versions,
    }


def dues(got: DataFrame) -> DataFrame:
    """A delivery's value to the fen (half-up): what its distributor is owed."""
    return got.select(
        "delivery_id",
        "distributor_code",
        "hospital_code",
        "accepted_on",
        F.round("amount", 2).cast("decimal(18,2)").alias("due"),
    )


def payments_made(spark: SparkSession, cfg: Config, reads: lake.PinnedReads) -> DataFrame:
    if not lake.is_table(spark, lake.table_path(cfg, "silver", "distributor_payments")):
        return spark.createDataFrame(
            [], "delivery_id string, amount decimal(18,2), paid_on date, payer string"
        )
    return reads.table("silver", "distributor_payments").select(
        "delivery_id", "amount", F.to_date("paid_at").alias("paid_on"), "payer"
    )


def retention_inputs(agreements: DataFrame, got: DataFrame, base_months: int) -> DataFrame:
    """Per contract: its own and the city's base purchases of the group (the
    ``base_months`` before the contract starts) and its winning receipts of the period."""
    a = agreements.select(*CONTRACT, "contract_start", "contract_end")

    def sums(rows: DataFrame, keys: list[str], prefix: str) -> DataFrame:
        return rows.groupBy(*keys).agg(
            F.sum("r.qty").cast("long").alias(f"{prefix}_qty"),
            F.sum("r.amount").alias(f"{prefix}_amount"),
        )

    in_base = (F.col("r.accepted_on") >= F.add_months("a.contract_start", -base_months)) & (
        F.col("r.accepted_on") < F.col("a.contract_start")
    )
    same_group = F.col("r.group_id") == F.col("a.group_id")
    same_hospital = F.col("r.hospital_code") == F.col("a.hospital_code")
    keys = [f"a.{c}" for c in CONTRACT]
    own = sums(a.alias("a").join(got.alias("r"), same_group & same_hospital & in_base), keys, "own")
    city = sums(a.alias("a").join(got.alias("r"), same_group & in_base), keys, "city")
    in_period = F.col("r.accepted_on").between(F.col("a.contract_start"), F.col("a.contract_end"))
    winners = sums(
        a.alias("a").join(
            got.alias("r"), same_group & same_hospital & in_period & F.col("r.is_winner")
        ),
        keys,
        "win",
    )
    return (
        a.join(own, list(CONTRACT), "left")
        .join(city, list(CONTRACT), "left")
        .join(winners, list(CONTRACT), "left")
    )


def _purchases(qty, amount) -> retention.Purchases | None:
    return None if qty is None else retention.Purchases(int(qty), Decimal(amount))


def retain_all(rows, done: dict, scheme: Scheme) -> list[dict]:
    """gold/vbp_surplus_retention rows from :func:`retention_inputs` and the completion."""
    out = []
    for r in rows:
        key = (r.contract_year, r.hospital_code, r.group_id)
        out.append(
            retention.retain(
                done[key],
                _purchases(r.own_qty, r.own_amount),
                _purchases(r.city_qty, r.city_amount),
                _purchases(r.win_qty, r.win_amount) or retention.Purchases(0, Decimal(0)),
                scheme,
            )
        )
    return out


def retention_run(
    spark: SparkSession, cfg: Config, year: int, scheme_version: str = DEFAULT_SCHEME
) -> dict:
    """``gold/vbp_surplus_retention`` of the contracts of ``year``, at their end."""
    scheme = load_scheme(scheme_version)
    for table in ("drug_catalogue", "vbp_agreements", "deliveries"):
        _need(spark, cfg, table)
    reads = lake.PinnedReads(spark, cfg)
    agreements = reads.table("silver", "vbp_agreements").filter(F.col("contract_year") == year)
    end = agreements.agg(F.max("contract_end")).first()[0]
    if end is None:
        raise ProcurementRefused(f"no VBP agreements of {year} in silver/vbp_agreements")
    got = receipts(reads).cache()
    try:
        done = {
            (r.contract_year, r.hospital_code, r.group_id): r.asDict()
            for r in completion.completion(agreements, got, end, scheme).collect()
        }
        rows = retain_all(
            retention_inputs(agreements, got, scheme.base_months).collect(), done, scheme
        )
    finally:
        got.unpersist()
    rid = reads.run_id("retention", year, scheme.version)
    df = reads.stamp(spark.createDataFrame(rows, retention.RETENTION_SCHEMA), rid)
    n = lake.publish(spark, cfg, df, "vbp_surplus_retention", f"contract_year = {year}")
    total = sum((r["retained"] for r in rows), Decimal("0.00"))
    return {
        "year": year,
        "contracts": n,
        "retained": str(total),
        "run_id": rid,
        "scheme_version": scheme.version,
        "input_versions": reads.versions,
    }
