"""Off-site medical treatment (SPEC 12), month by month, after the platform's statement.

Runs when the national platform's clearing statement and its lines reach silver (the
daily ingest's Assets; the platform sends a month's statement on the 15th of the
next month), or by hand for any month: the month's reconciliation per counterpart
region against what the lake saw, every difference listed by settlement id (the most
money first), the outbound settlements whose fund share breaks their filing, and the
destinations that charge far above their peers; then the month's report. Without a
month (a run the Assets triggered) it reconciles the newest statement. Same code as
`diplake offsite month --year Y --month M`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, month_param, reports_site, silver, year_param
from airflow.sdk import Param, dag, task

from jobs.pipeline import OFFSITE_SCHEME

STATEMENT = silver("offsite_clearing_statements") | silver("offsite_statement_lines")


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=STATEMENT,
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "offsite"],
    params={
        "year": year_param("Year (empty, with the month: the newest statement)"),
        "month": month_param(),
        "scheme": Param(
            OFFSITE_SCHEME,
            type="string",
            title="Off-site scheme",
            description="The version of jobs/offsite/schemes/offsite-<version>.yaml.",
        ),
    },
)
def offsite_monthly():
    @task
    def reconcile(params=None) -> dict:
        from jobs import pipeline

        year, month = params.get("year"), params.get("month")
        if year and month:
            return pipeline.offsite_month(int(year), int(month), params["scheme"])
        return pipeline.offsite_month(scheme=params["scheme"])

    reconcile() >> reports_site()


offsite_monthly()
