"""Fraud scoring, whenever the ingest has updated the discharges.

Runs the rule base and the champion models over the year of the newest data and
writes `gold/fraud_alerts`. Triggered by the `silver/discharges` Asset; a
manual run can name the year. Same code as `diplake fraud score --year Y`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from _common import DEFAULT_ARGS, DISCHARGES, START
from airflow.sdk import Param, dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=[DISCHARGES],
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "fraud"],
    params={"year": Param(None, type=["null", "integer"], title="Year scored")},
)
def dip_fraud_scoring():
    @task
    def score(params=None) -> dict:
        from jobs import pipeline

        return pipeline.fraud_score(int(params["year"] or datetime.now(UTC).year))

    score()


dip_fraud_scoring()
