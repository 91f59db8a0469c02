"""Catalogue and points twice in one Spark session: what they cost once the JVM is warm.

    python -m jobs.tools.bench.warm --year 2025     (settings from DIPLAKE_*)

The commands the benchmark times pay, each, for a JVM start, the Great
Expectations import, first-query code generation and JIT warm-up. A scheduler
worker that keeps its session (or a cluster's long-running driver) pays them
once; the second round here is that case. Prints one JSON line of seconds.
"""

from __future__ import annotations

import json
import time

from jobs.dip import catalogue, points
from jobs.tools.bench import year_session


def main(argv: list[str] | None = None) -> int:
    cfg, year, spark, session = year_session(__doc__.splitlines()[0], "dip-lake bench warm", argv)
    out = {"session": round(session, 1)}
    for round_ in ("first", "second"):
        t0 = time.monotonic()
        catalogue.run(spark, cfg, catalogue.Params(year))
        t1 = time.monotonic()
        points.run(spark, cfg, year)
        t2 = time.monotonic()
        out[f"catalogue_{round_}"] = round(t1 - t0, 1)
        out[f"points_{round_}"] = round(t2 - t1, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
