"""``diplake fraud features --year Y``: the year's features of every entity, as gold tables.

``gold/fraud_features_case``, ``..._provider``, ``..._person`` and ``..._doctor``,
one row per entity of year Y (column ``period``), and ``..._case_fees``, the fee sums
of each case of Y (:func:`jobs.fraud.features.case_fees`), each computed only from
data up to the end of Y (:func:`jobs.fraud.features.up_to`). The rows of Y are
replaced, so a rerun writes the same rows; ``input_versions`` records the Delta
version of every silver table read and ``features_version`` the meaning of the
columns (:data:`jobs.fraud.features.FEATURES_VERSION`).

Training and scoring read the case and provider features, and the rule base the case
fees (rules FR04 and FR05: grouping the fee rows was 72 of the 145 s the city's rules
took), through :class:`SharedFeatures`: a year's rows are taken from gold when they were computed
from the very silver versions the job reads and by this code's features version,
and computed (then written, for the next job) otherwise. So a feature is computed
once per lake state, not once per job: the features DAG task computes year Y,
training adds Y-1 and reads Y, scoring reads Y and the case fees of Y-1 (for the
rules; computed alone when stale, as after a new day's files). At city scale scoring
computed the case and provider features again, about 160 s of its 277 s
(docs/scaling.md).
"""

from __future__ import annotations

import json
import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.fraud import entity_features, features

log = logging.getLogger(__name__)
LEVELS = ("case", "provider", "person", "doctor", "case_fees")
SHARED = ("case", "provider", "case_fees")  # what the models and the rule base read
BOOKKEEPING = ("period", "input_versions", "features_version")


def table_name(level: str) -> str:
    return f"fraud_features_{level}"


def feature_frames(
    tables: dict[str, DataFrame], year: int, levels: tuple[str, ...] = LEVELS
) -> tuple[dict[str, DataFrame], DataFrame | None]:
    """The year's frames of ``levels``, and the year's case fees the case and the
    provider features read and level ``case_fees`` is (cached when more than one of
    them reads it: the caller unpersists them once the frames are written)."""
    fees = None
    readers = {"case", "provider", "case_fees"} & set(levels)
    if readers:
        cut = features.up_to(tables, date(year, 12, 31))
        stays = cut["discharges"].filter(F.year("discharge_date") == year)
        fees = features.case_fees(cut["fee_details"], stays.select("case_id"))
        if len(readers) > 1:  # written once alone (the year before scoring's): no cache
            fees = fees.cache()
    makers = {
        "case": lambda: features.case_features(tables, date(year, 1, 1), date(year, 12, 31), fees),
        "provider": lambda: features.provider_features(tables, year, fees).drop("year"),
        "person": lambda: entity_features.person_features(tables, year).drop("year"),
        "doctor": lambda: entity_features.doctor_features(tables, year).drop("year"),
        "case_fees": lambda: fees,
    }
    return {level: makers[level]() for level in levels}, fees


def write(
    spark: SparkSession, cfg: Config, level: str, year: int, frame: DataFrame, versions: str
) -> int:
    """Replace the year's rows of ``gold/fraud_features_<level>``; the rows written."""
    df = frame.select(
        F.lit(year).alias("period"),
        "*",
        F.lit(versions).alias("input_versions"),
        F.lit(features.FEATURES_VERSION).alias("features_version"),
    )
    path = lake.table_path(cfg, "gold", table_name(level))
    # a feature added since the table was written becomes a column (older years null)
    lake.replace_where(spark, df, path, f"period = {year}", ["period"], merge_schema=True)
    return lake.read_version(spark, path).filter(F.col("period") == year).count()


def _silver_versions(reads: lake.PinnedReads, tables: dict[str, DataFrame]) -> str:
    """The versions ``reads`` pinned of the silver ``tables`` the features read (not of
    any other table the job read before or after), as JSON."""
    return json.dumps(
        {f"silver/{t}": reads.versions[f"silver/{t}"] for t in tables}, sort_keys=True
    )


class Computed:
    """The case and provider features computed from ``tables`` on every call, written
    nowhere: for a lab that changes the tables (the model lab notebook, the tests)."""

    def __init__(self, tables: dict[str, DataFrame]) -> None:
        self._tables = tables

    def case(self, year: int) -> DataFrame:
        return features.case_features(self._tables, date(year, 1, 1), date(year, 12, 31))

    def provider(self, year: int) -> DataFrame:
        return features.provider_features(self._tables, year).drop("year")


def source_of(tables_or_features) -> SharedFeatures | Computed:
    """What the model code reads features from: a features source as it is, silver
    tables as :class:`Computed`."""
    if isinstance(tables_or_features, dict):
        return Computed(tables_or_features)
    return tables_or_features


class SharedFeatures:
    """The case and provider features and the case fees of any year, each computed at
    most once per lake state (see the module docstring). ``tables``: the silver tables
    as :func:`jobs.fraud.train.silver_tables` pinned them in ``reads``."""

    def __init__(
        self,
        spark: SparkSession,
        cfg: Config,
        reads: lake.PinnedReads,
        tables: dict[str, DataFrame],
    ) -> None:
        self._spark, self._cfg, self._tables = spark, cfg, tables
        self.versions = _silver_versions(reads, tables)
        self.computed: list[tuple[str, int]] = []  # what this job had to compute itself

    def case(self, year: int) -> DataFrame:
        return self._frame("case", year)

    def provider(self, year: int) -> DataFrame:
        return self._frame("provider", year)

    def case_fees(self, year: int) -> DataFrame:
        """The case fees of ``year``; when gold holds none fresh, only they are computed
        (scoring reads them for the year before the one it scores, whose case and
        provider features it does not read: call :meth:`ensure` for a year whose
        levels are all read, so that its fees are grouped once for the three)."""
        return self._frame("case_fees", year, ("case_fees",))

    def ensure(self, year: int) -> None:
        """Compute and write the shared levels of ``year`` unless gold holds them fresh."""
        if not all(self._fresh(self._path(level), year) for level in SHARED):
            self._compute(year)

    def _path(self, level: str) -> str:
        return lake.table_path(self._cfg, "gold", table_name(level))

    def _frame(self, level: str, year: int, levels: tuple[str, ...] = SHARED) -> DataFrame:
        if not self._fresh(self._path(level), year):
            self._compute(year, levels)
        stored = lake.read_version(self._spark, self._path(level))
        return stored.filter(F.col("period") == year).drop(*BOOKKEEPING)

    def _fresh(self, path: str, year: int) -> bool:
        if not lake.is_table(self._spark, path):
            return False
        table = lake.read_version(self._spark, path)
        if "features_version" not in table.columns:
            return False
        found = (
            table.filter(F.col("period") == year)
            .select("input_versions", "features_version")
            .distinct()
            .collect()
        )
        return len(found) == 1 and tuple(found[0]) == (
            self.versions,
            features.FEATURES_VERSION,
        )

    def _compute(self, year: int, levels: tuple[str, ...] = SHARED) -> None:
        """``levels`` of ``year`` (each from the year's case fees, grouped once), written."""
        log.info("fraud features %d: computing %s", year, ", ".join(levels))
        frames, fees = feature_frames(self._tables, year, levels)
        try:
            for level, frame in frames.items():
                write(self._spark, self._cfg, level, year, frame, self.versions)
        finally:
            if fees is not None:
                fees.unpersist()
        self.computed.append(("+".join(levels), year))


def run(spark: SparkSession, cfg: Config, year: int) -> dict[str, int]:
    """Write the five tables for ``year``, and the shared rows of ``year`` - 1 training
    and the rule base read beside them (each only when gold has no fresh rows of it); returns the
    year's rows per level."""
    from jobs.fraud import train

    reads = lake.PinnedReads(spark, cfg)
    tables = train.silver_tables(reads)
    shared = SharedFeatures(spark, cfg, reads, tables)
    for y in (year - 1, year):
        shared.ensure(y)
    log.info("fraud features: computed %s, the rest fresh in gold", shared.computed or "none")
    frames, _ = feature_frames(tables, year, ("person", "doctor"))
    written = {
        level: write(spark, cfg, level, year, frames[level], shared.versions)
        for level in ("person", "doctor")
    }
    for level in SHARED:
        path = lake.table_path(cfg, "gold", table_name(level))
        written[level] = lake.read_version(spark, path).filter(F.col("period") == year).count()
    return {level: written[level] for level in LEVELS}
