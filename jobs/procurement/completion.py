"""Agreed-volume completion (SPEC 10.1): how far each hospital is through its VBP contracts.

Per hospital, drug group and contract year, over the accepted deliveries of the
contract period up to the run date: ``completion`` = Σ winning products' quantity
/ ``agreed_qty`` and ``schedule`` = the elapsed share of the contract period, both
rounded half-up to 6 places; the light compares them exactly (before rounding):
``red`` when completion < ``red_below`` × schedule, ``yellow`` when < ``yellow_below``
× schedule, else ``green``. ``non_winner_share`` = the other products' quantity
over the group's whole quantity (null when the hospital received none of it).

Quantities are in the group's smallest unit (a box ordered is already its pack size
in tablets when it reaches silver).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from jobs.dip.exact import WIDE, divide_half_up
from jobs.procurement.scheme import Scheme

RATIO = DecimalType(12, 6)
MILLION = 10**6

COMPLETION_SCHEMA = StructType(
    [
        StructField("contract_year", LongType(), False),
        StructField("hospital_code", StringType(), False),
        StructField("group_id", StringType(), False),
        StructField("agreed_qty", LongType(), False),
        StructField("winner_qty", LongType(), False),
        StructField("other_qty", LongType(), False),
        StructField("completion", RATIO, False),
        StructField("schedule", RATIO, False),
        StructField("non_winner_share", RATIO, True),
        StructField("light", StringType(), False),
        StructField("as_of", DateType(), False),
        StructField("scheme_version", StringType(), False),
    ]
)


def _ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator rounded half-up to 6 places, for counts (numerator >= 0)."""
    return (divide_half_up(numerator * F.lit(MILLION), denominator) / F.lit(MILLION)).cast(RATIO)


def _below(qty: Column, agreed: Column, elapsed: Column, days: Column, factor) -> Column:
    """qty / agreed < factor × elapsed / days, exactly: cross-multiplied in integers."""
    scale = 10 ** max(0, -factor.as_tuple().exponent)
    units = int(factor * scale)
    left = qty.cast(WIDE) * days.cast(WIDE) * F.lit(scale).cast(WIDE)
    right = F.lit(units).cast(WIDE) * agreed.cast(WIDE) * elapsed.cast(WIDE)
    return left < right


def completion(
    agreements: DataFrame, receipts: DataFrame, as_of: date, scheme: Scheme
) -> DataFrame:
    """One row per agreement (``hospital_code, group_id, contract_year, agreed_qty,
    contract_start, contract_end``) from the ``receipts`` (accepted deliveries:
    ``hospital_code, group_id, is_winner, qty, accepted_on``), as of ``as_of``.

    A contract not yet started has schedule 0 and is green; deliveries after
    ``as_of`` or outside the contract period do not count.
    """
    run_day = F.lit(as_of).cast("date")
    contracts = agreements.select(
        "hospital_code",
        "group_id",
        F.col("contract_year").cast("long").alias("contract_year"),
        F.col("agreed_qty").cast("long").alias("agreed_qty"),
        "contract_start",
        "contract_end",
    )
    counted = (
        contracts.alias("a")
        .join(
            receipts.alias("r"),
            (F.col("r.hospital_code") == F.col("a.hospital_code"))
            & (F.col("r.group_id") == F.col("a.group_id"))
            & F.col("r.accepted_on").between(F.col("a.contract_start"), F.col("a.contract_end"))
            & (F.col("r.accepted_on") <= run_day),
            "left",
        )
        .groupBy(
            "a.hospital_code",
            "a.group_id",
            "a.contract_year",
            "a.agreed_qty",
            "a.contract_start",
            "a.contract_end",
        )
        .agg(
            F.coalesce(F.sum(F.when(F.col("r.is_winner"), F.col("r.qty"))), F.lit(0))
            .cast("long")
            .alias("winner_qty"),
            F.coalesce(F.sum(F.when(~F.col("r.is_winner"), F.col("r.qty"))), F.lit(0))
            .cast("long")
            .alias("other_qty"),
        )
    )
    days = F.datediff("contract_end", "contract_start") + 1
    elapsed = F.least(F.greatest(F.datediff(run_day, "contract_start") + 1, F.lit(0)), days)
    bought = F.col("winner_qty") + F.col("other_qty")
    win, agreed = F.col("winner_qty"), F.col("agreed_qty")
    return counted.select(
        "contract_year",
        "hospital_code",
        "group_id",
        "agreed_qty",
        "winner_qty",
        "other_qty",
        _ratio(win, agreed).alias("completion"),
        _ratio(elapsed, days).alias("schedule"),
        F.when(bought > 0, _ratio(F.col("other_qty"), bought)).alias("non_winner_share"),
        F.when(_below(win, agreed, elapsed, days, scheme.red_below), "red")
        .when(_below(win, agreed, elapsed, days, scheme.yellow_below), "yellow")
        .otherwise("green")
        .alias("light"),
        run_day.alias("as_of"),
        F.lit(scheme.version).alias("scheme_version"),
    )
