"""``diplake submit``: run a job script through ``spark-submit`` with the Delta jars.

The jars come from ``cfg.jars_dir`` (copied at install time), so nothing is
resolved from the network; the master is ``--master`` or DIPLAKE_SPARK_MASTER.
Arguments after the script are passed to it, and the lake/landing settings in
force are passed along so the job writes where this command would.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from jobs.config import Config
from jobs.spark import MissingJarsError, submit_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", type=Path, help="job file, e.g. jobs/roundtrip.py")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting for spark-submit (repeatable)",
    )
    parser.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments for the job")


def command(cfg: Config, args: argparse.Namespace) -> int:
    if not args.script.is_file():
        raise SystemExit(f"diplake submit: no job file {args.script}")
    extra = dict(item.split("=", 1) for item in args.conf)
    job_args = ["--lake", str(cfg.lake), "--landing", str(cfg.landing), *args.job_args]
    try:
        cmd = submit_command(cfg, args.script, job_args, extra_conf=extra)
    except MissingJarsError as error:
        raise SystemExit(str(error)) from None
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=False).returncode
