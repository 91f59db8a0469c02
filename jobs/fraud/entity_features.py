"""Person and doctor features of one year, from data up to its end only.

The case and provider features (:mod:`jobs.fraud.features`) feed the models;
these describe the two other kinds of entity an alert can name, for the
inspector's view (``gold/fraud_features_person`` and ``..._doctor``, written by
``diplake fraud features``) and for notebooks. Each table is cut at the end of
the year first (:func:`jobs.fraud.features.up_to`, plus enrolments and
deregistrations not known by then), so no feature can see later data.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.fraud.features import _between, up_to

# feature -> (the pattern it speaks to, what it means)
PERSON_FEATURES: dict[str, tuple[str, str]] = {
    "admissions": ("SPLIT_ADMISSION", "inpatient stays discharged in the year"),
    "hospitals": ("SPLIT_ADMISSION", "distinct hospitals of those stays"),
    "days_in_hospital": ("GHOST_BED", "days in hospital"),
    "after_death_claims": ("IDENTITY_FRAUD", "stays admitted after the registered death"),
    "co_admitted_partners": ("GANG", "people admitted with them at one hospital on one day"),
    "pharmacy_sales": ("DRUG_RESALE", "pharmacy and clinic sales"),
    "pharmacies": ("DRUG_RESALE", "distinct pharmacies and clinics"),
    "supply_per_day": ("DRUG_RESALE", "days of supply bought per day of the year"),
    "resold_trace_codes": ("DRUG_RESALE", "traceability codes on their sales sold more than once"),
    "max_districts_a_day": ("IDENTITY_FRAUD", "most districts the card was used in on one day"),
    "enrolled_elsewhere": ("DUPLICATE_ENROLMENT", "enrolments elsewhere overlapping the year"),
}
DOCTOR_FEATURES: dict[str, tuple[str, str]] = {
    "cases": ("SHADOW_DOCTOR", "stays the doctor attended"),
    "institutions_billed": ("SHADOW_DOCTOR", "distinct hospitals the doctor billed at"),
    "outside_registration": (
        "SHADOW_DOCTOR",
        "stays at a hospital the doctor is not registered at",
    ),
    "after_deregistration": ("SHADOW_DOCTOR", "stays admitted after the doctor's deregistration"),
    "max_sites_a_day": ("SHADOW_DOCTOR", "most hospitals billed for on one admission day"),
    "failed_face_checks": ("SHADOW_DOCTOR", "identity checks of the doctor that did not match"),
}


def person_features(tables: dict[str, DataFrame], year: int) -> DataFrame:
    """One row per person with a stay or a pharmacy sale in ``year``: ``person_key``, ``year``
    and the :data:`PERSON_FEATURES` (0 where the person has none of a kind)."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    t = up_to(tables, end)
    d = t["discharges"].filter(_between(F.col("discharge_date"), start, end))
    stays = d.groupBy("person_key").agg(
        F.count("*").alias("admissions"),
        F.countDistinct("hospital_code").alias("hospitals"),
        F.sum(F.datediff("discharge_date", "admission_date")).alias("days_in_hospital"),
        F.sum(F.col("after_death").cast("int")).alias("after_death_claims"),
    )
    a, b = d.alias("a"), d.alias("b")
    partners = (
        a.join(
            b,
            (F.col("a.hospital_code") == F.col("b.hospital_code"))
            & (F.col("a.admission_date") == F.col("b.admission_date"))
            & (F.col("a.person_key") != F.col("b.person_key")),
        )
        .groupBy(F.col("a.person_key").alias("person_key"))
        .agg(F.countDistinct("b.person_key").alias("co_admitted_partners"))
    )
    sales = t["outpatient_pharmacy"].filter(_between(F.to_date("txn_time"), start, end))
    twice = (
        sales.filter(F.col("trace_code").isNotNull())
        .groupBy("trace_code")
        .agg(F.count("*").alias("_sold"))
        .filter("_sold > 1")
    )
    districts = t["institutions"].select("institution_code", "district")
    days = (
        sales.join(F.broadcast(districts), "institution_code", "left")
        .groupBy("person_key", F.to_date("txn_time").alias("_day"))
        .agg(F.countDistinct("district").alias("_districts"))
        .groupBy("person_key")
        .agg(F.max("_districts").alias("max_districts_a_day"))
    )
    bought = (
        sales.join(twice, "trace_code", "left")
        .groupBy("person_key")
        .agg(
            F.count("*").alias("pharmacy_sales"),
            F.countDistinct("institution_code").alias("pharmacies"),
            (
                F.coalesce(F.sum("days_supply"), F.lit(0)) / F.lit(float((end - start).days + 1))
            ).alias("supply_per_day"),
            F.countDistinct(F.when(F.col("_sold").isNotNull(), F.col("trace_code"))).alias(
                "resold_trace_codes"
            ),
        )
    )
    # Enrolments elsewhere as known by the end of the year, overlapping it.
    elsewhere = (
        t["external_enrolments"]
        .filter(F.col("enrol_start") <= F.lit(end.isoformat()).cast("date"))
        .filter(
            F.col("enrol_end").isNull()
            | (F.col("enrol_end") >= F.lit(start.isoformat()).cast("date"))
        )
        .groupBy("person_key")
        .agg(F.count("*").alias("enrolled_elsewhere"))
    )
    people = stays.select("person_key").unionByName(bought.select("person_key")).distinct()
    out = people
    for part in (stays, partners, bought, days, elsewhere):
        out = out.join(part, "person_key", "left")
    return out.select(
        "person_key",
        F.lit(year).alias("year"),
        *[F.coalesce(F.col(c), F.lit(0)).cast("double").alias(c) for c in PERSON_FEATURES],
    )


def doctor_features(tables: dict[str, DataFrame], year: int) -> DataFrame:
    """One row per doctor who attended a stay in ``year``: ``doctor_id``, ``year`` and the
    :data:`DOCTOR_FEATURES`. A deregistration dated after the year is not known yet."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    t = up_to(tables, end)
    last_day = F.lit(end.isoformat()).cast("date")
    d = t["discharges"].filter(_between(F.col("discharge_date"), start, end))
    doctors = t["doctors"].select(
        "doctor_id",
        F.col("institution_code").alias("_site"),
        F.col("second_site").alias("_second"),
        F.when(F.col("deregistered_on") <= last_day, F.col("deregistered_on")).alias("_left"),
    )
    stays = d.filter(F.col("doctor_id").isNotNull()).join(F.broadcast(doctors), "doctor_id", "left")
    outside = ~F.coalesce(
        (F.col("hospital_code") == F.col("_site")) | (F.col("hospital_code") == F.col("_second")),
        F.lit(False),
    )
    per_doctor = stays.groupBy("doctor_id").agg(
        F.count("*").alias("cases"),
        F.countDistinct("hospital_code").alias("institutions_billed"),
        F.sum(outside.cast("int")).alias("outside_registration"),
        F.sum((F.col("admission_date") > F.col("_left")).cast("int")).alias("after_deregistration"),
    )
    busiest = (
        stays.groupBy("doctor_id", "admission_date")
        .agg(F.countDistinct("hospital_code").alias("_sites"))
        .groupBy("doctor_id")
        .agg(F.max("_sites").alias("max_sites_a_day"))
    )
    checks = (
        t["face_checks"]
        .filter(
            (F.col("subject_type") == "doctor")
            & _between(F.to_date("check_time"), start, end)
            & ~F.col("matched")
        )
        .groupBy(F.col("subject_id").alias("doctor_id"))
        .agg(F.count("*").alias("failed_face_checks"))
    )
    out = per_doctor.join(busiest, "doctor_id", "left").join(checks, "doctor_id", "left")
    return out.select(
        "doctor_id",
        F.lit(year).alias("year"),
        *[F.coalesce(F.col(c), F.lit(0)).cast("double").alias(c) for c in DOCTOR_FEATURES],
    )
