"""The least a dip-lake Spark command costs: start, read one row of the lake, stop.

    python -m jobs.tools.bench.floor --year 2025     (settings from DIPLAKE_*)

What ``diplake catalogue`` and ``diplake points`` each do before their own work
and after it, and nothing else: the session they build (same settings, Great
Expectations imported while the JVM starts, as their quality gate needs it), one
pinned read of the year's row of gold/dip_level_coefficients (the smallest table
both read), then the session stops. The bench times the whole process, so the
commands ratio can be read against what two Spark processes cost on this machine
before any catalogue or points work. Prints one JSON line of seconds.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import config, lake, quality
from jobs.tools.bench import year_session


class FloorError(RuntimeError):
    """The lake has no catalogue of the year to read."""


def read_one(spark: SparkSession, cfg: config.Config, year: int) -> int:
    """The year's row of gold/dip_level_coefficients, read at the table's newest version.

    Returns the row's ``base_cases``; raises :class:`FloorError` when there is none.
    """
    reads = lake.PinnedReads(spark, cfg)
    row = (
        reads.table("gold", "dip_level_coefficients")
        .filter(F.col("catalogue_version") == year)
        .select("base_cases")
        .first()
    )
    if row is None:
        raise FloorError(f"no catalogue version {year}: run `diplake catalogue --year {year}`")
    return int(row.base_cases)


def main(argv: list[str] | None = None) -> int:
    cfg, year, spark, session = year_session(__doc__.splitlines()[0], "dip-lake bench floor", argv)
    t0 = time.monotonic()
    try:
        base_cases = read_one(spark, cfg, year)
    except (FloorError, lake.TableMissingError) as error:
        print(f"floor: {error}", file=sys.stderr)
        return 2
    read = time.monotonic() - t0
    for name in quality.PRELOAD:  # the jobs' gate needs them: waits for the background import
        importlib.import_module(name)
    spark.stop()
    seconds = {
        "session": session,
        "first_read": read,
        "in_process": session + time.monotonic() - t0,
    }
    print(json.dumps({k: round(v, 1) for k, v in seconds.items()} | {"base_cases": base_cases}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
