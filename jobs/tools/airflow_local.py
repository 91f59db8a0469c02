"""``diplake airflow``: Airflow 3 on this machine, with the project's DAGs, on SQLite.

    diplake airflow [--port 8080] [--airflow-home DIR]

Starts ``airflow standalone`` (scheduler, DAG processor, triggerer and the API
server with the UI) on 127.0.0.1, reading the DAGs in ``dags/`` and keeping its
metadata in SQLite under ``--airflow-home`` (default ``<home>/airflow-home``).
Every task runs the same job code as ``diplake``, on the lake of the settings
in force (``DIPLAKE_HOME`` and friends are passed to the tasks).

Log in as ``admin``. Standalone prints the password the first time and keeps it
in ``<airflow-home>/simple_auth_manager_passwords.json.generated``. DAGs start
paused; the trigger form of a paused DAG offers to unpause it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from jobs import config
from jobs.config import REPO_ROOT, Config

DAGS = REPO_ROOT / "dags"
PLUGINS = REPO_ROOT / "plugins"  # the reports, served to logged-in users
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


def airflow_environment(
    cfg: Config, airflow_home: Path, port: int, log_ports: tuple[int, int] = (8793, 8794)
) -> dict[str, str]:
    """The environment of an Airflow that runs this project's DAGs on ``cfg``'s lake.

    Spark jobs take the whole machine, so one task runs at a time. The tasks find
    their settings as ``DIPLAKE_*`` variables, made absolute so that no task depends
    on the folder Airflow starts it in. ``log_ports``: where the worker and the
    triggerer serve their logs to the UI (Airflow's defaults; a test picks free ones).
    """
    base = f"http://127.0.0.1:{port}"
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        # A DAG file saved is picked up within seconds, not minutes.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        "NO_COLOR": "1",
        **config.as_environment(cfg),
    }
    # The project's console scripts (airflow, diplake) come first on the path.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return env


def airflow_command() -> list[str]:
    airflow = Path(sys.executable).parent / "airflow"
    return [str(airflow) if airflow.exists() else shutil.which("airflow") or "airflow"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="UI and API port (default 8080)")
    parser.add_argument(
        "--airflow-home", type=Path, help="Airflow's own folder (default: <home>/airflow-home)"
    )


def command(cfg: Config, args: argparse.Namespace) -> int:
    home = (args.airflow_home or cfg.home / "airflow-home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_environment(cfg, home, args.port)}
    print(f"Airflow UI: http://127.0.0.1:{args.port}  user admin, password in")
    print(f"  {home / PASSWORDS_FILE} (printed below the first time)")
    print(f"DAGs from {DAGS}; tasks write to the lake {cfg.lake}. Ctrl-C stops everything.")
    sys.stdout.flush()
    cmd = airflow_command()
    os.execvpe(cmd[0], [*cmd, "standalone"], env)
    return 0  # not reached
