"""``diplake fraud train``: the case and provider models, tracked in MLflow.

Time split: the model is fitted on the year before ``--year`` and judged on
``--year`` itself (a later period). Entity grouping: a person (case level) or a
hospital (provider level) is never on both sides. Labels are the audit outcomes
only. Each level has its MLflow experiment (``dip-fraud-<level>``) and its
registered model (``dip_fraud_<level>``); the ``champion`` alias moves to the new
version only when it beats the champion on the validation PR-AUC.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sklearn.metrics import precision_recall_curve

from jobs import lake
from jobs.config import Config
from jobs.fraud import budget, feature_tables, features, models

log = logging.getLogger(__name__)
SILVER = (
    "discharges",
    "fee_details",
    "face_checks",
    "outpatient_pharmacy",
    "insured_persons",
    "institutions",
    "procedure_classes",
    "doctors",
    "external_enrolments",
)
LEVELS = ("case", "provider")
# Hospital-level patterns, and how many confirmed cases of one make a hospital confirmed.
PROVIDER_PATTERNS = ("LOW_STANDARD_ADMISSION", "UPCODING", "FICTITIOUS_SERVICE", "OVER_TESTING")
CASES_TO_CONFIRM_A_PROVIDER = 5
LATER_SCORES = "later_period_scores.csv"  # entity_id, score of the later period (artifact)


def model_name(level: str) -> str:
    return f"dip_fraud_{level}"


def experiment_name(level: str) -> str:
    return f"dip-fraud-{level}"


def use_tracking(cfg: Config) -> MlflowClient:
    """Point MLflow at the configured store (SQLite by default) and return a client."""
    mlflow.set_tracking_uri(cfg.mlflow_uri)
    mlflow.set_registry_uri(cfg.mlflow_uri)
    return MlflowClient(cfg.mlflow_uri, cfg.mlflow_uri)


def _experiment(cfg: Config, level: str) -> str:
    name = experiment_name(level)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (Path(cfg.mlflow_artifacts) / name).resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


# Tables a rule reads that a lake may not have yet (a wing whose feed has not started):
# an empty frame of the columns the rules use stands in.
OPTIONAL_SILVER = {
    "offsite_settlements": (
        "settlement_id string, person_key string, direction string, treating_region string, "
        "admission_date date, discharge_date date"
    ),
}


def silver_tables(reads: lake.PinnedReads) -> dict[str, DataFrame]:
    tables = {name: reads.table("silver", name) for name in SILVER}
    for name, schema in OPTIONAL_SILVER.items():
        tables[name] = reads.table_or_empty("silver", name, schema)
    return tables


def entity_labels(audits: DataFrame, entity_type: str) -> DataFrame:
    """``entity_id``, ``label`` (confirmed 1, cleared 0) and ``pattern`` of one entity type."""
    mine = audits.filter(F.col("entity_type") == entity_type)
    return mine.groupBy("entity_id").agg(
        F.max((F.col("outcome") == "confirmed").cast("int")).alias("label"),
        F.max("pattern").alias("pattern"),
    )


def provider_labels(audits: DataFrame, discharges: DataFrame) -> DataFrame:
    """Hospitals as audits judged them: by a provider audit, or by their audited cases.

    Inspections reach few hospitals as such, but many of their cases: a hospital with
    at least :data:`CASES_TO_CONFIRM_A_PROVIDER` confirmed cases of a hospital-level
    pattern (upcoding, fictitious services, ...) is confirmed for it, as the bureau
    would sanction it. A provider audit's own verdict, either way, comes first.
    """
    direct = entity_labels(audits, "provider")
    found = (
        audits.filter(
            (F.col("entity_type") == "case")
            & (F.col("outcome") == "confirmed")
            & F.col("pattern").isin(*PROVIDER_PATTERNS)
        )
        .join(discharges.select(F.col("case_id").alias("entity_id"), "hospital_code"), "entity_id")
        .groupBy("hospital_code")
        .agg(F.count("*").alias("confirmed_cases"), F.max("pattern").alias("pattern"))
        .filter(F.col("confirmed_cases") >= CASES_TO_CONFIRM_A_PROVIDER)
        .select(F.col("hospital_code").alias("entity_id"), F.lit(1).alias("label"), "pattern")
    )
    return direct.unionByName(found.join(direct.select("entity_id"), "entity_id", "left_anti"))


def audit_labels(reads: lake.PinnedReads, entity_type: str) -> DataFrame:
    """The training labels of one level, from ``silver/audit_outcomes`` only."""
    audits = reads.table("silver", "audit_outcomes")
    if entity_type == "provider":
        return provider_labels(audits, reads.table("silver", "discharges"))
    return entity_labels(audits, entity_type)


@dataclass
class Fitted:
    """A level's trained model, what it was trained on, and how it did."""

    level: str
    booster: object
    columns: list[str]
    train: pd.DataFrame  # the training rows: features and label, no identifiers
    valid_ids: np.ndarray
    valid_y: np.ndarray
    valid_scores: np.ndarray
    metrics: dict
    params: models.Params
    anomaly_weight: float | None = None  # provider: the peers' anomaly's share in the mix


def fit_case_model(
    tables,
    labels: DataFrame,
    year: int,
    params: models.Params = models.CASE_PARAMS,
) -> Fitted:
    """Cases of the year before, labelled by audits; judged on the audited cases of ``year``.

    ``params``: the champion's settings by default; a lab tries others. ``tables``: the
    features' source (:mod:`jobs.fraud.feature_tables`), or silver tables to compute
    them from.
    """
    columns = list(features.CASE_FEATURES)
    train = case_rows(tables, labels, year - 1)
    valid = case_rows(tables, labels, year)
    # Entity grouping: a person judged in the later period is not trained on.
    train = train[~train.person_key.isin(set(valid.person_key))].reset_index(drop=True)
    booster = models.fit(train[columns], train.label, params)
    scores = booster.predict(valid[columns]) if len(valid) else np.array([])
    k = budget.load().count("case", len(valid))
    metrics = models.ranking_metrics(valid.label, scores, k, "valid")
    metrics |= {"train_rows": len(train), "train_positives": int(train.label.sum())}
    return Fitted(
        "case",
        booster,
        columns,
        train[[*columns, "label"]],
        valid.case_id.to_numpy(),
        valid.label.to_numpy(),
        scores,
        metrics,
        params,
    )


def fit_provider_model(
    tables,
    labels: DataFrame,
    year: int,
    params: models.Params = models.PROVIDER_PARAMS,
) -> Fitted:
    """Hospitals of the year before, labelled by audits; judged out of fold on ``year``.

    A hospital no audit confirmed counts as a negative (audits reach few of them).
    """
    columns = list(features.PROVIDER_FEATURES)
    train, later = provider_rows(tables, labels, year - 1), provider_rows(tables, labels, year)
    scores = models.out_of_fold(
        train[columns],
        train.label,
        train.hospital_code,
        later[columns],
        later.hospital_code,
        params,
    )
    # The mix of the model and the peers' anomaly: the more hospitals the audits
    # confirmed, the more weight the model earns (models.anomaly_weight).
    weight = models.anomaly_weight(int(train.label.sum()))
    scores = models.mix(scores, later.peer_anomaly, weight)
    booster = models.fit(train[columns], train.label, params)
    k = budget.load().count("provider", len(later))
    metrics = models.ranking_metrics(later.label, scores, k, "valid")
    metrics |= {"train_rows": len(train), "train_positives": int(train.label.sum())}
    metrics["anomaly_weight"] = weight
    return Fitted(
        "provider",
        booster,
        columns,
        train[[*columns, "label"]],
        later.hospital_code.to_numpy(),
        later.label.to_numpy(),
        scores,
        metrics,
        params,
        weight,
    )


def case_rows(tables, labels: DataFrame | None, year: int) -> pd.DataFrame:
    """``case_id``, ``person_key``, ``hospital_code``, the case features and ``label`` of the
    cases discharged in ``year``: the audited ones only, or (``labels`` None) every case,
    label-less. ``tables``: the features' source, or silver tables."""
    rows = feature_tables.source_of(tables).case(year)
    columns = ["case_id", "person_key", "hospital_code", *features.CASE_FEATURES]
    if labels is None:
        return rows.select(*columns).toPandas()
    cases = labels.withColumnRenamed("entity_id", "case_id").select("case_id", "label")
    return rows.join(cases, "case_id").select(*columns, "label").toPandas()


def provider_rows(tables, labels: DataFrame, year: int) -> pd.DataFrame:
    """``hospital_code``, the provider features and ``label`` (an audit's verdict; 0 for a
    hospital no audit confirmed) of every hospital with discharges in ``year``."""
    audited = labels.withColumnRenamed("entity_id", "hospital_code").select(
        "hospital_code", "label"
    )
    frame = feature_tables.source_of(tables).provider(year)
    frame = frame.join(audited, "hospital_code", "left")
    frame = frame.select(
        "hospital_code", *features.PROVIDER_FEATURES, F.coalesce("label", F.lit(0)).alias("label")
    )
    return frame.toPandas().sort_values("hospital_code", ignore_index=True)


def _figures(fitted: Fitted, folder: Path) -> list[Path]:
    paths = []
    fig, ax = plt.subplots(figsize=(5, 4))
    if 0 < fitted.valid_y.sum() < len(fitted.valid_y):
        precision, recall, _ = precision_recall_curve(fitted.valid_y, fitted.valid_scores)
        ax.plot(recall, precision)
    ax.set(xlabel="recall", ylabel="precision", title=f"{fitted.level}: validation PR curve")
    paths.append(folder / "pr_curve.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    gain = pd.Series(fitted.booster.feature_importance("gain"), index=fitted.columns).sort_values()
    fig, ax = plt.subplots(figsize=(6, max(3, 0.25 * len(gain))))
    gain.plot.barh(ax=ax)
    ax.set(xlabel="total gain", title=f"{fitted.level}: feature importance")
    paths.append(folder / "feature_importance.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def _champion_metric(client: MlflowClient, name: str) -> tuple[float | None, str | None]:
    """The champion's validation figure and version; no figure (None) when there is none
    or it learnt features of another meaning (``features.FEATURES_VERSION``): any
    challenger then takes its place."""
    try:
        version = client.get_model_version_by_alias(name, models.CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None, None
    run = client.get_run(version.run_id)
    # MLflow 3.17 returns the version as an int, earlier releases as a str.
    if run.data.params.get("features_version") != features.FEATURES_VERSION:
        return None, str(version.version)
    return run.data.metrics.get(models.VALIDATION_METRIC, math.nan), str(version.version)


def log_and_register(
    cfg: Config, client: MlflowClient, fitted: Fitted, year: int, input_versions: str
) -> dict:
    """One MLflow run: params, metrics, figures, the model with its signature and training
    data, a new registered version, and the champion alias if it won."""
    mlflow.set_experiment(experiment_id=_experiment(cfg, fitted.level))
    name = model_name(fitted.level)
    with mlflow.start_run(run_name=f"{fitted.level}-{year}") as run:
        settings = {
            **asdict(fitted.params),
            "year": year,
            "train_period": year - 1,
            "features_version": features.FEATURES_VERSION,
        }
        if fitted.anomaly_weight is not None:
            settings["anomaly_weight"] = fitted.anomaly_weight
        mlflow.log_params({**settings, "level": fitted.level})
        mlflow.set_tags({"input_versions": input_versions, "labels": "silver/audit_outcomes"})
        mlflow.log_metrics({k: v for k, v in fitted.metrics.items() if not _nan(v)})
        train = fitted.train
        mlflow.log_input(
            mlflow.data.from_pandas(
                train.astype("float64"), name=f"{fitted.level}-train-{year - 1}", targets="label"
            ),
            context="training",
        )
        with tempfile.TemporaryDirectory() as tmp:
            for path in _figures(fitted, Path(tmp)):
                mlflow.log_artifact(str(path))
            later = Path(tmp) / LATER_SCORES
            pd.DataFrame({"entity_id": fitted.valid_ids, "score": fitted.valid_scores}).to_csv(
                later, index=False
            )
            mlflow.log_artifact(str(later))
        # Every feature as a double in the signature: a count with a missing value in
        # some later batch arrives as a float, which an integer schema would refuse.
        x = train[fitted.columns].astype("float64")
        signature = infer_signature(x, fitted.booster.predict(x.head(50)))
        info = mlflow.lightgbm.log_model(
            fitted.booster,
            name="model",
            signature=signature,
            input_example=x.head(3),
            registered_model_name=name,
        )
        version = str(info.registered_model_version)
        old, old_version = _champion_metric(client, name)
        new = fitted.metrics.get(models.VALIDATION_METRIC)
        promoted = models.should_promote(new, old)
        if promoted:
            client.set_registered_model_alias(name, models.CHAMPION, version)
        mlflow.set_tags({"promoted": str(promoted), "champion_before": str(old_version)})
        warnings = models.too_good(fitted.metrics)
        if warnings:
            log.warning(
                "%s: %s at or above %.2f: leakage, or too easy data?",
                name,
                warnings,
                models.TOO_GOOD,
            )
            mlflow.set_tag("warning", f"{', '.join(warnings)} >= {models.TOO_GOOD}")
    return {
        "level": fitted.level,
        "run_id": run.info.run_id,
        "model": name,
        "version": version,
        "promoted": promoted,
        "champion_before": old_version,
        **fitted.metrics,
    }


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def run(spark: SparkSession, cfg: Config, year: int, levels=LEVELS) -> list[dict]:
    """Train the models of ``levels`` for scoring ``year``; returns one summary per level."""
    reads = lake.PinnedReads(spark, cfg)
    shared = feature_tables.SharedFeatures(spark, cfg, reads, silver_tables(reads))
    client = use_tracking(cfg)
    fitters = {"case": fit_case_model, "provider": fit_provider_model}
    out = []
    for level in levels:
        labels = audit_labels(reads, level)
        fitted = fitters[level](shared, labels, year)
        log.info("%s model: %s", level, {k: v for k, v in fitted.metrics.items()})
        out.append(log_and_register(cfg, client, fitted, year, reads.as_json()))
    return out
