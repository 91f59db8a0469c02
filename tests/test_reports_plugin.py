"""The reports plugin refuses anyone Airflow has not logged in, and serves nothing outside
the reports folder. (A forged token is refused and a logged-in browser reads a report in
tests/test_airflow.py, where a real Airflow checks tokens.)"""

from __future__ import annotations

import importlib.util

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from jobs import config


def _plugin():
    spec = importlib.util.spec_from_file_location(
        "dip_reports", config.REPO_ROOT / "plugins" / "dip_reports.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def plugin():
    return _plugin()


def test_an_anonymous_request_is_refused(plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("DIPLAKE_HOME", str(tmp_path))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "index.html").write_text("<h1>reports</h1>")
    (tmp_path / "reports" / "index.json").write_text('[{"run_id": "clearing-1"}]')
    client = TestClient(plugin.app)
    # The pages, the site's listing, and FastAPI's own API description and docs pages
    # (which FastAPI would serve outside the app's dependencies: switched off).
    for path in ("/", "/index.html", "/nope", "/index.json", "/openapi.json", "/docs", "/redoc"):
        answer = client.get(path)
        assert answer.status_code == 401, (path, answer.status_code)
        assert "reports" not in answer.text and "clearing-1" not in answer.text


def test_paths_stay_inside_the_reports_folder(plugin, tmp_path):
    root = tmp_path / "reports"
    (root / "clearing-1").mkdir(parents=True)
    (root / "clearing-1" / "index.html").write_text("ok")
    (tmp_path / "secret.txt").write_text("no")
    assert plugin.report_file(root, "clearing-1") == root / "clearing-1" / "index.html"
    assert plugin.report_file(root, "clearing-1/index.html") == root / "clearing-1" / "index.html"
    for outside in ("../secret.txt", "clearing-1/../../secret.txt", "/etc/passwd", "missing"):
        with pytest.raises(HTTPException) as refused:
            plugin.report_file(root, outside)
        assert refused.value.status_code == 404


def test_the_navigation_entry_opens_the_served_prefix(plugin):
    (app,) = plugin.DipReports.fastapi_apps
    (view,) = plugin.DipReports.external_views
    assert app["url_prefix"] == "/reports" and view["href"] == "reports/"
    assert view["destination"] == "nav"
