"""One full ingest of the suite's tiny city, and where its time goes (a probe, not a test).

    .venv/bin/python bench/probes/tiny_ingest.py /tmp/tiny

Generates the tiny city the suite's `tiny_landing` fixture generates (30 institutions,
4,000 insured, 500 stays a year, mess rate 0.08) once into ``<folder>/landing``, then
ingests it into a fresh ``<folder>/home`` in a warm session (local[2], two shuffle
partitions) and prints the wall seconds, the seconds per step summed over the sources
(jobs/ingest/steps.py) and each source's steps, slowest first. docs/scaling.md quotes it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from jobs import config
from jobs.generate import run as generate
from jobs.generate.knobs import preset
from jobs.ingest import run as ingest
from jobs.spark import get_spark

TINY = {"seed": 21, "institutions": 30, "insured": 4_000, "discharges_per_year": 500}


def main(root: Path) -> None:
    os.environ.setdefault("DIPLAKE_HMAC_KEY", "probe-only-key")
    landing, home = root / "landing", root / "home"
    if not landing.exists():
        generate.run(landing, preset("demo").replace(**TINY, mess_rate=0.08), progress=False)
    shutil.rmtree(home, ignore_errors=True)
    settings = {"spark_master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"}
    cfg = config.load({"home": str(home), "landing": str(landing), **settings})
    spark = get_spark(cfg, "probe: tiny ingest")
    started = time.monotonic()
    report = ingest.run(spark, cfg)
    print(f"ingest: {time.monotonic() - started:.1f} s wall")
    per_source = {s: d for s, d in report.seconds.items() if s != "run"}
    steps: dict[str, float] = {}
    for seconds in per_source.values():
        for step, value in seconds.items():
            steps[step] = round(steps.get(step, 0.0) + value, 1)
    print("steps, summed over the sources:", json.dumps(steps))
    for source, seconds in sorted(per_source.items(), key=lambda kv: -kv[1]["total"]):
        print(f"  {source}: {json.dumps(seconds)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
