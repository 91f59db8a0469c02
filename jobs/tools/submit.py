"""``diplake submit``: run a ``diplake`` command through ``spark-submit`` with the Delta jars.

    diplake submit --master spark://10.0.0.5:7077 catalogue --year 2025

The driver runs ``jobs/cli.py`` with the command and its arguments, so a job on
a cluster is the very step it is on this machine. The jars come from
``cfg.jars_dir`` (copied at install time), so nothing is resolved from the
network; the master is ``--master`` or DIPLAKE_SPARK_MASTER. The lake and
landing settings in force are passed along so the job writes where this
command would.
"""

from __future__ import annotations

import argparse
import subprocess

from jobs.config import REPO_ROOT, Config
from jobs.spark import MissingJarsError, submit_command

CLI = REPO_ROOT / "jobs" / "cli.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="the diplake command to run on the cluster, e.g. roundtrip")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting for spark-submit (repeatable)",
    )
    parser.add_argument("job_args", nargs=argparse.REMAINDER, help="the command's arguments")


def command(cfg: Config, args: argparse.Namespace) -> int:
    from jobs.cli import CLUSTER_JOBS

    if args.job not in CLUSTER_JOBS:
        jobs = ", ".join(sorted(CLUSTER_JOBS))
        raise SystemExit(f"diplake submit: {args.job!r} is not a Spark job; one of {jobs}")
    extra = dict(item.split("=", 1) for item in args.conf)
    job_args = [args.job, *args.job_args, "--lake", str(cfg.lake), "--landing", str(cfg.landing)]
    try:
        cmd = submit_command(cfg, CLI, job_args, extra_conf=extra)
    except MissingJarsError as error:
        raise SystemExit(str(error)) from None
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=False).returncode
