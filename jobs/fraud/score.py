"""``diplake fraud score``: rules and champion models over a year, to ``gold/fraud_alerts``.

* The rule base runs over the two years up to the end of ``--year`` (the look-back
  of an inspection); every hit is an alert, with the rule's evidence and legal basis.
  Besides silver, the rules read the case fees of those years (``case_fees``, from
  ``gold/fraud_features_case_fees``: the fee rows grouped once per lake state).
* The champion models (``models:/dip_fraud_<level>@champion``) score every case
  discharged in the year and every hospital, through ``mlflow.pyfunc.spark_udf``;
  all scores go to ``gold/fraud_scores``, and the top of each ranking within the
  inspection budget (``jobs/fraud/budget.py``: a share of the cases and of the
  hospitals scored; ``--case-budget``/``--provider-budget`` give a count instead)
  become alerts whose reasons name their strongest features. A model alert's
  pattern is the one its strongest feature speaks to.

An alert is identified by year, entity and pattern (``alert_id``), and the run by
its inputs (``run_id``: the Delta versions read, the model versions, the rules), so
scoring the same inputs again rewrites the same rows: a rerun changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, date, datetime
from functools import reduce
from pathlib import Path

import mlflow
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import Refused, lake, quality, site
from jobs.config import Config
from jobs.fraud import budget, feature_tables, features, models, rules, train

log = logging.getLogger(__name__)
LOOKBACK_YEARS = 2
SEVERITY_SCORE = {"high": 1.0, "medium": 0.9, "low": 0.8}
ALERTS_SCHEMA = (
    "alert_id string, entity_type string, entity_id string, pattern string, score double, "
    "reasons string, source string, period int, run_id string, created_at timestamp"
)
SCORES_SCHEMA = (
    "period int, entity_type string, entity_id string, score double, model_version string"
)


class _LocalEnvironmentMeant(logging.Filter):
    """Drops one MLflow warning that every scoring run would print, and says why here.

    ``spark_udf(env_manager="local")`` warns on each call that it does not rebuild the
    training environment. Here that is the intent: the executors run in the driver's
    virtualenv, installed from requirements.lock, the one the models were trained in
    (no conda, no network at job start). A real mismatch of the model's requirements
    is still reported, by ``mlflow.utils.requirements_utils``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return 'env_manager="local"' not in record.getMessage()


logging.getLogger("mlflow.pyfunc").addFilter(_LocalEnvironmentMeant())


class ScoringError(Refused):
    """Scoring cannot start: no champion model, or no data for the year."""


def rule_alerts(
    hits: pd.DataFrame, rule_base: list[rules.Rule], floor: str = "low"
) -> pd.DataFrame:
    """One alert per entity and pattern from the rule hits of severity ``floor`` or more;
    several rules' evidence joined. An alert's score: the rule's severity weighed by the
    strength of its evidence (a graded rule's hit far from the typical shape ranks lower)."""
    basis = {r.id: r for r in rule_base}
    hits = hits[hits.severity.map(rules.SEVERITIES.index) >= rules.SEVERITIES.index(floor)]
    if hits.empty:
        return pd.DataFrame(columns=["entity_type", "entity_id", "pattern", "score", "reasons"])
    hits = hits.assign(
        text=[
            f"{h.rule_id} {basis[h.rule_id].name} ({h.severity}): {h.evidence} "
            f"[{basis[h.rule_id].legal_basis}]"
            for h in hits.itertuples()
        ],
        score=[
            SEVERITY_SCORE[basis[h.rule_id].severity] * float(h.strength) for h in hits.itertuples()
        ],
    )
    grouped = hits.sort_values("rule_id").groupby(["entity_type", "entity_id", "pattern"])
    return grouped.agg(score=("score", "max"), reasons=("text", "; ".join)).reset_index()


def model_alerts(
    level: str, top: pd.DataFrame, strongest: list[list[tuple[str, float]]], version: str
) -> pd.DataFrame:
    """Alerts for the top-scored entities: pattern and reasons from their strongest features."""
    described = features.CASE_FEATURES if level == "case" else features.PROVIDER_FEATURES
    rows = []
    for (_, row), found in zip(top.iterrows(), strongest, strict=True):
        pattern = described[found[0][0]][0] if found else "UNSPECIFIED"
        because = ", ".join(f"{described[n][1]} = {row[n]:.3g}" for n, _ in found)
        rows.append(
            {
                "entity_type": level,
                "entity_id": row["entity_id"],
                "pattern": pattern,
                "score": float(row["score"]),
                "reasons": f"model {train.model_name(level)} v{version} score "
                f"{row['score']:.3f}; strongest: {because}",
            }
        )
    return pd.DataFrame(rows, columns=["entity_type", "entity_id", "pattern", "score", "reasons"])


def merge_alerts(rule_rows: pd.DataFrame, model_rows: pd.DataFrame) -> pd.DataFrame:
    """Rule and model alerts on the same entity and pattern become one, with both reasons."""
    both = pd.concat(
        [rule_rows.assign(source="rule"), model_rows.assign(source="model")], ignore_index=True
    )
    if both.empty:
        return both.assign(source=pd.Series(dtype=str))
    grouped = both.groupby(["entity_type", "entity_id", "pattern"], sort=True)
    return grouped.agg(
        score=("score", "max"),
        reasons=("reasons", " | ".join),
        source=("source", lambda s: "+".join(sorted(set(s)))),
    ).reset_index()


def alert_id(period: int, entity_type: str, entity_id: str, pattern: str) -> str:
    text = f"{period}|{entity_type}|{entity_id}|{pattern}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _champion(client, level: str) -> tuple[str, str]:
    name = train.model_name(level)
    try:
        version = client.get_model_version_by_alias(name, models.CHAMPION)
    except mlflow.exceptions.MlflowException as error:
        raise ScoringError(
            f"no {models.CHAMPION} for {name}: run `diplake fraud train` first"
        ) from error
    learnt = client.get_run(version.run_id).data.params.get("features_version")
    if learnt != features.FEATURES_VERSION:
        raise ScoringError(
            f"the {models.CHAMPION} of {name} (v{version.version}) learnt features of version "
            f"{learnt or 'unknown'}, this code computes version {features.FEATURES_VERSION}: "
            "run `diplake fraud train` to train and promote a model on them"
        )
    return f"models:/{name}@{models.CHAMPION}", str(version.version)


def _score(spark: SparkSession, frame: DataFrame, uri: str, columns: list[str]) -> DataFrame:
    """``frame`` with the champion's ``score``, each input typed as its signature says."""
    udf = mlflow.pyfunc.spark_udf(spark, uri, result_type="double", env_manager="local")
    signature = mlflow.models.get_model_info(uri).signature
    doubles = {spec.name for spec in signature.inputs.inputs if str(spec.type).lower() == "double"}
    inputs = [F.col(c).cast("double").alias(c) if c in doubles else F.col(c) for c in columns]
    return frame.withColumn("score", udf(F.struct(*inputs)))


def _anomaly_weight(client, level: str) -> float | None:
    """The champion's mix of its score and the peers' anomaly (train.py), if it has one."""
    version = client.get_model_version_by_alias(train.model_name(level), models.CHAMPION)
    weight = client.get_run(version.run_id).data.params.get("anomaly_weight")
    return None if weight is None else float(weight)


def _mixed_with_anomaly(scored: DataFrame, weight: float | None) -> DataFrame:
    """The hospitals' ``score`` mixed with their ``peer_anomaly`` as the champion was judged
    (percentiles within the year: a few hundred rows, mixed on the driver)."""
    if weight is None or "peer_anomaly" not in scored.columns:
        return scored
    rows = scored.toPandas()
    rows["score"] = models.mix(rows.score, rows.peer_anomaly, weight)
    return scored.sparkSession.createDataFrame(rows, scored.schema)


def newest_year(spark: SparkSession, cfg: Config) -> int:
    """The newest discharge year in silver: what a scoring run without a year scores."""
    discharges = lake.read_version(spark, lake.table_path(cfg, "silver", "discharges"))
    newest = discharges.agg(F.max("discharge_year")).first()[0]
    if newest is None:
        raise ScoringError("no discharges in silver: nothing to score")
    return int(newest)


def _top(scored: DataFrame, id_column: str, columns: list[str], k: int) -> pd.DataFrame:
    top = scored.orderBy(F.col("score").desc(), F.col(id_column)).limit(k)
    return top.select(F.col(id_column).alias("entity_id"), "score", *columns).toPandas()


def inputs_of_rules(
    spark: SparkSession,
    cfg: Config,
    rule_base: list[rules.Rule],
    tables: dict[str, DataFrame],
    shared: feature_tables.SharedFeatures,
    start: date,
    end: date,
) -> tuple[dict[str, DataFrame], list[DataFrame]]:
    """What the rules read over [start, end]: silver as it stood at ``end``, the reference
    tables and the case fees of the years looked at (from the shared features); with the
    cached cuts several rules share, for the caller to release (:func:`rules.shared_inputs`)."""
    found = features.up_to(tables, end) | rules.reference_tables(spark)
    found["case_fees"] = reduce(
        DataFrame.unionByName, [shared.case_fees(y) for y in range(start.year, end.year + 1)]
    )
    return rules.shared_inputs(rule_base, found, cfg.shuffle_partitions)


def run(
    spark: SparkSession,
    cfg: Config,
    year: int,
    case_budget: int | None = None,
    provider_budget: int | None = None,
) -> dict:
    """Rules and champions over ``year``; ``case_budget``/``provider_budget``: how many
    model alerts of each level (default: the inspection budget's share of those scored)."""
    shares = budget.load()
    reads = lake.PinnedReads(spark, cfg)
    tables = train.silver_tables(reads)
    client = train.use_tracking(cfg)
    rule_base = rules.load_rules()
    start, end = date(year - LOOKBACK_YEARS + 1, 1, 1), date(year, 12, 31)
    shared = feature_tables.SharedFeatures(spark, cfg, reads, tables)
    shared.ensure(year)  # the year's three shared levels from one grouping of its fees
    rule_tables, inputs = inputs_of_rules(spark, cfg, rule_base, tables, shared, start, end)
    hits = rules.run_rules(spark, rule_base, rule_tables, start, end).toPandas()
    for frame in inputs:
        frame.unpersist()
    log.info("rules: %d hits", len(hits))

    levels = {
        "case": (shared.case(year), "case_id", case_budget),
        "provider": (shared.provider(year), "hospital_code", provider_budget),
    }
    versions, scores, held = {}, [], []
    alerts = [rule_alerts(hits, rule_base, shares.rule_alerts_from)]
    budgets: dict[str, int] = {}
    for level, (frame, id_column, k) in levels.items():
        uri, version = _champion(client, level)
        versions[level] = version
        booster = mlflow.lightgbm.load_model(uri)
        # The champion's own inputs: it may predate a feature added since.
        columns = booster.feature_name()
        scored = _score(spark, frame, uri, columns)
        if level == "provider":
            scored = _mixed_with_anomaly(scored, _anomaly_weight(client, level))
        scored = scored.cache()
        held.append(scored)
        scores.append(
            scored.select(
                F.lit(year).alias("period"),
                F.lit(level).alias("entity_type"),
                F.col(id_column).alias("entity_id"),
                "score",
                F.lit(version).alias("model_version"),
            )
        )
        if k is None:
            k = shares.count(level, scored.count())
        top = _top(scored, id_column, columns, k)
        strongest = models.strongest_features(booster, top[columns]) if len(top) else []
        alerts.append(model_alerts(level, top, strongest, version))
        budgets[level] = int(k)
        log.info("%s: scored with %s v%s, top %d alerted", level, uri, version, len(top))

    fingerprint = json.dumps(
        {"inputs": reads.versions, "models": versions, "rules": [r.id for r in rule_base]},
        sort_keys=True,
    )
    run_id = f"fraud-{year}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"
    merged = merge_alerts(alerts[0], pd.concat(alerts[1:], ignore_index=True))
    log.info("alerts merged: %d; writing alerts and scores", len(merged))
    written = _write(spark, cfg, year, run_id, merged, scores)
    for frame in held:
        frame.unpersist()
    _report(cfg, year, run_id, merged, versions, reads.versions, rule_base)
    return {
        "run_id": run_id,
        "year": year,
        "rule_hits": len(hits),
        "rule_hits_by_severity": {k: int(v) for k, v in hits.severity.value_counts().items()},
        "alerts": written,
        "models": versions,
        "budget": {"version": shares.version, **budgets},
        "by_pattern": {
            f"{entity_type}/{pattern}": int(n)
            for (entity_type, pattern), n in merged.groupby(["entity_type", "pattern"])
            .size()
            .items()
        },
    }


def _report(
    cfg: Config,
    year: int,
    run_id: str,
    merged: pd.DataFrame,
    models_used: dict[str, str],
    reads: dict[str, int],
    rule_base: list,
) -> Path:
    """``reports/fraud-alerts-<Y>/``: the alert list, each alert's evidence, a chart by pattern."""
    folder = cfg.reports / f"fraud-alerts-{year}"
    folder.mkdir(parents=True, exist_ok=True)
    alerts = [
        {
            "alert_id": alert_id(year, a.entity_type, a.entity_id, a.pattern),
            "entity_type": a.entity_type,
            "entity_id": str(a.entity_id),
            "pattern": a.pattern,
            "score": round(float(a.score), 4),
            "source": a.source,
            "reasons": a.reasons,
        }
        for a in merged.itertuples()  # the page orders them (jobs/fraud/pages.py)
    ]
    _pattern_chart(merged, folder / "alerts_by_pattern.png")
    site.write_report(
        folder,
        kind="fraud_alerts",
        title=f"Fraud alerts {year}",
        year=year,
        run_id=run_id,
        status="final",
        reads=reads | {f"model/{train.model_name(k)}": int(v) for k, v in models_used.items()},
        data={"alerts": alerts, "rules": {r.id: f"{r.name} [{r.legal_basis}]" for r in rule_base}},
    )
    return folder


def _pattern_chart(merged: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = (
        merged.groupby(["pattern", "source"]).size().unstack(fill_value=0)
        if len(merged)
        else pd.DataFrame()
    )
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(counts), 1) + 1.2))
    if len(counts):
        counts.sort_index(ascending=False).plot.barh(stacked=True, ax=ax)
    ax.set(title="Alerts by pattern and source", xlabel="alerts", ylabel="")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _write(
    spark: SparkSession,
    cfg: Config,
    year: int,
    run_id: str,
    merged: pd.DataFrame,
    scores: list[DataFrame],
) -> int:
    """Replace the year's alerts and scores; an alert already there keeps its created_at."""
    alerts_path = lake.table_path(cfg, "gold", "fraud_alerts")
    now = datetime.now(UTC).replace(tzinfo=None)
    created = {}
    if lake.is_table(spark, alerts_path):
        created = {
            r.alert_id: r.created_at
            for r in lake.read_version(spark, alerts_path)
            .filter(F.col("period") == year)
            .select("alert_id", "created_at")
            .collect()
        }
    rows = [
        (
            (aid := alert_id(year, a.entity_type, a.entity_id, a.pattern)),
            a.entity_type,
            str(a.entity_id),
            a.pattern,
            float(a.score),
            a.reasons,
            a.source,
            year,
            run_id,
            created.get(aid, now),
        )
        for a in merged.itertuples()
    ]
    frame = spark.createDataFrame(rows, ALERTS_SCHEMA)
    quality.gate(frame, "gold", "fraud_alerts", cfg.quality_root)  # raises before any write
    lake.replace_where(spark, frame, alerts_path, f"period = {year}", partition_by=["period"])
    log.info("alerts written")
    all_scores = scores[0]
    for more in scores[1:]:
        all_scores = all_scores.unionByName(more)
    lake.replace_where(
        spark,
        all_scores,
        lake.table_path(cfg, "gold", "fraud_scores"),
        f"period = {year}",
        partition_by=["period"],
    )
    return len(rows)
