"""Fraud features and model training: the case and provider models, tracked in MLflow.

First the year's features of every case, hospital, person and doctor go to
`gold/fraud_features_*` (`diplake fraud features --year Y`). Then the models: fits
on the year before the given one, judges on the year itself, registers a
new version of `dip_fraud_case` and `dip_fraud_provider`, and moves their
`champion` alias only when the new version is better. Same code as
`diplake fraud train --year Y`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, year_param
from airflow.sdk import dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@yearly",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "fraud", "mlflow"],
    params={"year": year_param("Year scored")},
)
def dip_fraud_training():
    @task
    def features(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        return pipeline.fraud_features(int(params["year"] or logical_date.year))

    @task
    def train(params=None, logical_date=None) -> list:
        from jobs import pipeline

        return pipeline.fraud_train(int(params["year"] or logical_date.year))

    features() >> train()


dip_fraud_training()
