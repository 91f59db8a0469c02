"""Special-case review by the expert library (SPEC 9.5), as the year goes.

Runs when the monthly case points are published (a new round: the candidates not
yet drawn get three experts each, and the sheet for the experts is written) and
when experts' decisions arrive in silver (the drawn cases are decided again from
every decision received; the clearing uses their review points). A round already
drawn is never redrawn. Without a year (every run the Assets trigger) the round is
drawn for the newest year with case points, and the decisions applied for every
year with a drawn round, so last year's answers arriving in January still count.
Same code as `diplake review assign --year Y` and `diplake review apply --year Y`.
"""

from __future__ import annotations

from pathlib import Path

from _common import CASE_POINTS, DEFAULT_ARGS, START, reports_site, silver, year_param
from airflow.sdk import dag, task


def _year(params) -> int | None:
    """The form's year, or None (a run the Assets triggered has no logical date in Airflow 3;
    the steps then choose the years themselves)."""
    year = params.get("year")
    return int(year) if year else None


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=(CASE_POINTS | silver("special_review_decisions")),
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "dip"],
    params={"year": year_param("Year reviewed (empty: the newest year with case points)")},
)
def dip_special_review():
    @task
    def assign(params=None) -> dict:
        from jobs import pipeline

        return pipeline.review_assign(_year(params))

    @task
    def apply(params=None) -> dict:
        from jobs import pipeline

        return pipeline.review_apply(_year(params))

    assign() >> apply() >> reports_site()


dip_special_review()
