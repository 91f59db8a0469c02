"""Year-end DIP clearing (SPEC 5.3), triggered by finance from the form.

Fill in the settlement year, the fund's DIP budget in yuan and the point-value
method, then trigger. The run computes the clearing and saves it as a **draft**
with its statements (or, with *dry run*, only shows it). Publishing is a
separate, explicit step: the `dip_clearing_publish` DAG, given the draft's run id.
Same code as `diplake clearing run`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, reports_site
from airflow.sdk import Param, dag, task

from jobs.pipeline import ASSESSMENT_SOURCES, PV_METHODS

# Yuan with at most two decimals, more than zero (the clearing refuses anything else too).
BUDGET_PATTERN = r"^(?!0+(\.0+)?$)[0-9]+(\.[0-9]{1,2})?$"


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={**DEFAULT_ARGS, "retries": 0},  # money: a failure is looked at, not retried
    tags=["dip-lake", "clearing", "finance"],
    params={
        "year": Param(
            2025,
            type="integer",
            minimum=2000,
            maximum=2100,
            title="Settlement year",
            section="Clearing",
        ),
        # Text, not a number: the form's JSON number would be a float, and a float
        # has lost the fen before the clearing sees it. Parsed exactly as Decimal.
        "budget": Param(
            "1850000000",
            type="string",
            pattern=BUDGET_PATTERN,
            title="DIP budget (yuan)",
            description="The fund's DIP budget for the year, in yuan; at most two decimals.",
            section="Clearing",
        ),
        "pv_method": Param(
            "ratio",
            type="string",
            enum=list(PV_METHODS),
            title="Point-value method",
            section="Clearing",
        ),
        "assessment": Param(
            "feed",
            type="string",
            enum=list(ASSESSMENT_SOURCES),
            title="Assessment coefficient",
            description="feed: the quality department's scores (else 1); computed: the feed's "
            "score where there is one, else the assessment computed from data (SPEC 9.3).",
            section="Clearing",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Compute and show the clearing, write nothing.",
            section="Clearing",
        ),
    },
)
def dip_clearing_year_end():
    @task
    def clearing_draft(params=None) -> dict:
        from jobs import pipeline

        result = pipeline.clearing_draft(
            int(params["year"]),
            params["budget"],
            params["pv_method"],
            params["dry_run"],
            assessment=params.get("assessment", "feed"),
        )
        print(result["summary"])
        return result

    clearing_draft() >> reports_site()


dip_clearing_year_end()
