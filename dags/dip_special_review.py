"""Special-case review by the expert library (SPEC 9.5), as the year goes.

Runs when the monthly case points are published (a new round: the candidates not
yet drawn get three experts each, and the sheet for the experts is written) and
when experts' decisions arrive in silver (the drawn cases are decided again from
every decision received; the clearing uses their review points). A round already
drawn is never redrawn. Same code as `diplake review assign --year Y` and
`diplake review apply --year Y`.
"""

from __future__ import annotations

from pathlib import Path

from _common import CASE_POINTS, DEFAULT_ARGS, START, reports_site, silver, year_param
from airflow.sdk import dag, task


def _year(params, logical_date) -> int:
    return int(params.get("year") or logical_date.year)


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=(CASE_POINTS | silver("special_review_decisions")),
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "dip"],
    params={"year": year_param()},
)
def dip_special_review():
    @task
    def assign(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        return pipeline.review_assign(_year(params, logical_date))

    @task
    def apply(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        return pipeline.review_apply(_year(params, logical_date))

    assign() >> apply() >> reports_site()


dip_special_review()
