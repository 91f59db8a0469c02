"""What every dip-lake DAG shares: default arguments and the silver Assets.

Not a DAG (the leading underscore keeps it out of the DagBag's way); DAG files
import it as a sibling module, since Airflow puts the dags folder on the path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, Param

# Before the lake's first landing day (2022): a DAG run for any day of its data, a
# backfill of the daily ingest included, is a run Airflow schedules (catchup stays off).
START = datetime(2021, 1, 1)
DEFAULT_ARGS = {"owner": "dip-lake", "retries": 2, "retry_delay": timedelta(minutes=5)}


def silver(table: str) -> Asset:
    """The Asset a silver table is known by: updated by the ingest, awaited by its readers."""
    return Asset(f"diplake://silver/{table}", extra={"layer": "silver", "table": table})


DISCHARGES = silver("discharges")
CASE_POINTS = Asset("diplake://gold/dip_case_points")


def year_param(title: str = "Settlement year") -> Param:
    """An optional year for a manual run; empty means the year of the run's logical date."""
    return Param(
        None,
        type=["null", "integer"],
        title=title,
        description="Empty: the year of the run's logical date.",
    )


def month_param() -> Param:
    """An optional month for a manual run; empty means the month before the logical date."""
    return Param(
        None,
        type=["null", "integer"],
        minimum=1,
        maximum=12,
        title="Month",
        description="Empty: the month before the run's logical date (the month just ended).",
    )


def month_of(params, logical_date) -> tuple[int, int]:
    """(year, month) a monthly run works on: the params, else the month just ended before
    the logical date (a manual run may have none in Airflow 3: then before now)."""
    if params.get("year") and params.get("month"):
        return int(params["year"]), int(params["month"])
    ended = (logical_date or datetime.now(UTC)) - timedelta(days=1)
    year = int(params.get("year") or ended.year)
    month = int(params.get("month") or (ended.month if ended.year == year else 12))
    return year, month


def reports_site():
    """A reporting DAG's last task: the reports site rebuilt with what the DAG wrote.

    No Spark, a second or two; it fails on a broken link or a page that would ask
    the outside network for something, so a bad page never goes unnoticed.
    """
    from airflow.sdk import task

    @task(task_id="reports_build")
    def reports_build() -> dict:
        from jobs import pipeline

        built = pipeline.reports_build()
        if built["broken_links"] or built["outside_requests"]:
            raise ValueError(
                f"reports site: broken links {built['broken_links'][:5]}, "
                f"outside requests {built['outside_requests'][:5]}"
            )
        return built

    return reports_build()
