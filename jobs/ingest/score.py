"""``diplake ingest-score``: the lake's outcome against the generator's ``_truth/defects.csv``.

    diplake ingest-score [--landing DIR] [--lake DIR] [--json FILE]

Evaluation only (the pipeline never reads ``_truth``). Per injected defect:

* ``quarantine``: the record is in ``quarantine/<source>`` with a reason that
  names the defect (:data:`REASON_FOR`);
* ``correct``: the record reached silver (settlement lists: by ``record_id``);
* ``dedupe``: it added no row: its key has at most one silver row;
* ``reject_file``: the file is in ``ops/file_rejections`` with the defect as its reason.

And the false alarms: quarantined records that the truth calls clean, over all
clean records read.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.ingest.feeds import FEEDS

# defect -> the quarantine reason that names it (None: any ``missing_*`` reason)
REASON_FOR = {
    "truncated_record": "malformed_record",
    "missing_field": None,
    "icd10_cm_code": "unknown_diagnosis_code",
    "non_positive_quantity": "qty_out_of_range",
}
# source -> the silver table and the key that one record adds a row under
SILVER_KEY = {
    "settlement_lists": ("discharges", "case_id"),
    "insured_registry": ("insured_persons", None),
    "institutions": ("institutions", "institution_code"),
    **{s: (f.table, f.key[0] if len(f.key) == 1 else None) for s, f in FEEDS.items()},
}


def _reason_ok(defect: str, reasons: list[str]) -> bool:
    want = REASON_FOR.get(defect, defect)
    if want is None:
        return any(r.startswith("missing_") for r in reasons)
    return want in reasons


def run(spark: SparkSession, cfg: Config) -> dict:
    truth = pd.read_csv(cfg.landing / "_truth" / "defects.csv", dtype=str, keep_default_na=False)
    truth["line"] = truth.line.astype(int)
    per_defect: dict[str, dict[str, int]] = {}
    clean_read = falsely_quarantined = 0
    rejections_path = lake.table_path(cfg, "ops", "file_rejections")
    rejected_files = {}
    if lake.is_table(spark, rejections_path):
        rows = lake.read_version(spark, rejections_path).select("source_file", "reason").collect()
        rejected_files = {r.source_file: r.reason for r in rows}
    for source in sorted(set(truth.source) | set(SILVER_KEY)):
        bronze_path = lake.table_path(cfg, "bronze", source)
        if not lake.is_table(spark, bronze_path):
            continue
        q = (
            lake.read_version(spark, lake.table_path(cfg, "quarantine", source))
            .select("source_file", "line", "reasons")
            .toPandas()
        )
        quarantined = {(r.source_file, r.line): list(r.reasons) for r in q.itertuples()}
        mine = truth[truth.source == source]
        records = mine[mine.expected != "reject_file"]
        expected_q = set(zip(records.source_file, records.line, strict=True))
        read = lake.read_version(spark, bronze_path).count()
        clean_read += read - len(expected_q)
        falsely_quarantined += sum(1 for k in quarantined if k not in expected_q)
        if mine.empty:
            continue
        silver_rows = _silver_rows(spark, cfg, source, mine)
        promoted = _promoted_ids(spark, cfg, source, mine)
        for row in mine.itertuples():
            where = (row.source_file, row.line)
            if row.expected == "reject_file":
                ok = rejected_files.get(row.source_file) == row.defect
            elif row.expected == "quarantine":
                ok = where in quarantined and _reason_ok(row.defect, quarantined[where])
            elif row.expected == "correct":
                ok = where not in quarantined and row.record_id in promoted
            else:  # dedupe: it adds no row (quarantined for another reason adds none either)
                ok = silver_rows.get(row.record_id, 1) <= 1
            tally = per_defect.setdefault(f"{source}:{row.defect}", {"injected": 0, "handled": 0})
            tally["injected"] += 1
            tally["handled"] += int(ok)
    injected = sum(t["injected"] for t in per_defect.values())
    handled = sum(t["handled"] for t in per_defect.values())
    return {
        "defects_injected": injected,
        "defects_handled": handled,
        "defect_recall": handled / injected if injected else 1.0,
        "clean_records": clean_read,
        "clean_quarantined": falsely_quarantined,
        "clean_quarantine_rate": falsely_quarantined / clean_read if clean_read else 0.0,
        "per_defect": per_defect,
    }


def _promoted_ids(spark: SparkSession, cfg: Config, source: str, mine: pd.DataFrame) -> set:
    table = SILVER_KEY.get(source, (None, None))[0]
    path = lake.table_path(cfg, "silver", table) if table else None
    if path is None or not lake.is_table(spark, path):
        return set()
    silver = lake.read_version(spark, path)
    if "record_id" not in silver.columns:
        return set()
    wanted = mine.record_id[mine.expected == "correct"].unique().tolist()
    if not wanted:
        return set()
    hits = silver.filter(F.col("record_id").isin(wanted)).select("record_id").collect()
    return {r.record_id for r in hits}


def _silver_rows(spark: SparkSession, cfg: Config, source: str, mine: pd.DataFrame) -> dict:
    """record_id -> how many silver rows its key has (only for the truth's records)."""
    table, key = SILVER_KEY.get(source, (None, None))
    path = lake.table_path(cfg, "silver", table) if table else None
    if key is None or path is None or not lake.is_table(spark, path):
        return {}
    ids = spark.createDataFrame(pd.DataFrame({"record_id": mine.record_id.unique()}))
    bronze = lake.read_version(spark, lake.table_path(cfg, "bronze", source))
    if key not in bronze.columns:
        return {}
    keys = bronze.join(ids, "record_id").select("record_id", key).distinct()
    counts = lake.read_version(spark, path).groupBy(key).agg(F.count("*").alias("n"))
    got = keys.join(counts, key, "left").select("record_id", F.coalesce("n", F.lit(0)).alias("n"))
    return {r.record_id: r.n for r in got.collect()}
