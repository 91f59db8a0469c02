"""Supervision indicators per hospital and year (SPEC 9.2), as one Spark computation.

Over the matched cases of year Y (``gold/dip_case_points`` with a type), with
``los`` = max(1, discharge − admission in days) and the city's means per type
over year Y:

* ``cmi`` = mean(rw) / 1000; ``time_index`` = mean(los / mean_los(t));
  ``cost_index`` = mean(cost / mean_cost(t)): all three 1 for the city;
* ``readmit_rate``: share of the hospital's cases after whose discharge the same
  person is admitted again, at any hospital, within ``readmit_days`` with the
  same ``diag3`` (the later stay may be any case of silver, matched or not);
* ``low_rate``, ``high_rate``: shares of ``low`` and ``high`` cases;
* ``long_stay_rate``: share with los > ``long_stay_days``;
* ``self_pay_ratio`` = Σ self_paid / Σ total_cost;
* ``short_admission_rate`` (短期入院): share with los ≤ ``short_stay_days`` and no
  procedure of class S;
* ``inbound_cases`` (its own column, not an indicator ranked): the cases of people
  insured in another pooling region (SPEC 12.3: their ``insured_region`` is not the
  city's), settled through the national platform;
* ``quarantine_rate``: the hospital's quarantined settlement-list records of Y
  over its received records of Y (given per hospital by the caller; a hospital
  without any is 0).

Each indicator also gets ``<indicator>_pct``: its percent rank among the hospitals
of the same level (0 the lowest, 1 the highest; a level of one hospital: 0).
Rates are doubles: they steer reviews and deductions, they are not money.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.dip import keys
from jobs.terms import HOME_REGION

INDICATORS = (
    "cmi",
    "time_index",
    "cost_index",
    "readmit_rate",
    "low_rate",
    "high_rate",
    "long_stay_rate",
    "self_pay_ratio",
    "quarantine_rate",
    "short_admission_rate",
)


@dataclass(frozen=True)
class IndicatorParams:
    """The indicators' day limits (SPEC 9.2 defaults; the assessment scheme may set others)."""

    readmit_days: int = 15
    long_stay_days: int = 60
    short_stay_days: int = 2


def compute(
    points: DataFrame,
    discharges: DataFrame,
    classes: DataFrame,
    quarantine: DataFrame,
    year: int,
    params: IndicatorParams = IndicatorParams(),
) -> DataFrame:
    """One row per hospital with matched cases in ``year``: cases, the indicators, their ranks.

    ``points``: gold/dip_case_points; ``discharges``: silver/discharges (all years:
    a December discharge's readmission may fall in January); ``classes``:
    silver/procedure_classes; ``quarantine``: ``hospital_code``, ``quarantined``,
    ``received`` (settlement-list records of ``year`` per hospital).
    """
    cls = keys.class_sql(keys.class_overrides(classes))
    # Lists from before the column are the city's own insured.
    region = F.col("insured_region") if "insured_region" in discharges.columns else F.lit(None)
    stays = discharges.select(
        (F.coalesce(region, F.lit(HOME_REGION)) != HOME_REGION).alias("inbound"),
        "case_id",
        "person_key",
        "admission_date",
        "discharge_date",
        F.substring("principal_dx", 1, 3).alias("diag3"),
        "total_cost",
        "self_paid",
        F.expr(
            f"exists(coalesce(procedures, cast(array() as array<string>)), c -> ({cls}) = 'S')"
        ).alias("has_surgery"),
    )
    matched = (
        points.filter((F.col("settlement_year") == year) & (F.col("match_kind") != "unmatched"))
        .select("case_id", "hospital_code", "level", "dip_code", "rw", "case_class")
        .join(stays, "case_id")
        .withColumn("los", F.greatest(F.lit(1), F.datediff("discharge_date", "admission_date")))
    )
    by_type = Window.partitionBy("dip_code")
    later = stays.select(
        F.col("person_key").alias("_person"),
        F.col("diag3").alias("_diag3"),
        F.col("case_id").alias("_case"),
        F.col("admission_date").alias("_admitted"),
    )
    readmitted = (
        matched.select("case_id", "person_key", "diag3", "discharge_date")
        .join(
            later,
            (F.col("_person") == F.col("person_key"))
            & (F.col("_diag3") == F.col("diag3"))
            & (F.col("_case") != F.col("case_id"))
            & (F.col("_admitted") >= F.col("discharge_date"))
            & (F.datediff("_admitted", "discharge_date") <= params.readmit_days),
        )
        .select("case_id")
        .distinct()
        .withColumn("readmitted", F.lit(True))
    )
    cases = (
        matched.withColumn("_mean_los", F.avg("los").over(by_type))
        .withColumn("_mean_cost", F.avg("total_cost").over(by_type))
        .join(readmitted, "case_id", "left")
    )

    def share(condition) -> F.Column:
        return F.avg(F.when(condition, 1.0).otherwise(0.0))

    per_hospital = cases.groupBy("hospital_code", "level").agg(
        F.count("*").alias("cases"),
        F.sum(F.col("inbound").cast("long")).alias("inbound_cases"),
        (F.avg("rw") / 1000).cast("double").alias("cmi"),
        F.avg(F.col("los") / F.col("_mean_los")).alias("time_index"),
        F.avg((F.col("total_cost") / F.col("_mean_cost")).cast("double")).alias("cost_index"),
        share(F.col("readmitted").isNotNull()).alias("readmit_rate"),
        share(F.col("case_class") == "low").alias("low_rate"),
        share(F.col("case_class") == "high").alias("high_rate"),
        share(F.col("los") > params.long_stay_days).alias("long_stay_rate"),
        (F.sum("self_paid") / F.sum("total_cost")).cast("double").alias("self_pay_ratio"),
        share((F.col("los") <= params.short_stay_days) & ~F.col("has_surgery")).alias(
            "short_admission_rate"
        ),
    )
    rates = quarantine.select(
        "hospital_code",
        F.when(F.col("received") > 0, F.col("quarantined") / F.col("received"))
        .cast("double")
        .alias("quarantine_rate"),
    )
    out = per_hospital.join(rates, "hospital_code", "left").fillna(0.0, ["quarantine_rate"])
    by_level = Window.partitionBy("level")
    for name in INDICATORS:
        out = out.withColumn(f"{name}_pct", F.percent_rank().over(by_level.orderBy(name)))
    return out.select(
        F.lit(year).alias("year"),
        "hospital_code",
        "level",
        "cases",
        "inbound_cases",
        *INDICATORS,
        *(f"{name}_pct" for name in INDICATORS),
    )
