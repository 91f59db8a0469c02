"""``diplake bench-increments``: a city ingested day by day against the same city in one go.

    diplake bench-increments [--scale small] [--work DIR] [--days D1,D2,...]

Generates the city once (``<work>/landing``, kept for the next run), ingests it
in one run into ``<work>/one-shot``, then lands it again folder by folder into
``<work>/increments/landing`` (hard links, no copy) and ingests it at each run
date of ``--days`` and finally today, with a rerun after each increment. Then it
scores both lakes against the generator's truth (``diplake ingest-score``) and
compares every silver table row for row. The figures go to
``bench/results/<date>-increments-<scale>.json`` and ``.md``.

A measurement, not a test: the suite proves the same on the demo city
(tests/test_ingest_increments.py); this answers it at a larger scale.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import date
from pathlib import Path

from jobs import config, lake
from jobs.config import Config
from jobs.spark import get_spark

RESULTS = config.REPO_ROOT / "bench" / "results"
DEFAULT_DAYS = ("2022-02-05", "2022-03-05", "2024-06-30")


def land_until(source: Path, target: Path, day: str | None, copy=os.link) -> int:
    """Land every folder of ``source`` dated up to ``day`` (all when None) not landed yet,
    as a sender would; hard links by default (the same bytes, no copy)."""
    landed = 0
    for folder in sorted(source.glob("*/*")):
        if folder.parts[-2] == "_truth" or not folder.is_dir():
            continue
        if day is not None and folder.name > day:
            continue
        to = target / folder.parts[-2] / folder.name
        if not to.exists():
            shutil.copytree(folder, to, copy_function=copy)
            landed += 1
    return landed


def compare_silver(spark, a: Config, b: Config) -> dict[str, dict]:
    """Per silver table: rows on each side and rows found on one side only."""
    from jobs.ingest.feeds import SILVER_TABLES

    out = {}
    for table in SILVER_TABLES:
        here = [lake.is_table(spark, lake.table_path(c, "silver", table)) for c in (a, b)]
        if not any(here):  # a source neither lake has received (the experts' answers)
            continue
        left = lake.read_version(spark, lake.table_path(a, "silver", table))
        right = lake.read_version(spark, lake.table_path(b, "silver", table))
        right = right.select(*left.columns)
        out[table] = {
            "rows": left.count(),
            "rows_other": right.count(),
            "only_one_shot": left.exceptAll(right).count(),
            "only_increments": right.exceptAll(left).count(),
        }
    return out


def measure(cfg: Config, scale: str, work: Path, days: tuple[str, ...]) -> dict:
    from jobs.generate import run as generate
    from jobs.generate.knobs import preset
    from jobs.ingest import run as ingest
    from jobs.ingest import score

    source = work / "landing"
    if not (source / "_truth" / "summary.json").is_file():
        generate.run(source, preset(scale))
    settings = {"spark_master": cfg.spark_master, "shuffle_partitions": cfg.shuffle_partitions}
    one = config.load({"home": str(work / "one-shot"), "landing": str(source), **settings})
    inc = config.load({"home": str(work / "increments"), **settings})
    for home in (one.home, inc.home):
        shutil.rmtree(home, ignore_errors=True)
    spark = get_spark(one, "dip-lake bench-increments")
    started = time.monotonic()
    ingest.run(spark, one)
    one_shot_seconds = time.monotonic() - started
    runs = []
    for day in (*days, None):
        land_until(source, inc.landing, day)
        started = time.monotonic()
        report = ingest.run(spark, inc, day)
        seconds = time.monotonic() - started
        rerun = ingest.run(spark, inc, day)
        runs.append(
            {
                "run_date": report.run_date,
                "files": len(report.files),
                "records_read": sum(c.records_read for c in report.files),
                "rejected_files": len(report.rejected),
                "held_files": len(report.held),
                "seconds": round(seconds, 1),
                "rerun_nothing_new": rerun.nothing_new,
            }
        )
    (inc.landing / "_truth").symlink_to(source / "_truth")  # ingest-score reads it; ingest never
    scores = {"one_shot": score.run(spark, one), "increments": score.run(spark, inc)}
    for s in scores.values():
        s.pop("per_defect")
    return {
        "scale": scale,
        "date": date.today().isoformat(),
        "one_shot_seconds": round(one_shot_seconds, 1),
        "increments": runs,
        "ingest_score": scores,
        "silver": compare_silver(spark, one, inc),
    }


def markdown(result: dict) -> str:
    lines = [
        f"# Ingest in increments against one shot: {result['scale']} city, {result['date']}",
        "",
        f"One shot: {result['one_shot_seconds']} s. Increments (run date, files, records, s):",
        "",
        "| run date | files | records read | rejected files | held files | seconds | rerun |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in result["increments"]:
        lines.append(
            f"| {r['run_date']} | {r['files']} | {r['records_read']:,} | {r['rejected_files']} "
            f"| {r['held_files']} | {r['seconds']} | "
            f"{'nothing new' if r['rerun_nothing_new'] else 'CHANGED'} |"
        )
    lines += ["", "| ingest-score | one shot | increments |", "| --- | ---: | ---: |"]
    one, inc = result["ingest_score"]["one_shot"], result["ingest_score"]["increments"]
    for key in ("defects_injected", "defects_handled", "defect_recall", "clean_quarantine_rate"):
        lines.append(f"| {key} | {one[key]} | {inc[key]} |")
    lines += ["", "| silver table | rows | only in one shot | only in increments |"]
    lines += ["| --- | ---: | ---: | ---: |"]
    for table, c in result["silver"].items():
        lines.append(f"| {table} | {c['rows']:,} | {c['only_one_shot']} | {c['only_increments']} |")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="small", choices=("demo", "small", "city"))
    parser.add_argument("--work", type=Path, help="working folder (default <home>/benchwork)")
    parser.add_argument(
        "--days",
        default=",".join(DEFAULT_DAYS),
        help="run dates of the increments before the last (today), comma-separated",
    )


def command(cfg: Config, args: argparse.Namespace) -> int:
    work = (args.work or cfg.home / "benchwork" / f"increments-{args.scale}").resolve()
    result = measure(cfg, args.scale, work, tuple(d for d in args.days.split(",") if d))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{result['date']}-increments-{args.scale}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    text = markdown(result)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    same = all(c["only_one_shot"] == c["only_increments"] == 0 for c in result["silver"].values())
    return 0 if same else 1
