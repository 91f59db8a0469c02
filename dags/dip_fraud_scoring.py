"""Fraud scoring, whenever the ingest has updated the discharges.

Runs the rule base and the champion models over the year of the newest data and
writes `gold/fraud_alerts`. Triggered by the `silver/discharges` Asset; a
manual run can name the year. Same code as `diplake fraud score --year Y`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, DISCHARGES, START, reports_site, year_param
from airflow.sdk import dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=[DISCHARGES],
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "fraud"],
    params={"year": year_param("Year scored (empty: the newest discharge year)")},
)
def dip_fraud_scoring():
    @task
    def score(params=None) -> dict:
        from jobs import pipeline

        return pipeline.fraud_score(params["year"])

    score() >> reports_site()


dip_fraud_scoring()
