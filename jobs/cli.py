"""``diplake``: the command line of the dip-lake jobs.

A job's subcommand calls its step in :mod:`jobs.pipeline`, the same function
its DAG task calls, and prints what the step returns; that is all this module
adds. The tools (demo, bench, cluster, local Airflow) live in ``jobs/tools/``
and offer ``add_arguments(parser)`` and ``command(cfg, args) -> exit code``.

Nothing heavy is imported to build the parser: ``diplake --help`` reads only
this file, and ``diplake <command> --help`` adds that command's arguments (a
tool's module is imported only when it is the command). Spark, Delta, MLflow
and Great Expectations load when a step runs.

Settings flags (``--lake``, ``--master`` …) are accepted by every subcommand
and fall back to ``DIPLAKE_*`` variables, then defaults. The same file is the
driver script on a cluster: ``spark-submit jobs/cli.py catalogue --year 2025``
(what ``diplake submit`` runs).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs import Refused, __version__, pipeline
from jobs import config as config_module
from jobs.quality import QualityGateError
from jobs.terms import ASSESSMENT_SOURCES, LEVEL_METHODS, PV_METHODS


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its arguments and what it does.

    A job's command is two functions here; a tool's is ``tool``, the module of
    ``jobs/tools/`` that holds both, imported only when the tool is run.
    """

    help: str
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[config_module.Config, argparse.Namespace], int] | None = None
    tool: str | None = None
    spark: bool = True  # a job's command that starts Spark (``diplake submit`` can send it)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        if self.tool:
            importlib.import_module(self.tool).add_arguments(parser)
        elif self.arguments:
            self.arguments(parser)

    def __call__(self, cfg: config_module.Config, args: argparse.Namespace) -> int:
        if self.tool:
            return int(importlib.import_module(self.tool).command(cfg, args) or 0)
        return int(self.run(cfg, args) or 0)


def _year(parser: argparse.ArgumentParser, what: str = "settlement year Y") -> None:
    parser.add_argument("--year", type=int, required=True, help=what)


def _print_json(value) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


# --- generate and ingest -----------------------------------------------------------


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    from jobs.generate.knobs import SCALES  # plain data: no numpy, no pandas

    parser.add_argument(
        "--scale",
        choices=SCALES,
        default="demo",
        help="preset size: demo (a few thousand discharges a year), small "
        "(a tenth of city), city (706 institutions, ~5M insured, 350k/yr)",
    )
    parser.add_argument("--seed", type=int, help="random seed (same seed, same bytes)")
    knobs = parser.add_argument_group("knobs", "override the preset")
    knobs.add_argument("--institutions", type=int)
    knobs.add_argument("--insured", type=int, help="insured persons")
    knobs.add_argument("--discharges-per-year", type=int)
    knobs.add_argument("--first-year", type=int)
    knobs.add_argument("--years", type=int, help="years to generate (3 base + settlement: 4)")
    knobs.add_argument("--mess-rate", type=float, help="share of records with a defect (0.02)")
    knobs.add_argument("--fee-detail-years", type=int, help="years with itemised fee details")
    instead = parser.add_mutually_exclusive_group()
    instead.add_argument(
        "--answer-sheet",
        type=Path,
        metavar="CSV",
        help="instead of a city: the simulated experts answer this review assignment sheet "
        "(reports/review-<Y>/assignments-<day>.csv); their decisions land for --day",
    )
    instead.add_argument(
        "--next-day",
        action="store_true",
        help="instead of rewriting the landing zone: land one further day of every daily "
        "feed (settlement lists, fee details, pharmacy sales, face checks, procurement "
        "orders, deliveries, payments, off-site settlements) into the city already there, "
        "which the same --scale, --seed and knobs must have generated: new cases, "
        "corrections and resends of recent ones, the usual mess; its truth goes to "
        "_truth/next_day_<day>.json and _truth/defects.csv (docs/sources/next_day.md)",
    )
    parser.add_argument(
        "--day",
        help="YYYY-MM-DD: the landing day of the answers (default: today), or of the further "
        "day (default: the day after the newest folder of the daily feeds)",
    )


def _generate(cfg, args) -> int:
    from jobs.generate.knobs import preset

    if args.answer_sheet:
        from datetime import date

        day = args.day or date.today().isoformat()
        _print_json(pipeline.answer_review_sheet(args.answer_sheet, day, cfg))
        return 0

    knobs = preset(args.scale).replace(
        seed=args.seed,
        institutions=args.institutions,
        insured=args.insured,
        discharges_per_year=args.discharges_per_year,
        first_year=args.first_year,
        years=args.years,
        mess_rate=args.mess_rate,
        fee_detail_years=args.fee_detail_years,
    )
    if args.next_day:
        from jobs.generate.next_day import land_next_day

        _print_json(land_next_day(cfg.landing, knobs, args.day, progress=True))
        return 0
    _print_json(pipeline.generate(knobs, cfg))
    print(f"\nLanding zone: {cfg.landing}  (truth in {cfg.landing / '_truth'})")
    return 0


INGEST_HELP = """\
landing -> bronze -> silver, with quarantine and the ledger.

Takes every file not ingested before (by path and checksum) in a landing folder
dated on or before the run date; later folders are held until their day. Bad
records go to quarantine/<source> with reason codes, whole unreadable files to
ops/file_rejections; ops/ingest_ledger balances every file. A rerun takes only
what is new, so running it twice changes nothing; a killed run is simply run
again. Needs the pseudonymisation key: DIPLAKE_HMAC_KEY, or the key file
(--hmac-key-file below; `make key` writes a local demo key); without one it
stops before reading anything. Reads <landing>/<source>/<yyyy-mm-dd>/ and
writes <lake>/{bronze,silver,quarantine,ops}/ (folders in force below).
"""


def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date",
        help="the run date (YYYY-MM-DD, default today): landing folders dated after it are "
        "held until their day, every new file dated on or before it is taken",
    )


def _ingest(cfg, args) -> int:
    summary = pipeline.ingest(args.date, cfg)
    for relative, problem in summary["rejected_files"].items():
        print(f"rejected whole: {relative} ({problem})")
    if summary["held_files"]:
        first, last = summary["held_days"]
        print(
            f"held until their day: {summary['held_files']} files in folders dated after "
            f"{summary['run_date']} ({first}{' .. ' + last if last != first else ''})"
        )
    if not summary["sources"]:
        print("Nothing new in the landing zone.")
        return 0
    columns = pipeline.INGEST_COUNTS
    width = max(len(s) for s in summary["sources"])
    print(f"{'source':<{width}}  " + "  ".join(f"{c:>12}" for c in columns))
    for source, counts in sorted(summary["sources"].items()):
        print(f"{source:<{width}}  " + "  ".join(f"{counts[c]:>12,}" for c in columns))
    files = sum(c["files"] for c in summary["sources"].values())
    print(f"\n{files} files ingested into {cfg.lake} (run date {summary['run_date']})")
    return 0


def _ingest_score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")


def _ingest_score(cfg, args) -> int:
    result = pipeline.ingest_score(cfg)
    print(f"{'defect':<32} {'injected':>9} {'handled':>9} {'recall':>8}")
    for defect, row in sorted(result["per_defect"].items()):
        recall = row["handled"] / row["injected"] if row["injected"] else 1.0
        print(f"{defect:<32} {row['injected']:>9,} {row['handled']:>9,} {recall:>8.4f}")
    print(
        f"\ndefects handled: {result['defects_handled']:,} of {result['defects_injected']:,} "
        f"({result['defect_recall']:.4%})"
    )
    print(
        f"clean records quarantined: {result['clean_quarantined']:,} of "
        f"{result['clean_records']:,} ({result['clean_quarantine_rate']:.4%})"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


# --- DIP ------------------------------------------------------------------------------


def parse_weights(text: str) -> tuple[int, int, int]:
    """``1:2:7`` -> (1, 2, 7): the base years' weights, oldest first."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"weights are three positive integers like 1:2:7, not {text!r}"
        )
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def _catalogue_arguments(parser: argparse.ArgumentParser) -> None:
    _year(parser, "settlement year Y (base: Y-3..Y-1)")
    # No defaults here: a value not given is the catalogue's own (jobs/dip/catalogue.py Params).
    parser.add_argument("--threshold", type=int, help="core type minimum cases (SPEC: 15)")
    parser.add_argument(
        "--weights", type=parse_weights, help="base year weights, oldest first (SPEC: 1:2:7)"
    )
    parser.add_argument("--rw-scale", type=int, help="RW of a type at mean cost M (SPEC: 1000)")
    parser.add_argument(
        "--level-method",
        choices=LEVEL_METHODS,
        help="level coefficient K: casemix (the level's cost over its types' expected cost; "
        "default) or raw (the level's mean cost over the city's, as the national text writes it)",
    )
    parser.add_argument(
        "--auxiliary",
        action="store_true",
        default=None,
        help="also build the auxiliary catalogue (SPEC 9.4: severity strata by the Charlson "
        "index of the secondary diagnoses and by age band); the case points then use it. Off "
        "by default; recorded with the catalogue's parameters",
    )


def _catalogue(cfg, args) -> int:
    s = pipeline.catalogue(
        args.year,
        args.threshold,
        args.weights,
        args.rw_scale,
        cfg,
        level_method=args.level_method,
        auxiliary=args.auxiliary,
    )
    print(
        f"Catalogue {s['year']}: {s['types']:,} types "
        f"({s['core_types']:,} core, {s['comprehensive_types']:,} comprehensive), "
        f"core coverage {s['core_coverage']:.1%} of {s['base_cases']:,} base cases; "
        f"M = {s['M']}; K ({s['level_method']}) = {s['k']}"
    )
    return 0


def _points_arguments(parser: argparse.ArgumentParser) -> None:
    _year(parser)
    parser.add_argument(
        "--no-report", action="store_true", help="skip reports/catalogue-<Y>/ (written by default)"
    )


def _points(cfg, args) -> int:
    s = pipeline.points(args.year, not args.no_report, cfg)
    classes = ", ".join(f"{k} {v:,}" for k, v in sorted(s["classes"].items()))
    print(
        f"Points {s['year']}: {s['cases']:,} cases ({classes}); "
        f"{s['special_review']:,} for special review; total {s['total_points']} points"
    )
    if "report" in s:
        print(f"Catalogue report: {s['report']}")
    return 0


def _catalogue_report(cfg, args) -> int:
    print(f"Report: {pipeline.catalogue_report(args.year, cfg)['report']}")
    return 0


def _clearing_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_p = sub.add_parser("run", help="compute a clearing and save it as a draft")
    _year(run_p)
    run_p.add_argument("--budget", required=True, help="the fund's DIP budget for Y, in yuan")
    run_p.add_argument(
        "--pv-method", choices=PV_METHODS, default=PV_METHODS[0], help=f"({PV_METHODS[0]})"
    )
    run_p.add_argument("--dry-run", action="store_true", help="compute and print, write nothing")
    run_p.add_argument(
        "--assessment",
        choices=ASSESSMENT_SOURCES,
        default="feed",
        help="where a hospital's coefficient A comes from: feed (silver/assessment_scores, "
        "else 1) or computed (the feed's row where there is one, else gold/dip_assessment; "
        "SPEC 9.3). The run records each hospital's source. (feed)",
    )
    pub = sub.add_parser("publish", help="make a draft final (never changed afterwards)")
    pub.add_argument("--run-id", required=True)
    pub.add_argument("--reason", help="required when the year already has a published run")
    show_p = sub.add_parser("show", help="list clearing runs")
    show_p.add_argument("--year", type=int)
    for action in (run_p, pub, show_p):
        config_module.add_arguments(action, nested=True)


def _clearing(cfg, args) -> int:
    if args.action == "run":
        s = pipeline.clearing_draft(
            args.year, args.budget, args.pv_method, args.dry_run, cfg, args.assessment
        )
        print(s["summary"])
        if s["run_id"]:
            print(f"Statements: {s['statements']}")
            print(f"Publish with: diplake clearing publish --run-id {s['run_id']}")
    elif args.action == "publish":
        print(pipeline.clearing_publish(args.run_id, args.reason, cfg))
    else:
        print(pipeline.clearing_runs(args.year, cfg))
    return 0


def _monitoring(cfg, args) -> int:
    s = pipeline.monitoring(args.year, cfg)
    flagged = s["flagged"]
    print(
        f"gold/hospital_monitoring {s['year']}: {s['hospitals']} hospitals, {len(flagged)} flagged"
    )
    for row in s["flagged"]:
        print("  " + "  ".join(f"{k} {v}" for k, v in row.items()))
    return 0


# --- fraud ------------------------------------------------------------------------------


def _fraud_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("rules", help="list the rule base")
    features_p = sub.add_parser(
        "features", help="gold/fraud_features_{case,provider,person,doctor,case_fees} for year Y"
    )
    train_p = sub.add_parser(
        "train",
        help="fit the models on year Y-1, judge them on Y, register, move champion if better",
    )
    train_p.add_argument(
        "--level", choices=("case", "provider"), action="append", help="only this level"
    )
    score_p = sub.add_parser("score", help="rules and champion models over year Y -> alerts")
    # Not given: the inspection budget the models are judged at (jobs/fraud/budget.py).
    score_p.add_argument(
        "--case-budget",
        type=int,
        help="case alerts from the model (default: the inspection budget's share of the "
        "year's cases, jobs/fraud/schemes/inspection-budget-*.yaml)",
    )
    score_p.add_argument(
        "--provider-budget",
        type=int,
        help="hospital alerts from the model (default: the budget's share of the hospitals)",
    )
    eval_p = sub.add_parser("evaluate", help="the year's alerts against the planted truth")
    eval_p.add_argument(
        "--truth", type=Path, help="the generator's truth folder (default <landing>/_truth)"
    )
    for action in (features_p, train_p, score_p, eval_p):
        _year(action, "the year scored (Y)")
    for action in sub.choices.values():
        config_module.add_arguments(action, nested=True)


def _fraud(cfg, args) -> int:
    if args.action == "rules":
        rows = pipeline.fraud_rules()
        width = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]}
        print("  ".join(f"{k:<{width[k]}}" for k in width))
        for row in rows:
            print("  ".join(f"{row[k]!s:<{width[k]}}" for k in width))
        return 0
    if args.action == "features":
        _print_json(pipeline.fraud_features(args.year, cfg))
    elif args.action == "train":
        for summary in pipeline.fraud_train(args.year, args.level, cfg):
            _print_json(summary)
    elif args.action == "score":
        _print_json(pipeline.fraud_score(args.year, args.case_budget, args.provider_budget, cfg))
    else:
        _print_json(pipeline.fraud_evaluate(args.year, args.truth, cfg))
    return 0


# --- the DIP year (SPEC 9) ------------------------------------------------------------


def _dip_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ind = sub.add_parser(
        "indicators", help="gold/dip_hospital_indicators of Y over the cases scored so far"
    )
    prop = sub.add_parser(
        "proposal", help="gold/dip_prepayment_proposals of month M of Y, and its report"
    )
    prop.add_argument("--month", type=int, required=True, help="month M (1-12)")
    month = sub.add_parser(
        "month",
        help="the monthly run in one session: points of Y so far, indicators, month M's proposal",
    )
    month.add_argument("--month", type=int, required=True, help="month M (1-12)")
    assess = sub.add_parser("assess", help="gold/dip_assessment of Y from its indicators")
    for action in (ind, assess):
        action.add_argument(
            "--scheme", help="assessment scheme version (jobs/dip/schemes/; default 2025.1)"
        )
    for action in sub.choices.values():
        _year(action)
        config_module.add_arguments(action, nested=True)


def _dip(cfg, args) -> int:
    if args.action == "indicators":
        s = pipeline.dip_indicators(args.year, args.scheme, cfg)
        print(f"Indicators {s['year']}: {s['hospitals']} hospitals (run {s['run_id']})")
    elif args.action in ("proposal", "month"):
        if args.action == "month":
            done = pipeline.dip_month(args.year, args.month, cfg)
            print(
                f"Points {args.year}: {done['points']['cases']:,} cases; indicators of "
                f"{done['indicators']['hospitals']} hospitals"
            )
            s = done["proposal"]
        else:
            s = pipeline.dip_proposal(args.year, args.month, cfg)
        print(
            f"Proposal {s['year']}-{s['month']:02d}: {s['hospitals']} hospitals, proposed "
            f"{s['proposed']} yuan, deposit held {s['deposit']}, pv_est {s['pv_est']}"
        )
        print(f"Report: {s['report']}")
    else:
        s = pipeline.dip_assess(args.year, args.scheme, cfg)
        print(
            f"Assessment {s['year']} (scheme {s['scheme_version']}): {s['hospitals']} hospitals, "
            f"{s['deducted']} with deductions, lowest score {s['lowest_score']}, "
            f"mean A {s['mean_coefficient']}"
        )
        print(f"Report: {s['report']}")
    return 0


def _review_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    assign = sub.add_parser(
        "assign",
        help="draw a round: candidates not yet drawn get three experts each; writes the sheet",
    )
    assign.add_argument(
        "--on",
        type=_date,
        help="the day of the draw, YYYY-MM-DD (experts active that day; names the round; "
        "default the year's last discharge so far)",
    )
    assign.add_argument("--seed", type=int, help="the draw's seed (default: from year and day)")
    sub.add_parser("apply", help="decide the drawn cases from the decisions received so far")
    sub.add_parser("show", help="the year's rounds and outcomes")
    for action in sub.choices.values():
        _year(action)
        config_module.add_arguments(action, nested=True)


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError as bad:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from bad


def _review(cfg, args) -> int:
    if args.action == "assign":
        s = pipeline.review_assign(args.year, args.on, args.seed, cfg)
        print(
            f"Review round {s['round']} of {s['year']} (seed {s['seed']}): {s['assigned']} "
            f"assigned, {s['unassigned']} unassigned, {s['refused']} applications refused, "
            f"{s['over_limit']} over the limit of {s['limit']}"
        )
        print(f"Sheet for the experts: {s['sheet']}")
    elif args.action == "apply":
        s = pipeline.review_apply(args.year, cfg)
        refused = ", ".join(f"{k} {v}" for k, v in s["refused"].items()) or "none"
        print(
            f"Review {s['year']}: {s['cases']} cases decided, {s['passed']} passed; "
            f"{s['decisions']} decisions, refused: {refused}; points {s['points_before']} -> "
            f"{s['review_points']}"
        )
        print(f"Report: {s['report']}")
    else:
        _print_json(pipeline.review_show(args.year, cfg))
    return 0


# --- the reports site -----------------------------------------------------------------


def _reports_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser(
        "build",
        help="render every report's pages, the home and data-quality pages, copy the Data "
        "Docs beside them and check every link (exit 1 on a broken link or an outside request)",
    )
    for action in sub.choices.values():
        config_module.add_arguments(action, nested=True)


def _reports(cfg, args) -> int:
    s = pipeline.reports_build(cfg)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(s["reports"].items())) or "no reports"
    print(f"reports site: {s['site']}")
    print(f"  {kinds}; {s['pages_written']} pages written, {s['data_docs_copied']} Data Docs files")
    for what in ("broken_links", "outside_requests"):
        for line in s[what]:
            print(f"  {what.replace('_', ' ')[:-1]}: {line}")
    return 1 if s["broken_links"] or s["outside_requests"] else 0


# --- lake-wide jobs -------------------------------------------------------------------


def _maintain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retain-hours", type=int, help="history VACUUM keeps (default 168 = 7 days)"
    )


def _maintain(cfg, args) -> int:
    for table, metrics in pipeline.maintain(args.retain_hours, cfg).items():
        print(f"{table}: {metrics['files_removed']} files compacted into {metrics['files_added']}")
    return 0


def _roundtrip(cfg, args) -> int:
    print(pipeline.roundtrip(cfg))
    return 0


def _procurement_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    month = sub.add_parser(
        "month",
        help="as of month M's last day: completion of the year's contracts, the month's price "
        "lights, the distributors' settlement, and reports/procurement-Y-MM/",
    )
    month.add_argument("--month", type=int, required=True, help="month M (1-12)")
    retention = sub.add_parser(
        "retention",
        help="gold/vbp_surplus_retention of the contracts of Y, at their end (before the "
        "clearing: its statements show each hospital's retention)",
    )
    evaluate = sub.add_parser(
        "evaluate",
        help="the checks over every month against the generator's truth (evaluation only)",
    )
    evaluate.add_argument("--truth", type=Path, help="the truth folder (default <landing>/_truth)")
    for action in (month, retention):
        _year(action, "contract year Y")
        action.add_argument(
            "--scheme", help="procurement scheme version (jobs/procurement/schemes/; 2025.1)"
        )
    for action in sub.choices.values():
        config_module.add_arguments(action, nested=True)


def _procurement(cfg, args) -> int:
    if args.action == "month":
        s = pipeline.procurement_month(args.year, args.month, args.scheme, cfg)
        print(
            f"Procurement {s['as_of']}: {s['rows']['vbp_completion']:,} contracts, "
            f"{s['rows']['drug_price_lights']:,} price lights, "
            f"{s['rows']['distributor_settlement']:,} settlement rows (run {s['run_id']})"
        )
        print(f"Report: {s['report']}")
    elif args.action == "retention":
        s = pipeline.procurement_retention(args.year, args.scheme, cfg)
        print(
            f"Retention {s['year']} (scheme {s['scheme_version']}): {s['contracts']:,} "
            f"contracts, {s['retained']} yuan retained (run {s['run_id']})"
        )
        print(f"Report: {s['report']}")
    else:
        s = pipeline.procurement_evaluate(args.truth, cfg)
        for c in s["classes"]:
            print(
                f"{c['class']:<28} planted {c['planted']:>5}  found {c['found']:>5}  "
                f"recall {c['recall']}  precision {c['precision']}"
            )
        print(f"Report: {s['report']}")
    return 0


def _offsite_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    month = sub.add_parser(
        "month",
        help="month M against the platform's statement (it lands on the 15th of M+1): the "
        "reconciliation per counterpart region, its differences, the filing-share breaks, "
        "the destinations; reports/offsite-Y-MM/. Without --year and --month: the newest "
        "month whose statement is in silver",
    )
    month.add_argument("--year", type=int, help="year Y (with --month; default: the newest)")
    month.add_argument("--month", type=int, help="month M (1-12)")
    month.add_argument("--scheme", help="off-site scheme version (jobs/offsite/schemes/; 2025.1)")
    evaluate = sub.add_parser(
        "evaluate",
        help="the checks over every month against the generator's truth (evaluation only)",
    )
    evaluate.add_argument("--truth", type=Path, help="the truth folder (default <landing>/_truth)")
    for action in sub.choices.values():
        config_module.add_arguments(action, nested=True)


def _offsite(cfg, args) -> int:
    if args.action == "month":
        if (args.year is None) != (args.month is None):
            raise SystemExit("give both --year and --month, or neither (the newest statement)")
        s = pipeline.offsite_month(args.year, args.month, args.scheme, cfg)
        print(
            f"Off-site {s['label']}: net {s['net_owed']} yuan owed to the city on the "
            f"statements, {s['differences']:,} differences to chase, {s['policy_breaks']:,} "
            f"filing-share breaks, {s['destinations_listed']:,} destinations listed "
            f"(run {s['run_id']})"
        )
        print(f"Report: {s['report']}")
    else:
        s = pipeline.offsite_evaluate(args.truth, cfg)
        for k in s["kinds"]:
            print(
                f"{k['kind']:<24} planted {k['planted']:>5}  found {k['found']:>5}  "
                f"recall {k['recall']}  precision {k['precision']}"
            )
        print(
            f"inbound stays unmatched: {s['case_differences']} "
            f"({s['case_differences_list_quarantined']} with the list in quarantine)"
        )
        print(f"Report: {s['report']}")
    return 0


# name -> what it does. A job's command calls its pipeline step; a tool's, its module.
COMMANDS: dict[str, Command] = {
    "demo": Command(
        "run the main job on embedded defaults (what `make demo` runs)", tool="jobs.tools.demo"
    ),
    "generate": Command(
        "write a synthetic city's feeds into the landing zone",
        _generate_arguments,
        _generate,
        spark=False,
    ),
    "ingest": Command(INGEST_HELP, _ingest_arguments, _ingest),
    "ingest-score": Command(
        "score the lake against the generator's _truth/defects.csv (evaluation only)",
        _ingest_score_arguments,
        _ingest_score,
    ),
    "catalogue": Command(
        "rebuild the DIP catalogue and level coefficients for Y", _catalogue_arguments, _catalogue
    ),
    "points": Command(
        "case points of settlement year Y against catalogue Y", _points_arguments, _points
    ),
    "catalogue-report": Command(
        "write reports/catalogue-<Y>/ (plots and tables)", _year, _catalogue_report
    ),
    "clearing": Command(
        "year-end DIP clearing: run a draft, publish it, show runs", _clearing_arguments, _clearing
    ),
    "monitoring": Command("gold/hospital_monitoring for year Y", _year, _monitoring),
    "dip": Command(
        "the DIP year: indicators, the month's pre-settlement proposal, the assessment",
        _dip_arguments,
        _dip,
    ),
    "review": Command(
        "special-case review by the expert library: assign a round, apply decisions, show",
        _review_arguments,
        _review,
    ),
    "fraud": Command(
        "fraud rules, model training (MLflow), scoring and evaluation", _fraud_arguments, _fraud
    ),
    "procurement": Command(
        "drug procurement: the month's completion, price lights and settlement; the year's "
        "retention; the checks against the truth",
        _procurement_arguments,
        _procurement,
    ),
    "offsite": Command(
        "off-site treatment: the month against the national platform's statement; the "
        "checks against the truth",
        _offsite_arguments,
        _offsite,
    ),
    "reports": Command(
        "the reports as one site: `diplake reports build` (no Spark)",
        _reports_arguments,
        _reports,
        spark=False,
    ),
    "maintain": Command(
        "OPTIMIZE and VACUUM every Delta table of the lake", _maintain_arguments, _maintain
    ),
    "roundtrip": Command("Delta round trip: write, MERGE, time travel, history", run=_roundtrip),
    "airflow": Command(
        "Airflow 3 standalone (SQLite) with the project's DAGs",
        tool="jobs.tools.airflow_local",
    ),
    "bench": Command(
        "time every stage at a scale, beside a DuckDB reference",
        tool="jobs.tools.bench.run",
    ),
    "bench-reference": Command(
        "the DuckDB reference of the catalogue and points (what the bench compares)",
        tool="jobs.tools.bench.reference",
    ),
    "bench-report": Command(
        "the scaling series of bench/results in one page",
        tool="jobs.tools.bench.report",
    ),
    "bench-increments": Command(
        "a city ingested day by day against the same city in one go (score, silver compared)",
        tool="jobs.tools.bench.increments",
    ),
    "submit": Command(
        "run a diplake command through spark-submit with the Delta jars",
        tool="jobs.tools.submit",
    ),
    "config": Command(
        "print the resolved settings and where each came from",
        tool="jobs.tools.show_config",
    ),
}
# What `diplake submit` can send to a cluster: the Spark jobs among the commands.
CLUSTER_JOBS = frozenset(name for name, c in COMMANDS.items() if c.spark and not c.tool)

DESCRIPTION = """\
dip-lake: the data lake and batch jobs of a city medical-insurance bureau.

PySpark jobs over Delta tables in <lake>/<layer>/<table> (layers bronze,
silver, gold, quarantine, ops) clean multi-source hospital, pharmacy and
registry data, rebuild the DIP disease-type catalogue, compute the year-end
DIP clearing, and train fraud models tracked in MLflow.

Every subcommand takes the settings flags below; each also reads DIPLAKE_<NAME>
from the environment (DIPLAKE_LAKE, DIPLAKE_SPARK_MASTER, ...). Run
`diplake config` to see what is in force.
"""

EPILOG = """\
examples:
  diplake demo                          the main job on a local lake in ./lake
  diplake roundtrip --lake /data/lake   Delta smoke test against another lake
  diplake submit --master spark://10.0.0.5:7077 catalogue --year 2025
  diplake config                        show resolved settings
"""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, every command listed but only that one's arguments."""
    parser = argparse.ArgumentParser(
        prog="diplake",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dip-lake {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(
            name,
            help=command.help.splitlines()[0],
            description=command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only is None or name == only:
            config_module.add_arguments(sub)
            command.add_arguments(sub)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named on the line: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_chosen(argv) or "")
    args = parser.parse_args(argv)
    try:
        cfg = config_module.from_args(args)
    except config_module.ConfigError as error:
        parser.error(str(error))
    # Progress of the jobs (one line per step) on stderr; Spark's own log is in conf/.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("py4j", "great_expectations", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](cfg, args)
    except config_module.ConfigError as error:
        print(f"diplake {args.command}: {error}", file=sys.stderr)
        return 2
    except Refused as error:
        print(f"diplake {args.command}: refused: {error}", file=sys.stderr)
        return 2
    except QualityGateError as error:
        print(
            f"diplake {args.command}: quality gate failed, nothing promoted: {error}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
