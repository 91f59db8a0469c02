"""The DIP year's report facts: the month's proposal, the assessment, the review round.

Each function reads the gold rows its job just wrote, draws its plot and writes
``reports/<id>/report.json`` (:func:`jobs.site.write_report`); the pages are
rendered by ``diplake reports build`` (jobs/dip/pages.py).

* ``proposal-<Y>-<MM>``: each hospital's proposal of the month, and the estimated
  point value month by month (plot ``pv_est.png``);
* ``assessment-<Y>``: every hospital's score, coefficient and deductions;
* ``review-<Y>``: the rounds, the candidates by status, each case's outcome, and,
  where the generator's truth lies beside the landing zone (evaluation only), the
  share of padded cases rejected and of complex cases approved.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake, site
from jobs.config import Config


def _plot_pv(out: Path, year: int, months: list[tuple[int, Decimal]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot([m for m, _ in months], [float(v) for _, v in months], marker="o", color="#4477aa")
    ax.set(
        title=f"Estimated point value, {year}, month by month (yuan per point)",
        xlabel="month",
        ylabel="yuan per point",
        xticks=range(1, 13),
        xlim=(0.5, 12.5),
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "pv_est.png", dpi=110)
    plt.close(fig)


def proposal(spark: SparkSession, cfg: Config, year: int, month: int) -> Path:
    """``reports/proposal-<Y>-<MM>/``; returns its page's path."""
    table = lake.read_version(spark, lake.table_path(cfg, "gold", "dip_prepayment_proposals"))
    rows = table.filter(F.col("year") == year).orderBy("month", "hospital_code").collect()
    this = [r for r in rows if r.month == month]
    by_month = sorted({(r.month, r.pv_est) for r in rows})
    out = cfg.reports / f"proposal-{year}-{month:02d}"
    out.mkdir(parents=True, exist_ok=True)
    _plot_pv(out, year, by_month)
    first = this[0]
    site.write_report(
        out,
        kind="prepayment_proposal",
        title=f"DIP pre-settlement {year}-{month:02d}",
        year=year,
        month=month,
        run_id=first.run_id,
        status="advice",
        reads=json.loads(first.input_versions),
        data={
            "budget": first.budget,
            "deposit_rate": first.deposit_rate,
            "pv_est": first.pv_est,
            "proposed": sum((r.proposed for r in this), Decimal("0.00")),
            "deposit": sum((r.deposit for r in this), Decimal("0.00")),
            "ytd_gross": sum((r.ytd_gross for r in this), Decimal("0.00")),
            "months": [{"month": m, "pv_est": v} for m, v in by_month],
            "hospitals": [
                {
                    k: getattr(r, k)
                    for k in (
                        "hospital_code",
                        "ytd_points",
                        "ytd_gross",
                        "deposit",
                        "prepaid_to_date",
                        "proposed",
                    )
                }
                for r in this
            ],
        },
    )
    return out / site.HOME


def assessment(spark: SparkSession, cfg: Config, year: int) -> Path:
    """``reports/assessment-<Y>/``; returns its page's path."""
    rows = (
        lake.read_version(spark, lake.table_path(cfg, "gold", "dip_assessment"))
        .filter(F.col("year") == year)
        .orderBy("score", "hospital_code")
        .collect()
    )
    out = cfg.reports / f"assessment-{year}"
    out.mkdir(parents=True, exist_ok=True)
    by_indicator: dict[str, int] = {}
    for r in rows:
        for d in r.deductions:
            by_indicator[d.indicator] = by_indicator.get(d.indicator, 0) + 1
    site.write_report(
        out,
        kind="assessment",
        title=f"DIP assessment {year}",
        year=year,
        run_id=rows[0].run_id,
        status="final",
        reads=json.loads(rows[0].input_versions),
        data={
            "scheme_version": rows[0].scheme_version,
            "by_indicator": dict(sorted(by_indicator.items())),
            "hospitals": [
                {
                    "hospital_code": r.hospital_code,
                    "level": r.level,
                    "score": r.score,
                    "coefficient": r.coefficient,
                    "deductions": [
                        {
                            "indicator": d.indicator,
                            "value": d.value,
                            "threshold": d.threshold,
                            "points": d.points,
                        }
                        for d in r.deductions
                    ],
                }
                for r in rows
            ],
        },
    )
    return out / site.HOME


def _truth(cfg: Config) -> dict[str, str]:
    """case_id -> complex | padded, where the generator's truth is (evaluation only)."""
    path = cfg.landing / "_truth" / "special_review_cases.csv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as f:
        return {r["case_id"]: r["nature"] for r in csv.DictReader(f)}


def evaluate(outcomes: list[dict], truth: dict[str, str]) -> dict:
    """Share of the decided padded cases rejected and of the complex ones approved."""
    out = {}
    for nature, wanted in (("padded", False), ("complex", True)):
        decided = [o for o in outcomes if truth.get(o["case_id"]) == nature]
        right = sum(1 for o in decided if (o["passed"] == "passed") == wanted)
        out[nature] = {
            "cases": len(decided),
            "right": right,
            "share": right / len(decided) if decided else None,
        }
    return out


def review(spark: SparkSession, cfg: Config, year: int) -> Path:
    """``reports/review-<Y>/`` (beside the rounds' sheets); returns its page's path."""
    candidates = (
        lake.read_version(spark, lake.table_path(cfg, "gold", "special_review_candidates"))
        .filter(F.col("year") == year)
        .orderBy("round", "status", "case_id")
        .collect()
    )
    outcomes = [
        r.asDict()
        for r in lake.read_version(spark, lake.table_path(cfg, "gold", "special_review_outcomes"))
        .filter(F.col("year") == year)
        .orderBy("case_id")
        .collect()
    ]
    out = cfg.reports / f"review-{year}"
    out.mkdir(parents=True, exist_ok=True)
    rounds: dict[str, dict[str, int]] = {}
    for c in candidates:
        rounds.setdefault(c["round"], {}).setdefault(c.status, 0)
        rounds[c["round"]][c.status] += 1
    sheets = sorted(p.name for p in out.glob("assignments-*.csv"))
    truth = _truth(cfg)
    site.write_report(
        out,
        kind="special_review",
        title=f"Special-case review {year}",
        year=year,
        run_id=outcomes[0]["run_id"] if outcomes else f"review-{year}",
        status="final",
        reads=json.loads(outcomes[0]["input_versions"]) if outcomes else {},
        data={
            "rounds": [{"round": k, **v} for k, v in sorted(rounds.items())],
            "sheets": sheets,
            "not_drawn": [
                {
                    "case_id": c.case_id,
                    "hospital_code": c.hospital_code,
                    "source": c.source,
                    "status": c.status,
                    "reason": c.reason,
                }
                for c in candidates
                if c.status != "assigned"
            ],
            "outcomes": [
                {
                    k: o[k]
                    for k in (
                        "case_id",
                        "hospital_code",
                        "approvals",
                        "passed",
                        "median_approved_cost",
                        "total_cost",
                        "points",
                        "review_points",
                    )
                }
                for o in outcomes
            ],
            "evaluation": evaluate(outcomes, truth) if truth else None,
        },
    )
    return out / site.HOME
