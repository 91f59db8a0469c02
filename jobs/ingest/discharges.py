"""Bronze settlement lists to conformed discharges: normalise, check, give reasons.

Pure functions of DataFrames. :func:`conform` turns the sender's notation into
the silver vocabulary (SPEC 4) and collects every reason a record cannot be
promoted into ``reasons`` (codes from docs/quarantine-reasons.md); the record
is promoted only when the array is empty. :func:`check_references` adds the
reasons that need other tables (known codes, institutions, enrolled persons).
:func:`mark_superseded` keeps the newest submission of each case.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.ingest import codes, plausibility
from jobs.ingest.dialects import FIELDS, MONEY
from jobs.ingest.feeds import REGIONS
from jobs.terms import FEE_CATEGORIES, HOME_REGION

SEX = {"M": "M", "F": "F", "男": "M", "女": "F", "1": "M", "2": "F"}
ADMISSION = {
    "emergency": "emergency",
    "elective": "elective",
    "急诊": "emergency",
    "门诊": "elective",
    "1": "emergency",
    "2": "elective",
}
STATUS = {
    "cured": "cured",
    "transferred": "transferred",
    "died": "died",
    "left": "left",
    "医嘱离院": "cured",
    "医嘱转院": "transferred",
    "死亡": "died",
    "非医嘱离院": "left",
    "1": "cured",
    "2": "transferred",
    "5": "died",
    "4": "left",
}
PARTS = FEE_CATEGORIES
REQUIRED = (
    "record_id",
    "case_id",
    "hospital_code",
    "id_no",
    "principal_dx",
    "admission_date",
    "discharge_date",
    "total",
)


# What makes a settlement list's content, for its identity (jobs/ingest/identity.py): the
# conformed values, so the same record written in another notation is the same record.
CONTENT = (
    *(
        f
        for f in FIELDS[1:]
        if f not in ("principal_procedure", "other_procedures", "insured_region", *MONEY)
    ),
    "procedures",  # the principal procedure first, then the others
    # Where the patient is insured, when not the city: null for the city's own insured, and
    # to_json leaves nulls out, so the fingerprints of lists from before the column stand.
    "insured_elsewhere",
    *(f"{m}_cost" if m in PARTS else m for m in MONEY if m != "total"),
    "total_cost",
)
SUBMITTED = "yyyy-MM-dd HH:mm:ss"


def _mapped(column: str, mapping: dict[str, str]) -> Column:
    return F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv])[F.trim(F.col(column))]


def _reason(condition: Column, code: str) -> Column:
    return F.when(condition, F.lit(code))


def conform(bronze: DataFrame) -> DataFrame:
    """Sender notation -> silver vocabulary, plus ``reasons`` (array<string>, empty = clean)."""
    df = bronze
    if "unexpected_header" not in df.columns:  # JSON Lines have no header to get wrong
        df = df.withColumn("unexpected_header", F.lit(False))
    if "insured_region" not in df.columns:  # bronze from before the column
        df = df.withColumn("insured_region", F.lit(None).cast("string"))
    for field in ("record_id", "case_id", "hospital_code", "id_no", "name", "doctor_id"):
        df = df.withColumn(field, codes.blank_to_null(F.col(field)))
    dx_raw = F.concat(F.array(F.col("principal_dx")), F.coalesce("other_dx", F.array()))
    px_raw = F.concat(
        F.when(codes.blank_to_null(F.col("principal_procedure")).isNull(), F.array()).otherwise(
            F.array(F.col("principal_procedure"))
        ),
        F.coalesce("other_procedures", F.array()),
    )
    px_raw = F.filter(px_raw, lambda c: codes.blank_to_null(c).isNotNull())
    df = df.select(
        "*",
        codes.icd10(F.col("principal_dx")).alias("principal_dx_c"),
        F.transform(F.coalesce("other_dx", F.array()), codes.icd10).alias("other_dx_c"),
        F.array_distinct(F.transform(px_raw, codes.icd9)).alias("procedures_c"),
        F.size(
            F.filter(dx_raw, lambda c: codes.blank_to_null(c).isNotNull() & codes.icd10(c).isNull())
        ).alias("_bad_dx_format"),
        F.size(F.filter(px_raw, lambda c: codes.icd9(c).isNull())).alias("_bad_px_format"),
        _mapped("sex", SEX).alias("sex_c"),
        # A list without the column, or a blank in it: one of the city's own insured.
        F.coalesce(codes.blank_to_null(F.trim("insured_region")), F.lit(HOME_REGION)).alias(
            "insured_region_c"
        ),
        _mapped("admission_type", ADMISSION).alias("admission_type_c"),
        _mapped("discharge_status", STATUS).alias("discharge_status_c"),
        codes.parse_date(F.col("birth_date")).alias("birth_date_c"),
        codes.parse_date(F.col("admission_date")).alias("admission_date_c"),
        codes.parse_date(F.col("discharge_date")).alias("discharge_date_c"),
        F.try_to_timestamp(codes.blank_to_null(F.col("submitted_at")), F.lit(SUBMITTED)).alias(
            "submitted_at_c"
        ),
        *[codes.money(F.col(m), F.col("money_unit")).alias(f"{m}_c") for m in MONEY],
    )
    parts_sum = sum((F.col(f"{p}_c") for p in PARTS), F.lit(0).cast("decimal(18,2)"))
    missing = [
        _reason(codes.blank_to_null(F.col(f).cast("string")).isNull(), f"missing_{f}")
        for f in REQUIRED
    ]
    reasons = [
        _reason(F.col("malformed"), "malformed_record"),
        _reason(F.col("unexpected_header"), "unexpected_header"),
        *missing,
        _reason(
            F.col("id_no").isNotNull() & ~codes.id_number_valid(F.col("id_no")),
            "invalid_id_checksum",
        ),
        _reason(F.col("_bad_dx_format") > 0, "unknown_diagnosis_code"),
        _reason(F.col("_bad_px_format") > 0, "unknown_procedure_code"),
        _reason(F.col("sex").isNotNull() & F.col("sex_c").isNull(), "invalid_sex"),
        _reason(F.col("admission_type_c").isNull(), "invalid_admission_type"),
        _reason(F.col("discharge_status_c").isNull(), "invalid_discharge_status"),
        _reason(
            (F.col("admission_date").isNotNull() & F.col("admission_date_c").isNull())
            | (F.col("discharge_date").isNotNull() & F.col("discharge_date_c").isNull())
            | (F.col("birth_date").isNotNull() & F.col("birth_date_c").isNull()),
            "invalid_date",
        ),
        _reason(
            F.col("discharge_date_c") < F.col("admission_date_c"), "discharge_before_admission"
        ),
        _reason(F.col("admission_date_c") < F.col("birth_date_c"), "admission_before_birth"),
        _reason(
            F.exists(F.array(*[F.col(f"{m}_c") for m in MONEY]), lambda v: v.isNull())
            & F.col("total").isNotNull(),
            "invalid_amount",
        ),
        _reason(parts_sum != F.col("total_c"), "cost_breakdown_mismatch"),
        # The city, or a pooling region it clears with (a district's code is not one).
        _reason(~F.col("insured_region_c").isin(*REGIONS), "unknown_region"),
        _reason(
            F.col("fund_paid_c") + F.col("self_paid_c") != F.col("total_c"), "payment_mismatch"
        ),
        _reason(
            codes.blank_to_null(F.col("submitted_at")).isNotNull()
            & F.col("submitted_at_c").isNull(),
            "invalid_timestamp",
        ),
        # Plausibility (jobs/ingest/plausibility.yaml): what no person or stay can be.
        plausibility.in_future(
            F.col("admission_date_c"), F.col("discharge_date_c"), F.col("birth_date_c")
        ),
        plausibility.implausible_age(F.col("birth_date_c"), F.col("admission_date_c")),
        plausibility.implausible_stay(F.col("admission_date_c"), F.col("discharge_date_c")),
        *plausibility.cost_out_of_range(F.col("total_c")),
        plausibility.contradicts_sex(
            F.concat(F.array("principal_dx_c"), F.col("other_dx_c")), F.col("sex_c")
        ),
    ]
    df = df.withColumn("reasons", codes.reason_array(*reasons))
    return df.select(
        "record_id",
        "case_id",
        "hospital_code",
        "id_no",
        "name",
        F.col("sex_c").alias("sex"),
        F.col("birth_date_c").alias("birth_date"),
        F.col("insured_region_c").alias("insured_region"),
        F.when(F.col("insured_region_c") != HOME_REGION, F.col("insured_region_c")).alias(
            "insured_elsewhere"
        ),
        F.col("admission_date_c").alias("admission_date"),
        F.col("discharge_date_c").alias("discharge_date"),
        F.year("discharge_date_c").alias("discharge_year"),
        F.col("admission_type_c").alias("admission_type"),
        F.col("discharge_status_c").alias("discharge_status"),
        F.col("principal_dx_c").alias("principal_dx"),
        F.col("other_dx_c").alias("other_dx"),
        F.col("procedures_c").alias("procedures"),
        "doctor_id",
        *[F.col(f"{m}_c").alias(f"{m}_cost" if m in PARTS else m) for m in MONEY],
        F.col("submitted_at_c").alias("submitted_at"),
        "reasons",
        *[c for c in bronze.columns if c in ("source_file", "line", "text", "run_id", "day")],
    ).withColumnRenamed("total", "total_cost")


def _codes(table: DataFrame, column: str) -> list[str]:
    return [r[0] for r in table.select(column).distinct().collect() if r[0] is not None]


def check_references(
    conformed: DataFrame, icd10: DataFrame, icd9: DataFrame, hospitals: DataFrame
) -> DataFrame:
    """Add the reasons that need reference tables.

    ``icd10`` and ``icd9``: a ``code`` column of known codes; ``hospitals``: the
    ``institution_code`` of institutions whose type is hospital. The reference
    lists are small (about 18,000 codes), so they travel with the query as hash
    sets and every record is checked where it is, with no shuffle and no join.
    """
    known_dx, known_px = _codes(icd10, "code"), _codes(icd9, "code")
    known_h = _codes(hospitals, "institution_code")
    dx = F.concat(F.array("principal_dx"), F.coalesce("other_dx", F.array()))
    px = F.coalesce("procedures", F.array().cast("array<string>"))
    extra = codes.reason_array(
        _reason(
            F.exists(dx, lambda c: c.isNotNull() & ~c.isin(known_dx)), "unknown_diagnosis_code"
        ),
        _reason(
            F.exists(px, lambda c: c.isNotNull() & ~c.isin(known_px)), "unknown_procedure_code"
        ),
        _reason(
            F.col("hospital_code").isNotNull() & ~F.col("hospital_code").isin(known_h),
            "unknown_hospital",
        ),
    )
    return conformed.withColumn("reasons", F.array_distinct(F.concat("reasons", extra)))


def check_enrolment(df: DataFrame, persons: DataFrame) -> DataFrame:
    """The person must be in the registry; enrolment on the admission day is a flag.

    ``df`` has ``person_key`` (null when the ID number is unusable), ``insured_region``
    and ``admission_date``; ``persons``: silver/insured_persons. A claim for one of the
    city's insured who is unknown is quarantined (``person_not_enrolled``); a person
    insured elsewhere (SPEC 12, settled through the national platform) is in another
    region's registry, not ours. A claim outside the enrolment period or after the
    registered death stays, flagged, for the fraud rules.
    """
    registry = persons.select(
        "person_key",
        F.col("enrol_start").alias("_start"),
        F.col("enrol_end").alias("_end"),
        F.col("death_date").alias("_death"),
        F.lit(True).alias("_registered"),
    )
    joined = df.join(registry, "person_key", "left")
    region = F.col("insured_region") if "insured_region" in df.columns else F.lit(HOME_REGION)
    unknown = (
        F.col("person_key").isNotNull() & F.col("_registered").isNull() & (region == HOME_REGION)
    )
    return (
        joined.withColumn(
            "reasons",
            F.array_distinct(
                F.concat("reasons", codes.reason_array(_reason(unknown, "person_not_enrolled")))
            ),
        )
        .withColumn(
            "enrolled_on_admission",
            F.coalesce(
                (F.col("_start") <= F.col("admission_date"))
                & (F.col("_end").isNull() | (F.col("admission_date") <= F.col("_end"))),
                F.lit(False),
            ),
        )
        .withColumn(
            "after_death",
            F.coalesce(F.col("_death") < F.col("admission_date"), F.lit(False)),
        )
        .drop("_start", "_end", "_death", "_registered")
    )
