"""Catalogue and points twice in one Spark session: what they cost once the JVM is warm.

    python -m jobs.bench.warm --year 2025     (settings from DIPLAKE_*)

The commands the benchmark times pay, each, for a JVM start, the Great
Expectations import, first-query code generation and JIT warm-up. A scheduler
worker that keeps its session (or a cluster's long-running driver) pays them
once; the second round here is that case. Prints one JSON line of seconds.
"""

from __future__ import annotations

import argparse
import json
import time

from jobs import config, quality
from jobs.dip import catalogue, points
from jobs.spark import get_spark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config.add_arguments(parser)
    parser.add_argument("--year", type=int, required=True)
    args = parser.parse_args(argv)
    cfg = config.from_args(args)
    started = time.monotonic()
    spark = get_spark(cfg, "dip-lake bench warm", preload=quality.PRELOAD)
    out = {"session": round(time.monotonic() - started, 1)}
    for round_ in ("first", "second"):
        t0 = time.monotonic()
        catalogue.build(spark, cfg, catalogue.Params(args.year))
        t1 = time.monotonic()
        points.compute(spark, cfg, args.year)
        t2 = time.monotonic()
        out[f"catalogue_{round_}"] = round(t1 - t0, 1)
        out[f"points_{round_}"] = round(t2 - t1, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
