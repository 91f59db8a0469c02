"""Monthly case points (SPEC 5.2), then the DIP year's monthly work (SPEC 9.1, 9.2).

Runs after each month: the case points of the whole year so far against that
year's catalogue (idempotent), then the hospitals' supervision indicators over
those cases, then the month's pre-settlement proposal (advice to finance, to the
fen, the deposit held) with its report. Publishes the `gold/dip_case_points`
Asset, which the special-review DAG awaits. Same code as `diplake points --year
Y`, `diplake dip indicators --year Y` and `diplake dip proposal --year Y --month M`.
"""

from __future__ import annotations

from pathlib import Path

from _common import (
    CASE_POINTS,
    DEFAULT_ARGS,
    START,
    month_of,
    month_param,
    reports_site,
    year_param,
)
from airflow.sdk import dag, task


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@monthly",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "dip"],
    params={"year": year_param(), "month": month_param()},
)
def dip_points_monthly():
    @task(outlets=[CASE_POINTS])
    def points(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        year, _ = month_of(params, logical_date)
        return pipeline.points(year)

    @task
    def indicators(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        year, _ = month_of(params, logical_date)
        return pipeline.dip_indicators(year)

    @task
    def proposal(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        year, month = month_of(params, logical_date)
        return pipeline.dip_proposal(year, month)

    points() >> indicators() >> proposal() >> reports_site()


dip_points_monthly()
