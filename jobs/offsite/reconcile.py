"""Reconciliation (SPEC 12.1): the platform's monthly clearing against what the lake saw.

A settlement's month is the month of ``settled_at`` in the session's time zone (the
city's): 23:59:59 on the 31st of March is March, a second later April. Its
counterpart region is the treating region of an outbound settlement and the insured
region of an inbound one.

For month M, per settlement (``settlement_id``): ``ours`` is its fund paid when we saw
it settled in M, ``statement`` the Σ of the statement lines of M that name it; the
settlement is listed in M's differences when either is there and they do not agree:

* ``missing_in_statement``: we saw it; no statement of any month names it;
* ``missing_in_ours``: a statement names it; we never saw it;
* ``cleared_twice``: two statement lines or more name it;
* ``wrong_month``: one line names it, in another month than we saw it settled;
* ``amount_differs``: one line, the same month, another amount (to the fen).

``difference`` = statement − ours within M, so the differences of a month and region
add up to the statement's lines less our Σ. Inbound inpatient settlements are also
matched to our hospitals' settlement lists by case (institution and ``case_id``):
``inbound_not_in_lists`` (the platform settled a stay no list shows) and
``list_without_settlement`` (a list shows a stay of a person insured elsewhere that
the platform never settled). ``amount`` is what is at stake (|difference|, or the
stay's fund for a case without its counterpart): the differences to chase first.

The month's row per counterpart region (``reconciliation``) carries both directions:
our settlements and Σ fund paid, the statement's count and amount (and Σ of its
lines), their difference, and the net amount owed: what the region owes the city for
its insured treated here (inbound) less what the city owes it (outbound), on the
statement's figures and on ours.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, LongType, StringType, StructField, StructType

MONEY = DecimalType(18, 2)
KINDS = (
    "missing_in_statement",
    "missing_in_ours",
    "cleared_twice",
    "wrong_month",
    "amount_differs",
    "inbound_not_in_lists",
    "list_without_settlement",
)

DIFFERENCES_SCHEMA = StructType(
    [
        StructField("month", StringType(), False),
        StructField("region", StringType(), False),
        StructField("direction", StringType(), False),
        StructField("kind", StringType(), False),
        StructField("settlement_id", StringType(), True),
        StructField("institution_code", StringType(), True),
        StructField("case_id", StringType(), True),
        StructField("our_month", StringType(), True),
        StructField("statement_month", StringType(), True),
        StructField("our_fund", MONEY, True),
        StructField("statement_fund", MONEY, True),
        StructField("difference", MONEY, False),
        StructField("amount", MONEY, False),
    ]
)

_SIDE = (
    ("settlements", LongType()),
    ("fund", MONEY),
    ("statement_settlements", LongType()),
    ("statement_fund", MONEY),
    ("statement_lines_fund", MONEY),
    ("difference", MONEY),
)
RECONCILIATION_SCHEMA = StructType(
    [
        StructField("month", StringType(), False),
        StructField("region", StringType(), False),
        *[
            StructField(f"{direction}_{name}", kind, False)
            for direction in ("inbound", "outbound")
            for name, kind in _SIDE
        ],
        StructField("net_owed", MONEY, False),
        StructField("net_owed_ours", MONEY, False),
        StructField("differences", LongType(), False),
    ]
)


def month_of(timestamp: str | Column) -> Column:
    """``yyyy-MM`` of a timestamp, in the session's time zone."""
    return F.date_format(timestamp, "yyyy-MM")


def counterpart(direction: Column, insured: Column, treating: Column) -> Column:
    """The other region of a flow: where an outbound visit was treated, where an inbound
    visitor is insured."""
    return F.when(direction == "outbound", treating).otherwise(insured)


def our_settlements(settlements: DataFrame) -> DataFrame:
    """silver/offsite_settlements with ``month`` and ``region`` (the counterpart)."""
    return settlements.withColumn("month", month_of("settled_at")).withColumn(
        "region", counterpart(F.col("direction"), F.col("insured_region"), F.col("treating_region"))
    )


def _zero(column: str) -> Column:
    return F.coalesce(F.col(column), F.lit(0)).cast(MONEY)


def statement_differences(ours: DataFrame, lines: DataFrame, month: str) -> DataFrame:
    """The settlements of ``month`` on which ``ours`` (:func:`our_settlements`, every month
    seen) and the statement ``lines`` (every month landed) disagree."""
    o = ours.select(
        "settlement_id",
        F.col("month").alias("our_month"),
        F.col("region").alias("_o_region"),
        F.col("direction").alias("_o_direction"),
        F.col("fund_paid").cast(MONEY).alias("our_fund"),
        "institution_code",
        "case_id",
    )
    per_settlement = lines.groupBy("settlement_id").agg(
        F.count("*").alias("_lines"),
        F.min("month").alias("_first_month"),
        F.sum(F.when(F.col("month") == month, F.col("fund_amount"))).cast(MONEY).alias("_in_month"),
        F.max((F.col("month") == month).cast("int")).alias("_named_in_month"),
        F.first("region").alias("_l_region"),
        F.first("direction").alias("_l_direction"),
        F.sum("fund_amount").cast(MONEY).alias("_all_fund"),
    )
    both = o.join(per_settlement, "settlement_id", "full_outer")
    in_month = both.filter((F.col("our_month") == month) | (F.col("_named_in_month") == 1))
    ours_in_month = F.when(F.col("our_month") == month, F.col("our_fund"))
    kind = (
        F.when(F.col("_lines").isNull(), "missing_in_statement")
        .when(F.col("our_month").isNull(), "missing_in_ours")
        .when(F.col("_lines") > 1, "cleared_twice")
        .when(F.col("_first_month") != F.col("our_month"), "wrong_month")
        .when(F.col("_all_fund") != F.col("our_fund"), "amount_differs")
    )
    difference = (_zero("_in_month") - F.coalesce(ours_in_month, F.lit(0))).cast(MONEY)
    return (
        in_month.withColumn("kind", kind)
        .filter(F.col("kind").isNotNull())
        .select(
            F.lit(month).alias("month"),
            F.coalesce("_o_region", "_l_region").alias("region"),
            F.coalesce("_o_direction", "_l_direction").alias("direction"),
            "kind",
            "settlement_id",
            "institution_code",
            "case_id",
            "our_month",
            # The month's own line when it has one, else the first that names it.
            F.when(F.col("_named_in_month") == 1, F.lit(month))
            .otherwise(F.col("_first_month"))
            .alias("statement_month"),
            "our_fund",
            F.col("_all_fund").alias("statement_fund"),
            difference.alias("difference"),
            F.abs(difference).cast(MONEY).alias("amount"),
        )
    )


def case_differences(ours: DataFrame, lists: DataFrame, home: str, month: str) -> DataFrame:
    """Inbound inpatient stays of ``month`` that the platform settled and no list shows,
    or a list shows and the platform never settled. ``lists``: silver/discharges."""
    stays = ours.filter(
        (F.col("direction") == "inbound") & (F.col("visit_type") == "inpatient")
    ).select(
        "settlement_id",
        "institution_code",
        "case_id",
        F.col("month").alias("our_month"),
        F.col("region").alias("_s_region"),
        F.col("fund_paid").cast(MONEY).alias("our_fund"),
    )
    listed = lists.filter(F.coalesce(F.col("insured_region"), F.lit(home)) != F.lit(home)).select(
        F.col("hospital_code").alias("institution_code"),
        "case_id",
        month_of(F.col("discharge_date")).alias("_list_month"),
        F.col("insured_region").alias("_l_region"),
        F.col("fund_paid").cast(MONEY).alias("_list_fund"),
        F.lit(True).alias("_listed"),
    )
    both = stays.join(listed, ["institution_code", "case_id"], "full_outer")
    kind = F.when(F.col("_listed").isNull(), "inbound_not_in_lists").when(
        F.col("settlement_id").isNull(), "list_without_settlement"
    )
    at_stake = F.coalesce("our_fund", "_list_fund", F.lit(0)).cast(MONEY)
    return (
        both.filter(F.coalesce(F.col("our_month"), F.col("_list_month")) == F.lit(month))
        .withColumn("kind", kind)
        .filter(F.col("kind").isNotNull())
        .select(
            F.lit(month).alias("month"),
            F.coalesce("_s_region", "_l_region").alias("region"),
            F.lit("inbound").alias("direction"),
            "kind",
            "settlement_id",
            "institution_code",
            "case_id",
            "our_month",
            F.lit(None).cast("string").alias("statement_month"),
            "our_fund",
            F.lit(None).cast(MONEY).alias("statement_fund"),
            F.lit(0).cast(MONEY).alias("difference"),
            at_stake.alias("amount"),
        )
    )


def reconciliation(
    ours: DataFrame, statements: DataFrame, lines: DataFrame, differences: DataFrame, month: str
) -> DataFrame:
    """One row per counterpart region of ``month``: both directions, ours against the
    statement (``statements``: the platform's summary; ``lines``: its detail), and the
    net amount owed."""
    keys = ["region", "direction"]
    mine = (
        ours.filter(F.col("month") == month)
        .groupBy(*keys)
        .agg(F.count("*").alias("settlements"), F.sum("fund_paid").cast(MONEY).alias("fund"))
    )
    stated = (
        statements.filter(F.col("month") == month)
        .groupBy(*keys)
        .agg(
            F.sum("settlements").cast("long").alias("statement_settlements"),
            F.sum("fund_amount").cast(MONEY).alias("statement_fund"),
        )
    )
    detailed = (
        lines.filter(F.col("month") == month)
        .groupBy(*keys)
        .agg(F.sum("fund_amount").cast(MONEY).alias("statement_lines_fund"))
    )
    sides = (
        mine.join(stated, keys, "full_outer")
        .join(detailed, keys, "full_outer")
        .select(
            *keys,
            F.coalesce("settlements", F.lit(0)).cast("long").alias("settlements"),
            _zero("fund").alias("fund"),
            F.coalesce("statement_settlements", F.lit(0))
            .cast("long")
            .alias("statement_settlements"),
            _zero("statement_fund").alias("statement_fund"),
            _zero("statement_lines_fund").alias("statement_lines_fund"),
        )
        .withColumn("difference", (F.col("statement_fund") - F.col("fund")).cast(MONEY))
    )
    names = [name for name, _ in _SIDE]
    wide = (
        sides.groupBy("region")
        .pivot("direction", ["inbound", "outbound"])
        .agg(*[F.first(n).alias(n) for n in names])
    )
    counted = differences.groupBy("region").agg(F.count("*").alias("differences"))
    filled = [
        (F.coalesce(F.col(f"{d}_{n}"), F.lit(0)).cast(kind)).alias(f"{d}_{n}")
        for d in ("inbound", "outbound")
        for n, kind in _SIDE
    ]
    return (
        wide.select("region", *filled)
        .join(counted, "region", "left")
        .select(
            F.lit(month).alias("month"),
            "region",
            *[f"{d}_{n}" for d in ("inbound", "outbound") for n, _ in _SIDE],
            (F.col("inbound_statement_fund") - F.col("outbound_statement_fund"))
            .cast(MONEY)
            .alias("net_owed"),
            (F.col("inbound_fund") - F.col("outbound_fund")).cast(MONEY).alias("net_owed_ours"),
            F.coalesce("differences", F.lit(0)).cast("long").alias("differences"),
        )
    )


def largest_first(differences: DataFrame) -> DataFrame:
    """The differences to chase first: the most money first, then by kind and id."""
    return differences.orderBy(
        F.col("amount").desc(), F.col("kind"), F.col("settlement_id"), F.col("case_id")
    )
