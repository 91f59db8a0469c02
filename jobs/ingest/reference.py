"""Reference tables: code vocabularies, procedure classes, and the institutions feed.

``silver/icd10_codes`` and ``silver/procedure_classes`` come from the vocabulary
packages (jobs/vocab.py) and are written once; ``silver/procedure_classes``
follows SPEC 4 (ICD-9-CM-3 chapters 00-86 S, 87-91 D, 92-99 T).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import reduce

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.ingest import codes, versions
from jobs.ingest.batch import FileCounts, land_and_check, numbered_lines
from jobs.ingest.landing import LandedFile, wrong_headers
from jobs.vocab import Vocabularies, procedure_class

INSTITUTION_COLUMNS = ("record_id", "institution_code", "name", "type", "level", "district")
INSTITUTION_TYPES = ("hospital", "clinic", "pharmacy")


@dataclass(frozen=True)
class References:
    icd10: DataFrame  # code
    icd9: DataFrame  # code
    hospitals: DataFrame  # institution_code


VOCABULARY_SLICE = 4000  # rows per task: ~350 KiB of ICD-10 codes and names


def _local_frame(spark: SparkSession, rows: pd.DataFrame) -> DataFrame:
    """A vocabulary held by the driver, sent in slices: in one piece the ICD-10 table is a
    single task of 1.1 MiB, over the 1000 KiB Spark warns about (TaskSetManager)."""
    slices = [
        spark.createDataFrame(rows.iloc[i : i + VOCABULARY_SLICE])
        for i in range(0, max(len(rows), 1), VOCABULARY_SLICE)
    ]
    return reduce(DataFrame.unionByName, slices)


def ensure_vocabularies(spark: SparkSession, cfg: Config, vocab: Vocabularies) -> None:
    icd10_path = lake.table_path(cfg, "silver", "icd10_codes")
    if not lake.is_table(spark, icd10_path):
        rows = pd.concat(
            [
                vocab.icd10[["code", "name_zh", "name_en"]],
                # Categories with subcodes are valid principal codes too (I10 has none, K35 has).
                vocab.icd10[["category"]].drop_duplicates().rename(columns={"category": "code"}),
            ]
        ).drop_duplicates("code")
        _local_frame(spark, rows.fillna("")).write.format("delta").save(icd10_path)
    classes_path = lake.table_path(cfg, "silver", "procedure_classes")
    if not lake.is_table(spark, classes_path):
        px = vocab.icd9[["code", "name_zh", "name_en"]].copy()
        px["class"] = px.code.map(procedure_class)
        _local_frame(spark, px[["code", "class", "name_zh", "name_en"]]).write.format("delta").save(
            classes_path
        )


def load(spark: SparkSession, cfg: Config) -> References:
    institutions_path = lake.table_path(cfg, "silver", "institutions")
    if lake.is_table(spark, institutions_path):
        hospitals = (
            lake.read_version(spark, institutions_path)
            .filter(F.col("type") == "hospital")
            .select("institution_code")
        )
    else:
        hospitals = spark.createDataFrame([], "institution_code string")
    return References(
        icd10=lake.read_version(spark, lake.table_path(cfg, "silver", "icd10_codes")),
        icd9=lake.read_version(spark, lake.table_path(cfg, "silver", "procedure_classes")),
        hospitals=hospitals,
    )


def parse_csv(
    lines: DataFrame, columns: tuple[str, ...], wrong_header: Collection[str] = ()
) -> DataFrame:
    """CSV lines (header dropped) to string columns; ``wrong_header``: files whose header
    is not ``columns`` (see landing.wrong_headers), whose records are all rejected."""
    schema = ", ".join(f"`{c}` STRING" for c in columns)
    parsed = lines.filter(F.col("line") > 1).withColumn(
        "_r", F.from_csv("text", schema, {"sep": ","})
    )
    return parsed.select(
        "*",
        *[F.col(f"_r.{c}").alias(c) for c in columns],
        F.col("source_file").isin(list(wrong_header)).alias("unexpected_header"),
        (F.size(F.split("text", ",")) < len(columns)).alias("malformed"),
    ).drop("_r")


def record_lines(spark: SparkSession, files: list[LandedFile]) -> DataFrame:
    """The lines of headed files that hold records (all but the header): bronze, as received."""
    return numbered_lines(spark, files).filter(F.col("line") > 1)


def csv_check(
    files: list[LandedFile], columns: tuple[str, ...], conform: Callable[[DataFrame], DataFrame]
) -> Callable[[DataFrame], DataFrame]:
    """Bronze lines of these CSV files -> parsed, conformed, with reasons (for land_and_check)."""
    wrong = wrong_headers(files, ",".join(columns))
    return lambda bronze: conform(parse_csv(bronze, columns, wrong))


def conform_institutions(bronze: DataFrame) -> DataFrame:
    level = F.col("level").try_cast("int")
    reasons = codes.reason_array(
        F.when(F.col("unexpected_header"), F.lit("unexpected_header")),
        F.when(F.col("malformed"), F.lit("malformed_record")),
        F.when(
            codes.blank_to_null(F.col("institution_code")).isNull(),
            F.lit("missing_institution_code"),
        ),
        F.when(~F.col("type").isin(*INSTITUTION_TYPES), F.lit("invalid_institution_type")),
        F.when(
            (F.col("type") == "hospital") & ~level.isin(1, 2, 3),
            F.lit("invalid_hospital_level"),
        ),
    )
    return bronze.select(
        "record_id",
        "source_file",
        "line",
        "text",
        "day",
        codes.blank_to_null(F.col("institution_code")).alias("institution_code"),
        "name",
        "type",
        level.alias("level"),
        "district",
        reasons.alias("reasons"),
    )


def ingest_institutions(
    spark: SparkSession, cfg: Config, files: list[LandedFile], run_id: str
) -> list[FileCounts]:
    check = csv_check(files, INSTITUTION_COLUMNS, conform_institutions)
    batch = land_and_check(
        spark,
        cfg,
        "institutions",
        record_lines(spark, files),
        files,
        run_id,
        check,
        content=INSTITUTION_COLUMNS[1:],
    )
    return versions.promote(
        spark,
        cfg,
        files,
        batch,
        source="institutions",
        table="institutions",
        newest_by=["institution_code"],
        merge_key=["institution_code"],
        to_silver=lambda rows: rows.select(
            *INSTITUTION_COLUMNS[1:], versions.VERSION, "source_file"
        ),
    )
