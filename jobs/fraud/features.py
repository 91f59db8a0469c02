"""Fraud features at case and provider level, each strictly from data up to a cutoff.

Every function takes the silver tables and a period ``[start, end]``; rows are the
entities active in the period, and no input row dated after ``end`` is read
(:func:`up_to` is applied to every table first, so a feature cannot see the
future whatever it computes). Each feature names the pattern of SPEC 6 it speaks
to (:data:`CASE_FEATURES`, :data:`PROVIDER_FEATURES`), which turns a model's
strongest features into a readable reason on an alert.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.terms import FEE_CATEGORIES

PARTS = FEE_CATEGORIES
CARE = ("nursing", "drugs", "treatment", "exams")
NO_GAP = 9999  # days since a previous stay, when there was none
# The meaning of the features a model learns. Bump it when a feature changes what it
# measures under the same name (a model trained on the old meaning must not score the
# new): training records it, a challenger of another version replaces the champion
# whatever its figures, and scoring refuses a champion of another version.
# 2: the peers' anomaly as robust z-scores (percentiles before), new pattern groups.
FEATURES_VERSION = "2"

# feature -> (the pattern it speaks to, what it means), in model column order
CASE_FEATURES: dict[str, tuple[str, str]] = {
    "los": ("GHOST_BED", "length of stay in days"),
    "emergency": ("SPLIT_ADMISSION", "admitted as an emergency"),
    "age": ("IDENTITY_FRAUD", "age at admission"),
    "total_cost": ("UPCODING", "total cost"),
    **{f"{p}_share": ("OVER_TESTING", f"{p} share of the cost") for p in PARTS},
    "n_procedures": ("UPCODING", "procedures coded"),
    "n_other_dx": ("UPCODING", "secondary diagnoses coded"),
    "cost_vs_dx": ("UPCODING", "cost against the average of its principal diagnosis"),
    "dx_vs_category": ("UPCODING", "principal diagnosis' average cost against its category's"),
    "top_sibling": ("UPCODING", "principal diagnosis is the costliest of its category"),
    "readmit_gap": ("SPLIT_ADMISSION", "days since a stay with the same diagnosis category"),
    "chapter_gap": ("SPLIT_ADMISSION", "days since a stay here in the same ICD chapter"),
    "any_gap": ("SPLIT_ADMISSION", "days since the person's previous stay"),
    "after_death": ("IDENTITY_FRAUD", "admitted after the registered death"),
    "has_fees": ("GHOST_BED", "itemised fees were sent"),
    "care_per_day": ("GHOST_BED", "care items per day of stay"),
    "duplicate_items": ("DUPLICATE_BILLING", "items charged twice on one day"),
    "same_price_items": ("DUPLICATE_BILLING", "two codes of one kind at one price on one day"),
    "face_checked": ("GHOST_BED", "identity checked at the hospital during the stay"),
    "pharmacy_during_stay": ("GHOST_BED", "pharmacy sales on the card during the stay"),
    "co_admitted": ("GANG", "others admitted with this person here on that day"),
    "identical_stays": ("FICTITIOUS_SERVICE", "stays here with the same diagnosis and cost"),
    "level": ("LOW_STANDARD_ADMISSION", "hospital level"),
}
PROVIDER_FEATURES: dict[str, tuple[str, str]] = {
    "level": ("LOW_STANDARD_ADMISSION", "hospital level"),
    "cases": ("LOW_STANDARD_ADMISSION", "discharges in the year"),
    "cases_growth": ("LOW_STANDARD_ADMISSION", "discharges against the year before"),
    "short_stay_share": ("LOW_STANDARD_ADMISSION", "share of stays of two days or less"),
    "low_cost_share": ("LOW_STANDARD_ADMISSION", "share of stays below half their dx average"),
    "diagnostic_only_share": ("LOW_STANDARD_ADMISSION", "share of stays with only diagnostics"),
    "exam_share": ("OVER_TESTING", "examination share of the cost"),
    "exam_share_vs_peers": ("OVER_TESTING", "examination share against same-level hospitals"),
    "exam_share_growth": ("OVER_TESTING", "examination share against the year before"),
    "tests_per_case": ("OVER_TESTING", "diagnostic procedures per stay"),
    "cmi": ("UPCODING", "case-mix index (average dx cost weight)"),
    "cmi_vs_peers": ("UPCODING", "case-mix index against same-level hospitals"),
    "cmi_growth": ("UPCODING", "case-mix index against the year before"),
    "cost_vs_expected": ("UPCODING", "cost against what its diagnoses usually cost"),
    "top_sibling_vs_city": ("UPCODING", "share coded to a category's costliest diagnosis, vs city"),
    "top_dx_share": ("FICTITIOUS_SERVICE", "share of the most frequent diagnosis"),
    "template_share": ("FICTITIOUS_SERVICE", "largest share of stays with identical dx and cost"),
    "top_village_share": ("FICTITIOUS_SERVICE", "largest share of patients from one village"),
    # Behaviour against peers (same level) and against the hospital's own case mix and past
    "short_stay_vs_peers": ("LOW_STANDARD_ADMISSION", "short-stay share against same-level"),
    "short_stay_vs_expected": (
        "LOW_STANDARD_ADMISSION",
        "short-stay share against what its diagnoses give in the city",
    ),
    "low_cost_vs_peers": ("LOW_STANDARD_ADMISSION", "low-cost share against same-level"),
    "cases_growth_vs_peers": ("LOW_STANDARD_ADMISSION", "growth in discharges against same-level"),
    "top_sibling_growth": ("UPCODING", "share coded to a category's costliest, against last year"),
    "top_dx_growth": ("FICTITIOUS_SERVICE", "its most frequent diagnosis' share against last year"),
    "care_per_bed_day": ("GHOST_BED", "care items per bed day billed"),
    "repeated_items_share": (
        "DUPLICATE_BILLING",
        "share of stays with an item charged twice a day",
    ),
    "after_death_share": ("IDENTITY_FRAUD", "share of stays begun after a registered death"),
    "repeated_exam_share": ("OVER_TESTING", "share of stays with one examination on two days"),
    "exam_breadth": (
        "OVER_TESTING",
        "share of stays whose exam share of the cost is above the upper quartile of their "
        "diagnosis' in the city",
    ),
    # The same measures against two years before: a fraud that began last year has
    # moved both years, and the year before is no baseline for it.
    "cases_vs_2y": ("LOW_STANDARD_ADMISSION", "discharges against two years before"),
    "short_stay_vs_2y": ("LOW_STANDARD_ADMISSION", "short-stay share against two years before"),
    "exam_share_vs_2y": ("OVER_TESTING", "examination share against two years before"),
    "top_sibling_vs_2y": ("UPCODING", "share coded to a category's costliest, two years before"),
    "expected_vs_cost": ("UPCODING", "what its diagnoses usually cost against what it cost"),
    "dx_burst": (
        "FICTITIOUS_SERVICE",
        "the largest jump of one diagnosis against last year (Poisson z-score)",
    ),
    "doctor_burst": (
        "FICTITIOUS_SERVICE",
        "one doctor's sudden run of one diagnosis, among people of few villages",
    ),
    "top_sibling_z": (
        "UPCODING",
        "stays coded to a category's costliest over two years, against the city (z-score)",
    ),
    "top_sibling_shift_z": (
        "UPCODING",
        "stays coded to a category's costliest over two years, against its own before (z)",
    ),
    "anomaly_low_standard": (
        "LOW_STANDARD_ADMISSION",
        "how far above its peers in short, cheap, diagnostic stays (robust z)",
    ),
    "anomaly_upcoding": ("UPCODING", "how far above its peers in coding costly (robust z)"),
    "anomaly_fictitious": (
        "FICTITIOUS_SERVICE",
        "how far above its peers in templated stays (robust z)",
    ),
    "anomaly_over_testing": (
        "OVER_TESTING",
        "how far above its peers in testing (robust z)",
    ),
    "peer_anomaly": ("UNSPECIFIED", "the most a hospital stands out of its peers on any pattern"),
}
# The measures each pattern moves upwards: the detectors of a pattern (_isolation) see these
# only (a forest over every measure dilutes a pattern that moves a handful of them).
ANOMALY_GROUPS: dict[str, tuple[str, ...]] = {
    "anomaly_low_standard": (
        "short_stay_share",
        "short_stay_vs_peers",
        "short_stay_vs_expected",
        "low_cost_share",
        "low_cost_vs_peers",
        "diagnostic_only_share",
        "cases_growth",
        "cases_growth_vs_peers",
        "cases_vs_2y",
        "short_stay_vs_2y",
    ),
    # the direct tests of a shift to the costliest code; the cruder ratios (case-mix index
    # against peers and last year, shares against the city) stay model features
    "anomaly_upcoding": ("top_sibling_z", "top_sibling_shift_z"),
    "anomaly_fictitious": (
        "top_dx_share",
        "top_dx_growth",
        "template_share",
        "top_village_share",
        "dx_burst",
        "doctor_burst",
    ),
    # testing across the board: tests coded per stay, one exam on two days, and exams above
    # what each diagnosis gets in the city on most stays. The exam share of the cost stays
    # a model feature: a centre whose cancer patients need the imaging raises it too.
    "anomaly_over_testing": ("tests_per_case", "repeated_exam_share", "exam_breadth"),
}


def up_to(tables: dict[str, DataFrame], end: date) -> dict[str, DataFrame]:
    """The tables as they stood at the end of ``end``: rows dated later are dropped."""
    dated = {
        "discharges": "discharge_date",
        "fee_details": "fee_date",
        "face_checks": "check_time",
        "outpatient_pharmacy": "txn_time",
    }
    limit = F.lit(end.isoformat()).cast("date")
    out = dict(tables)
    for name, column in dated.items():
        if name in out:
            out[name] = out[name].filter(F.to_date(F.col(column)) <= limit)
    if "discharges" in out and "discharge_year" in out["discharges"].columns:
        # the same rows; on the partition column, later years' files are not even listed
        out["discharges"] = out["discharges"].filter(F.col("discharge_year") <= end.year)
    return out


def _between(column: Column, start: date, end: date) -> Column:
    return column.between(
        F.lit(start.isoformat()).cast("date"), F.lit(end.isoformat()).cast("date")
    )


def _dx_costs(discharges: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Average cost per principal diagnosis and per diagnosis category (its first 3 chars).

    ``top_sibling`` marks the costliest diagnosis of a category that has more than one
    (1.0), the others 0.0 and single-diagnosis categories null: the code an upcoder
    moves a diagnosis to.
    """
    cost = F.col("total_cost").cast("double")
    category = Window.partitionBy(F.substring("principal_dx", 1, 3))
    by_dx = (
        discharges.groupBy("principal_dx")
        .agg(F.avg(cost).alias("dx_avg_cost"))
        .withColumn(
            "top_sibling",
            F.when(
                F.count("*").over(category) > 1,
                (F.col("dx_avg_cost") == F.max("dx_avg_cost").over(category)).cast("double"),
            ),
        )
    )
    by_cat = (
        discharges.withColumn("category", F.substring("principal_dx", 1, 3))
        .groupBy("category")
        .agg(F.avg(cost).alias("cat_avg_cost"))
    )
    return by_dx, by_cat


def case_fees(fee_details: DataFrame, case_ids: DataFrame) -> DataFrame:
    """Per case of ``case_ids``: ``fee_items``, ``care_items``, ``duplicate_items`` (items
    charged more than once on one day, as rule FR04 counts them), ``same_price_items`` (days
    with two codes of one category at the very same price, bed and nursing aside: a repeat
    under a sibling code), ``bed_days`` (days with a bed charge; null without any) and
    ``repeated_exam`` (1.0 when one examination item is billed on two days or more, else
    0.0) and ``repeat_example`` (one repeat in words, for rule FR04's evidence: the greatest
    item charged twice, else the greatest pair of sibling codes; null without a repeat);
    cases without fee rows are absent.

    The fee rows are first cut to the cases asked for (a semi join on ``case_id``) and
    grouped by (case, day, item, price); every sum comes from those groups. Grouping all
    fees by case, then again by (case, day, item), shuffled every fee row up to the
    cutoff twice: 41-61 s against 20-26 s for the city's 2025 cases on the
    2-core machine, with the same sums. The hospitals' billing measures read these sums
    too (:func:`_provider_billing`): they scanned the fee rows three more times, 82 s of
    the city's provider features.
    """
    # (Partitioned by case first, so that no later grouping shuffles again, it took 54 s
    # against 46 s at city scale: the partial sums before the first shuffle shrink it more.)
    per_price = (
        fee_details.join(case_ids, "case_id", "left_semi")
        .groupBy("case_id", "fee_date", "item_code", "category", "amount")
        .agg(
            F.count("*").alias("n"),
            F.count(F.when(F.col("category").isin(*CARE), 1)).alias("care"),
        )
    )
    # an item code has one category: grouping by it too only keeps it at hand
    per_item = per_price.groupBy("case_id", "fee_date", "item_code", "category").agg(
        F.sum("n").alias("n"), F.sum("care").alias("care")
    )
    sibling_pair = F.concat(
        F.col("low"),
        F.lit(" and "),
        F.col("high"),
        F.lit(" at "),
        F.col("amount"),
        F.lit(" yuan on "),
        F.col("fee_date"),
    )
    siblings = (
        per_price.filter(~F.col("category").isin("bed", "nursing"))
        .groupBy("case_id", "fee_date", "category", "amount")
        .agg(
            F.count("*").alias("codes"),
            F.min("item_code").alias("low"),
            F.max("item_code").alias("high"),
        )
        .groupBy("case_id")
        .agg(
            F.count(F.when(F.col("codes") > 1, 1)).alias("same_price_items"),
            F.max(F.when(F.col("codes") > 1, sibling_pair)).alias("_sibling_example"),
        )
    )
    exams = (
        per_item.filter(F.col("category") == "exams")
        .groupBy("case_id", "item_code")
        .agg(F.count("*").alias("days"))  # one row per (case, day, item): days billed
        .groupBy("case_id")
        .agg(F.max((F.col("days") >= 2).cast("double")).alias("repeated_exam"))
    )
    bed_days = F.countDistinct(F.when(F.col("category") == "bed", F.col("fee_date")))
    twice = F.concat(F.col("item_code"), F.lit(" twice on "), F.col("fee_date"))
    return (
        per_item.groupBy("case_id")
        .agg(
            F.sum("n").alias("fee_items"),
            F.sum("care").alias("care_items"),
            F.count(F.when(F.col("n") > 1, 1)).alias("duplicate_items"),
            F.when(bed_days > 0, bed_days).alias("bed_days"),
            F.max(F.when(F.col("n") > 1, twice)).alias("_twice_example"),
        )
        .join(siblings, "case_id", "left")
        .join(exams, "case_id", "left")
        .withColumn("repeated_exam", F.coalesce("repeated_exam", F.lit(0.0)))
        .withColumn("repeat_example", F.coalesce("_twice_example", "_sibling_example"))
        .drop("_twice_example", "_sibling_example")
    )


def _with_stay_gaps(discharges: DataFrame) -> DataFrame:
    """``readmit_gap``: days since the person's previous discharge at the same hospital
    in the same ``category``; ``any_gap``: since their previous discharge anywhere.
    Null for a first stay."""
    stays = Window.partitionBy("person_key").orderBy("admission_date", "case_id")
    same_cat = Window.partitionBy("person_key", "hospital_code", "category").orderBy(
        "admission_date", "case_id"
    )
    same_chapter = Window.partitionBy(
        "person_key", "hospital_code", F.substring("category", 1, 1)
    ).orderBy("admission_date", "case_id")
    return (
        discharges.withColumn(
            "readmit_gap",
            F.datediff("admission_date", F.lag("discharge_date").over(same_cat)),
        )
        .withColumn(
            "chapter_gap", F.datediff("admission_date", F.lag("discharge_date").over(same_chapter))
        )
        .withColumn("any_gap", F.datediff("admission_date", F.lag("discharge_date").over(stays)))
    )


def _with_identical_stays(discharges: DataFrame) -> DataFrame:
    """``identical_stays``: the other stays at the hospital with the same diagnosis and
    the same cost, the mark of a templated bundle."""
    same_bundle = Window.partitionBy("hospital_code", "principal_dx", "total_cost")
    return discharges.withColumn("identical_stays", F.count("*").over(same_bundle) - 1)


def _face_checked(stays: DataFrame, face_checks: DataFrame) -> DataFrame:
    """``face_checked`` = 1 per stay whose person was matched by an identity check at
    its hospital between admission and discharge; other stays are absent."""
    checks = (
        face_checks.filter((F.col("subject_type") == "person") & F.col("matched"))
        .select(
            F.col("subject_id").alias("person_key"),
            F.col("institution_code").alias("hospital_code"),
            F.to_date("check_time").alias("check_day"),
        )
        .distinct()
    )
    return (
        stays.join(checks, ["person_key", "hospital_code"])
        .filter(F.col("check_day").between(F.col("admission_date"), F.col("discharge_date")))
        .select("case_id")
        .distinct()
        .withColumn("face_checked", F.lit(1))
    )


def _pharmacy_during_stay(stays: DataFrame, pharmacy: DataFrame) -> DataFrame:
    """``pharmacy_during_stay``: outpatient pharmacy sales on the person's card strictly
    between admission and discharge day; stays without any are absent."""
    sales = pharmacy.select("person_key", F.to_date("txn_time").alias("sale_day"))
    return (
        stays.join(sales, "person_key")
        .filter(
            (F.col("sale_day") > F.col("admission_date"))
            & (F.col("sale_day") < F.col("discharge_date"))
        )
        .groupBy("case_id")
        .agg(F.count("*").alias("pharmacy_during_stay"))
    )


def _admitted_together(discharges: DataFrame) -> DataFrame:
    """``admitted_that_day`` per hospital and admission day."""
    return discharges.groupBy("hospital_code", "admission_date").agg(
        F.count("*").alias("admitted_that_day")
    )


def _case_feature_columns() -> list[Column]:
    """The :data:`CASE_FEATURES`, in their order, from a stay joined to its diagnosis
    costs, fees, person, checks, sales, same-day admissions and hospital level."""
    cost = F.col("total_cost").cast("double")
    los = F.greatest(F.datediff("discharge_date", "admission_date"), F.lit(1))
    shares = [
        (F.col(f"{p}_cost").cast("double") / F.greatest(cost, F.lit(0.01))).alias(f"{p}_share")
        for p in PARTS
    ]
    return [
        los.cast("double").alias("los"),
        (F.col("admission_type") == "emergency").cast("double").alias("emergency"),
        (F.year("admission_date") - F.year("birth_date")).cast("double").alias("age"),
        cost.alias("total_cost"),
        *shares,
        F.size("procedures").cast("double").alias("n_procedures"),
        F.size("other_dx").cast("double").alias("n_other_dx"),
        (cost / F.col("dx_avg_cost")).alias("cost_vs_dx"),
        (F.col("dx_avg_cost") / F.col("cat_avg_cost")).alias("dx_vs_category"),
        F.coalesce(F.col("top_sibling"), F.lit(0.0)).alias("top_sibling"),
        F.coalesce(F.col("readmit_gap"), F.lit(NO_GAP)).cast("double").alias("readmit_gap"),
        F.coalesce(F.col("chapter_gap"), F.lit(NO_GAP)).cast("double").alias("chapter_gap"),
        F.coalesce(F.col("any_gap"), F.lit(NO_GAP)).cast("double").alias("any_gap"),
        F.coalesce(F.col("admission_date") > F.col("death_date"), F.lit(False))
        .cast("double")
        .alias("after_death"),
        F.col("fee_items").isNotNull().cast("double").alias("has_fees"),
        (F.col("care_items") / los).cast("double").alias("care_per_day"),
        F.coalesce(F.col("duplicate_items"), F.lit(0)).cast("double").alias("duplicate_items"),
        F.coalesce(F.col("same_price_items"), F.lit(0)).cast("double").alias("same_price_items"),
        F.coalesce(F.col("face_checked"), F.lit(0)).cast("double").alias("face_checked"),
        F.coalesce(F.col("pharmacy_during_stay"), F.lit(0))
        .cast("double")
        .alias("pharmacy_during_stay"),
        (F.col("admitted_that_day") - 1).cast("double").alias("co_admitted"),
        F.col("identical_stays").cast("double").alias("identical_stays"),
        F.col("level").cast("double").alias("level"),
    ]


def case_features(
    tables: dict[str, DataFrame], start: date, end: date, fees: DataFrame | None = None
) -> DataFrame:
    """One row per case discharged in [start, end]: ``case_id``, ``hospital_code``,
    ``person_key``, ``discharge_date`` and the :data:`CASE_FEATURES`. ``fees``: the
    :func:`case_fees` of those cases, when the caller has them."""
    t = up_to(tables, end)
    d = t["discharges"]
    by_dx, by_cat = _dx_costs(d)
    in_period = _between(F.col("discharge_date"), start, end)
    # The windows run over every stay up to ``end``; only then is the period cut.
    cases = (
        d.withColumn("category", F.substring("principal_dx", 1, 3))
        .transform(_with_stay_gaps)
        .transform(_with_identical_stays)
        .filter(in_period)
    )
    # The ids from discharges itself, not from ``cases``: no window is computed for them.
    if fees is None:
        fees = case_fees(t["fee_details"], d.filter(in_period).select("case_id"))
    # Sales and checks before the period's first admission can fall in none of its stays:
    # cut there, they are not joined to the stays (years of sales at city scale).
    first = d.filter(in_period).agg(F.min("admission_date")).first()[0] or start
    since = F.lit(first.isoformat()).cast("date")
    pharmacy = t["outpatient_pharmacy"].filter(F.to_date("txn_time") >= since)
    checks = t["face_checks"].filter(F.to_date("check_time") >= since)
    persons = t["insured_persons"].select("person_key", "death_date")
    stays = cases.select(
        "case_id", "person_key", "hospital_code", "admission_date", "discharge_date"
    )
    levels = t["institutions"].select(F.col("institution_code").alias("hospital_code"), "level")
    return (
        cases.join(by_dx, "principal_dx", "left")
        .join(by_cat, "category", "left")
        .join(fees, "case_id", "left")
        .join(persons, "person_key", "left")
        .join(_face_checked(stays, checks), "case_id", "left")
        .join(_pharmacy_during_stay(stays, pharmacy), "case_id", "left")
        .join(_admitted_together(d), ["hospital_code", "admission_date"], "left")
        .join(levels, "hospital_code", "left")
        .select(
            "case_id", "hospital_code", "person_key", "discharge_date", *_case_feature_columns()
        )
    )


def _provider_year(
    d: DataFrame,
    by_dx: DataFrame,
    overall: Column,
    diagnostic: DataFrame,
    villages: DataFrame,
) -> DataFrame:
    """Per hospital and discharge year, the level-free measures."""
    cost = F.col("total_cost").cast("double")
    los = F.datediff("discharge_date", "admission_date")
    tests = F.size(F.filter("procedures", lambda p: F.array_contains(F.col("_diag"), p)))
    rows = (
        d.join(by_dx, "principal_dx", "left")
        .crossJoin(diagnostic)
        .withColumn("weight", F.col("dx_avg_cost") / overall)
        .withColumn("tests", tests)
        .withColumn(
            "diag_only", (F.size("procedures") > 0) & (F.col("tests") == F.size("procedures"))
        )
        .withColumn("year", F.year("discharge_date"))
    )
    base = rows.groupBy("hospital_code", "year").agg(
        F.count("*").cast("double").alias("cases"),
        F.avg((los <= 2).cast("double")).alias("short_stay_share"),
        F.avg("dx_short_rate").alias("expected_short_share"),
        F.avg((cost < 0.5 * F.col("dx_avg_cost")).cast("double")).alias("low_cost_share"),
        F.avg(F.col("diag_only").cast("double")).alias("diagnostic_only_share"),
        (F.sum(F.col("exams_cost").cast("double")) / F.sum(cost)).alias("exam_share"),
        F.avg(F.col("tests").cast("double")).alias("tests_per_case"),
        F.avg("weight").alias("cmi"),
        (F.sum(cost) / F.sum("dx_avg_cost")).alias("cost_vs_expected"),
        F.avg("top_sibling").alias("top_sibling_share"),
    )
    city_year = Window.partitionBy("year")
    base = base.withColumn(
        "top_sibling_vs_city",
        F.col("top_sibling_share")
        / (
            F.sum(F.col("top_sibling_share") * F.col("cases")).over(city_year)
            / F.sum("cases").over(city_year)
        ),
    )
    by_hospital_year = Window.partitionBy("hospital_code", "year")
    dx_shares = (
        rows.groupBy("hospital_code", "year", "principal_dx")
        .count()
        .withColumn("share", F.col("count") / F.sum("count").over(by_hospital_year))
    )
    # the hospital's most frequent diagnosis of the year, and that diagnosis' share the
    # year before (a diagnosis that suddenly fills the wards: a shift in its own coding)
    last_year = dx_shares.select(
        "hospital_code",
        (F.col("year") + 1).alias("year"),
        "principal_dx",
        F.col("share").alias("share_before"),
    )
    top_dx = (
        dx_shares.join(last_year, ["hospital_code", "year", "principal_dx"], "left")
        .groupBy("hospital_code", "year")
        .agg(
            F.max("share").alias("top_dx_share"),
            F.max_by(
                F.coalesce("share_before", F.lit(0.0)), F.struct("share", "principal_dx")
            ).alias("top_dx_share_before"),
        )
    )
    template = (
        rows.groupBy("hospital_code", "year", "principal_dx", "total_cost")
        .count()
        .withColumn("share", F.col("count") / F.sum("count").over(by_hospital_year))
        .groupBy("hospital_code", "year")
        .agg(F.max("share").alias("template_share"))
    )
    village = (
        rows.join(villages, "person_key", "left")
        .groupBy("hospital_code", "year", "village")
        .count()
        .withColumn("share", F.col("count") / F.sum("count").over(by_hospital_year))
        .groupBy("hospital_code", "year")
        .agg(F.max("share").alias("top_village_share"))
    )
    return (
        base.join(top_dx, ["hospital_code", "year"])
        .join(template, ["hospital_code", "year"])
        .join(village, ["hospital_code", "year"])
    )


def provider_features(
    tables: dict[str, DataFrame], year: int, fees: DataFrame | None = None
) -> DataFrame:
    """One row per hospital with discharges in ``year``: ``hospital_code``, ``year`` and
    the :data:`PROVIDER_FEATURES`, from data up to the end of ``year``. ``fees``: the
    :func:`case_fees` of the year's cases, when the caller has them (the case features
    of the same year read them too)."""
    end = date(year, 12, 31)
    t = up_to(tables, end)
    # Read once: the per-year measures, the bursts, the coding shift and the exam breadth
    # each aggregate these stays (released once the anomaly has collected the rows).
    d = t["discharges"].filter(F.year("discharge_date") >= year - 2).cache()
    by_dx, _ = _dx_costs(t["discharges"])
    overall = F.lit(
        t["discharges"].agg(F.avg(F.col("total_cost").cast("double"))).first()[0] or 1.0
    )
    diagnostic = (
        t["procedure_classes"]
        .filter(F.col("class") == "D")
        .agg(F.collect_set("code").alias("_diag"))
    )
    villages = t["insured_persons"].select("person_key", "village")
    short_by_dx = (
        t["discharges"]
        .groupBy("principal_dx")
        .agg(
            F.avg((F.datediff("discharge_date", "admission_date") <= 2).cast("double")).alias(
                "dx_short_rate"
            )
        )
    )
    per_year = _provider_year(
        d, by_dx.join(short_by_dx, "principal_dx", "left"), overall, diagnostic, villages
    )
    now = per_year.filter(F.col("year") == year).join(
        _provider_billing(t, year, fees), "hospital_code", "left"
    )
    before = per_year.filter(F.col("year") == year - 1).select(
        "hospital_code",
        F.col("cases").alias("cases_before"),
        F.col("exam_share").alias("exam_share_before"),
        F.col("cmi").alias("cmi_before"),
        F.col("top_sibling_share").alias("top_sibling_before"),
    )
    two_back = per_year.filter(F.col("year") == year - 2).select(
        "hospital_code",
        F.col("cases").alias("cases_2y"),
        F.col("short_stay_share").alias("short_stay_2y"),
        F.col("exam_share").alias("exam_share_2y"),
        F.col("top_sibling_share").alias("top_sibling_2y"),
    )
    levels = t["institutions"].select(
        F.col("institution_code").alias("hospital_code"), F.col("level").cast("double")
    )
    peers = Window.partitionBy("level")
    measured = (
        now.join(before, "hospital_code", "left")
        .join(two_back, "hospital_code", "left")
        .join(_dx_burst(d, year), "hospital_code", "left")
        .join(_doctor_burst(d, villages, year), "hospital_code", "left")
        .join(_coding_shift(d, by_dx, year), "hospital_code", "left")
        .join(_exam_breadth(d, year), "hospital_code", "left")
        .join(levels, "hospital_code", "left")
        .select(
            "hospital_code",
            "year",
            "level",
            "cases",
            F.try_divide("cases", "cases_before").alias("cases_growth"),
            "short_stay_share",
            "low_cost_share",
            "diagnostic_only_share",
            "exam_share",
            F.try_divide("exam_share", F.avg("exam_share").over(peers)).alias(
                "exam_share_vs_peers"
            ),
            F.try_divide("exam_share", "exam_share_before").alias("exam_share_growth"),
            "tests_per_case",
            "cmi",
            F.try_divide("cmi", F.avg("cmi").over(peers)).alias("cmi_vs_peers"),
            F.try_divide("cmi", "cmi_before").alias("cmi_growth"),
            "cost_vs_expected",
            "top_sibling_vs_city",
            "top_dx_share",
            "template_share",
            "top_village_share",
            # ratios of shares that may be 0 in a small year: null then, not an error
            F.try_divide("short_stay_share", F.avg("short_stay_share").over(peers)).alias(
                "short_stay_vs_peers"
            ),
            F.try_divide("short_stay_share", "expected_short_share").alias(
                "short_stay_vs_expected"
            ),
            F.try_divide("low_cost_share", F.avg("low_cost_share").over(peers)).alias(
                "low_cost_vs_peers"
            ),
            F.try_divide(
                F.try_divide("cases", "cases_before"),
                F.try_divide(F.sum("cases").over(peers), F.sum("cases_before").over(peers)),
            ).alias("cases_growth_vs_peers"),
            F.try_divide("top_sibling_share", "top_sibling_before").alias("top_sibling_growth"),
            F.try_divide("top_dx_share", F.greatest("top_dx_share_before", F.lit(0.005))).alias(
                "top_dx_growth"
            ),
            "care_per_bed_day",
            "repeated_items_share",
            "after_death_share",
            "repeated_exam_share",
            F.try_divide("cases", "cases_2y").alias("cases_vs_2y"),
            F.try_divide("short_stay_share", "short_stay_2y").alias("short_stay_vs_2y"),
            F.try_divide("exam_share", "exam_share_2y").alias("exam_share_vs_2y"),
            F.try_divide("top_sibling_share", "top_sibling_2y").alias("top_sibling_vs_2y"),
            F.try_divide(F.lit(1.0), "cost_vs_expected").alias("expected_vs_cost"),
            F.coalesce("dx_burst", F.lit(0.0)).alias("dx_burst"),
            F.coalesce("doctor_burst", F.lit(0.0)).alias("doctor_burst"),
            "top_sibling_z",
            "top_sibling_shift_z",
            "exam_breadth",
        )
    )
    scored = with_peer_anomaly(measured)  # collected to the driver: d is done with
    d.unpersist()
    return scored


def _dx_burst(d: DataFrame, year: int) -> DataFrame:
    """Per hospital, the largest jump of one principal diagnosis from the year before to
    ``year``: (stays − expected) / sqrt(expected), the expected stays being its share of
    the hospital's stays the year before times this year's stays (at least half a stay:
    a diagnosis it never had). Forty stays of a diagnosis it saw twice stand out in a
    hospital of any size."""
    counts = (
        d.filter(F.year("discharge_date").isin(year - 1, year))
        .groupBy("hospital_code", "principal_dx")
        .agg(
            F.count(F.when(F.year("discharge_date") == year, 1)).alias("now"),
            F.count(F.when(F.year("discharge_date") == year - 1, 1)).alias("then"),
        )
    )
    totals = Window.partitionBy("hospital_code")
    expected = F.greatest(
        F.try_divide(F.col("then") * F.sum("now").over(totals), F.sum("then").over(totals)),
        F.lit(0.5),
    )
    return (
        counts.withColumn("expected", F.coalesce(expected, F.lit(0.5)))
        .withColumn("z", (F.col("now") - F.col("expected")) / F.sqrt("expected"))
        .groupBy("hospital_code")
        .agg(F.max("z").cast("double").alias("dx_burst"))
    )


def _doctor_burst(d: DataFrame, villages: DataFrame, year: int) -> DataFrame:
    """Per hospital, one doctor's largest sudden run of one principal diagnosis among
    people of few villages: over (doctor, diagnosis), the jump from the year before
    to ``year`` as a two-Poisson z-score, (now − then) / sqrt(now + then + 1), times
    the share of the run's people not explained by their spread over villages,
    1 − villages / people. Stays made up from one template for forty people of one or
    four villages (one doctor, a diagnosis never seen before) score about 6; forty
    people from all over the city, or one patient's many cycles, near 0. It counts
    villages, not how far from each other: a much larger campaign of real patients from
    a small catchment (more people than its villages) would score as high."""
    now = F.year("discharge_date") == year
    runs = (
        d.filter(F.year("discharge_date").isin(year - 1, year))
        .join(villages, "person_key", "left")
        .groupBy("hospital_code", "doctor_id", "principal_dx")
        .agg(
            F.count(F.when(now, 1)).alias("now"),
            F.count(F.when(~now, 1)).alias("then"),
            F.countDistinct(F.when(now, F.col("person_key"))).alias("people"),
            # a visitor insured elsewhere has no village here: a place of their own
            F.countDistinct(
                F.when(now, F.coalesce("village", F.concat(F.lit("visitor "), "person_key")))
            ).alias("villages"),
        )
        .filter(F.col("now") > 0)
    )
    z = (F.col("now") - F.col("then")) / F.sqrt(F.col("now") + F.col("then") + 1)
    return runs.groupBy("hospital_code").agg(
        F.max(z * (1 - F.try_divide("villages", "people"))).cast("double").alias("doctor_burst")
    )


def _exam_breadth(d: DataFrame, year: int) -> DataFrame:
    """Per hospital, the share of its stays of ``year`` whose examinations' share of the
    cost is above the upper quartile of that share among the city's stays of the same
    principal diagnosis that year: a quarter in an ordinary hospital; most stays in one
    that tests everyone; a centre whose patients of a few diagnoses need more imaging,
    about the share of those."""
    stays = d.filter(F.year("discharge_date") == year).select(
        "hospital_code",
        "principal_dx",
        F.try_divide(F.col("exams_cost").cast("double"), F.col("total_cost").cast("double")).alias(
            "exam_part"
        ),
    )
    quartile = stays.groupBy("principal_dx").agg(
        F.percentile("exam_part", 0.75).alias("upper_quartile")
    )
    return (
        stays.join(quartile, "principal_dx")
        .groupBy("hospital_code")
        .agg(
            F.avg(
                F.coalesce(F.col("exam_part") > F.col("upper_quartile"), F.lit(False)).cast(
                    "double"
                )
            ).alias("exam_breadth")
        )
    )


def _coding_shift(d: DataFrame, by_dx: DataFrame, year: int) -> DataFrame:
    """Per hospital, how many more of its stays of the two years to ``year`` were coded to
    their category's costliest diagnosis (``top_sibling``) than expected, as z-scores:
    ``top_sibling_z`` against the city's share per category in those years (the
    hospital's own mix of categories kept), ``top_sibling_shift_z`` against its own
    share two years before ``year`` (a two-proportion test over all its categories: a
    shift in its own coding, or in its mix of categories). An upcoder that began last
    year has moved both years."""
    recent = F.year("discharge_date") >= year - 1
    rows = (
        d.filter(F.year("discharge_date") >= year - 2)
        .join(by_dx.select("principal_dx", "top_sibling"), "principal_dx")
        .filter(F.col("top_sibling").isNotNull())
        .select(
            "hospital_code",
            recent.alias("recent"),
            F.substring("principal_dx", 1, 3).alias("category"),
            "top_sibling",
        )
    )
    city = Window.partitionBy("category", "recent")
    versus_city = (
        rows.filter("recent")
        .withColumn("p", F.avg("top_sibling").over(city))
        .groupBy("hospital_code")
        .agg(
            F.try_divide(
                F.sum("top_sibling") - F.sum("p"), F.sqrt(F.sum(F.col("p") * (1 - F.col("p"))))
            ).alias("top_sibling_z")
        )
    )
    shares = rows.groupBy("hospital_code").agg(
        F.sum(F.when(F.col("recent"), F.col("top_sibling"))).alias("hits"),
        F.count(F.when(F.col("recent"), 1)).alias("n"),
        F.sum(F.when(~F.col("recent"), F.col("top_sibling"))).alias("hits_before"),
        F.count(F.when(~F.col("recent"), 1)).alias("n_before"),
    )
    share, before = F.try_divide("hits", "n"), F.try_divide("hits_before", "n_before")
    pooled = F.try_divide(F.col("hits") + F.col("hits_before"), F.col("n") + F.col("n_before"))
    spread = F.sqrt(
        pooled
        * (1 - pooled)
        * (F.try_divide(F.lit(1.0), "n") + F.try_divide(F.lit(1.0), "n_before"))
    )
    shift = shares.select(
        "hospital_code", F.try_divide(share - before, spread).alias("top_sibling_shift_z")
    )
    return versus_city.join(shift, "hospital_code", "full")


ANOMALY_TREES = 300


def with_peer_anomaly(frame: DataFrame) -> DataFrame:
    """``frame`` (one row per hospital of a year) with how far each hospital stands out of
    the year's hospitals, without labels: per pattern, an isolation forest and the mean
    z-score over the measures that pattern moves (:data:`ANOMALY_GROUPS`, :func:`_isolation`),
    and ``peer_anomaly``, the most it stands out on any. They speak for patterns the
    audits have hardly confirmed.

    Against its level and one-sided (:func:`peer_z`): a measure below its level's median
    counts as the median, so a hospital that tests less than its peers does not stand
    out as one that tests more. A year has hundreds of hospitals at most:
    the forests are fitted on the driver with a fixed seed (the same rows give the same
    scores). A missing measure is the median.
    """
    import pandas as pd

    rows = frame.toPandas()
    for name, columns in ANOMALY_GROUPS.items():
        rows[name] = _isolation(rows, [c for c in columns if c in rows.columns])
    groups = list(ANOMALY_GROUPS)
    rows["peer_anomaly"] = rows[groups].max(axis=1)
    schema = frame.schema
    for name in [*groups, "peer_anomaly"]:
        schema = schema.add(name, "double")
    return frame.sparkSession.createDataFrame(
        pd.DataFrame(rows, columns=[f.name for f in schema.fields]), schema
    )


def _isolation(rows, columns: list[str]):
    """How far each row stands out over ``columns``: the mean of two detectors over the
    measures made one-sided robust z-scores within the level (:func:`peer_z`), an
    isolation forest's anomaly score, which sees a hospital unlike the others in any
    combination of the measures, and the mean z-score, which sees one a little above its
    peers in all of them at once (the forest, splitting on one measure at a time, dilutes
    that). Each detector's score is itself put as a robust z-score among the year's
    hospitals (:func:`robust_z`): 0 for the typical hospital, and the distance from the
    typical in the detector's own spread, so that the patterns can be compared and the
    most anomalous taken. Percentiles were used first: they make the third hospital of
    every pattern as anomalous as the third of any other, however ordinary it is (at the
    small city a hospital third by chance on one pattern took a place of the budget from
    a hospital second on another)."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import IsolationForest

    if len(rows) < 2 or not columns:
        return np.zeros(len(rows))
    z = peer_z(rows, columns)
    forest = IsolationForest(n_estimators=ANOMALY_TREES, random_state=7).fit(z)
    isolated = robust_z(pd.Series(-forest.score_samples(z)))
    above = robust_z(pd.Series(z.mean(axis=1).to_numpy()))
    return ((isolated + above) / 2).to_numpy()


def robust_z(values):
    """``(value − median) / spread``, the spread 1.4826 × the median absolute deviation, or
    the standard deviation when more than half the values are equal, or 1 when all are."""
    centre = values.median()
    spread = (values - centre).abs().median() * 1.4826
    if not spread > 0:  # also NaN
        spread = values.std()
    if not spread > 0:
        spread = 1.0
    return (values - centre) / spread


def peer_z(rows, columns: list[str]):
    """How far above the hospitals of its level each measure is, in robust standard
    deviations (median and 1.4826 x the median absolute deviation: a few frauds do not
    move them); 0 at or below the median. A level whose measure does not vary uses the
    spread of all levels. A missing measure is the median."""
    import numpy as np

    x = rows[columns].astype(float).replace([np.inf, -np.inf], np.nan)
    x = x.fillna(x.median()).fillna(0.0)
    level = rows["level"].fillna(0.0) if "level" in rows.columns else np.zeros(len(rows))
    median = x.groupby(level).transform("median")
    spread = (x - median).abs().groupby(level).transform("median") * 1.4826
    overall = (x - x.median()).abs().median() * 1.4826
    spread = spread.where(spread > 0).fillna(overall)
    spread = spread.where(spread > 0, 1.0)
    return ((x - median) / spread).clip(lower=0.0)


def _provider_billing(
    t: dict[str, DataFrame], year: int, fees: DataFrame | None = None
) -> DataFrame:
    """Per hospital, its year's billing against its care and the registry:
    ``care_per_bed_day`` (nursing, drug, treatment and exam items per bed day billed;
    null without fee details), ``repeated_items_share`` (stays with an item charged twice
    a day, or two codes of one kind at one price), ``after_death_share`` (stays begun
    after the patient's registered death) and ``repeated_exam_share`` (stays with one
    examination item billed on two days or more: repeated across days). ``fees``: the
    year's :func:`case_fees`, when the caller has them already."""
    d = t["discharges"].filter(F.year("discharge_date") == year)
    if fees is None:
        fees = case_fees(t["fee_details"], d.select("case_id"))
    deaths = t["insured_persons"].select("person_key", "death_date")
    return (
        d.join(fees, "case_id", "left")
        .join(deaths, "person_key", "left")
        .groupBy("hospital_code")
        .agg(
            F.try_divide(F.sum("care_items"), F.sum("bed_days"))
            .cast("double")
            .alias("care_per_bed_day"),
            F.avg(
                (
                    (F.coalesce("duplicate_items", F.lit(0)) > 0)
                    | (F.coalesce("same_price_items", F.lit(0)) > 0)
                ).cast("double")
            ).alias("repeated_items_share"),
            F.avg(
                F.coalesce(F.col("admission_date") > F.col("death_date"), F.lit(False)).cast(
                    "double"
                )
            ).alias("after_death_share"),
            # null without fee details for the year, as care_per_bed_day
            F.when(
                F.sum("bed_days").isNotNull(), F.avg(F.coalesce("repeated_exam", F.lit(0.0)))
            ).alias("repeated_exam_share"),
        )
    )
