"""Policy checks (SPEC 12.2): the fund's share of each outbound settlement against its filing.

The city's fund pays its insured treated elsewhere by the city's own rules: for a
visit type and filing status the scheme gives the share of the eligible cost above
the deductible, ``base = max(eligible_cost − deductible, 0)``. The platform computes
``fund_paid = round-half-up(base × share, 2)``; a settlement whose ``fund_paid`` is not
that, to the fen, is listed: ``above_filing_share`` when the fund paid more (an
unfiled visit paid as a resident's), ``below_filing_share`` when less (a cut deeper
than the filing's). ``share_paid`` is what the fund did pay over ``base`` (6 places;
null when ``base`` is 0), to read beside the filing's share.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, StringType, StructField, StructType

from jobs.offsite.scheme import Scheme

MONEY = DecimalType(14, 2)
SHARE = DecimalType(7, 6)
# What the fund did pay over the base can be any multiple of it (a deductible not applied
# on a small base: 892.50 over 50.00): wide enough never to overflow.
PAID_SHARE = DecimalType(16, 6)

BREAKS_SCHEMA = StructType(
    [
        StructField("month", StringType(), False),
        StructField("settlement_id", StringType(), False),
        StructField("treating_region", StringType(), False),
        StructField("institution_code", StringType(), False),
        StructField("person_key", StringType(), True),
        StructField("visit_type", StringType(), False),
        StructField("filing", StringType(), False),
        StructField("base", MONEY, False),
        StructField("filing_share", SHARE, False),
        StructField("share_paid", PAID_SHARE, True),
        StructField("expected_fund", MONEY, False),
        StructField("fund_paid", MONEY, False),
        StructField("excess", MONEY, False),
        StructField("kind", StringType(), False),
        StructField("scheme_version", StringType(), False),
    ]
)


def shares_frame(spark: SparkSession, scheme: Scheme) -> DataFrame:
    """The scheme's share of every visit type and filing status, as a small frame."""
    rows = [(v, f, s) for v, f, s in scheme.shares()]
    schema = "visit_type string, filing string, filing_share decimal(7,6)"
    return spark.createDataFrame(rows, schema)


def policy_breaks(settlements: DataFrame, shares: DataFrame, scheme_version: str) -> DataFrame:
    """The outbound settlements of ``settlements`` (silver/offsite_settlements, with a
    ``month`` column) whose fund paid is not their filing's share, one row each."""
    outbound = settlements.filter(F.col("direction") == "outbound")
    base = F.greatest(F.col("eligible_cost") - F.col("deductible"), F.lit(0)).cast(MONEY)
    checked = (
        outbound.join(F.broadcast(shares), ["visit_type", "filing"])
        .withColumn("base", base)
        # Decimal times decimal is exact in Spark; round() on a decimal is half-up.
        .withColumn("expected_fund", F.round(F.col("base") * F.col("filing_share"), 2).cast(MONEY))
        .withColumn("excess", (F.col("fund_paid") - F.col("expected_fund")).cast(MONEY))
        .filter(F.col("excess") != 0)
    )
    return checked.select(
        "month",
        "settlement_id",
        "treating_region",
        "institution_code",
        "person_key",
        "visit_type",
        "filing",
        "base",
        "filing_share",
        F.when(F.col("base") > 0, F.round(F.col("fund_paid") / F.col("base"), 6))
        .cast(PAID_SHARE)
        .alias("share_paid"),
        "expected_fund",
        F.col("fund_paid").cast(MONEY).alias("fund_paid"),
        "excess",
        F.when(F.col("excess") > 0, "above_filing_share")
        .otherwise("below_filing_share")
        .alias("kind"),
        F.lit(scheme_version).alias("scheme_version"),
    )
