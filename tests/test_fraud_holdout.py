"""Leave one variant out and the look-alike families' false alerts, on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.fraud import holdout


def _cases(prefix: str, n: int, a: int, b: int, label: int | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "case_id": [f"{prefix}{i}" for i in range(n)],
            "person_key": [f"person-{prefix}{i}" for i in range(n)],
            "a": a,
            "b": b,
        }
    )
    return frame if label is None else frame.assign(label=label)


@pytest.fixture(scope="module")
def rows() -> holdout.LevelRows:
    # Earlier year: the plain shape shows in feature a, the variant V in feature b.
    train = pd.concat(
        [
            _cases("plain", 100, a=1, b=0, label=1),
            _cases("v", 100, a=0, b=1, label=1),
            _cases("honest", 200, a=0, b=0, label=0),
        ],
        ignore_index=True,
    )
    later = pd.concat(
        [_cases("Lplain", 10, 1, 0), _cases("Lv", 10, 0, 1), _cases("Lhonest", 30, 0, 0)],
        ignore_index=True,
    )
    return holdout.LevelRows("case", ["a", "b"], train, later, budget=10)


def test_a_variant_held_out_is_never_learnt(rows):
    later = rows.later
    v_like, honest = later.case_id.str.startswith("Lv"), later.case_id.str.startswith("Lhonest")
    taught = holdout.heldout_scores(rows, held=set())
    assert taught[v_like].min() > taught[honest].max()
    # Without V's audited cases, feature b never varies in training: a case of V's shape
    # scores exactly as an honest one, and the budget's ten go to the plain shape.
    untaught = holdout.heldout_scores(rows, held={f"v{i}" for i in range(100)})
    assert np.allclose(untaught[v_like], untaught[honest].max())
    assert holdout.top(rows, untaught) == {f"Lplain{i}" for i in range(10)}


def test_a_person_with_a_later_case_is_not_trained_on(rows):
    # The plain positives are the later period's persons, with audited cases there: left
    # out, only V teaches. Persons whose later cases no audit judged are trained on.
    later = rows.later.assign(person_key=[f"person-plain{i}" for i in range(10)] + [""] * 40)
    judged = frozenset(f"Lplain{i}" for i in range(10))
    scores = holdout.heldout_scores(
        holdout.LevelRows("case", ["a", "b"], rows.train, later, rows.budget, judged), held=set()
    )
    plain, v_like = scores[:10], scores[10:20]
    assert v_like.min() > plain.max()
    unjudged = holdout.heldout_scores(
        holdout.LevelRows("case", ["a", "b"], rows.train, later, rows.budget), held=set()
    )
    assert unjudged[:10].min() > unjudged[20:].max()  # the plain shape was learnt


def test_recall_per_variant_counts_rules_and_scope_and_per_pattern_every_variant():
    truth = pd.DataFrame(
        [
            ("case", "c1", "P", "plain"),
            ("case", "c2", "P", "plain"),
            ("case", "c3", "P", "evasion"),
            ("case", "old", "P", "evasion"),  # discharged in another year: out of scope
            ("person", "p1", "Q", "plain"),
            ("person", "p2", "Q", "plain"),
        ],
        columns=["entity_type", "entity_id", "pattern", "variant"],
    )
    found = holdout.variant_recall(
        truth,
        levels={},  # rules only
        rule_alerted={("case", "c1"), ("case", "c3"), ("person", "p1"), ("case", "p2")},
        in_scope={"case": {"c1", "c2", "c3"}},
    )
    table = {(r.pattern, r.variant): (r.planted, r.by_rules, r.recall) for r in found.itertuples()}
    assert table == {
        ("P", "evasion"): (1, 1, 1.0),
        ("P", "plain"): (2, 1, 0.5),
        ("Q", "plain"): (2, 1, 0.5),  # p2 was alerted as a case, not as a person
    }
    by_pattern = holdout.pattern_recall(found).set_index("pattern")
    assert by_pattern.loc["P", "recall"] == pytest.approx(2 / 3)
    assert by_pattern.loc["P", "weakest_variant"] == "plain"
    assert by_pattern.loc["Q", "weakest_recall"] == 0.5


def test_false_alerts_are_the_share_of_each_family_on_the_alert_list():
    looks = pd.DataFrame(
        [
            ("person", "f1", "GANG", "family_admitted_once"),
            ("person", "f2", "GANG", "family_admitted_once"),
            ("person", "f3", "GANG", "family_admitted_once"),
            ("person", "f4", "GANG", "family_admitted_once"),
            ("case", "k1", "SPLIT_ADMISSION", "treatment_cycle"),
            ("case", "k2", "SPLIT_ADMISSION", "treatment_cycle"),  # out of scope
        ],
        columns=["entity_type", "entity_id", "pattern", "family"],
    )
    shares = holdout.false_alerts(
        looks, alerted={("person", "f2"), ("case", "k2")}, in_scope={"case": {"k1"}}
    )
    table = {(r.family, r.members, r.alerted): r.share for r in shares.itertuples()}
    assert table == {("family_admitted_once", 4, 1): 0.25, ("treatment_cycle", 1, 0): 0.0}
