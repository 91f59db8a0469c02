"""One ingest batch: the numbered lines of its files, and what became of each file's records."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.ingest import decode
from jobs.ingest.landing import LandedFile

RELATIVE = r"([^/]+/\d{4}-\d{2}-\d{2}/[^/]+)$"


class LedgerMismatchError(RuntimeError):
    """A file's counts do not add up: a record would be lost, so nothing is recorded."""


@dataclass(frozen=True)
class FileCounts:
    source: str
    source_file: str
    sha256: str
    records_read: int
    to_silver: int
    quarantined: int
    duplicates: int
    superseded: int

    def check(self) -> None:
        parts = self.to_silver + self.quarantined + self.duplicates + self.superseded
        if parts != self.records_read:
            raise LedgerMismatchError(
                f"{self.source_file}: read {self.records_read} but accounted {parts} "
                f"(silver {self.to_silver}, quarantine {self.quarantined}, duplicates "
                f"{self.duplicates}, superseded {self.superseded})"
            )


def numbered_lines(spark: SparkSession, files: list[LandedFile]) -> DataFrame:
    lines = decode.read_lines(spark, [str(f.path) for f in files])
    rel = F.regexp_extract("source_path", RELATIVE, 1)
    return (
        lines.withColumn("source_file", rel)
        .withColumn("day", F.regexp_extract("source_file", r"/(\d{4}-\d{2}-\d{2})/", 1))
        .drop("source_path")
    )
