"""Direct settlement with distributors (直接结算, SPEC 10.3): who was paid, when, and who waits.

A delivery accepted on day d is due by day d + ``pay_days``: a payment on that day
is on time, a day later is late. As of the run date, per distributor and month of
acceptance (and per hospital, for the deliveries the hospital pays itself):
``due`` (the deliveries' value), ``paid_on_time``, ``paid_late``, ``unpaid``, ``overdue``
(the unpaid part past its day), ``overpaid`` (paid beyond the due) and
``max_days_overdue`` (days past the day of the latest payment of a late delivery, or
of the run date while a delivery waits).
Payments after the run date do not count yet, so a rerun as of the same date
writes the same rows.

A delivery's payer is the payer of its largest payment; an unpaid delivery takes the
usual payer of its hospital (``fund`` when the hospital has paid nothing itself).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from jobs.procurement.scheme import Scheme

MONEY = DecimalType(18, 2)

SETTLEMENT_SCHEMA = StructType(
    [
        StructField("as_of", DateType(), False),
        StructField("month", StringType(), False),
        StructField("level", StringType(), False),
        StructField("party_code", StringType(), False),
        StructField("deliveries", LongType(), False),
        StructField("due", MONEY, False),
        StructField("paid_on_time", MONEY, False),
        StructField("paid_late", MONEY, False),
        StructField("unpaid", MONEY, False),
        StructField("overdue", MONEY, False),
        StructField("overpaid", MONEY, False),
        StructField("late_deliveries", LongType(), False),
        StructField("max_days_overdue", LongType(), False),
        StructField("scheme_version", StringType(), False),
    ]
)


def delivery_status(
    deliveries: DataFrame, payments: DataFrame, as_of: date, scheme: Scheme
) -> DataFrame:
    """Per delivery (``delivery_id, distributor_code, hospital_code, accepted_on, due``)
    with the payments (``delivery_id, amount, paid_on, payer``) made by ``as_of``:
    its payer, paid on time, paid late, unpaid, overdue and days overdue.

    Deliveries accepted after ``as_of`` are not due yet and are left out.
    """
    run_day = F.lit(as_of).cast("date")
    due_by = F.date_add("accepted_on", scheme.pay_days)
    made = payments.filter(F.col("paid_on") <= run_day)
    owed = deliveries.filter(F.col("accepted_on") <= run_day).withColumn("due_by", due_by)
    joined = owed.join(made.withColumnRenamed("amount", "paid"), "delivery_id", "left")
    per = joined.groupBy(
        "delivery_id", "distributor_code", "hospital_code", "accepted_on", "due", "due_by"
    ).agg(
        F.coalesce(F.sum(F.when(F.col("paid_on") <= F.col("due_by"), F.col("paid"))), F.lit(0))
        .cast(MONEY)
        .alias("paid_on_time"),
        F.coalesce(F.sum(F.when(F.col("paid_on") > F.col("due_by"), F.col("paid"))), F.lit(0))
        .cast(MONEY)
        .alias("paid_late"),
        F.max(F.when(F.col("paid_on") > F.col("due_by"), F.datediff("paid_on", "due_by"))).alias(
            "late_by"
        ),
        # The payer of its largest payment (ties by name): the same on every rerun.
        F.max(F.when(F.col("payer").isNotNull(), F.struct("paid", "payer"))).payer.alias("payer"),
    )
    usual = (
        made.join(deliveries.select("delivery_id", "hospital_code"), "delivery_id")
        .groupBy("hospital_code", "payer")
        .count()
        .withColumn(
            "rank",
            F.row_number().over(
                Window.partitionBy("hospital_code").orderBy(F.desc("count"), "payer")
            ),
        )
        .filter("rank = 1")
        .select("hospital_code", F.col("payer").alias("usual_payer"))
    )
    # Paid beyond the due (two payments of one delivery, or a delivery corrected down after
    # it was paid) is overpaid, not a negative debt.
    balance = (F.col("due") - F.col("paid_on_time") - F.col("paid_late")).cast(MONEY)
    unpaid = F.greatest(balance, F.lit(0).cast(MONEY))
    waiting = F.when((unpaid > 0) & (run_day > F.col("due_by")), F.datediff(run_day, "due_by"))
    return (
        per.join(usual, "hospital_code", "left")
        .withColumn("payer", F.coalesce("payer", "usual_payer", F.lit("fund")))
        .withColumn("unpaid", unpaid)
        .withColumn("overpaid", F.greatest(-balance, F.lit(0).cast(MONEY)))
        .withColumn("overdue", F.when(run_day > F.col("due_by"), unpaid).otherwise(0).cast(MONEY))
        .withColumn("days_overdue", F.coalesce(F.greatest("late_by", waiting), F.lit(0)))
        .withColumn("month", F.date_format("accepted_on", "yyyy-MM"))
        .drop("usual_payer", "late_by")
    )


def settlement(status: DataFrame, as_of: date, scheme: Scheme) -> DataFrame:
    """gold/distributor_settlement from :func:`delivery_status`: per distributor and
    month of acceptance, and per paying hospital and month."""

    def per(level: str, party: str, rows: DataFrame) -> DataFrame:
        return (
            rows.groupBy("month", F.col(party).alias("party_code"))
            .agg(
                F.count("*").alias("deliveries"),
                *(
                    F.sum(c).cast(MONEY).alias(c)
                    for c in ("due", "paid_on_time", "paid_late", "unpaid", "overdue", "overpaid")
                ),
                F.sum(F.when(F.col("days_overdue") > 0, 1).otherwise(0)).alias("late_deliveries"),
                F.max("days_overdue").alias("max_days_overdue"),
            )
            .withColumn("level", F.lit(level))
        )

    both = per("distributor", "distributor_code", status).unionByName(
        per("hospital", "hospital_code", status.filter(F.col("payer") == "hospital"))
    )
    return both.select(
        F.lit(as_of).cast("date").alias("as_of"),
        "month",
        "level",
        "party_code",
        F.col("deliveries").cast("long"),
        "due",
        "paid_on_time",
        "paid_late",
        "unpaid",
        "overdue",
        "overpaid",
        F.col("late_deliveries").cast("long"),
        F.col("max_days_overdue").cast("long"),
        F.lit(scheme.version).alias("scheme_version"),
    )
