"""``make demo``: the whole chain on a demo-size city, on embedded defaults.

    diplake demo [--budget YUAN] [--seed N]

1. generate the demo city into ``<home>/landing`` (once; kept for later runs);
2. ingest it into ``<home>/lake``;
3. rebuild the DIP catalogue of the settlement year and score its case points;
4. the DIP year (SPEC 9): the hospitals' indicators, December's pre-settlement
   proposal, a special-review round drawn, the simulated experts' decisions landed,
   ingested and applied, and the assessment computed from data;
5. run the year-end clearing as a draft on the computed assessment and the review
   points (budget: ``--budget``, or the fund's budget for the year in
   silver/fund_budgets), with statements;
6. train the fraud models (MLflow in ``<home>/mlflow.db``), score, evaluate;
7. build the reports site (``<home>/reports/index.html``);

then print the clearing summary and where each report is. Every step is the job
the ``diplake`` command runs; a second ``make demo`` ingests nothing new and
rewrites the same results (the clearing gets a new draft run id).
"""

from __future__ import annotations

import argparse
import logging
import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from jobs import pipeline
from jobs.config import Config

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", help="the clearing budget in yuan (default: fund paid)")
    parser.add_argument("--seed", type=int, help="generator seed (default: the preset's)")


def _budget(cfg: Config, year: int) -> str:
    """The fund's budget for ``year`` (silver/fund_budgets), else its payments, to the yuan."""
    from pyspark.sql import functions as F

    from jobs import lake
    from jobs.spark import get_spark

    spark = get_spark(cfg, "dip-lake demo")
    budgets = lake.table_path(cfg, "silver", "fund_budgets")
    if lake.is_table(spark, budgets):
        row = lake.read_version(spark, budgets).filter(F.col("year") == year).first()
        if row is not None:
            return str(row.budget)
    discharges = lake.read_version(spark, lake.table_path(cfg, "silver", "discharges"))
    total = discharges.filter(F.col("discharge_year") == year).agg(F.sum("fund_paid")).first()[0]
    return str(Decimal(total or 0).quantize(Decimal("1"), rounding=ROUND_DOWN))


# The simulated experts answer a round's sheet on this day (after the year, before today).
ANSWERS_LAND = "{next}-01-20"


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
    step(f"indicators {year}", pipeline.dip_indicators, year)
    proposal = step(f"proposal {year}-12", pipeline.dip_proposal, year, 12)
    drawn = step(f"special review round {year}", pipeline.review_assign, year)
    answered = step(
        "the experts answer (simulated)",
        pipeline.answer_review_sheet,
        Path(drawn["sheet"]),
        ANSWERS_LAND.format(next=year + 1),
    )
    step("ingest the decisions", pipeline.ingest)
    review = step(f"review decisions {year}", pipeline.review_apply, year)
    assessment = step(f"assessment {year}", pipeline.dip_assess, year)
    bought = step(f"procurement {year}-12", pipeline.procurement_month, year, 12)
    retained = step(f"procurement retention {year}", pipeline.procurement_retention, year)
    checked = step("procurement checks", pipeline.procurement_evaluate)
    flows = step(f"off-site {year}-12", pipeline.offsite_month, year, 12)
    flows_checked = step("off-site checks", pipeline.offsite_evaluate)
    budget = args.budget or _budget(cfg, year)
    clearing = step(
        f"clearing {year} (draft)",
        pipeline.clearing_draft,
        year,
        budget,
        assessment="computed",
    )
    step(f"fraud training {year}", pipeline.fraud_train, year)
    fraud = step(f"fraud scoring {year}", pipeline.fraud_score, year)
    evaluation = step(f"fraud evaluation {year}", pipeline.fraud_evaluate, year)
    site = step("reports site", pipeline.reports_build)

    print()
    print(
        f"Pre-settlement {year}-12: {proposal['hospitals']} hospitals, proposed "
        f"{proposal['proposed']} yuan, deposit held {proposal['deposit']}, "
        f"estimated point value {proposal['pv_est']}"
    )
    print(
        f"Assessment {year} (scheme {assessment['scheme_version']}): "
        f"{assessment['deducted']} of {assessment['hospitals']} hospitals with deductions, "
        f"lowest score {assessment['lowest_score']}, mean coefficient "
        f"{assessment['mean_coefficient']}"
    )
    print(
        f"Special review round {drawn['round']}: {drawn['assigned']} cases drawn, "
        f"{answered.get('lines', 0)} decisions received, {review['passed']} of "
        f"{review['cases']} passed; points {review['points_before']} -> {review['review_points']}"
    )
    reds = ", ".join(
        f"{r['institution_code']} {r['product_code']} ×{r['ratio']}" for r in bought["red"][:3]
    )
    print(
        f"Procurement {bought['as_of']}: {bought['red_lights']} red price lights"
        + (f" (first: {reds})" if reds else "")
        + f"; {len(bought['behind_hospitals'])} hospitals behind schedule"
        + (f" ({', '.join(bought['behind_hospitals'][:6])})" if bought["behind_hospitals"] else "")
    )
    found = " ".join(f"{c['class']} {c['recall']}/{c['precision']}" for c in checked["classes"])
    print(
        f"Procurement retention {year}: {retained['retained']} yuan to "
        f"{retained['contracts']} contracts' hospitals; checks against the truth "
        f"(recall/precision): {found}"
    )
    found = " ".join(f"{k['kind']} {k['recall']}/{k['precision']}" for k in flows_checked["kinds"])
    print(
        f"Off-site {flows['label']}: net {flows['net_owed']} yuan owed to the city on the "
        f"platform's statements, {flows['differences']} differences to chase, "
        f"{flows['policy_breaks']} filing-share breaks; checks against the truth "
        f"(recall/precision): {found}"
    )
    print(clearing["summary"])
    print(f"\nFraud alerts {year}: {fraud['alerts']} ({fraud['rule_hits']} rule hits)")

    def share(name: str) -> str:
        value = evaluation.get(name)
        return "-" if value is None else f"{value:.2f}"

    print(
        f"  within the inspection budget ({fraud['budget']['case']} cases, "
        f"{fraud['budget']['provider']} hospitals), planted fraud among them: "
        f"cases {share('truth_case_precision_at_budget')}, "
        f"hospitals {share('truth_provider_precision_at_budget')}; "
        f"on variants the models were not taught, the weakest pattern's recall "
        f"{share('holdout_least_pattern_recall')}"
    )
    print("\nWhere things are:")
    print(f"  lake               {cfg.lake}")
    print(f"  reports (one site) {site['site']}  (also in `make airflow`: Reports)")
    print(f"  clearing statements {clearing['statements']}")
    print(f"  catalogue report   {points['report']}")
    print(f"  proposal report    {proposal['report']}")
    print(f"  assessment report  {assessment['report']}")
    print(f"  review report      {review['report']}")
    print(f"  fraud evaluation   {evaluation['report']}")
    print(f"  procurement        {bought['report']}")
    print(f"  retention report   {retained['report']}")
    print(f"  off-site report    {flows['report']}")
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
