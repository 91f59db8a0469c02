"""``diplake fraud features --year Y``: the year's features of every entity, as gold tables.

``gold/fraud_features_case``, ``..._provider``, ``..._person`` and ``..._doctor``,
one row per entity of year Y (column ``period``), each computed only from data
up to the end of Y (:func:`jobs.fraud.features.up_to`). The rows of Y are
replaced, so a rerun writes the same rows; ``input_versions`` records the Delta
version of every silver table read. Inspectors and notebooks read them; the
models compute the same features in training and scoring.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.fraud import entity_features, features, train

LEVELS = ("case", "provider", "person", "doctor")


def feature_frames(tables: dict[str, DataFrame], year: int) -> dict[str, DataFrame]:
    return {
        "case": features.case_features(tables, date(year, 1, 1), date(year, 12, 31)),
        "provider": features.provider_features(tables, year).drop("year"),
        "person": entity_features.person_features(tables, year).drop("year"),
        "doctor": entity_features.doctor_features(tables, year).drop("year"),
    }


def run(spark: SparkSession, cfg: Config, year: int) -> dict[str, int]:
    """Write the four tables for ``year``; returns the rows written per level."""
    reads = lake.PinnedReads(spark, cfg)
    frames = feature_frames(train.silver_tables(reads), year)
    versions = reads.as_json()
    written = {}
    for level in LEVELS:
        df = frames[level].select(
            F.lit(year).alias("period"), "*", F.lit(versions).alias("input_versions")
        )
        path = lake.table_path(cfg, "gold", f"fraud_features_{level}")
        # a feature added since the table was written becomes a column (older years null)
        lake.replace_where(spark, df, path, f"period = {year}", ["period"], merge_schema=True)
        written[level] = lake.read_version(spark, path).filter(F.col("period") == year).count()
    return written
