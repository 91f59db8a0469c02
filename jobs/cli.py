"""``diplake``: the command line of the dip-lake jobs.

Each subcommand lives in its own module, which offers ``add_arguments(parser)``
and ``command(cfg, args) -> exit code``; adding a command is one line in
:data:`COMMANDS`. Settings flags (``--lake``, ``--master`` …) are accepted by
every subcommand and fall back to ``DIPLAKE_*`` variables, then defaults.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from jobs import __version__
from jobs import config as config_module
from jobs.quality import QualityGateError

# name -> (module, one-line help). Modules are imported only for the command that runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("jobs.demo", "run the main job on embedded defaults (what `make demo` runs)"),
    "generate": ("jobs.generate.run", "write a synthetic city's feeds into the landing zone"),
    "ingest": ("jobs.ingest.run", "landing -> bronze -> silver, with quarantine and the ledger"),
    "ingest-score": (
        "jobs.ingest.score",
        "score the lake against the generator's _truth/defects.csv (evaluation only)",
    ),
    "catalogue": ("jobs.dip.catalogue", "rebuild the DIP catalogue and level coefficients for Y"),
    "points": ("jobs.dip.points", "case points of settlement year Y against catalogue Y"),
    "catalogue-report": ("jobs.dip.report", "write reports/catalogue-<Y>/ (plots and tables)"),
    "clearing": ("jobs.clearing.run", "year-end DIP clearing: run a draft, publish it, show runs"),
    "fraud": ("jobs.fraud.run", "fraud rules, model training (MLflow), scoring and evaluation"),
    "airflow": ("jobs.airflow_local", "Airflow 3 standalone (SQLite) with the project's DAGs"),
    "bench": ("jobs.bench.run", "time every stage at a scale, beside a DuckDB reference"),
    "bench-reference": (
        "jobs.bench.reference",
        "the DuckDB reference of the catalogue and points (what the bench compares)",
    ),
    "bench-report": ("jobs.bench.report", "the scaling series of bench/results in one page"),
    "bench-increments": (
        "jobs.bench.increments",
        "a city ingested day by day against the same city in one go (score, silver compared)",
    ),
    "maintain": ("jobs.maintain", "OPTIMIZE and VACUUM every Delta table of the lake"),
    "monitoring": ("jobs.clearing.monitoring", "gold/hospital_monitoring for year Y"),
    "roundtrip": ("jobs.roundtrip", "Delta round trip: write, MERGE, time travel, history"),
    "submit": ("jobs.submit", "run a job script through spark-submit with the Delta jars"),
    "config": ("jobs.show_config", "print the resolved settings and where each came from"),
}

DESCRIPTION = """\
dip-lake: the data lake and batch jobs of a city medical-insurance bureau.

PySpark jobs over Delta tables in <lake>/<layer>/<table> (layers bronze,
silver, gold, quarantine, ops) clean multi-source hospital, pharmacy and
registry data, rebuild the DIP disease-type catalogue, compute the year-end
DIP clearing, and train fraud models tracked in MLflow.

Every subcommand takes the settings flags below; each also reads DIPLAKE_<NAME>
from the environment (DIPLAKE_LAKE, DIPLAKE_SPARK_MASTER, ...). Run
`diplake config` to see what is in force.
"""

EPILOG = """\
examples:
  diplake demo                          the main job on a local lake in ./lake
  diplake roundtrip --lake /data/lake   Delta smoke test against another lake
  diplake submit --master spark://10.0.0.5:7077 jobs/roundtrip.py
  diplake config                        show resolved settings
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diplake",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dip-lake {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        config_module.add_arguments(sub)
        sub.set_defaults(_module=module_name)
        module = importlib.import_module(module_name)
        module.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_module.from_args(args)
    except config_module.ConfigError as error:
        parser.error(str(error))
    # Progress of the jobs (one line per step) on stderr; Spark's own log is in conf/.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("py4j", "great_expectations", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    module = importlib.import_module(args._module)
    try:
        return int(module.command(cfg, args) or 0)
    except config_module.ConfigError as error:
        print(f"diplake {args.command}: {error}", file=sys.stderr)
        return 2
    except QualityGateError as error:
        print(
            f"diplake {args.command}: quality gate failed, nothing promoted: {error}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
