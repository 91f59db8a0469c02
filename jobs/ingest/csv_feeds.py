"""Reading a CSV feed declared in jobs/ingest/feeds.py: conform, check, to silver.

Each field of the feed is typed and checked as Spark expressions; rejected rows
go to quarantine with their reason codes, the rest are pseudonymised and reach
silver as the feed's mode says (``events``: a file's rows replace that file's
rows; ``snapshot``: the newest line per key wins and is MERGEd).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake, quality
from jobs.config import Config
from jobs.ingest import codes, plausibility, steps, versions
from jobs.ingest.batch import FileCounts, land_and_check, stage
from jobs.ingest.feeds import Feed, Field, Ref
from jobs.ingest.landing import LandedFile
from jobs.ingest.reference import csv_check, record_lines
from jobs.ingest.tables import replace_files
from jobs.pseudonymise import person_key

log = logging.getLogger(__name__)
TIMESTAMP = "yyyy-MM-dd HH:mm:ss"  # how a feed writes a timestamp field


def _typed(f: Field) -> tuple[Column, Column | None]:
    """(typed value, condition that the raw text is present but not readable)."""
    raw = codes.blank_to_null(F.col(f.name))
    if f.kind == "date":
        value = codes.parse_date(F.col(f.name))
    elif f.kind == "timestamp":
        value = F.try_to_timestamp(raw, F.lit(TIMESTAMP))
    elif f.kind == "int":
        value = raw.try_cast("int")
    elif f.kind == "decimal":
        # Read wide, then narrow: a value that does not fit, or would be rounded, is unreadable.
        wide = raw.try_cast("decimal(38,6)")
        value = wide.try_cast(f.type)
        return value, raw.isNotNull() & (value.isNull() | (value != wide))
    elif f.kind == "flag":
        # Y/N in the bureau's own feeds, 1/0 in the procurement platform's
        value = F.when(raw.isin("Y", "1"), True).when(raw.isin("N", "0"), False)
    else:
        return raw, None
    return value, raw.isNotNull() & value.isNull()


BAD_VALUE = {
    "date": "invalid_date",
    "timestamp": "invalid_timestamp",
    "int": "invalid_number",
    "decimal": "invalid_amount",
    "flag": "invalid_flag",
}


def _referred(ref: Ref, field: str, table: DataFrame | None, spark) -> DataFrame:
    """One row per value of ``ref.column``: the join key and the columns it brings."""
    prefix = ref.prefix or field
    if table is None:  # the referred source has not landed yet: nothing can match
        schema = ", ".join(f"`{c}` string" for c in (ref.column, *ref.bring))
        table = spark.createDataFrame([], schema)
    return (
        table.filter(F.col(ref.column).isNotNull())
        .groupBy(F.col(ref.column).alias(f"_k_{field}"))
        .agg(
            F.lit(True).alias(f"_hit_{field}"),
            *(F.max(c).alias(f"{prefix}_{c}") for c in ref.bring),
        )
    )


def conform(
    feed: Feed,
    bronze: DataFrame,
    institutions: DataFrame,
    lookups: Mapping[str, DataFrame] | None = None,
) -> DataFrame:
    """Typed columns, derived ones, and ``reasons``; ``institutions``: code and type of
    known institutions; ``lookups``: the silver tables the feed's fields refer to.

    Two projections: the first types each field once (and keeps its trimmed text),
    the second derives the reasons from those columns, so no parse runs twice.
    """
    df = bronze
    known = []
    brought = []
    for f in feed.fields:
        if f.refers is None:
            continue
        table = (lookups or {}).get(f.refers.table)
        df = df.join(
            _referred(f.refers, f.name, table, bronze.sparkSession),
            codes.blank_to_null(F.col(f.name)) == F.col(f"_k_{f.name}"),
            "left",
        ).drop(f"_k_{f.name}")
        brought += [f"_hit_{f.name}"]
        brought += [f"{f.refers.prefix or f.name}_{c}" for c in f.refers.bring]
    for f in feed.fields:
        if f.institution is None:
            continue
        allowed = (
            institutions
            if f.institution == "any"
            else institutions.filter(F.col("type") == "hospital")
        )
        hits = F.broadcast(
            allowed.select(F.col("institution_code").alias(f"_k_{f.name}")).distinct()
        )
        df = df.join(hits, codes.blank_to_null(F.col(f.name)) == F.col(f"_k_{f.name}"), "left")
        known.append(f"_k_{f.name}")
    typed = []
    for f in feed.fields:
        value, unreadable = _typed(f)
        typed += [codes.blank_to_null(F.col(f.name)).alias(f"_raw_{f.name}"), value.alias(f.name)]
        if unreadable is not None:
            typed.append(unreadable.alias(f"_bad_{f.name}"))
        if f.kind == "person":
            typed.append(
                codes.id_number_valid(codes.blank_to_null(F.col(f.name))).alias(f"_id_ok_{f.name}")
            )
    df = df.select(
        "source_file",
        "line",
        "text",
        "day",
        "unexpected_header",
        "malformed",
        codes.blank_to_null(F.col("record_id")).alias("record_id"),
        *known,
        *brought,
        *typed,
    )
    for d in feed.derived:
        # try_cast: a value too large for its type (a bad row, quarantined for its range)
        # is null, not an error that would stop the feed.
        df = df.withColumn(d.name, F.expr(f"try_cast({d.sql} AS {d.type})"))
    reasons: list[Column] = [
        F.when(F.col("unexpected_header"), F.lit("unexpected_header")),
        F.when(F.col("malformed"), F.lit("malformed_record")),
        F.when(F.col("record_id").isNull(), F.lit("missing_record_id")),
    ]
    for f in feed.fields:
        raw, value = F.col(f"_raw_{f.name}"), F.col(f.name)
        if f.required:
            reasons.append(F.when(raw.isNull(), F.lit(f"missing_{f.name}")))
        if f.kind in BAD_VALUE:
            reasons.append(F.when(F.col(f"_bad_{f.name}"), F.lit(BAD_VALUE[f.kind])))
        if f.values:
            reasons.append(
                F.when(raw.isNotNull() & ~raw.isin(*f.values), F.lit(f"invalid_{f.name}"))
            )
        if f.low is not None:
            reasons.append(
                F.when((value < f.low) | (value > f.high), F.lit(f"{f.name}_out_of_range"))
            )
        if f.kind == "person":
            applies = F.lit(True) if f.when is None else (F.col(f.when[0]) == f.when[1])
            reasons.append(
                F.when(
                    applies & raw.isNotNull() & ~F.col(f"_id_ok_{f.name}"),
                    F.lit("invalid_id_checksum"),
                )
            )
        if f.past:
            reasons.append(plausibility.in_future(value))
        if f.fee:
            reasons.append(plausibility.fee_out_of_range(value))
        if f.institution is not None:
            code = "unknown_hospital" if f.institution == "hospital" else "unknown_institution"
            reasons.append(F.when(raw.isNotNull() & F.col(f"_k_{f.name}").isNull(), F.lit(code)))
        if f.refers is not None:
            missing = raw.isNotNull() & F.col(f"_hit_{f.name}").isNull()
            reasons.append(F.when(missing, F.lit(f.refers.reason)))
    reasons += [F.when(F.expr(sql), F.lit(reason)) for reason, sql in feed.checks]
    return df.select(
        "record_id",
        "source_file",
        "line",
        "text",
        "day",
        *[f.name for f in feed.fields],
        *[d.name for d in feed.derived],
        codes.reason_array(*reasons).alias("reasons"),
    )


def to_silver(feed: Feed, rows: DataFrame, key: bytes) -> DataFrame:
    """Silver columns: ID numbers replaced by their person_key, dropped fields left out."""
    out = []
    for f in feed.fields:
        if not f.keep:
            continue
        if f.kind != "person":
            out.append(F.col(f.name))
            continue
        pseudonym = person_key(F.col(f.name), key)
        if f.when is None:
            out.append(pseudonym.alias("person_key"))
        else:
            column, value = f.when
            out.append(
                F.when(F.col(column) == value, pseudonym).otherwise(F.col(f.name)).alias(f.name)
            )
    out += [F.col(d.name) for d in feed.derived]
    # The trail promotion needs (versions.promote drops source_file before the write).
    trail = [c for c in (versions.VERSION, "source_file") if c in rows.columns]
    return rows.select("record_id", *out, *trail)


def _institutions(spark: SparkSession, cfg: Config) -> DataFrame:
    path = lake.table_path(cfg, "silver", "institutions")
    if lake.is_table(spark, path):
        return lake.read_version(spark, path).select("institution_code", "type")
    return spark.createDataFrame([], "institution_code string, type string")


def _lookups(spark: SparkSession, cfg: Config, feed: Feed) -> dict[str, DataFrame]:
    """The silver tables ``feed`` refers to, as they stand (the schedule runs it after them)."""
    out = {}
    for ref in feed.refs:
        path = lake.table_path(cfg, "silver", ref.table)
        if lake.is_table(spark, path):
            out[ref.table] = lake.read_version(spark, path)
    return out


def ingest(
    feed: Feed, spark: SparkSession, cfg: Config, files: list[LandedFile], run_id: str
) -> list[FileCounts]:
    key = cfg.hmac_key()
    institutions = _institutions(spark, cfg)
    lookups = _lookups(spark, cfg, feed)
    check = csv_check(files, feed.columns, lambda rows: conform(feed, rows, institutions, lookups))
    batch = land_and_check(
        spark,
        cfg,
        feed.source,
        record_lines(spark, files),
        files,
        run_id,
        check,
        content=[f.name for f in feed.fields],
    )
    names = [f.relative for f in files]
    if feed.mode == "snapshot":
        return versions.promote(
            spark,
            cfg,
            files,
            batch,
            source=feed.source,
            table=feed.table,
            newest_by=list(feed.key),
            merge_key=list(feed.key),
            to_silver=lambda rows: to_silver(feed, rows, key),
        )
    t0 = time.monotonic()
    with steps.step("ledger"):
        read, bad, dup = batch.counts()
    log.info("%s: counted, duplicates marked in %.1f s", feed.source, time.monotonic() - t0)
    silver = to_silver(feed, batch.clean.drop("text"), key)
    if feed.pseudonymises:
        # The HMAC is a Python UDF: run it once, for the gate and the write both.
        # Without it, silver is a projection of the staged batch, cheaper to read
        # twice than to write a third time (23 million fee lines).
        with steps.step("pseudonymise"):
            silver = stage(spark, cfg, silver, feed.source, "silver")
    t0 = time.monotonic()
    with steps.step("gate"):
        quality.gate(silver, "silver", feed.table, cfg.quality_root)
    log.info("%s: silver validated in %.1f s", feed.source, time.monotonic() - t0)
    t0 = time.monotonic()
    # Events are facts: a file's rows replace that file's rows (a re-sent file its own).
    with steps.step("merge"):
        replace_files(
            spark,
            silver,
            lake.table_path(cfg, "silver", feed.table),
            names,
            stats=("source_file", "record_id"),
        )
    log.info("%s: silver written in %.1f s", feed.source, time.monotonic() - t0)
    return [
        FileCounts(
            feed.source,
            f.relative,
            f.sha256,
            read.get(f.relative, 0),
            read.get(f.relative, 0) - bad.get(f.relative, 0) - dup.get(f.relative, 0),
            bad.get(f.relative, 0),
            dup.get(f.relative, 0),
            0,
        )
        for f in files
    ]
