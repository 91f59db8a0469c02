"""``diplake fraud``: the rule base, model training, scoring and evaluation.

    diplake fraud rules                     list the rule base (jobs/fraud/rules/*.yaml)
    diplake fraud features --year Y         case, provider, person and doctor features of Y
    diplake fraud train --year Y            fit the case and provider models (MLflow)
    diplake fraud score --year Y            rules + champion models -> gold/fraud_alerts
    diplake fraud evaluate --year Y         alerts against <landing>/_truth (evaluation)

MLflow, LightGBM and Spark are imported only by the action that needs them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jobs.config import Config
from jobs.config import add_arguments as add_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("rules", help="list the rule base")
    features_p = sub.add_parser(
        "features", help="gold/fraud_features_{case,provider,person,doctor} for year Y"
    )
    train_p = sub.add_parser(
        "train",
        help="fit the models on year Y-1, judge them on Y, register, move champion if better",
    )
    score_p = sub.add_parser("score", help="rules and champion models over year Y -> alerts")
    score_p.add_argument("--case-budget", type=int, default=100, help="case alerts (100)")
    score_p.add_argument("--provider-budget", type=int, default=20, help="hospital alerts (20)")
    eval_p = sub.add_parser("evaluate", help="the year's alerts against the planted truth")
    eval_p.add_argument(
        "--truth", type=Path, help="the generator's truth folder (default <landing>/_truth)"
    )
    train_p.add_argument(
        "--level", choices=("case", "provider"), action="append", help="only this level"
    )
    for action in (features_p, train_p, score_p, eval_p):
        action.add_argument("--year", type=int, required=True, help="the year scored (Y)")
    for action in sub.choices.values():
        add_settings(action, nested=True)


def command(cfg: Config, args: argparse.Namespace) -> int:
    if args.action == "rules":
        from jobs.fraud.rules import rules_table

        print(rules_table().to_string(index=False))
        return 0
    from jobs import quality
    from jobs.spark import get_spark

    preload = quality.PRELOAD if args.action == "score" else ()  # the alerts' suite
    spark = get_spark(cfg, f"dip-lake fraud {args.action}", preload=preload)
    if args.action == "features":
        from jobs.fraud import feature_tables

        print(json.dumps(feature_tables.run(spark, cfg, args.year), indent=2))
    elif args.action == "train":
        from jobs.fraud import train

        for summary in train.run(spark, cfg, args.year, tuple(args.level or train.LEVELS)):
            print(json.dumps(summary, indent=2, default=str))
    elif args.action == "score":
        from jobs.fraud import score

        try:
            result = score.run(spark, cfg, args.year, args.case_budget, args.provider_budget)
        except score.ScoringError as error:
            print(f"diplake fraud score: {error}")
            return 2
        print(json.dumps(result, indent=2, default=str))
    else:
        from jobs.fraud import evaluate

        truth = args.truth or cfg.landing / "_truth"
        if not (truth / "fraud_labels.csv").is_file():
            print(f"diplake fraud evaluate: no fraud_labels.csv in {truth}")
            return 2
        result = evaluate.run(spark, cfg, args.year, truth)
        print(json.dumps(result, indent=2, default=str))
    return 0
