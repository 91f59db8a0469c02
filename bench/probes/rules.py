"""Seconds of each fraud rule over a built lake, as scoring runs them (a probe, not a test).

    .venv/bin/python bench/probes/rules.py HOME [YEAR] [RULE_ID ...]

Pins silver as ``diplake fraud score`` does, takes the case fees of YEAR - 1 and YEAR
from the shared features (computing them when gold has none fresh), builds the cached
cuts the rules share, then runs each rule alone (its hits collected) and prints its
seconds. The first rule that reads a shared cut pays for building it. docs/scaling.md
quotes it.
"""

from __future__ import annotations

import sys
import time
from datetime import date

from jobs import config, lake
from jobs.fraud import feature_tables, rules, score, train
from jobs.spark import get_spark


def main(home: str, year: int, only: list[str]) -> None:
    cfg = config.load({"home": home})
    spark = get_spark(cfg, "rules-probe")
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        print(f"{name}: {now - mark:.1f} s", flush=True)
        mark = now

    reads = lake.PinnedReads(spark, cfg)
    tables = train.silver_tables(reads)
    shared = feature_tables.SharedFeatures(spark, cfg, reads, tables)
    start, end = date(year - score.LOOKBACK_YEARS + 1, 1, 1), date(year, 12, 31)
    rule_base = [r for r in rules.load_rules() if not only or r.id in only]
    found, held = score.inputs_of_rules(spark, cfg, rule_base, tables, shared, start, end)
    lap("tables")
    for rule in rule_base:
        hits = len(rule.hits(spark, found, start, end).toPandas())
        lap(f"rule {rule.id} ({hits} hits)")
    for frame in held:
        frame.unpersist()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2025, sys.argv[3:])
