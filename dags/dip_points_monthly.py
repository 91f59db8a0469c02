"""Monthly case points (SPEC 5.2) for the settlement year so far.

Runs after each month; each run recomputes the points of the whole year so far
against that year's catalogue, which is idempotent. Publishes the
`gold/dip_case_points` Asset. Same code as `diplake points --year Y`.
"""

from __future__ import annotations

from pathlib import Path

from _common import CASE_POINTS, DEFAULT_ARGS, START, reports_site, year_param
from airflow.sdk import dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@monthly",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "dip"],
    params={"year": year_param()},
)
def dip_points_monthly():
    @task(outlets=[CASE_POINTS])
    def points(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        year = params["year"] or logical_date.year
        return pipeline.points(int(year))

    points() >> reports_site()


dip_points_monthly()
