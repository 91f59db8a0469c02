"""``diplake fraud evaluate``: the year's alerts and scores against the generator's truth.

Evaluation only: the truth (``<landing>/_truth/fraud_labels.csv``) is read here
and nowhere else. Persons are labelled there by raw ID number; they are keyed
with the lake's HMAC key on the way in, so no raw number is written anywhere.

Reported, and logged to the champion models' MLflow runs:

* per rule-detectable pattern, the rules' recall and precision (cases: those
  discharged in the rules' period);
* per model level, ROC-AUC and PR-AUC of the scores of the later period, and the
  headline: the precision at the inspection budget (``jobs/fraud/budget.py``, a
  share of the entities scored), with the precision at every share up to 30% drawn
  against the budget;
* per pattern, the recall of the alert list, rules and models together;
* leave one variant out (``jobs/fraud/holdout.py``): per pattern and variant, the
  recall when the models were fitted without that variant's audited entities, and
  per look-alike family the share of it on the alert list;
* a warning for any metric at or above 0.99 (leakage, or too easy data).
"""

from __future__ import annotations

import json
import math
import time
from datetime import date
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake, site
from jobs.config import Config
from jobs.fraud import budget, feature_tables, features, holdout, models, score, train
from jobs.pseudonymise import person_key_value


def load_truth(truth_dir: Path, key: bytes, name: str = "fraud_labels.csv") -> pd.DataFrame:
    """entity_type, entity_id, pattern and the variant (labels) or family (look-alikes,
    ``name`` lookalikes.csv); person ids replaced by their person_key. A truth written
    before variants were planted has one variant, ``plain``."""
    truth = pd.read_csv(truth_dir / name, dtype=str, keep_default_na=False)
    shape = "variant" if name == "fraud_labels.csv" else "family"
    if shape not in truth.columns:
        truth[shape] = "plain"
    persons = truth.entity_type == "person"
    truth.loc[persons, "entity_id"] = [person_key_value(key, v) for v in truth.entity_id[persons]]
    return truth


def rule_scores(hits: pd.DataFrame, truth: pd.DataFrame, cases_in_period: set[str]) -> pd.DataFrame:
    """Recall and precision of the rule alerts per (entity type, pattern) that rules cover."""
    rows = []
    for (entity_type, pattern), mine in hits.groupby(["entity_type", "pattern"]):
        true = truth[(truth.entity_type == entity_type) & (truth.pattern == pattern)]
        if entity_type == "case":
            true = true[true.entity_id.isin(cases_in_period)]
        found, wanted = set(mine.entity_id), set(true.entity_id)
        rows.append(
            {
                "entity_type": entity_type,
                "pattern": pattern,
                "hits": len(found),
                "truth": len(wanted),
                "recall": len(found & wanted) / len(wanted) if wanted else math.nan,
                "precision": len(found & wanted) / len(found) if found else math.nan,
            }
        )
    return pd.DataFrame(rows)


def model_scores(scores: pd.DataFrame, truth: pd.DataFrame, level: str, k: int) -> dict:
    """Ranking metrics of one level's scores, any planted pattern counting as fraud."""
    guilty = set(truth.entity_id[truth.entity_type == level])
    y = scores.entity_id.isin(guilty).astype(int)
    return models.ranking_metrics(y, scores.score, k, f"truth_{level}")


SHARES = (0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3)


def precision_by_share(scores: pd.DataFrame, truth: pd.DataFrame, level: str) -> pd.DataFrame:
    """The precision of the top ``share`` of one level's ranking, for each of :data:`SHARES`
    (the curve an inspection plan reads its budget from)."""
    guilty = set(truth.entity_id[truth.entity_type == level])
    y = scores.entity_id.isin(guilty).astype(int).to_numpy()
    rows = []
    for share in SHARES:
        k = budget.count_at(share, len(y))
        rows.append(
            {
                "level": level,
                "share": share,
                "inspected": k,
                "precision": models.precision_at_k(y, scores.score.to_numpy(), k),
            }
        )
    return pd.DataFrame(rows)


def alert_recall(
    alerts: pd.DataFrame, truth: pd.DataFrame, in_scope: dict[str, set]
) -> pd.DataFrame:
    """Per pattern, the share of its planted entities that are on the alert list."""
    alerted = set(zip(alerts.entity_type, alerts.entity_id, strict=True))
    rows = []
    for (entity_type, pattern), true in truth.groupby(["entity_type", "pattern"]):
        ids = set(true.entity_id)
        if entity_type in in_scope:
            ids &= in_scope[entity_type]
        hit = {i for i in ids if (entity_type, i) in alerted}
        rows.append(
            {
                "entity_type": entity_type,
                "pattern": pattern,
                "planted": len(ids),
                "alerted": len(hit),
                "recall": len(hit) / len(ids) if ids else math.nan,
            }
        )
    return pd.DataFrame(rows)


def run(spark: SparkSession, cfg: Config, year: int, truth_dir: Path) -> dict:
    truth = load_truth(truth_dir, cfg.hmac_key())
    reads = lake.PinnedReads(spark, cfg)
    alerts = reads.table("gold", "fraud_alerts").filter(F.col("period") == year).toPandas()
    scores = reads.table("gold", "fraud_scores").filter(F.col("period") == year).toPandas()
    discharges = reads.table("silver", "discharges")
    start = date(year - score.LOOKBACK_YEARS + 1, 1, 1)
    in_period = {
        r.case_id
        for r in discharges.filter(F.col("discharge_date").between(start, date(year, 12, 31)))
        .select("case_id")
        .collect()
    }
    rule_alerts = alerts[alerts.source.str.contains("rule")]
    by_rule = rule_scores(rule_alerts[["entity_type", "entity_id", "pattern"]], truth, in_period)
    client = train.use_tracking(cfg)
    metrics, runs, curves = {}, {}, []
    shares = budget.load()
    for level in train.LEVELS:
        mine = scores[scores.entity_type == level]
        if level == "provider":
            mine = _provider_later_period(client, mine)
        metrics |= model_scores(mine, truth, level, shares.count(level, len(mine)))
        metrics[f"truth_{level}_budget_share"] = float(shares.share(level))
        curves.append(precision_by_share(mine, truth, level))
        model_alerts = alerts[(alerts.entity_type == level) & alerts.source.str.contains("model")]
        guilty = set(truth.entity_id[truth.entity_type == level])
        metrics[f"truth_{level}_alert_precision"] = (
            float(model_alerts.entity_id.isin(guilty).mean()) if len(model_alerts) else math.nan
        )
        version = client.get_model_version_by_alias(train.model_name(level), models.CHAMPION)
        runs[level] = version.run_id
    recall = alert_recall(alerts, truth, {"case": in_period})
    held = _holdout(spark, reads, cfg, year, truth, truth_dir, alerts, shares)
    by_pattern = (
        holdout.pattern_recall(held["variants"]) if len(held["variants"]) else pd.DataFrame()
    )
    metrics |= held["anomaly"]
    for r in by_pattern.itertuples():
        metrics[f"holdout_{r.pattern}_recall"] = float(r.recall)
    for r in held["families"].itertuples():
        metrics[f"lookalike_{r.pattern}_{r.family}_false_alerts"] = float(r.share)
    if len(by_pattern):
        metrics["holdout_least_pattern_recall"] = float(by_pattern.recall.min())
    if len(held["families"]):
        metrics["lookalike_most_false_alerts"] = float(held["families"].share.max())
    for r in by_rule.itertuples():
        metrics[f"rule_{r.pattern}_{r.entity_type}_recall"] = r.recall
        metrics[f"rule_{r.pattern}_{r.entity_type}_precision"] = r.precision
    for level, run_id in runs.items():
        client.log_batch(
            run_id,
            metrics=[
                mlflow_metric(name, value)
                for name, value in metrics.items()
                if not _nan(value)
                and name.startswith((f"truth_{level}", "rule_", "holdout_", "lookalike_"))
            ],
        )
    warnings = models.too_good({k: v for k, v in metrics.items() if k.startswith("truth_")})
    easy = models.too_easy_rules(metrics)
    curve = pd.concat(curves, ignore_index=True)
    report = write_report(
        cfg,
        year,
        by_rule,
        recall,
        metrics,
        warnings,
        easy,
        reads.versions,
        curve,
        shares,
        (held["variants"], by_pattern, held["families"]),
    )
    return {"report": str(report), "warnings": warnings, "easy_rules": easy, **metrics}


def _holdout(spark, reads, cfg, year, truth, truth_dir, alerts, shares) -> dict:
    """Leave one variant out (jobs/fraud/holdout.py) and the look-alike families' alerts."""
    source = feature_tables.SharedFeatures(spark, cfg, reads, train.silver_tables(reads))
    levels = {}
    for level in train.LEVELS:
        labels = train.audit_labels(reads, level)
        if level == "case":
            earlier = train.case_rows(source, labels, year - 1)
            later = train.case_rows(source, None, year)
            columns = list(features.CASE_FEATURES)
        else:
            earlier = train.provider_rows(source, labels, year - 1)
            later = train.provider_rows(source, labels, year)
            columns = list(features.PROVIDER_FEATURES)
        # the audited ids only (a few thousand), for training's entity grouping
        judged = frozenset(r.entity_id for r in labels.select("entity_id").collect())
        levels[level] = holdout.LevelRows(
            level, columns, earlier, later, shares.count(level, len(later)), judged
        )
    in_scope = {level: set(rows.later[rows.id]) for level, rows in levels.items()}
    ruled = alerts[alerts.source.str.contains("rule")]
    rule_alerted = set(zip(ruled.entity_type, ruled.entity_id, strict=True))
    alerted = set(zip(alerts.entity_type, alerts.entity_id, strict=True))
    looks = load_truth(truth_dir, cfg.hmac_key(), "lookalikes.csv")
    # The unsupervised score alone, as a ranking of the hospitals (no labels behind it)
    hospitals = levels["provider"].later.rename(columns={"hospital_code": "entity_id"})
    anomaly = model_scores(
        hospitals.assign(score=hospitals.peer_anomaly), truth, "provider", levels["provider"].budget
    )
    return {
        "variants": holdout.variant_recall(
            truth, levels, rule_alerted, in_scope, train.PROVIDER_PATTERNS
        ),
        "families": holdout.false_alerts(looks, alerted, in_scope),
        "anomaly": {
            k.replace("truth_provider", "truth_provider_anomaly"): v
            for k, v in anomaly.items()
            if not k.endswith(("_positives", "_rows"))
        },
    }


def _provider_later_period(client, scores: pd.DataFrame) -> pd.DataFrame:
    """The provider champion's out-of-fold scores of the later period, logged at training.

    Scores of the production model would judge hospitals it was trained on; the
    out-of-fold scores come from models that never saw the hospital.
    """
    version = client.get_model_version_by_alias(train.model_name("provider"), models.CHAMPION)
    path = client.download_artifacts(version.run_id, train.LATER_SCORES)
    oof = pd.read_csv(path, dtype={"entity_id": str})
    return oof if len(oof) else scores


def mlflow_metric(name: str, value: float):
    from mlflow.entities import Metric

    return Metric(name, float(value), int(time.time() * 1000), 0)


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def write_report(
    cfg: Config,
    year: int,
    by_rule: pd.DataFrame,
    recall: pd.DataFrame,
    metrics: dict,
    warnings: list[str],
    easy_rules: tuple[str, ...] | list[str] = (),
    reads: dict[str, int] | None = None,
    curve: pd.DataFrame | None = None,
    shares: budget.InspectionBudget | None = None,
    held: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None,
) -> Path:
    """``reports/fraud-evaluation-<Y>/``: the facts of the page, ``metrics.json`` and the
    charts (recall per pattern; precision against the inspection budget)."""
    folder = cfg.reports / f"fraud-evaluation-{year}"
    folder.mkdir(parents=True, exist_ok=True)
    shares = shares or budget.load()
    curve = curve if curve is not None else pd.DataFrame()
    if not recall.empty:
        _recall_chart(recall, folder / "recall_by_pattern.png")
    if not curve.empty:
        _budget_chart(curve, shares, folder / "precision_at_budget.png")
        curve.to_csv(folder / "precision_at_budget.csv", index=False)
    variants, by_pattern, families = held or (pd.DataFrame(),) * 3
    held_charts = holdout.charts(by_pattern, families, folder)
    plain = {k: (None if _nan(v) else v) for k, v in metrics.items()}
    (folder / "metrics.json").write_text(json.dumps(plain, indent=2) + "\n")
    site.write_report(
        folder,
        kind="fraud_evaluation",
        title=f"Fraud evaluation {year}",
        year=year,
        run_id=f"fraud-evaluation-{year}",
        status="final",
        reads=reads or {},
        data={
            "too_good": models.TOO_GOOD,
            "warnings": list(warnings),
            "easy_rules": list(easy_rules),
            "rules": _rows(by_rule),
            "models": {k: v for k, v in sorted(plain.items()) if k.startswith("truth_")},
            "recall": _rows(recall),
            "chart": not recall.empty,
            "budget": {
                "version": shares.version,
                "case": float(shares.cases),
                "provider": float(shares.institutions),
            },
            "headline": {
                level: metrics.get(f"truth_{level}_precision_at_budget") for level in train.LEVELS
            },
            "curve": _rows(curve),
            "budget_chart": not curve.empty,
            "recall_target": holdout.RECALL_TARGET,
            "false_alert_limit": holdout.FALSE_ALERT_LIMIT,
            "holdout_patterns": _rows(by_pattern),
            "holdout_variants": _rows(variants),
            "families": _rows(families),
            "held_charts": held_charts,
        },
    )
    return folder / "index.html"  # rendered by `diplake reports build`


def _rows(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as JSON-able dicts, floats to three places, NaN as empty."""
    return [
        {
            k: (None if _nan(v) else round(v, 3) if isinstance(v, float) else v)
            for k, v in row.items()
        }
        for row in frame.to_dict(orient="records")
    ]


def _recall_chart(recall: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = recall.assign(label=recall.pattern + " (" + recall.entity_type + ")").sort_values(
        "recall"
    )
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(shown) + 1))
    ax.barh(shown.label, shown.recall.fillna(0))
    ax.set(xlim=(0, 1), xlabel="share of planted entities on the alert list")
    ax.set_title("Recall of the alert list per pattern")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _budget_chart(curve: pd.DataFrame, shares: budget.InspectionBudget, path: Path) -> None:
    """Precision of the top of each ranking against the share inspected, the budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (level, rows), colour in zip(
        curve.groupby("level"), ("tab:blue", "tab:orange"), strict=False
    ):
        ax.plot(rows.share, rows.precision, marker="o", color=colour, label=f"{level} model")
        share = float(shares.share(level))
        ax.axvline(share, color=colour, linestyle="--", linewidth=1)
        ax.annotate(
            f"{level} budget {share:.1%}",
            (share, 0.02),
            color=colour,
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=8,
        )
    ax.axhline(0.6, color="grey", linestyle=":", linewidth=1)
    ax.annotate(
        "0.6: what the national flying inspections found",
        (curve.share.min(), 0.61),
        fontsize=8,
        color="grey",
    )
    ax.set(
        xscale="log",
        ylim=(0, 1.02),
        xlabel="share of the ranking inspected (log)",
        ylabel="precision (planted fraud among those inspected)",
    )
    ax.set_title("Precision against the inspection budget")
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
