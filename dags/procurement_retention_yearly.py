"""Surplus retention (结余留用, SPEC 10.2) of the contract year just ended, before the clearing.

Runs on 10 January for the contract year just ended (or by hand for any year):
each hospital's share of the fund's saving on the winning products, gated by its
completion and its share of non-winning products, exact to the fen; then the
year's report. The year-end clearing then shows each hospital's retention as its
own line, outside the DIP budget. Same code as `diplake procurement retention
--year Y`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, reports_site, year_param
from airflow.sdk import Param, dag, task

from jobs.pipeline import PROCUREMENT_SCHEME


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    # Early January: the contracts ended on 31 December, the clearing comes later.
    schedule="0 3 10 1 *",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "procurement"],
    params={
        "year": year_param("Contract year (empty: the year before the logical date)"),
        "scheme": Param(
            PROCUREMENT_SCHEME,
            type="string",
            title="Procurement scheme",
            description="The version of jobs/procurement/schemes/procurement-<version>.yaml.",
        ),
    },
)
def procurement_retention_yearly():
    @task
    def retain(params=None, logical_date=None) -> dict:
        from datetime import UTC, datetime

        from jobs import pipeline

        year = params.get("year") or (logical_date or datetime.now(UTC)).year - 1
        return pipeline.procurement_retention(int(year), params["scheme"])

    retain() >> reports_site()


procurement_retention_yearly()
