"""Weekly lake maintenance: OPTIMIZE (compaction) and VACUUM of every Delta table.

VACUUM keeps the default seven days of history, so the clearing runs stay
reproducible by time travel within that window, and the published ones record
the versions they read. Same code as `diplake maintain`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START
from airflow.sdk import dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@weekly",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "maintenance"],
)
def dip_lake_maintenance():
    @task
    def maintain() -> dict:
        from jobs import pipeline

        return pipeline.maintain()

    maintain()


dip_lake_maintenance()
