"""Price lights (红黄绿灯, SPEC 10.4): what each institution pays or charges for each product.

Per month, institution and product: ``unit_price`` = the month's amount over its
quantity (the mean price per smallest unit that reproduces the amount), ``reference``
= the product's winning price for a winning product, else the platform's reference
price, and ``ratio`` = unit_price / reference, both rounded half-up to 6 places.
The light compares exactly, before rounding: ``red`` above ``yellow_max``, ``yellow``
above ``green_max``, else ``green``; a winning product bought above its winning price
is red whatever the ratio. ``reason`` says which rule lit it.

Purchases come in one shape (``month, institution_code, product_code, qty, amount``):
hospitals' orders and pharmacies' and clinics' sales alike. Amounts are exact (4
places at most), quantities in smallest units.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from jobs.dip.exact import WIDE, divide_half_up, units
from jobs.procurement.scheme import Scheme

LIGHTS = ("green", "yellow", "red")
PLACES = 4  # amounts and prices: at most 4 decimals
MILLION = 10**6

LIGHTS_SCHEMA = StructType(
    [
        StructField("month", StringType(), False),
        StructField("institution_code", StringType(), False),
        StructField("product_code", StringType(), False),
        StructField("group_id", StringType(), False),
        StructField("is_winner", BooleanType(), False),
        StructField("qty", LongType(), False),
        StructField("unit_price", DecimalType(18, 6), False),
        StructField("reference", DecimalType(18, 4), False),
        StructField("ratio", DecimalType(12, 6), False),
        StructField("light", StringType(), False),
        StructField("reason", StringType(), True),
        StructField("scheme_version", StringType(), False),
    ]
)


def _exceeds(amount_u: Column, qty: Column, ref_u: Column, limit) -> Column:
    """amount / qty > limit × reference, exactly (amount and reference in 10^-4 units)."""
    scale = 10 ** max(0, -limit.as_tuple().exponent)
    return amount_u.cast(WIDE) * F.lit(scale).cast(WIDE) > (
        F.lit(int(limit * scale)).cast(WIDE) * qty.cast(WIDE) * ref_u.cast(WIDE)
    )


def price_lights(purchases: DataFrame, catalogue: DataFrame, scheme: Scheme) -> DataFrame:
    """gold/drug_price_lights from ``purchases`` and the catalogue in force that month
    (``product_code, group_id, is_winner, winning_price, reference_price, valid_from,
    valid_to``; of the versions valid on some day of the month, the newest). A product not
    in the catalogue that month gets no light."""
    month_start = F.to_date(F.concat(F.col("p.month"), F.lit("-01")))
    month_end = F.last_day(month_start)
    summed = purchases.groupBy("month", "institution_code", "product_code").agg(
        F.sum("qty").cast("long").alias("qty"),
        F.sum(units("amount", PLACES)).cast(WIDE).alias("amount_u"),
    )
    # The version in force in the month: valid on some day of it, the newest of those
    # (versions may overlap; a product listed mid-month is lit that month).
    newest = Window.partitionBy("p.month", "p.institution_code", "p.product_code").orderBy(
        F.desc("c.valid_from")
    )
    joined = (
        summed.alias("p")
        .join(
            catalogue.alias("c"),
            (F.col("p.product_code") == F.col("c.product_code"))
            & (F.col("c.valid_from") <= month_end)
            & (F.coalesce(F.col("c.valid_to"), month_end) >= month_start),
        )
        .withColumn("_n", F.row_number().over(newest))
        .filter("_n = 1")
    )
    reference = F.when(F.col("c.is_winner"), F.col("c.winning_price")).otherwise(
        F.col("c.reference_price")
    )
    ref_u = units(reference, PLACES)
    amount_u, qty = F.col("p.amount_u"), F.col("p.qty")
    over_winning = F.col("c.is_winner") & (
        amount_u.cast(WIDE) > qty.cast(WIDE) * units("c.winning_price", PLACES)
    )
    reason = (
        F.when(over_winning, "above_winning_price")
        .when(_exceeds(amount_u, qty, ref_u, scheme.yellow_max), "above_yellow_max")
        .when(_exceeds(amount_u, qty, ref_u, scheme.green_max), "above_green_max")
    )
    # A month of returns (a net amount below zero) has no price to light.
    return joined.filter((qty > 0) & (amount_u >= 0)).select(
        F.col("p.month").alias("month"),
        F.col("p.institution_code").alias("institution_code"),
        F.col("p.product_code").alias("product_code"),
        F.col("c.group_id").alias("group_id"),
        F.col("c.is_winner").alias("is_winner"),
        qty.alias("qty"),
        (divide_half_up(amount_u * F.lit(100), qty) / F.lit(MILLION))
        .cast(DecimalType(18, 6))
        .alias("unit_price"),
        reference.cast(DecimalType(18, 4)).alias("reference"),
        (divide_half_up(amount_u * F.lit(MILLION), qty.cast(WIDE) * ref_u) / F.lit(MILLION))
        .cast(DecimalType(12, 6))
        .alias("ratio"),
        F.when(reason == "above_green_max", "yellow")
        .when(reason.isNotNull(), "red")
        .otherwise("green")
        .alias("light"),
        reason.alias("reason"),
        F.lit(scheme.version).alias("scheme_version"),
    )
