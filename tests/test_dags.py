"""Every DAG file imports cleanly, and each DAG is wired as the house rules say.

The DagBag parses dags/ the way the scheduler does, in a temporary AIRFLOW_HOME
with its own SQLite metadata, so the developer's Airflow is never touched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from airflow.dag_processing.dagbag import DagBag

    # The scheduler puts its DAGs folder on sys.path, where dags/_common.py is found.
    sys.path.insert(0, str(DAGS))

    bag = DagBag(dag_folder=str(DAGS), bundle_path=DAGS)
    yield bag
    sys.path.remove(str(DAGS))
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_file_is_one_dag_named_after_it(dagbag):
    assert sorted(dagbag.dag_ids) == sorted(p.stem for p in DAG_FILES)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_each_dag_has_tags_retries_docs_and_no_catchup(dagbag, path):
    dag = dagbag.dags[path.stem]
    assert dag.tags and "dip-lake" in dag.tags
    assert dag.doc_md and dag.doc_md.strip() == _doc(path)
    assert dag.catchup is False
    for task in dag.tasks:
        assert task.retries is not None
        if "finance" not in dag.tags:  # money runs are looked at, not retried
            assert task.retries >= 1


def _doc(path: Path) -> str:
    import ast

    return (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()


def test_importing_a_dag_file_does_no_work(tmp_path):
    """Import every DAG file in a fresh interpreter: no Spark, no MLflow, fast.

    The ingest DAG reads the silver tables' names from jobs/ingest/feeds.py, which is
    plain data; nothing heavier may come with it.
    """
    code = (
        "import sys, importlib.util, pathlib\n"
        f"sys.path.insert(0, {str(DAGS)!r})\n"
        f"for p in sorted(pathlib.Path({str(DAGS)!r}).glob('dip_*.py')):\n"
        "    spec = importlib.util.spec_from_file_location(p.stem, p)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "heavy = [m for m in ('pyspark', 'delta', 'mlflow', 'lightgbm', 'great_expectations',"
        " 'pandas') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_the_clearing_form_validates_year_budget_method_assessment_and_dry_run(dagbag):
    params = dagbag.dags["dip_clearing_year_end"].params
    assert set(params.keys()) == {"year", "budget", "pv_method", "assessment", "dry_run"}
    schema = {k: params.get_param(k).schema for k in params}
    assert schema["budget"]["type"] == "string"
    budget = re.compile(schema["budget"]["pattern"])
    for good in ("1850000000", "1850000000.5", "23456789.12", "0.01"):
        assert budget.match(good), good
    for bad in ("0", "0.00", "-5", "1e9", "12.345", "1,000", ""):
        assert not budget.match(bad), bad
    assert schema["pv_method"]["enum"] == ["ratio", "budget_plus_self_pay"]
    assert schema["assessment"]["enum"] == ["feed", "computed"]
    assert params["assessment"] == "feed"  # as before the computed assessment existed
    assert schema["dry_run"]["type"] == "boolean"
    assert type(dagbag.dags["dip_clearing_year_end"].timetable).__name__ == "NullTimetable"


def test_fraud_scoring_waits_on_the_discharges_asset(dagbag):
    dag = dagbag.dags["dip_fraud_scoring"]
    ingest = dagbag.dags["dip_ingest_daily"]
    outlets = {o.uri for t in ingest.tasks for o in t.outlets}
    assert "diplake://silver/discharges" in outlets
    assert "diplake://silver/discharges" in str(dag.timetable.asset_condition)


def test_a_monthly_run_works_on_the_month_just_ended(dagbag):
    """The scheduled run on the 1st works on the month before; a form's year or month wins."""
    from datetime import datetime

    from _common import month_of

    empty = {"year": None, "month": None}
    assert month_of(empty, datetime(2025, 2, 1)) == (2025, 1)
    assert month_of(empty, datetime(2026, 1, 1)) == (2025, 12)
    assert month_of({"year": 2025, "month": None}, datetime(2026, 3, 1)) == (2025, 12)
    assert month_of({"year": 2025, "month": 6}, datetime(2026, 3, 1)) == (2025, 6)
    assert month_of({"year": 2025, "month": 6}, None) == (2025, 6)  # a run with no date
    assert month_of({"year": 2025, "month": None}, None) == (2025, 12)


def test_the_dip_year_runs_in_its_dags(dagbag):
    monthly = dagbag.dags["dip_points_monthly"]
    assert [t.task_id for t in monthly.topological_sort()] == [
        "points",
        "indicators",
        "proposal",
        "reports_build",
    ]
    review = dagbag.dags["dip_special_review"]
    assert [t.task_id for t in review.topological_sort()] == ["assign", "apply", "reports_build"]
    watched = str(review.timetable.asset_condition)
    assert "diplake://gold/dip_case_points" in watched
    assert "diplake://silver/special_review_decisions" in watched
    yearly = dagbag.dags["dip_assessment_yearly"]
    assert [t.task_id for t in yearly.topological_sort()] == [
        "indicators",
        "assess",
        "reports_build",
    ]
