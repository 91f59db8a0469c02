"""Drug procurement supervision (SPEC 10.1, 10.3, 10.4), month by month.

Runs when the procurement platform's orders, deliveries or payments reach silver
(the daily ingest's Assets), or by hand for any month: as of the month's last day,
each hospital's completion of its volume-based procurement contracts against the
schedule, the month's price lights of every institution and product, and what the
distributors are owed and how late; then the month's report. Without a month (a
run the Assets triggered) it supervises the newest month with orders. Same code as
`diplake procurement month --year Y --month M`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, month_param, reports_site, silver, year_param
from airflow.sdk import Param, dag, task

from jobs.pipeline import PROCUREMENT_SCHEME

PLATFORM = silver("procurement_orders") | silver("deliveries") | silver("distributor_payments")


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=PLATFORM,
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "procurement"],
    params={
        "year": year_param("Contract year (empty, with the month: the newest month with orders)"),
        "month": month_param(),
        "scheme": Param(
            PROCUREMENT_SCHEME,
            type="string",
            title="Procurement scheme",
            description="The version of jobs/procurement/schemes/procurement-<version>.yaml.",
        ),
    },
)
def procurement_monthly():
    @task
    def supervise(params=None) -> dict:
        from jobs import pipeline

        year, month = params.get("year"), params.get("month")
        if year and month:
            return pipeline.procurement_month(int(year), int(month), params["scheme"])
        return pipeline.procurement_month(scheme=params["scheme"])

    supervise() >> reports_site()


procurement_monthly()
