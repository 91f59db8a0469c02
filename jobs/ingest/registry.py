"""The insured registry to ``silver/insured_persons``: one row per person_key, no PII.

The ID number is checked (GB 11643) and replaced by its HMAC ``person_key``;
the name stays in bronze. A person listed twice keeps the newest line.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.ingest import codes, versions
from jobs.ingest.batch import FileCounts, land_and_check
from jobs.ingest.landing import LandedFile
from jobs.ingest.reference import csv_check, record_lines
from jobs.pseudonymise import person_key

COLUMNS = (
    "record_id",
    "id_no",
    "name",
    "sex",
    "birth_date",
    "insurance_type",
    "district",
    "village",
    "enrol_start",
    "enrol_end",
    "death_date",
)
# Silver keeps everything but the serial number, the ID number (-> person_key) and the name.
SILVER = ("person_key", *(c for c in COLUMNS if c not in ("record_id", "id_no", "name")))


# What makes a registry line's content (its identity, jobs/ingest/identity.py).
CONTENT = tuple(c for c in COLUMNS if c not in ("record_id", "name"))
DATES = ("birth_date", "enrol_start", "enrol_end", "death_date")
META = ("source_file", "line", "text", "day")


def conform_persons(bronze: DataFrame) -> DataFrame:
    """Typed person rows plus ``reasons``; dates are parsed once, then checked."""
    typed = bronze.select(
        "unexpected_header",
        "malformed",
        *META,
        *[c for c in COLUMNS if c not in DATES and c != "name"],
        *[codes.parse_date(F.col(c)).alias(c) for c in DATES],
        *[codes.blank_to_null(F.col(c)).isNotNull().alias(f"_given_{c}") for c in DATES],
    )
    bad_date = reduce(lambda a, b: a | b, [F.col(f"_given_{c}") & F.col(c).isNull() for c in DATES])
    reasons = codes.reason_array(
        F.when(F.col("unexpected_header"), F.lit("unexpected_header")),
        F.when(F.col("malformed"), F.lit("malformed_record")),
        F.when(codes.blank_to_null(F.col("record_id")).isNull(), F.lit("missing_record_id")),
        F.when(codes.blank_to_null(F.col("id_no")).isNull(), F.lit("missing_id_no")),
        F.when(
            codes.blank_to_null(F.col("id_no")).isNotNull()
            & ~codes.id_number_valid(F.col("id_no")),
            F.lit("invalid_id_checksum"),
        ),
        F.when(~F.col("sex").isin("M", "F"), F.lit("invalid_sex")),
        F.when(
            ~F.col("insurance_type").isin("employee", "resident"),
            F.lit("invalid_insurance_type"),
        ),
        F.when(bad_date, F.lit("invalid_date")),
    )
    return typed.select(
        "record_id",
        *META,
        *[c for c in COLUMNS[1:] if c != "name"],  # the name stays in bronze
        reasons.alias("reasons"),
    )


def ingest_insured_registry(
    spark: SparkSession, cfg: Config, files: list[LandedFile], run_id: str
) -> list[FileCounts]:
    lines = record_lines(spark, files)
    check = csv_check(files, COLUMNS, conform_persons)
    batch = land_and_check(
        spark, cfg, "insured_registry", lines, files, run_id, check, content=CONTENT
    )
    key = cfg.hmac_key()
    return versions.promote(
        spark,
        cfg,
        files,
        batch,
        source="insured_registry",
        table="insured_persons",
        newest_by=["id_no"],
        merge_key=["person_key"],
        to_silver=lambda rows: rows.withColumn(
            "person_key", person_key(F.col("id_no"), key)
        ).select(*SILVER, versions.VERSION, "source_file"),
    )


def load(spark: SparkSession, cfg: Config) -> DataFrame:
    """silver/insured_persons, or an empty frame of its shape before the first registry."""
    path = lake.table_path(cfg, "silver", "insured_persons")
    if lake.is_table(spark, path):
        return lake.read_version(spark, path)
    return spark.createDataFrame(
        [], "person_key string, enrol_start date, enrol_end date, death_date date"
    )
