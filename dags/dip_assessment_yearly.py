"""The year's assessment computed from data (SPEC 9.2, 9.3), before the clearing.

Runs on 15 January for the year just ended (or by hand for any year): the
hospitals' supervision indicators over the whole year's cases, then the
assessment scheme's score, coefficient and deductions per hospital, with the
report. A clearing run with `assessment: computed` then takes A from it where
the quality department sent no score. Same code as `diplake dip indicators` and
`diplake dip assess`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, reports_site, year_param
from airflow.sdk import Param, dag, task

from jobs.pipeline import ASSESSMENT_SCHEME


def _year(params, logical_date) -> int:
    return int(params.get("year") or logical_date.year - 1)


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    # Mid-January: after the monthly run of 1 January has scored December.
    schedule="0 3 15 1 *",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "dip"],
    params={
        "year": year_param("Assessed year (empty: the year before the logical date)"),
        "scheme": Param(
            ASSESSMENT_SCHEME,
            type="string",
            title="Assessment scheme",
            description="The version of jobs/dip/schemes/assessment-<version>.yaml to apply.",
        ),
    },
)
def dip_assessment_yearly():
    @task
    def indicators(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        return pipeline.dip_indicators(_year(params, logical_date), params["scheme"])

    @task
    def assess(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        return pipeline.dip_assess(_year(params, logical_date), params["scheme"])

    indicators() >> assess() >> reports_site()


dip_assessment_yearly()
