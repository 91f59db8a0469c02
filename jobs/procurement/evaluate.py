"""The procurement checks against the generator's truth (evaluation only: reads ``_truth``).

Over every month of silver, the same functions as the monthly and yearly jobs find:
``steering`` (a contract behind schedule at its year's end with more than
``max_non_winner`` of its quantity from non-winning products), hospitals' yellow and
red price lights (``price_yellow``; ``winner_above_winning_price``: a winning product
bought above its winning price but within ``yellow_max``; ``price_red``: any other red),
shops' red lights (``pharmacy_price_red``), and deliveries paid late or never
(``payment_late``, ``payment_missing``, as of the last payment in silver). Each class
is scored against ``_truth/procurement_anomalies.csv``: planted, found, recall,
precision. The checks are deterministic, so anything short of 1.0 is a finding.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.procurement import completion, lights, settlement
from jobs.procurement import run as jobs_run
from jobs.procurement.scheme import DEFAULT_SCHEME, Scheme, load_scheme

TRUTH = "procurement_anomalies.csv"
CLASSES = (
    "steering",
    "price_yellow",
    "price_red",
    "winner_above_winning_price",
    "pharmacy_price_red",
    "payment_late",
    "payment_missing",
)
KEYS = {  # class -> the truth columns that name one anomaly
    "steering": ("contract_year", "institution_code", "group_id"),
    "price_yellow": ("month", "institution_code", "product_code"),
    "price_red": ("month", "institution_code", "product_code"),
    "winner_above_winning_price": ("month", "institution_code", "product_code"),
    "pharmacy_price_red": ("month", "institution_code", "product_code"),
    "payment_late": ("delivery_id",),
    "payment_missing": ("delivery_id",),
}


def truth_sets(truth: pd.DataFrame) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = {c: set() for c in CLASSES}
    for kind, rows in truth.groupby("kind"):
        if kind in KEYS:
            out[kind] = {tuple(str(v) for v in r) for r in rows[list(KEYS[kind])].to_numpy()}
    return out


def light_class(is_hospital: bool, light: str, reason: str | None, ratio, scheme: Scheme) -> str:
    """The class a non-green light belongs to ('' for a shop's yellow: no class plants it)."""
    if not is_hospital:
        return "pharmacy_price_red" if light == "red" else ""
    if light == "yellow":
        return "price_yellow"
    if reason == "above_winning_price" and ratio <= scheme.yellow_max:
        return "winner_above_winning_price"
    return "price_red"


def score(found: dict[str, set[tuple]], planted: dict[str, set[tuple]]) -> list[dict]:
    """Per class: planted, found, hits, recall and precision (None where undefined)."""
    rows = []
    for c in CLASSES:
        hits = len(found.get(c, set()) & planted[c])
        n_found, n_planted = len(found.get(c, set())), len(planted[c])
        rows.append(
            {
                "class": c,
                "planted": n_planted,
                "found": n_found,
                "hits": hits,
                "recall": round(hits / n_planted, 4) if n_planted else None,
                "precision": round(hits / n_found, 4) if n_found else None,
            }
        )
    return rows


def found_in_lake(
    spark: SparkSession, cfg: Config, reads: lake.PinnedReads, scheme: Scheme
) -> dict[str, set[tuple]]:
    got = jobs_run.receipts(reads).cache()
    try:
        return _found(spark, cfg, reads, scheme, got)
    finally:
        got.unpersist()


def _found(
    spark: SparkSession, cfg: Config, reads: lake.PinnedReads, scheme: Scheme, got
) -> dict[str, set[tuple]]:
    found: dict[str, set[tuple]] = {c: set() for c in CLASSES}
    agreements = reads.table("silver", "vbp_agreements")
    for (year,) in agreements.select("contract_year").distinct().collect():
        contracts = agreements.filter(F.col("contract_year") == year)
        end = contracts.agg(F.max("contract_end")).first()[0]
        behind = completion.completion(contracts, got, end, scheme).filter(
            (F.col("light") != "green") & (F.col("non_winner_share") > F.lit(scheme.max_non_winner))
        )
        found["steering"] |= {
            (str(r.contract_year), r.hospital_code, r.group_id) for r in behind.collect()
        }
    hospitals = {
        r.institution_code
        for r in reads.table("silver", "institutions").filter(F.col("type") == "hospital").collect()
    }
    every = jobs_run.purchases(spark, cfg, reads)
    lit = lights.price_lights(every, jobs_run.catalogue(reads), scheme)
    for r in lit.filter(F.col("light") != "green").collect():
        c = light_class(r.institution_code in hospitals, r.light, r.reason, r.ratio, scheme)
        if c:
            found[c].add((r.month, r.institution_code, r.product_code))
    payments = jobs_run.payments_made(spark, cfg, reads)
    last = payments.agg(F.max("paid_on")).first()[0]
    if last is not None:
        status = settlement.delivery_status(jobs_run.dues(got), payments, last, scheme)
        # Only the deliveries that are late or unpaid come to the driver.
        late = status.filter(F.col("paid_late") > 0)
        missing = status.filter(
            (F.col("overdue") > 0) & (F.col("paid_on_time") == 0) & (F.col("paid_late") == 0)
        )
        found["payment_late"] = {(r.delivery_id,) for r in late.select("delivery_id").collect()}
        found["payment_missing"] = {
            (r.delivery_id,) for r in missing.select("delivery_id").collect()
        }
    return found


def evaluate(
    spark: SparkSession, cfg: Config, truth_dir: Path, scheme_version: str = DEFAULT_SCHEME
) -> dict:
    path = truth_dir / TRUTH
    if not path.is_file():
        raise jobs_run.ProcurementRefused(f"no {TRUTH} in {truth_dir}: generate the city first")
    truth = pd.read_csv(path, dtype=str).fillna("")
    scheme = load_scheme(scheme_version)
    reads = lake.PinnedReads(spark, cfg)
    classes = score(found_in_lake(spark, cfg, reads, scheme), truth_sets(truth))
    years = [int(y) for y in truth.contract_year if y] or [0]
    return {
        "year": max(years),
        "run_id": reads.run_id("procurement-evaluation", scheme.version),
        "truth": str(path),
        "scheme_version": scheme.version,
        "classes": classes,
        "input_versions": reads.versions,
    }
