"""The pipeline's steps as plain functions: what DAG tasks, ``make demo`` and notebooks call.

Each step reads its settings from ``DIPLAKE_*`` (or the given :class:`Config`),
starts or reuses the one SparkSession (:func:`jobs.spark.get_spark`), calls the
same job code as the ``diplake`` command, and returns a small JSON-able summary
(Airflow keeps it as the task's return value). Nothing here is Airflow-specific.
"""

from __future__ import annotations

from jobs import config, quality
from jobs.config import Config
from jobs.spark import get_spark


def _session(cfg: Config | None, name: str):
    cfg = cfg or config.load()
    return cfg, get_spark(cfg, f"dip-lake {name}", preload=quality.PRELOAD)


def ingest(cfg: Config | None = None, run_date: str | None = None) -> dict:
    """Every new landed file up to ``run_date`` (default today); later folders are held."""
    from jobs.ingest import run

    cfg, spark = _session(cfg, "ingest")
    report = run.run(spark, cfg, run_date)
    totals: dict[str, dict[str, int]] = {}
    for c in report.files:
        mine = totals.setdefault(c.source, {"files": 0, "records_read": 0, "to_silver": 0})
        mine["files"] += 1
        mine["records_read"] += c.records_read
        mine["to_silver"] += c.to_silver
    return {
        "run_date": report.run_date,
        "sources": totals,
        "rejected_files": {f.relative: f.problem for f in report.rejected},
        "held_files": len(report.held),
    }


def catalogue(year: int, cfg: Config | None = None) -> dict:
    from jobs.dip import catalogue as job

    cfg, spark = _session(cfg, f"catalogue {year}")
    summary = job.build(spark, cfg, job.Params(year))
    return {k: summary[k] for k in ("year", "types", "core_types", "core_coverage", "M")}


def points(year: int, cfg: Config | None = None, with_report: bool = True) -> dict:
    """Case points of ``year``; with the catalogue report (plots) unless told not to."""
    from jobs.dip import points as job
    from jobs.dip import report

    cfg, spark = _session(cfg, f"points {year}")
    summary = {k: str(v) for k, v in job.compute(spark, cfg, year).items()}
    if with_report:
        summary["report"] = str(report.write(spark, cfg, year))
    return summary


def clearing_draft(
    year: int,
    budget: object,
    pv_method: str = "ratio",
    dry_run: bool = False,
    cfg: Config | None = None,
) -> dict:
    from jobs.clearing import run as job

    cfg, spark = _session(cfg, f"clearing {year}")
    run_id, result = job.run(spark, cfg, year, budget, pv_method, dry_run)
    return {"run_id": run_id, "summary": job.summary_text(run_id, year, result)}


def clearing_publish(run_id: str, reason: str | None = None, cfg: Config | None = None) -> str:
    from jobs.clearing import run as job

    cfg, spark = _session(cfg, "clearing publish")
    return job.publish(spark, cfg, run_id, reason)


def fraud_features(year: int, cfg: Config | None = None) -> dict:
    from jobs.fraud import feature_tables

    cfg, spark = _session(cfg, f"fraud features {year}")
    return feature_tables.run(spark, cfg, year)


def fraud_train(year: int, cfg: Config | None = None) -> list[dict]:
    from jobs.fraud import train

    cfg, spark = _session(cfg, f"fraud train {year}")
    return train.run(spark, cfg, year)


def fraud_score(year: int | None = None, cfg: Config | None = None) -> dict:
    """Rules and champion models over ``year`` (default: the newest discharge year)."""
    from pyspark.sql import functions as F

    from jobs import lake
    from jobs.fraud import score

    cfg, spark = _session(cfg, f"fraud score {year or 'newest year'}")
    if year is None:
        discharges = lake.read_version(spark, lake.table_path(cfg, "silver", "discharges"))
        year = int(discharges.agg(F.max("discharge_year")).first()[0])
    return score.run(spark, cfg, year)


def maintain(cfg: Config | None = None) -> dict:
    from jobs import maintain as job

    cfg, spark = _session(cfg, "maintain")
    return job.run(spark, cfg)
