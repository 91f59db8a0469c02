"""Outbound cost per destination institution against its peers (SPEC 12.3).

Over the outbound inpatient settlements of a year, each stay is compared with what
the other destinations charge for the same diagnoses: its peer cost is the median
total cost of the stays of its diagnosis category (the first three characters of the
principal diagnosis) at every other destination, when they are at least the
scheme's ``destination_min_peers``; else of its chapter (the first letter), under
the same condition; else of all the other destinations' stays of the year (none when
even those are too few). A destination never is its own peer: the busiest one would
otherwise pull the medians it is measured against. A destination's ``cost_ratio`` =
Σ its stays' cost / Σ their peer costs (1: it charges what its peers do for its mix
of diagnoses); ``listed`` when the ratio reaches the scheme's ``destination_ratio``
on at least ``destination_min_cases`` stays. A ratio steers a review; it is not money,
so it is a double rounded to 4 places for reading.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DecimalType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from jobs.offsite.scheme import Scheme

MONEY = DecimalType(18, 2)

DESTINATIONS_SCHEMA = StructType(
    [
        StructField("year", LongType(), False),
        StructField("through_month", StringType(), False),
        StructField("institution_code", StringType(), False),
        StructField("treating_region", StringType(), False),
        StructField("stays", LongType(), False),
        StructField("total_cost", MONEY, False),
        StructField("peer_cost", DoubleType(), True),
        StructField("cost_ratio", DoubleType(), True),
        StructField("listed", BooleanType(), False),
        StructField("scheme_version", StringType(), False),
    ]
)


def destination_costs(
    settlements: DataFrame, year: int, through_month: str, scheme: Scheme
) -> DataFrame:
    """One row per destination institution of ``year``'s outbound inpatient stays settled
    up to ``through_month`` (``yyyy-MM``; ``settlements`` with ``month``)."""
    stays = settlements.filter(
        (F.col("direction") == "outbound")
        & (F.col("visit_type") == "inpatient")
        & (F.col("month") >= f"{year}-01")
        & (F.col("month") <= through_month)
    ).withColumn("diag3", F.substring("principal_dx", 1, 3))
    stays = stays.withColumn("chapter", F.substring("principal_dx", 1, 1)).withColumn(
        "_all", F.lit(1)
    )
    enough = scheme.destination_min_peers

    def peers(key: str, name: str):
        """Per destination and ``key`` value: the median cost of the other destinations'
        stays of that value, when they are enough."""
        mine = stays.select("institution_code", key).distinct()
        others = stays.select(
            F.col("institution_code").alias("_other"),
            key,
            # In fen: a median is then k or k + 0.5 fen, and their sum exact in a double
            # whatever the order it is added in (a rerun rounds the same).
            (F.col("total_cost") * 100).cast("long").alias("_fen"),
        )
        return (
            mine.join(others, key)
            .filter(F.col("_other") != F.col("institution_code"))
            .groupBy("institution_code", key)
            .agg(F.when(F.count("*") >= enough, F.percentile("_fen", 0.5)).alias(name))
        )

    per = (
        stays.join(peers("diag3", "_p3"), ["institution_code", "diag3"], "left")
        .join(peers("chapter", "_p1"), ["institution_code", "chapter"], "left")
        .join(peers("_all", "_p0"), ["institution_code", "_all"], "left")
        .withColumn("_peer", F.coalesce("_p3", "_p1", "_p0"))
        .groupBy("institution_code")
        .agg(
            F.max("treating_region").alias("treating_region"),
            F.count("*").alias("stays"),
            F.sum("total_cost").cast(MONEY).alias("total_cost"),
            # A stay without peers leaves its destination without a ratio.
            F.when(F.count("_peer") == F.count("*"), F.sum("_peer") / 100).alias("peer_cost"),
        )
    )
    ratio = F.when(
        F.col("peer_cost") > 0,
        F.round(F.col("total_cost").cast("double") / F.col("peer_cost"), 4),
    )
    return per.select(
        F.lit(year).cast("long").alias("year"),
        F.lit(through_month).alias("through_month"),
        "institution_code",
        "treating_region",
        F.col("stays").cast("long").alias("stays"),
        "total_cost",
        F.round("peer_cost", 2).alias("peer_cost"),
        ratio.alias("cost_ratio"),
        F.coalesce(
            (ratio >= float(scheme.destination_ratio))
            & (F.col("stays") >= scheme.destination_min_cases),
            F.lit(False),
        ).alias("listed"),
        F.lit(scheme.version).alias("scheme_version"),
    )
