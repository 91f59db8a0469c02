"""Delta round trip: the lake's smoke job, on this machine or a cluster.

It proves the foundation works where it runs: a Delta table
(``ops/delta_roundtrip``) is written (version N), a keyed MERGE upserts into it
(version N+1), the older version is read back by time travel, and the table's
history is reported. The cluster test and ``make install``'s JVM class archive
run it too.

    diplake roundtrip [--lake DIR]
    diplake submit --master spark://HOST:7077 roundtrip
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DecimalType, IntegerType, StringType, StructField, StructType

from jobs import lake
from jobs.config import Config

TABLE = ("ops", "delta_roundtrip")

SCHEMA = StructType(
    [
        StructField("hospital_code", StringType(), nullable=False),
        StructField("level", IntegerType(), nullable=False),
        StructField("points", DecimalType(18, 4), nullable=False),
    ]
)

SEED = [
    ("H350200001", 3, Decimal("1250.5000")),
    ("H350200002", 2, Decimal("830.2500")),
    ("H350200003", 1, Decimal("97.0000")),
]
# One changed hospital and one new one: the MERGE must update one row and insert one.
UPSERT = [
    ("H350200002", 2, Decimal("845.7500")),
    ("H350200004", 1, Decimal("12.3400")),
]


@dataclass(frozen=True)
class RoundTrip:
    path: str
    seed_version: int
    merged_version: int
    before: list[tuple]
    after: list[tuple]
    history: list[dict]


def rows_frame(spark: SparkSession, rows: Sequence[tuple]) -> DataFrame:
    return spark.createDataFrame(list(rows), SCHEMA)


def _sorted_rows(df: DataFrame) -> list[tuple]:
    return [tuple(r) for r in df.orderBy("hospital_code").collect()]


def run(spark: SparkSession, cfg: Config) -> RoundTrip:
    lake.ensure_layout(cfg)
    path = lake.table_path(cfg, *TABLE)
    lake.overwrite(rows_frame(spark, SEED), path)
    seed_version = lake.latest_version(spark, path)
    lake.merge_upsert(spark, rows_frame(spark, UPSERT), path, keys=["hospital_code"])
    merged_version = lake.latest_version(spark, path)
    return RoundTrip(
        path=path,
        seed_version=seed_version,
        merged_version=merged_version,
        before=_sorted_rows(lake.read_version(spark, path, seed_version)),
        after=_sorted_rows(lake.read_version(spark, path)),
        history=lake.history(spark, path),
    )


def report(result: RoundTrip) -> str:
    lines = [f"Delta table {result.path}"]
    lines.append(f"  version {result.seed_version} (time travel, before the MERGE):")
    lines += [f"    {code}  level {lvl}  points {pts}" for code, lvl, pts in result.before]
    lines.append(f"  version {result.merged_version} (after the MERGE upsert):")
    lines += [f"    {code}  level {lvl}  points {pts}" for code, lvl, pts in result.after]
    lines.append("  history:")
    lines.append(f"    {'version':>7}  {'timestamp':<26}  {'operation':<18}  metrics")
    for h in result.history:
        metrics = ", ".join(
            f"{k}={v}"
            for k, v in sorted(h["metrics"].items())
            if k in {"numOutputRows", "numTargetRowsUpdated", "numTargetRowsInserted", "numFiles"}
        )
        lines.append(
            f"    {h['version']:>7}  {h['timestamp']!s:<26}  {h['operation']:<18}  {metrics}"
        )
    return "\n".join(lines)
