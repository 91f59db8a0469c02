"""``diplake maintain``: OPTIMIZE (compaction) and VACUUM of every Delta table of the lake.

    diplake maintain [--lake DIR] [--retain-hours H]

VACUUM keeps ``--retain-hours`` of history (default 168, Delta's own default and
minimum without overriding its safety check), so time travel to the versions a
recent run recorded keeps working.
"""

from __future__ import annotations

import argparse
import logging

from delta.tables import DeltaTable

from jobs.config import Config
from jobs.spark import get_spark

log = logging.getLogger(__name__)
LAYERS = ("bronze", "silver", "gold", "quarantine", "ops")


def tables(cfg: Config) -> list[str]:
    """Every Delta table under the lake's layers, as paths."""
    found = []
    for layer in LAYERS:
        root = cfg.lake / layer
        if root.is_dir():
            found += sorted(str(p) for p in root.iterdir() if (p / "_delta_log").is_dir())
    return found


def run(spark, cfg: Config, retain_hours: int = 168) -> dict:
    done = {}
    for path in tables(cfg):
        table = DeltaTable.forPath(spark, path)
        metrics = table.optimize().executeCompaction().collect()[0].metrics
        table.vacuum(retain_hours)
        done[path.removeprefix(str(cfg.lake) + "/")] = {
            "files_added": metrics.numFilesAdded,
            "files_removed": metrics.numFilesRemoved,
        }
        log.info("%s: %s", path, done[path.removeprefix(str(cfg.lake) + "/")])
    return done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retain-hours", type=int, default=168, help="history VACUUM keeps (168 = 7 days)"
    )


def command(cfg: Config, args: argparse.Namespace) -> int:
    spark = get_spark(cfg, "dip-lake maintain")
    for table, metrics in run(spark, cfg, args.retain_hours).items():
        print(f"{table}: {metrics['files_removed']} files compacted into {metrics['files_added']}")
    return 0
