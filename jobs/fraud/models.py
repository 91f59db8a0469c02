"""Fitting and judging the fraud models: pure functions of pandas frames, no Spark, no MLflow.

Labels come only from ``silver/audit_outcomes`` (confirmed = 1, cleared = 0).
The gradient-boosting library is LightGBM; class imbalance is handled by
weighting the positives by the negatives-to-positives ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

CHAMPION = "champion"
VALIDATION_METRIC = "valid_pr_auc"  # the champion/challenger contest is on this metric
TOO_GOOD = 0.99  # a metric at or above this suggests leakage or too easy data


@dataclass(frozen=True)
class Params:
    num_leaves: int = 15
    learning_rate: float = 0.05
    num_boost_round: int = 300
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    seed: int = 7

    def lightgbm(self, scale_pos_weight: float) -> dict:
        return {
            "objective": "binary",
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "scale_pos_weight": scale_pos_weight,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 2,
            "verbosity": -1,
        }


CASE_PARAMS = Params()
# A few hundred hospitals: small leaves and trees, or the model learns each hospital.
PROVIDER_PARAMS = Params(num_leaves=4, num_boost_round=150, min_data_in_leaf=5)


def positive_weight(labels: Sequence[int]) -> float:
    """Negatives per positive (1.0 when either class is missing)."""
    y = np.asarray(labels)
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    return neg / pos if pos and neg else 1.0


def fit(x: pd.DataFrame, y: pd.Series, params: Params) -> lgb.Booster:
    data = lgb.Dataset(x, label=y.to_numpy(), free_raw_data=False)
    return lgb.train(
        params.lightgbm(positive_weight(y)), data, num_boost_round=params.num_boost_round
    )


def grouped_folds(groups: pd.Series, labels: pd.Series, k: int, seed: int = 7) -> np.ndarray:
    """Fold number per row; all rows of a group share a fold, positives spread evenly.

    Groups are dealt to folds in a shuffled order, groups with a positive first, so
    that each fold gets its share of the rare positives.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"g": groups.to_numpy(), "y": labels.to_numpy()})
    positive = frame.groupby("g").y.max()
    order = [
        *rng.permutation(positive.index[positive == 1]),
        *rng.permutation(positive.index[positive != 1]),
    ]
    fold_of = {g: i % k for i, g in enumerate(order)}
    return frame.g.map(fold_of).to_numpy()


def out_of_fold(
    train_x: pd.DataFrame,
    train_y: pd.Series,
    train_groups: pd.Series,
    later_x: pd.DataFrame,
    later_groups: pd.Series,
    params: Params,
    k: int = 5,
) -> np.ndarray:
    """Scores of the later period's rows, each by a model that never saw its group.

    Entity grouping and time split together: a fold's model is fitted on the earlier
    period's rows of the other groups, and scores the later period's rows of its own.
    """
    folds = grouped_folds(train_groups, train_y, k)
    fold_of = dict(zip(train_groups, folds, strict=True))
    later_fold = later_groups.map(fold_of).fillna(-1).to_numpy()
    scores = np.full(len(later_x), np.nan)
    for fold in range(k):
        booster = fit(train_x[folds != fold], train_y[folds != fold], params)
        mine = (later_fold == fold) | ((later_fold == -1) & (fold == 0))
        if mine.any():
            scores[mine] = booster.predict(later_x[mine])
    return scores


def precision_at_k(y: Sequence[int], scores: Sequence[float], k: int) -> float:
    """Share of true positives among the ``k`` highest scores (ties broken by position)."""
    y, scores = np.asarray(y), np.asarray(scores)
    if k <= 0 or len(y) == 0:
        return math.nan
    top = np.argsort(-scores, kind="stable")[:k]
    return float(y[top].mean())


def ranking_metrics(y: Sequence[int], scores: Sequence[float], k: int, prefix: str) -> dict:
    """PR-AUC, ROC-AUC and the precision of the top ``k`` (the inspection budget, whose
    count is ``<prefix>_budget``); NaN where a class is missing."""
    y = np.asarray(y)
    both = 0 < y.sum() < len(y)
    return {
        f"{prefix}_pr_auc": float(average_precision_score(y, scores)) if both else math.nan,
        f"{prefix}_roc_auc": float(roc_auc_score(y, scores)) if both else math.nan,
        f"{prefix}_precision_at_budget": precision_at_k(y, scores, k),
        f"{prefix}_budget": int(k),
        f"{prefix}_positives": int(y.sum()),
        f"{prefix}_rows": len(y),
    }


def _at_or_above_too_good(metrics: dict, named) -> list[str]:
    """The names ``named`` accepts whose value is a number at or above :data:`TOO_GOOD`."""
    return sorted(
        name
        for name, value in metrics.items()
        if named(name) and isinstance(value, float) and not math.isnan(value) and value >= TOO_GOOD
    )


def too_good(metrics: dict) -> list[str]:
    """The AUC metrics at or above :data:`TOO_GOOD`: leakage, or patterns too easy."""
    return _at_or_above_too_good(metrics, lambda name: "auc" in name)


def too_easy_rules(metrics: dict) -> list[str]:
    """Rule recall or precision at or above :data:`TOO_GOOD`: the planted pattern may be
    plainer than fraud in the field, so the figure says little about real use."""
    return _at_or_above_too_good(
        metrics,
        lambda name: name.startswith("rule_") and name.endswith(("_recall", "_precision")),
    )


def should_promote(challenger: float, champion: float | None) -> bool:
    """The champion alias moves only to a strictly better validation metric.

    No champion yet (``champion`` None): the first model takes the alias, so that
    scoring can start; its run says whether it could be judged. Afterwards a
    challenger without a metric (no positives to judge by) never wins, and one
    with a metric beats a champion that had none.
    """
    if champion is None:
        return True
    if challenger is None or math.isnan(challenger):
        return False
    if math.isnan(champion):
        return True
    return challenger > champion


def strongest_features(
    booster: lgb.Booster, x: pd.DataFrame, n: int = 3
) -> list[list[tuple[str, float]]]:
    """Per row, the ``n`` features that pushed its score up most (SHAP contributions)."""
    contrib = booster.predict(x, pred_contrib=True)[:, :-1]  # last column: the bias
    names = list(x.columns)
    out = []
    for row in contrib:
        top = np.argsort(-row, kind="stable")[:n]
        out.append([(names[i], float(row[i])) for i in top if row[i] > 0])
    return out


# The provider ranking: the supervised model and the peers' anomaly (features.py
# ``peer_anomaly``, no labels behind it), mixed by how much the audits can teach.
CREDIBILITY_HOSPITALS = 20  # confirmed hospitals at which the model earns half the weight


def percentile(scores: Sequence[float]) -> np.ndarray:
    """Each score's rank among ``scores`` as a share in (0, 1] (ties share their mean)."""
    values = pd.Series(np.asarray(scores, dtype=float))
    return values.rank(pct=True).fillna(0.0).to_numpy()


def mix(model: Sequence[float], anomaly: Sequence[float], weight: float) -> np.ndarray:
    """``(1 - weight) x`` the model's percentile ``+ weight x`` the anomaly's."""
    return (1 - weight) * percentile(model) + weight * percentile(anomaly)


def anomaly_weight(confirmed: int, k: int = CREDIBILITY_HOSPITALS) -> float:
    """The peers' anomaly's share in the mix: ``k / (confirmed + k)``.

    Credibility, as an actuary weighs a small portfolio's own experience against the
    book's: a model fitted on few confirmed hospitals has learnt little, and the
    ranking leans on the hospitals' distance from their peers; as audits confirm more,
    the model earns the weight (half of it at ``k`` confirmed hospitals). Choosing the
    weight on the audits' own ranking was tried and is not stable: at the small city
    the audits had confirmed 4 hospitals, and leaving one out swung it from 1 to 0.
    """
    return k / (max(0, int(confirmed)) + k)
