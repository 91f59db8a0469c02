"""Daily ingest: landing -> bronze -> silver, with quarantine and the ledger.

The run's logical date is the run date: every new file of the landing zone in a
folder dated on or before it is taken (a file already ingested, by path and
checksum, is skipped, so a rerun or a backfill does nothing twice), and later
folders are held until their day. Corrections of earlier days supersede what
silver holds only when they are newer. Each silver table is an Asset outlet:
the case points and the fraud scoring wait on `silver/discharges`. Same code as
`diplake ingest --date <ds>`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, reports_site, silver
from airflow.sdk import dag, task

from jobs.pipeline import silver_tables


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@daily",
    start_date=START,
    catchup=False,
    # One run at a time: a run takes the files no earlier run recorded in the ledger.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "ingest"],
)
def dip_ingest_daily():
    @task(outlets=[silver(t) for t in silver_tables()])
    def ingest(ds: str | None = None) -> dict:
        from jobs import pipeline

        # ds is None on a run without a logical date (a manual trigger): today then.
        return pipeline.ingest(run_date=ds)

    ingest() >> reports_site()


dip_ingest_daily()
