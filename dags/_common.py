"""What every dip-lake DAG shares: default arguments and the silver Assets.

Not a DAG (the leading underscore keeps it out of the DagBag's way); DAG files
import it as a sibling module, since Airflow puts the dags folder on the path.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
