"""The benchmark (:mod:`jobs.tools.bench.run`): every stage timed, beside a DuckDB reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package's modules import it; Spark only when a helper runs
    from pyspark.sql import SparkSession

    from jobs.config import Config


def year_session(
    description: str, app_name: str, argv: list[str] | None = None
) -> tuple[Config, int, SparkSession, float]:
    """For the bench's helper processes: ``--year`` and the settings flags, then the jobs' session.

    The session is built as ``diplake catalogue`` and ``diplake points`` build theirs
    (Great Expectations imported beside the JVM). Returns the settings, the year, the
    session and the seconds it took to build.
    """
    import argparse
    import time

    from jobs import config, quality
    from jobs.spark import get_spark

    parser = argparse.ArgumentParser(description=description)
    config.add_arguments(parser)
    parser.add_argument("--year", type=int, required=True)
    args = parser.parse_args(argv)
    cfg = config.from_args(args)
    started = time.monotonic()
    spark = get_spark(cfg, app_name, preload=quality.PRELOAD)
    return cfg, args.year, spark, time.monotonic() - started
