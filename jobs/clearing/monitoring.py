"""``diplake monitoring --year Y``: ``gold/hospital_monitoring``, one row per hospital and year.

    diplake monitoring --year 2025

Per hospital and year: cases, case-mix index (mean RW of its cases), cost per
case and its growth on the year before, points and their growth (when the year
before has points), shares of high and low cases, and the 15-day readmission
rate (a discharge followed by an admission of the same person at the same
hospital within 15 days). ``review_flag`` marks hospitals to be reminded and
interviewed: a case-mix index at least 10% above the median of their level
(high scores) together with cost per case growing by more than 10%.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config

READMISSION_DAYS = 15
CMI_ABOVE_PEERS = 1.10
COST_GROWTH = 0.10


def readmissions(discharges: DataFrame) -> DataFrame:
    """Per hospital and discharge year: discharges and how many were readmitted within 15 days."""
    order = Window.partitionBy("person_key", "hospital_code").orderBy(
        "admission_date", "discharge_date", "case_id"
    )
    nxt = F.lead("admission_date").over(order)
    flagged = discharges.select(
        "hospital_code",
        "discharge_year",
        (F.coalesce(F.datediff(nxt, "discharge_date") <= READMISSION_DAYS, F.lit(False))).alias(
            "readmitted"
        ),
        "total_cost",
    )
    return flagged.groupBy("hospital_code", F.col("discharge_year").alias("year")).agg(
        F.count("*").alias("discharges"),
        F.sum(F.col("readmitted").cast("int")).alias("readmitted"),
        F.sum("total_cost").alias("total_cost"),
    )


def run(spark: SparkSession, cfg: Config, year: int) -> DataFrame:
    reads = lake.PinnedReads(spark, cfg)
    discharges = reads.table("silver", "discharges").filter(
        F.col("discharge_year").between(year - 1, year)
    )
    points = reads.table("gold", "dip_case_points").filter(
        F.col("settlement_year").between(year - 1, year)
    )
    levels = (
        reads.table("silver", "institutions")
        .filter(F.col("type") == "hospital")
        .select(F.col("institution_code").alias("hospital_code"), "level")
    )
    per_points = points.groupBy("hospital_code", F.col("settlement_year").alias("year")).agg(
        F.avg("rw").alias("cmi"),
        F.sum("points").alias("points"),
        F.avg((F.col("case_class") == "high").cast("double")).alias("high_share"),
        F.avg((F.col("case_class") == "low").cast("double")).alias("low_share"),
    )
    base = readmissions(discharges).join(per_points, ["hospital_code", "year"], "left")
    base = base.withColumn("cost_per_case", F.col("total_cost") / F.col("discharges"))
    prev = base.select(
        "hospital_code",
        (F.col("year") + 1).alias("year"),
        F.col("cost_per_case").alias("_prev_cost"),
        F.col("points").alias("_prev_points"),
    )
    rows = (
        base.filter(F.col("year") == year)
        .join(prev, ["hospital_code", "year"], "left")
        .join(F.broadcast(levels), "hospital_code", "left")
    )
    peers = Window.partitionBy("level")
    rows = rows.withColumns(
        {
            "cost_growth": (F.col("cost_per_case") / F.col("_prev_cost") - 1).cast("double"),
            "points_growth": (F.col("points") / F.col("_prev_points") - 1).cast("double"),
            "readmission_rate_15d": F.col("readmitted") / F.col("discharges"),
            "_peer_cmi": F.percentile_approx("cmi", 0.5).over(peers),
        }
    )
    flag = (F.col("cmi") >= F.col("_peer_cmi") * CMI_ABOVE_PEERS) & (
        F.col("cost_growth") > COST_GROWTH
    )
    out = rows.select(
        "hospital_code",
        "level",
        "year",
        F.col("discharges").alias("cases"),
        F.col("cmi").cast("double").alias("case_mix_index"),
        F.col("cost_per_case").cast("decimal(18,2)").alias("cost_per_case"),
        "cost_growth",
        F.col("points").cast("decimal(22,4)").alias("points"),
        "points_growth",
        "high_share",
        "low_share",
        "readmission_rate_15d",
        F.coalesce(flag, F.lit(False)).alias("review_flag"),
        F.lit(reads.as_json()).alias("input_versions"),
    )
    lake.replace_where(
        spark, out, lake.table_path(cfg, "gold", "hospital_monitoring"), f"year = {year}", ["year"]
    )
    return lake.read_version(spark, lake.table_path(cfg, "gold", "hospital_monitoring")).filter(
        F.col("year") == year
    )
