"""The demo city worked through the real DAGs once, for every test that needs a whole lake.

`airflow dags test` runs each DAG of the DIP chain in order (ingest, catalogue,
points, year-end clearing) in an AIRFLOW_HOME of the home's own, on SQLite, with
the environment `diplake airflow` builds; the fraud models are then trained and
scored by the same code their DAGs call. All in one process (Airflow's own command
line, called once per DAG), so one JVM serves the whole chain.
The end-to-end DAG test reads what these runs left; the browser test, the fraud
tests and the notebooks start from the lake they made.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from jobs import config
from jobs.generate import run as generate
from jobs.generate.knobs import preset
from jobs.tools.airflow_local import airflow_command, airflow_environment
from jobs.tools.cluster import free_ports

YEAR = preset("demo").settlement_year
BUDGET = "20000000"  # yuan, for the clearing DAG's draft (the form takes text)
TEST_KEY = "test-only-key"
# The DAGs in the order a bureau's year runs them; ANSWER: the simulated experts answer the
# special-review round's sheet (decisions land for ANSWER_DAY), between two daily ingests.
ANSWER = "the experts answer"
ANSWER_DAY = f"{YEAR + 1}-01-20"
CHAIN = (
    ("dip_ingest_daily", {}),
    ("dip_catalogue_yearly", {"year": YEAR}),
    ("dip_points_monthly", {"year": YEAR, "month": 12}),
    ("dip_special_review", {"year": YEAR}),
    (ANSWER, {}),
    ("dip_ingest_daily", {}),
    ("dip_special_review", {"year": YEAR}),
    ("dip_assessment_yearly", {"year": YEAR}),
    ("procurement_monthly", {"year": YEAR, "month": 12}),
    ("procurement_retention_yearly", {"year": YEAR}),
    ("offsite_monthly", {"year": YEAR, "month": 12}),
    (
        "dip_clearing_year_end",
        {"year": YEAR, "budget": BUDGET, "pv_method": "ratio", "assessment": "computed"},
    ),
)
DONE = ".chain-done"
TIMINGS = ".chain-timings.json"


def settings(home: Path) -> config.Config:
    """The settings the suite's jobs use on ``home``: two cores, small shuffles, 2 GB."""
    return config.load(
        {"home": str(home), "spark_master": "local[2]", "shuffle_partitions": 2},
        env={"DIPLAKE_DRIVER_MEMORY": "2g"},
    )


def environment(home: Path, airflow_home: Path, port: int | None = None) -> dict[str, str]:
    """The developer's environment without DIPLAKE_* settings, plus an Airflow for ``home``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(config.ENV_PREFIX)}
    port = port or free_ports(1)[0]
    return base | airflow_environment(settings(home), airflow_home, port, tuple(free_ports(2)))


def airflow(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        [*airflow_command(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    said = done.stdout[-4000:] + done.stderr[-4000:]
    assert done.returncode == 0, f"airflow {' '.join(args)}:\n{said}"
    return done.stdout


def run_states(airflow_home: Path) -> dict[str, list[str]]:
    """dag_id -> the states of its runs, from the Airflow metadata database itself."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute("SELECT dag_id, state FROM dag_run ORDER BY id").fetchall()
    states: dict[str, list[str]] = {}
    for dag_id, state in rows:
        states.setdefault(dag_id, []).append(state)
    return states


def run_chain(home: str) -> None:
    """Run :data:`CHAIN` and the fraud steps in this process (Airflow's environment set) and
    write the seconds each took to ``home``/:data:`TIMINGS`."""
    from airflow.cli import cli_parser

    from jobs import pipeline

    parser = cli_parser.get_parser()
    timings: dict[str, float] = {}
    for dag_id, conf in CHAIN:
        started = time.monotonic()
        if dag_id == ANSWER:
            _answer(Path(home))
        else:
            args = parser.parse_args(["dags", "test", dag_id, "-c", json.dumps(conf)])
            args.func(args)  # raises SystemExit when the run failed
        timings[dag_id] = round(time.monotonic() - started, 1) + timings.get(dag_id, 0)
    started = time.monotonic()
    pipeline.fraud_train(YEAR)
    pipeline.fraud_score(YEAR)
    pipeline.reports_build()
    timings["fraud train and score"] = round(time.monotonic() - started, 1)
    (Path(home) / TIMINGS).write_text(json.dumps(timings))


def _answer(home: Path) -> None:
    """The generator's experts answer the round's sheet the special-review DAG wrote."""
    from jobs import pipeline

    (sheet,) = (home / "reports" / f"review-{YEAR}").glob("assignments-*.csv")
    pipeline.answer_review_sheet(sheet, ANSWER_DAY, settings(home))


def is_built(home: Path) -> bool:
    return (home / DONE).is_file()


def build(home: Path) -> Path:
    """Generate the demo city into ``home``/landing and run :data:`CHAIN` over it.

    Whatever an unfinished earlier build left in ``home`` is removed first.
    """
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    secrets = home / ".secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    if not (secrets / "hmac.key").is_file():
        (secrets / "hmac.key").write_text(TEST_KEY)
    generate.run(home / "landing", preset("demo"), progress=False)
    env = environment(home, home / "airflow-home")
    airflow(env, "db", "migrate", timeout=300)
    # One process for the whole chain: `airflow dags test` of each DAG through Airflow's own
    # command line, then the fraud steps, with one JVM kept warm from DAG to DAG. With a
    # process and a JVM each, the nine DAG runs besides the two ingests took 357 s; in one
    # process, 182 s, measured while another suite shared the two cores.
    here = Path(__file__).resolve().parent
    done = subprocess.run(
        [sys.executable, "-c", f"import demo_home; demo_home.run_chain({str(home)!r})"],
        env=env | {"PYTHONPATH": os.pathsep.join([str(here), env.get("PYTHONPATH", "")])},
        cwd=here.parent,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]
    timings = json.loads((home / TIMINGS).read_text())
    (home / DONE).write_text(json.dumps(timings, indent=2))
    return home
