"""Yearly DIP catalogue rebuild (SPEC 5.1) for the coming settlement year.

Runs on 1 January for the year that starts: the three base years before it feed
the catalogue and the level coefficients. Trigger it by hand with another year
to rebuild one. Same code as `diplake catalogue --year Y`.
"""

from __future__ import annotations

from pathlib import Path

from _common import DEFAULT_ARGS, START, year_param
from airflow.sdk import Param, dag, task

from jobs.pipeline import LEVEL_METHODS


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@yearly",
    start_date=START,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["dip-lake", "dip"],
    params={
        "year": year_param(),
        "level_method": Param(
            LEVEL_METHODS[0],
            enum=list(LEVEL_METHODS),
            title="Level coefficient",
            description="casemix: the level's cost over its types' expected cost (default); "
            "raw: the level's mean cost over the city's, as the national text writes it.",
        ),
        "auxiliary": Param(
            False,
            type="boolean",
            title="Auxiliary catalogue",
            description="Also build the auxiliary catalogue (SPEC 9.4: Charlson and age strata "
            "within each core type); the case points then use it.",
        ),
    },
)
def dip_catalogue_yearly():
    @task
    def catalogue(params=None, logical_date=None) -> dict:
        from jobs import pipeline

        year = params["year"] or logical_date.year
        return pipeline.catalogue(
            int(year),
            level_method=params["level_method"],
            auxiliary=bool(params.get("auxiliary", False)),
        )

    catalogue()


dip_catalogue_yearly()
