"""The bureau's reports inside Airflow, for logged-in users only.

``/reports/…`` serves the reports folder of the lake's home (``<home>/reports``,
from the same ``DIPLAKE_*`` settings the tasks get) and the UI's navigation gets
a *Reports* entry that opens it. Airflow does not authenticate a plugin's FastAPI
app: every route here depends on Airflow's own ``get_user``, which accepts the
UI's session cookie or a bearer token and refuses anyone else (401), and paths
are resolved inside the reports folder only.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse

from jobs import config

URL_PREFIX = "/reports"

# The dependency sits on the app, so it guards every route declared on it (a mounted
# sub-application would not inherit it: nothing here is mounted).
# FastAPI's own /docs, /redoc and /openapi.json are added outside the app's dependencies:
# switched off, so nothing here answers an anonymous request.
app = FastAPI(
    title="dip-lake reports",
    dependencies=[Depends(get_user)],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


def report_file(root: Path, path: str) -> Path:
    """The file ``path`` names under ``root`` (a folder means its index.html); 404 outside."""
    root = root.resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise HTTPException(status_code=404, detail="not a report")
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        raise HTTPException(status_code=404, detail="no such report")
    return target


@app.get("/{path:path}")
def serve(path: str) -> FileResponse:
    return FileResponse(report_file(config.load().reports, path))


class DipReports(AirflowPlugin):
    name = "dip_reports"
    fastapi_apps: ClassVar[list[dict]] = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "dip-lake reports"}
    ]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Reports",
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "url_route": "reports",
        }
    ]
