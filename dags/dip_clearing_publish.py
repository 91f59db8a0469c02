"""Publish a clearing draft: final from then on, never changed.

Give the draft's run id (from the `dip_clearing_year_end` run or
`diplake clearing show`). A year that already has a published run needs a
reason, which is recorded with the run it supersedes. Same code as
`diplake clearing publish`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, reports_site
from airflow.sdk import Param, dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={**DEFAULT_ARGS, "retries": 0},
    tags=["dip-lake", "clearing", "finance"],
    params={
        "run_id": Param("", type="string", minLength=1, title="Draft run id"),
        "reason": Param(
            None,
            type=["null", "string"],
            title="Reason",
            description="Required when the year already has a published run.",
        ),
    },
)
def dip_clearing_publish():
    @task
    def publish(params=None) -> str:
        from jobs import pipeline

        return pipeline.clearing_publish(params["run_id"], params["reason"] or None)

    publish() >> reports_site()


dip_clearing_publish()
