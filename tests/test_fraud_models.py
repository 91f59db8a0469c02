"""The model helpers: champion/challenger, metrics by hand, folds that keep groups apart."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jobs.fraud import models


@pytest.mark.parametrize(
    ("challenger", "champion", "moves"),
    [
        (0.61, None, True),  # no champion yet
        (0.61, 0.60, True),  # strictly better
        (0.60, 0.60, False),  # a tie keeps the champion
        (0.59, 0.60, False),
        (math.nan, None, True),  # the first model takes the alias, judged or not
        (math.nan, 0.60, False),  # later, a challenger without a metric never wins
        (0.10, math.nan, True),  # a champion without a metric loses to any real one
    ],
)
def test_the_champion_moves_only_to_a_strictly_better_metric(challenger, champion, moves):
    assert models.should_promote(challenger, champion) is moves


def test_precision_at_k_by_hand():
    y = [1, 0, 1, 0, 0]
    scores = [0.9, 0.8, 0.7, 0.1, 0.95]
    # top 3 by score: 0.95 (0), 0.9 (1), 0.8 (0) -> 1 of 3
    assert models.precision_at_k(y, scores, 3) == pytest.approx(1 / 3)
    assert models.precision_at_k(y, scores, 1) == 0.0


def test_ranking_metrics_by_hand():
    # positives score 0.8 and 0.4, negatives 0.6 and 0.2: of the 4 pairs, 3 are ordered right
    m = models.ranking_metrics([1, 0, 1, 0], [0.8, 0.6, 0.4, 0.2], 2, "v")
    assert m["v_roc_auc"] == pytest.approx(0.75)
    # average precision: at recall 1/2 precision 1, at recall 1 precision 2/3
    assert m["v_pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m["v_precision_at_budget"] == 0.5 and m["v_budget"] == 2
    assert m["v_positives"] == 2 and m["v_rows"] == 4


def test_ranking_metrics_without_positives_are_nan_not_an_error():
    m = models.ranking_metrics([0, 0, 0], [0.3, 0.2, 0.1], 2, "v")
    assert math.isnan(m["v_roc_auc"]) and math.isnan(m["v_pr_auc"])


def test_metrics_at_or_above_0_99_are_flagged():
    assert models.too_good({"a_roc_auc": 0.99, "b_pr_auc": 0.5, "c_precision_at_budget": 1.0}) == [
        "a_roc_auc"
    ]


def test_rule_figures_at_or_above_0_99_are_flagged_and_model_figures_are_not():
    metrics = {
        "rule_GANG_person_recall": 0.99,
        "rule_GANG_person_precision": 0.98,
        "rule_GHOST_BED_case_precision": 1.0,
        "rule_GHOST_BED_case_recall": float("nan"),
        "truth_case_roc_auc": 0.995,
    }
    assert models.too_easy_rules(metrics) == [
        "rule_GANG_person_recall",
        "rule_GHOST_BED_case_precision",
    ]


def test_positive_weight_is_negatives_per_positive():
    assert models.positive_weight([1, 0, 0, 0, 1, 0]) == 2.0
    assert models.positive_weight([0, 0]) == 1.0


def test_grouped_folds_keep_every_group_in_one_fold_and_spread_positives():
    groups = pd.Series([f"h{i // 3}" for i in range(60)])  # 20 groups of 3 rows
    labels = pd.Series([1 if i // 3 < 5 else 0 for i in range(60)])  # 5 positive groups
    folds = models.grouped_folds(groups, labels, 5)
    frame = pd.DataFrame({"g": groups, "f": folds, "y": labels})
    assert (frame.groupby("g").f.nunique() == 1).all()
    positives_per_fold = frame[frame.y == 1].groupby("f").g.nunique()
    assert sorted(positives_per_fold.tolist()) == [1, 1, 1, 1, 1]


def test_out_of_fold_scores_come_from_models_that_never_saw_the_group():
    rng = np.random.default_rng(1)
    groups = pd.Series([f"h{i}" for i in range(40)])
    x = pd.DataFrame({"signal": rng.normal(size=40), "noise": rng.normal(size=40)})
    y = pd.Series((x.signal > 0.8).astype(int))
    params = models.Params(num_leaves=3, num_boost_round=20, min_data_in_leaf=3)
    scores = models.out_of_fold(x, y, groups, x, groups, params, k=4)
    assert not np.isnan(scores).any()
    # Each row's score differs from the all-data model's: its own label was held out.
    full = models.fit(x, y, params).predict(x)
    assert not np.allclose(scores, full)


def test_strongest_features_name_the_feature_that_drives_the_score():
    rng = np.random.default_rng(2)
    x = pd.DataFrame({"signal": rng.normal(size=400), "noise": rng.normal(size=400)})
    y = pd.Series((x.signal > 1.0).astype(int))
    booster = models.fit(x, y, models.Params(num_boost_round=50, min_data_in_leaf=5))
    top = x[x.signal > 2.0].head(3)
    for found in models.strongest_features(booster, top, n=1):
        assert found[0][0] == "signal"


AUDITS = "entity_type string, entity_id string, pattern string, outcome string"


def test_provider_labels_come_from_provider_audits_and_from_enough_confirmed_cases(spark):
    from jobs.fraud import train

    n = train.CASES_TO_CONFIRM_A_PROVIDER
    # H1: n confirmed upcoding cases -> confirmed. H2: one fewer -> not labelled.
    # H3: n confirmed cases, but a provider audit cleared it -> 0. H4: audited, confirmed.
    # H5: n confirmed split admissions (a case pattern, not a hospital's) -> not labelled.
    cases = [(f"H1-{i}", "H1") for i in range(n)] + [(f"H2-{i}", "H2") for i in range(n - 1)]
    cases += [(f"H3-{i}", "H3") for i in range(n)] + [(f"H5-{i}", "H5") for i in range(n)]
    audits = [("case", c, "UPCODING", "confirmed") for c, h in cases if h != "H5"]
    audits += [("case", c, "SPLIT_ADMISSION", "confirmed") for c, h in cases if h == "H5"]
    audits += [("case", "H2-x", "UPCODING", "cleared")]
    audits += [
        ("provider", "H3", "UPCODING", "cleared"),
        ("provider", "H4", "OVER_TESTING", "confirmed"),
    ]
    discharges = spark.createDataFrame(
        [*cases, ("H2-x", "H2")], "case_id string, hospital_code string"
    )
    labels = train.provider_labels(spark.createDataFrame(audits, AUDITS), discharges)
    got = {r.entity_id: (r.label, r.pattern) for r in labels.collect()}
    assert got == {"H1": (1, "UPCODING"), "H3": (0, "UPCODING"), "H4": (1, "OVER_TESTING")}


def test_percentiles_and_the_mix_by_hand():
    assert models.percentile([10, 30, 20, 20]).tolist() == [0.25, 1.0, 0.625, 0.625]
    # model ranks a over b over c; the anomaly the other way round
    mixed = models.mix([3, 2, 1], [1, 2, 3], 0.25)
    assert mixed.tolist() == pytest.approx([0.75 + 0.25 / 3, 2 / 3, 0.75 / 3 + 0.25])


def test_the_anomaly_weight_is_a_credibility_of_the_confirmed_hospitals():
    # k / (n + k) with k = 20: the model earns half the weight at twenty confirmed hospitals
    assert models.CREDIBILITY_HOSPITALS == 20
    assert models.anomaly_weight(0) == 1.0
    assert models.anomaly_weight(4) == pytest.approx(20 / 24)
    assert models.anomaly_weight(20) == 0.5
    assert models.anomaly_weight(60) == 0.25
    assert models.anomaly_weight(4, k=4) == 0.5


@pytest.mark.parametrize(("learnt", "judged"), [("old", False), (None, False), ("now", True)])
def test_a_champion_that_learnt_features_of_another_meaning_is_replaced_and_not_scored_with(
    tmp_path, learnt, judged
):
    from mlflow import MlflowClient

    from jobs.fraud import features, score, train

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("e", artifact_location=tmp_path.as_uri())
    run = client.create_run(experiment)
    if learnt is not None:
        version = features.FEATURES_VERSION if learnt == "now" else "0"
        client.log_param(run.info.run_id, "features_version", version)
    client.log_metric(run.info.run_id, models.VALIDATION_METRIC, 0.9)
    name = train.model_name("provider")
    client.create_registered_model(name)
    registered = client.create_model_version(name, tmp_path.as_uri(), run_id=run.info.run_id)
    client.set_registered_model_alias(name, models.CHAMPION, registered.version)
    metric, version = train._champion_metric(client, name)
    assert version == "1"
    if judged:
        assert metric == 0.9  # a challenger must beat it
        assert score._champion(client, "provider")[1] == "1"
    else:
        assert metric is None  # any challenger takes its place (models.should_promote)
        with pytest.raises(score.ScoringError, match="run `diplake fraud train`"):
            score._champion(client, "provider")
