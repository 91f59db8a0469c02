"""Daily ingest: landing -> bronze -> silver, with quarantine and the ledger.

Takes every new file of the landing zone (a file already ingested, by path and
checksum, is skipped, so a rerun or a backfill does nothing twice). Each silver
table is an Asset outlet: the case points and the fraud scoring wait on
`silver/discharges`. Same code as `diplake ingest`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, SILVER_TABLES, START, silver
from airflow.sdk import dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@daily",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "ingest"],
)
def dip_ingest_daily():
    @task(outlets=[silver(t) for t in SILVER_TABLES])
    def ingest() -> dict:
        from jobs import pipeline

        return pipeline.ingest()

    ingest()


dip_ingest_daily()
