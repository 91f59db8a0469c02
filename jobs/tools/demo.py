"""``make demo``: the whole chain on a demo-size city, on embedded defaults.

    diplake demo [--budget YUAN] [--seed N]

1. generate the demo city into ``<home>/landing`` (once; kept for later runs);
2. ingest it into ``<home>/lake``;
3. rebuild the DIP catalogue of the settlement year and score its case points;
4. run the year-end clearing as a draft (budget: ``--budget``, or the year's fund
   payments rounded down to the yuan), with statements;
5. train the fraud models (MLflow in ``<home>/mlflow.db``), score, evaluate;
6. build the reports site (``<home>/reports/index.html``);

then print the clearing summary and where each report is. Every step is the job
the ``diplake`` command runs; a second ``make demo`` ingests nothing new and
rewrites the same results (the clearing gets a new draft run id).
"""

from __future__ import annotations

import argparse
import logging
import time
from decimal import ROUND_DOWN, Decimal

from jobs import pipeline
from jobs.config import Config

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", help="the clearing budget in yuan (default: fund paid)")
    parser.add_argument("--seed", type=int, help="generator seed (default: the preset's)")


def _fund_paid(cfg: Config, year: int) -> str:
    from pyspark.sql import functions as F

    from jobs import lake
    from jobs.spark import get_spark

    spark = get_spark(cfg, "dip-lake demo")
    discharges = lake.read_version(spark, lake.table_path(cfg, "silver", "discharges"))
    total = discharges.filter(F.col("discharge_year") == year).agg(F.sum("fund_paid")).first()[0]
    return str(Decimal(total or 0).quantize(Decimal("1"), rounding=ROUND_DOWN))


def command(cfg: Config, args: argparse.Namespace) -> int:
    from jobs.generate.knobs import preset

    started = time.monotonic()
    knobs = preset("demo").replace(seed=args.seed)
    year = knobs.settlement_year
    steps = []

    def step(name: str, fn, *a, **kw):
        t0 = time.monotonic()
        print(f"==> {name}", flush=True)
        out = fn(*a, cfg=cfg, **kw)
        steps.append((name, time.monotonic() - t0))
        return out

    if not (cfg.landing / "_truth" / "summary.json").is_file():
        step("generate the demo city", pipeline.generate, knobs)
    step("ingest", pipeline.ingest)
    step(f"catalogue {year}", pipeline.catalogue, year)
    points = step(f"case points {year}", pipeline.points, year)
    budget = args.budget or _fund_paid(cfg, year)
    clearing = step(f"clearing {year} (draft)", pipeline.clearing_draft, year, budget)
    step(f"fraud training {year}", pipeline.fraud_train, year)
    fraud = step(f"fraud scoring {year}", pipeline.fraud_score, year)
    evaluation = step(f"fraud evaluation {year}", pipeline.fraud_evaluate, year)
    site = step("reports site", pipeline.reports_build)

    print()
    print(clearing["summary"])
    print(f"\nFraud alerts {year}: {fraud['alerts']} ({fraud['rule_hits']} rule hits)")
    print("\nWhere things are:")
    print(f"  lake               {cfg.lake}")
    print(f"  reports (one site) {site['site']}  (also in `make airflow`: Reports)")
    print(f"  clearing statements {clearing['statements']}")
    print(f"  catalogue report   {points['report']}")
    print(f"  fraud evaluation   {evaluation['report']}")
    if site["broken_links"] or site["outside_requests"]:
        print(
            f"  the site has {len(site['broken_links'])} broken links and "
            f"{len(site['outside_requests'])} outside requests: see `diplake reports build`"
        )
    print(f"  data quality       {cfg.quality_root}")
    print(f"  MLflow             {cfg.mlflow_uri}  (mlflow ui --backend-store-uri ...)")
    print(f"  publish the draft  diplake clearing publish --run-id {clearing['run_id']}")
    print("\n" + "  ".join(f"{n}: {s:.0f} s" for n, s in steps))
    print(f"demo finished in {time.monotonic() - started:.0f} s")
    return 0
