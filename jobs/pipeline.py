"""Every step of the lake, once: what a ``diplake`` subcommand and a DAG task both call.

A step takes its parameters and, optionally, a :class:`Config` (without one it
reads ``DIPLAKE_*``, as a DAG task does), starts or reuses the one
SparkSession, runs the wing's ``run`` (read, compute, write) and returns a
small JSON-able summary: Airflow keeps it as the task's return value, the
command line prints it (jobs/cli.py). The two doors differ only in that.

A wing's code is imported inside its step, so importing this module (as the DAG
tasks and ``diplake`` do) starts no JVM and loads no pyspark.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from jobs import config
from jobs.config import Config
from jobs.terms import (  # noqa: F401  (the DAG forms' choices)
    ASSESSMENT_SCHEME,
    ASSESSMENT_SOURCES,
    LEVEL_METHODS,
    OFFSITE_SCHEME,
    PROCUREMENT_SCHEME,
    PV_METHODS,
)

if TYPE_CHECKING:
    from jobs.generate.knobs import Knobs


def _session(cfg: Config | None, name: str, preload: bool = True):
    """The settings and the SparkSession of a step (``preload``: the suites' GX first)."""
    from jobs import quality
    from jobs.spark import get_spark

    cfg = cfg or config.load()
    return cfg, get_spark(cfg, f"dip-lake {name}", preload=quality.PRELOAD if preload else ())


# --- the outside world and the ingest ------------------------------------------------


def generate(knobs: Knobs, cfg: Config | None = None, progress: bool = True) -> dict:
    """A synthetic city's feeds, written into the landing zone (``knobs``: Knobs)."""
    from jobs.generate import run as generator

    cfg = cfg or config.load()
    return generator.run(cfg.landing, knobs, progress=progress)


# A ledger row's counts: records_read = to_silver + quarantined + duplicates + superseded.
INGEST_COUNTS = ("records_read", "to_silver", "quarantined", "duplicates", "superseded")


def silver_tables() -> tuple[str, ...]:
    """The silver tables the ingest writes (the DAGs' Assets; plain data, no Spark)."""
    from jobs.ingest.feeds import SILVER_TABLES

    return SILVER_TABLES


def ingest(run_date: str | None = None, cfg: Config | None = None) -> dict:
    """Every new landed file up to ``run_date`` (default today); later folders are held."""
    from jobs.ingest import run as ingest_run

    cfg = cfg or config.load()
    cfg.hmac_key()  # before a JVM starts: without a key nothing can be pseudonymised
    cfg, spark = _session(cfg, "ingest")
    report = ingest_run.run(spark, cfg, run_date)
    held = sorted({f.day for f in report.held})
    return {
        "run_date": report.run_date,
        "sources": report.by_source(),
        "rejected_files": {f.relative: f.problem for f in report.rejected},
        "held_files": len(report.held),
        "held_days": [held[0], held[-1]] if held else [],
        "seconds": report.seconds,
    }


def ingest_score(cfg: Config | None = None) -> dict:
    """The lake against the generator's ``_truth/defects.csv`` (evaluation only)."""
    from jobs.ingest import score

    cfg, spark = _session(cfg, "ingest-score", preload=False)
    return score.run(spark, cfg)


# --- the DIP wing -----------------------------------------------------------------


def catalogue(
    year: int,
    threshold: int | None = None,
    weights: tuple[int, int, int] | None = None,
    rw_scale: int | None = None,
    cfg: Config | None = None,
    level_method: str | None = None,
    auxiliary: bool | None = None,
) -> dict:
    """The DIP catalogue and level coefficients of ``year`` from its three base years,
    and with ``auxiliary`` its auxiliary catalogue (SPEC 9.4).

    A parameter left None takes the catalogue's own default (``dip.catalogue.Params``).
    """
    from jobs.dip import catalogue as dip_catalogue

    cfg, spark = _session(cfg, f"catalogue {year}")
    given = {
        "threshold": threshold,
        "weights": weights,
        "rw_scale": rw_scale,
        "level_method": level_method,
        "auxiliary": auxiliary,
    }
    params = dip_catalogue.Params(year, **{k: v for k, v in given.items() if v is not None})
    return dip_catalogue.run(spark, cfg, params)


def points(year: int, with_report: bool = True, cfg: Config | None = None) -> dict:
    """Case points of ``year``; with the catalogue report (plots) unless told not to."""
    from jobs.dip import points as dip_points

    cfg, spark = _session(cfg, f"points {year}")
    summary = dip_points.run(spark, cfg, year)
    if with_report:
        summary["report"] = catalogue_report(year, cfg)["report"]
    return summary


def catalogue_report(year: int, cfg: Config | None = None) -> dict:
    """``reports/catalogue-<year>/``: the catalogue's and the points' plots and tables."""
    from jobs.dip import report

    cfg, spark = _session(cfg, f"catalogue report {year}", preload=False)
    return {"report": str(report.run(spark, cfg, year) / "index.html")}


def clearing_draft(
    year: int,
    budget: str | Decimal,
    pv_method: str = "ratio",
    dry_run: bool = False,
    cfg: Config | None = None,
    assessment: str = "feed",
) -> dict:
    """The year-end clearing of ``year``, saved as a draft with its statements.

    ``assessment``: ``feed`` takes A from silver/assessment_scores only; ``computed``
    falls back to gold/dip_assessment for a hospital the feed has no row for.

    ``budget`` is the fund's DIP budget in yuan, as text or Decimal (never a float:
    it is parsed exactly, at most two decimals).
    """
    from jobs.clearing import run as clearing
    from jobs.clearing import statements

    cfg, spark = _session(cfg, f"clearing {year}")
    run_id, result = clearing.run(spark, cfg, year, budget, pv_method, dry_run, assessment)
    return {
        "run_id": run_id,
        "summary": clearing.summary_text(run_id, year, result),
        "statements": str(statements.folder(cfg, run_id) / "index.html") if run_id else None,
    }


def dip_indicators(year: int, scheme: str | None = None, cfg: Config | None = None) -> dict:
    """``gold/dip_hospital_indicators`` of ``year`` (SPEC 9.2), over the cases scored so far."""
    from jobs.dip import assessment
    from jobs.dip import year as dip_year

    cfg, spark = _session(cfg, f"indicators {year}")
    return dip_year.indicators_run(spark, cfg, year, scheme or assessment.DEFAULT_SCHEME)


def dip_proposal(year: int, month: int, cfg: Config | None = None) -> dict:
    """``gold/dip_prepayment_proposals`` of ``year``-``month`` (SPEC 9.1), with its report."""
    from jobs.dip import year as dip_year
    from jobs.dip import year_report

    cfg, spark = _session(cfg, f"proposal {year}-{month:02d}")
    summary = dip_year.proposal_run(spark, cfg, year, month)
    summary["report"] = str(year_report.proposal(spark, cfg, year, month))
    return summary


def dip_month(year: int, month: int, cfg: Config | None = None) -> dict:
    """The monthly run in one session: the year's points so far, the indicators, the
    month's proposal (what ``dip_points_monthly`` runs as three tasks; the bench times it)."""
    cfg = cfg or config.load()
    return {  # the three steps themselves, in the one SparkSession they share
        "points": points(year, False, cfg),
        "indicators": dip_indicators(year, None, cfg),
        "proposal": dip_proposal(year, month, cfg),
    }


def dip_assess(year: int, scheme: str | None = None, cfg: Config | None = None) -> dict:
    """``gold/dip_assessment`` of ``year`` (SPEC 9.3) from its indicators, with its report."""
    from jobs.dip import assessment, year_report
    from jobs.dip import year as dip_year

    cfg, spark = _session(cfg, f"assessment {year}")
    summary = dip_year.assessment_run(spark, cfg, year, scheme or assessment.DEFAULT_SCHEME)
    summary["report"] = str(year_report.assessment(spark, cfg, year))
    return summary


def review_assign(
    year: int | None = None,
    on: date | None = None,
    seed: int | None = None,
    cfg: Config | None = None,
) -> dict:
    """Draw a round of special-case review for ``year`` (SPEC 9.5) and write its sheet;
    ``year`` None: the newest year with case points (a run triggered by new points)."""
    from jobs.dip import special_review

    cfg, spark = _session(cfg, f"review assign {year or 'newest year'}")
    if year is None:
        year = special_review.newest_year(spark, cfg)
    return special_review.assign(spark, cfg, year, on, seed)


def review_apply(year: int | None = None, cfg: Config | None = None) -> dict:
    """Decide the assigned cases of ``year`` from the decisions received; with its report.

    ``year`` None (a run triggered by decisions arriving): every year with a drawn round,
    so that last year's decisions arriving in the new year are applied to last year.
    """
    from jobs.dip import special_review, year_report

    cfg, spark = _session(cfg, f"review apply {year or 'every year drawn'}")
    if year is None:
        return {
            "years": {
                drawn: review_apply(drawn, cfg) for drawn in special_review.drawn_years(spark, cfg)
            }
        }
    summary = special_review.apply(spark, cfg, year)
    summary["report"] = str(year_report.review(spark, cfg, year))
    return summary


def review_show(year: int, cfg: Config | None = None) -> dict:
    from jobs.dip import special_review

    cfg, spark = _session(cfg, f"review show {year}", preload=False)
    return special_review.show(spark, cfg, year)


def answer_review_sheet(sheet: Path, day: str, cfg: Config | None = None) -> dict:
    """The generator's experts answer an assignment sheet: decisions land for ``day``."""
    import pandas as pd

    from jobs.generate import review as simulated

    cfg = cfg or config.load()
    frame = pd.read_csv(sheet, dtype=str)
    frame["round"] = frame["round"].astype(str)
    return simulated.answer(
        frame, cfg.landing, day, seed=len(frame), truth_dir=cfg.landing / "_truth"
    )


def clearing_publish(run_id: str, reason: str | None = None, cfg: Config | None = None) -> str:
    """Make a draft final; a second publication for a year needs a reason."""
    from jobs.clearing import run as clearing

    cfg, spark = _session(cfg, "clearing publish", preload=False)
    return clearing.publish(spark, cfg, run_id, reason)


def clearing_runs(year: int | None = None, cfg: Config | None = None) -> str:
    """The clearing runs (of ``year``), as a table to print."""
    from jobs.clearing import run as clearing

    cfg, spark = _session(cfg, "clearing show", preload=False)
    return clearing.show(spark, cfg, year)


def monitoring(year: int, cfg: Config | None = None) -> dict:
    """``gold/hospital_monitoring`` of ``year``: indicators and review flags per hospital."""
    from jobs.clearing import monitoring as hospital_monitoring

    cfg, spark = _session(cfg, f"monitoring {year}", preload=False)
    columns = ("hospital_code", "level", "case_mix_index", "cost_growth")
    rows = (  # one row per hospital: read once, counted and filtered here
        hospital_monitoring.run(spark, cfg, year)
        .select(*columns, "review_flag")
        .orderBy("hospital_code")
        .collect()
    )
    return {
        "year": year,
        "hospitals": len(rows),
        "flagged": [{c: _plain(r[c]) for c in columns} for r in rows if r.review_flag],
    }


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


# --- the fraud wing ---------------------------------------------------------------


def fraud_rules() -> list[dict]:
    """The rule base, one row per rule (no Spark)."""
    from jobs.fraud.rules import rules_table

    return rules_table().to_dict(orient="records")


def fraud_features(year: int, cfg: Config | None = None) -> dict:
    """``gold/fraud_features_{case,provider,person,doctor,case_fees}`` of ``year``."""
    from jobs.fraud import feature_tables

    cfg, spark = _session(cfg, f"fraud features {year}", preload=False)
    return feature_tables.run(spark, cfg, year)


def fraud_train(
    year: int, levels: tuple[str, ...] | None = None, cfg: Config | None = None
) -> list[dict]:
    """Fit the models on ``year``-1, judge them on ``year``, register, move the champion."""
    from jobs.fraud import train

    cfg, spark = _session(cfg, f"fraud train {year}", preload=False)
    return train.run(spark, cfg, year, tuple(levels or train.LEVELS))


def fraud_score(
    year: int | None = None,
    case_budget: int | None = None,
    provider_budget: int | None = None,
    cfg: Config | None = None,
) -> dict:
    """Rules and champion models over ``year`` (default: the newest discharge year); the
    model alerts' counts default to the inspection budget's shares (jobs/fraud/budget.py)."""
    from jobs.fraud import score

    cfg, spark = _session(cfg, f"fraud score {year or 'newest year'}")
    if year is None:
        year = score.newest_year(spark, cfg)
    return score.run(spark, cfg, year, case_budget, provider_budget)


def fraud_evaluate(year: int, truth: Path | None = None, cfg: Config | None = None) -> dict:
    """The year's alerts against the planted truth (default ``<landing>/_truth``)."""
    from jobs import Refused
    from jobs.fraud import evaluate

    cfg = cfg or config.load()
    truth = truth or cfg.landing / "_truth"
    if not (truth / "fraud_labels.csv").is_file():
        raise Refused(f"no fraud_labels.csv in {truth}")
    cfg, spark = _session(cfg, f"fraud evaluate {year}", preload=False)
    return evaluate.run(spark, cfg, year, truth)


# --- the procurement wing (SPEC 10) -------------------------------------------------


def procurement_month(
    year: int | None = None,
    month: int | None = None,
    scheme: str | None = None,
    cfg: Config | None = None,
) -> dict:
    """Completion, price lights and distributor settlement as of month M's last day, and
    ``reports/procurement-<Y>-<MM>/``; without a month, the newest month with orders."""
    from jobs.procurement import report
    from jobs.procurement import run as procurement

    cfg, spark = _session(cfg, f"procurement {year or ''}-{month or ''}")
    if year is None or month is None:
        year, month = procurement.newest_month(spark, cfg)
    summary = procurement.monthly_run(spark, cfg, year, month, scheme or PROCUREMENT_SCHEME)
    return summary | report.month(spark, cfg, summary)


def procurement_retention(year: int, scheme: str | None = None, cfg: Config | None = None) -> dict:
    """``gold/vbp_surplus_retention`` of the contracts of ``year``; ``reports/retention-<Y>/``."""
    from jobs.procurement import report
    from jobs.procurement import run as procurement

    cfg, spark = _session(cfg, f"procurement retention {year}")
    summary = procurement.retention_run(spark, cfg, year, scheme or PROCUREMENT_SCHEME)
    summary["report"] = str(report.retention(spark, cfg, summary))
    return summary


def procurement_evaluate(truth: Path | None = None, cfg: Config | None = None) -> dict:
    """The procurement checks against the planted truth (default ``<landing>/_truth``)."""
    from jobs.procurement import evaluate, report

    cfg = cfg or config.load()
    cfg, spark = _session(cfg, "procurement evaluate", preload=False)
    result = evaluate.evaluate(spark, cfg, truth or cfg.landing / "_truth")
    result["report"] = str(report.evaluation(cfg, result, result["input_versions"]))
    return result


# --- the off-site wing (SPEC 12) ----------------------------------------------------


def offsite_month(
    year: int | None = None,
    month: int | None = None,
    scheme: str | None = None,
    cfg: Config | None = None,
) -> dict:
    """The month's reconciliation with the platform's statement, its differences, the
    filing-share breaks and the destinations, and ``reports/offsite-<Y>-<MM>/``; without a
    month, the newest month whose statement is in silver."""
    from jobs.offsite import report
    from jobs.offsite import run as offsite

    cfg, spark = _session(cfg, f"offsite {year or ''}-{month or ''}")
    if year is None or month is None:
        year, month = offsite.newest_statement(spark, cfg)
    summary = offsite.monthly_run(spark, cfg, year, month, scheme or OFFSITE_SCHEME)
    return summary | report.month(spark, cfg, summary)


def offsite_evaluate(truth: Path | None = None, cfg: Config | None = None) -> dict:
    """The off-site checks against the planted truth (default ``<landing>/_truth``)."""
    from jobs.offsite import evaluate, report

    cfg = cfg or config.load()
    cfg, spark = _session(cfg, "offsite evaluate", preload=False)
    result = evaluate.evaluate(spark, cfg, truth or cfg.landing / "_truth")
    result["report"] = str(report.evaluation(cfg, result, result["input_versions"]))
    return result


# --- the reports site -------------------------------------------------------------


def reports_build(cfg: Config | None = None) -> dict:
    """Render the reports site (jobs/site.py): every report folder's pages from its facts,
    the home page by year and month, the data-quality page, the Data Docs beside them,
    and a link check of the whole site. No Spark: the last task of every reporting DAG."""
    from jobs import quality, site

    # Each wing's page module registers the page functions of its report kinds.
    from jobs.clearing import pages as _clearing  # noqa: F401
    from jobs.dip import pages as _dip  # noqa: F401
    from jobs.fraud import pages as _fraud  # noqa: F401
    from jobs.ingest import pages as _ingest  # noqa: F401
    from jobs.offsite import pages as _offsite  # noqa: F401
    from jobs.procurement import pages as _procurement  # noqa: F401

    cfg = cfg or config.load()
    return site.build(cfg.reports, quality.docs_index(cfg.quality_root).parent)


# --- lake-wide jobs ----------------------------------------------------------------


def maintain(retain_hours: int | None = None, cfg: Config | None = None) -> dict:
    """OPTIMIZE and VACUUM every Delta table of the lake (``retain_hours``: maintain's default)."""
    from jobs.ops import maintain as maintenance

    cfg, spark = _session(cfg, "maintain", preload=False)
    given = {} if retain_hours is None else {"retain_hours": retain_hours}
    return maintenance.run(spark, cfg, **given)


def roundtrip(cfg: Config | None = None) -> str:
    """The Delta round trip (write, MERGE, time travel, history), as a report."""
    from jobs.ops import roundtrip as delta_roundtrip

    cfg, spark = _session(cfg, "roundtrip", preload=False)
    return delta_roundtrip.report(delta_roundtrip.run(spark, cfg))
