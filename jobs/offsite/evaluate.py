"""The off-site checks against the generator's truth (evaluation only: reads ``_truth``).

Over every month whose statement is in silver, the same functions as the monthly
job find the statement differences (``missing_in_statement``, ``missing_in_ours``,
``amount_differs``, ``wrong_month``) and the filing-share breaks
(``above_filing_share``, ``below_filing_share``); the fraud rule
``treated_elsewhere_during_local_stay`` finds the persons treated elsewhere on a day
of a local stay (``same_day_local``); the year's destinations listed are scored
against ``expensive_destination``. Each kind against ``_truth/offsite_planted.csv``:
planted, found, recall, precision. These are exact checks: anything short of 1.0 is
a finding. The inbound stays without their counterpart in the lists are counted
apart, with how many of them have the stay's list record in quarantine (a list the
lake refused cannot be matched, and says so).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config
from jobs.fraud import rules
from jobs.offsite import destinations, policy, reconcile
from jobs.offsite import run as jobs_run
from jobs.offsite.scheme import DEFAULT_SCHEME, load_scheme
from jobs.pseudonymise import person_key_value
from jobs.terms import HOME_REGION

TRUTH = "offsite_planted.csv"
STATEMENT_KINDS = ("missing_in_statement", "missing_in_ours", "amount_differs", "wrong_month")
POLICY_KINDS = ("above_filing_share", "below_filing_share")
KINDS = (*STATEMENT_KINDS, *POLICY_KINDS, "same_day_local", "expensive_destination")
RULE = "treated_elsewhere_during_local_stay"


def score(planted: set, found: set) -> dict:
    hits = len(planted & found)
    return {
        "planted": len(planted),
        "found": len(found),
        "hits": hits,
        "recall": round(hits / len(planted), 4) if planted else None,
        "precision": round(hits / len(found), 4) if found else None,
    }


def evaluate(
    spark: SparkSession, cfg: Config, truth_dir: Path, scheme_version: str = DEFAULT_SCHEME
) -> dict:
    scheme = load_scheme(scheme_version)
    truth = pd.read_csv(truth_dir / TRUTH, dtype=str).fillna("")
    for table in jobs_run.SOURCES:
        jobs_run._need(spark, cfg, table)
    reads = lake.PinnedReads(spark, cfg)
    statements = reads.table("silver", "offsite_clearing_statements")
    lines = reads.table("silver", "offsite_statement_lines")
    ours = reconcile.our_settlements(reads.table("silver", "offsite_settlements")).cache()
    lists = jobs_run._lists(spark, cfg, reads)
    months = sorted(r[0] for r in statements.select("month").distinct().collect())
    found: dict[str, set] = {k: set() for k in KINDS}
    case_differences = []
    try:
        for label in months:
            for r in reconcile.statement_differences(ours, lines, label).collect():
                found.setdefault(r.kind, set()).add(r.settlement_id)  # cleared_twice: none planted
            case_differences += reconcile.case_differences(
                ours, lists, HOME_REGION, label
            ).collect()
        shares = policy.shares_frame(spark, scheme)
        for r in policy.policy_breaks(ours, shares, scheme.version).collect():
            found[r.kind].add(r.settlement_id)
        years = sorted({int(m[:4]) for m in months})
        for year in years:
            listed = destinations.destination_costs(ours, year, f"{year}-12", scheme)
            found["expensive_destination"] |= {
                r.institution_code for r in listed.filter("listed").collect()
            }
        rule = next(r for r in rules.load_rules() if r.name == RULE)
        tables = {
            "offsite_settlements": ours,
            "discharges": reads.table_or_empty(
                "silver",
                "discharges",
                "person_key string, hospital_code string, admission_date date, discharge_date date",
            ),
        }
        start, end = date(years[0], 1, 1), date(years[-1], 12, 31)
        found["same_day_local"] = {
            r.entity_id for r in rule.hits(spark, tables, start, end).collect()
        }
    finally:
        ours.unpersist()
    key = cfg.hmac_key()
    planted: dict[str, set] = {k: set() for k in KINDS}
    for r in truth.itertuples(index=False):
        if r.kind == "same_day_local":
            planted[r.kind].add(person_key_value(key, r.id_no))
        elif r.kind == "expensive_destination":
            planted[r.kind].add(r.institution_code)
        elif r.kind in planted:
            planted[r.kind].add(r.settlement_id)
    unmatched = [(c.kind, c.institution_code, c.case_id) for c in case_differences]
    quarantined = _quarantined_cases(spark, cfg, sorted({(i, c) for _, i, c in unmatched}))
    explained = sum((i, c) in quarantined for _, i, c in unmatched)
    return {
        "year": years[-1] if years else None,
        "run_id": reads.run_id("offsite-evaluation", scheme.version),
        "truth": str(truth_dir / TRUTH),
        "scheme_version": scheme.version,
        "months": months,
        "kinds": [{"kind": k, **score(planted[k], found[k])} for k in KINDS],
        # Differences of a kind the generator never plants: each one a false difference.
        "unplanted": {k: len(v) for k, v in sorted(found.items()) if k not in KINDS},
        "case_differences": len(unmatched),
        "case_differences_list_quarantined": explained,
        "input_versions": reads.versions,
    }


def _quarantined_cases(
    spark: SparkSession, cfg: Config, cases: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Those of ``cases`` (hospital, case id) with a settlement-list record in quarantine
    (found in the raw line: a quarantined record's case id may be unreadable)."""
    path = lake.table_path(cfg, "quarantine", "settlement_lists")
    if not cases or not lake.is_table(spark, path):
        return set()
    q = lake.read_version(spark, path).select("raw")
    found = set()
    for hospital, case in cases:
        if q.filter(F.col("raw").contains(case) & F.col("raw").contains(hospital)).limit(1).count():
            found.add((hospital, case))
    return found
