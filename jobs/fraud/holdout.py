"""Leave one variant out: how the alert list does on shapes of fraud it was never taught.

The generator plants each pattern as a family of variants (``jobs/generate/fraud.py``
``VARIANTS``); its truth names each planted entity's variant and each look-alike's
family. Evaluation only reads it (training and scoring never do):

* **held-out recall**: for each pattern with entities a model ranks (cases,
  hospitals) and each of its variants, the level's model is fitted again with the
  champion's settings on the audit labels *without* the audited entities of that
  variant, and ranks the later period; an entity of the variant is found when that
  model puts it within the inspection budget or a rule alerted it (rules are not
  fitted: they meet every variant as new). Person and doctor patterns are the
  rules' alone. A pattern's recall counts every variant, each judged by the model
  that never saw it. Hospitals are ranked out of fold, as in training, so that no
  hospital is scored by a model fitted on its own earlier year, and mixed with the
  peers' anomaly as in training. A case of a hospital-level pattern (an upcoded or a
  fictitious stay) is also found when its hospital is: the inspection of the
  hospital goes through its claims.
* **false alerts per look-alike family**: the share of a family's members on the
  year's alert list (rules and the champions' top within the budget).

The labels remain the audits': the truth only says which audited entities to hold out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.fraud import models

log = logging.getLogger(__name__)
ID = {"case": "case_id", "provider": "hospital_code"}
PARAMS = {"case": models.CASE_PARAMS, "provider": models.PROVIDER_PARAMS}
RECALL_TARGET = 0.8  # issue 29: every pattern, on held-out variants
FALSE_ALERT_LIMIT = 0.05  # issue 29: every look-alike family


@dataclass(frozen=True)
class LevelRows:
    """One model level's rows: the earlier year's labelled ones and every later one."""

    level: str
    columns: list[str]
    train: pd.DataFrame  # id column, features, label (and person_key for cases)
    later: pd.DataFrame  # id column, features: every entity the level ranks in the year
    budget: int  # how many of ``later`` the inspection budget affords
    judged: frozenset[str] = frozenset()  # the later entities an audit judged (cases)

    @property
    def id(self) -> str:
        return ID[self.level]


def heldout_scores(rows: LevelRows, held: set[str]) -> np.ndarray:
    """Scores of every later entity by models fitted without the entities ``held``."""
    train = rows.train[~rows.train[rows.id].isin(held)].reset_index(drop=True)
    x, y = train[rows.columns], train.label
    if rows.level == "provider":
        # as in training: out of fold, mixed with the peers' anomaly
        later = models.out_of_fold(
            x, y, train[rows.id], rows.later[rows.columns], rows.later[rows.id], PARAMS["provider"]
        )
        # as in training, by the hospitals the (remaining) audits confirmed
        weight = models.anomaly_weight(int(y.sum()))
        return models.mix(later, rows.later.peer_anomaly, weight)
    # Entity grouping as in training (train.fit_case_model): a person with an audited case
    # in the later period is not trained on (its earlier stays would teach the model that
    # very person).
    audited = rows.later[rows.later[rows.id].isin(rows.judged)]
    train = train[~train.person_key.isin(set(audited.person_key))]
    booster = models.fit(train[rows.columns], train.label, PARAMS["case"])
    return booster.predict(rows.later[rows.columns])


def top(rows: LevelRows, scores: np.ndarray) -> set[str]:
    """The later entities within the budget, highest score first (ties by position)."""
    order = np.argsort(-scores, kind="stable")[: rows.budget]
    return set(rows.later[rows.id].to_numpy()[order])


def variant_recall(
    truth: pd.DataFrame,
    levels: dict[str, LevelRows],
    rule_alerted: set[tuple[str, str]],
    in_scope: dict[str, set[str]],
    hospital_patterns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Per pattern, variant and entity type: planted, found by rules, by the held-out
    model, and the recall. ``truth``: entity_type, entity_id, pattern, variant. A case of
    one of ``hospital_patterns`` is also found by its hospital's held-out ranking."""
    tops: dict[tuple[str, str, str], set[str]] = {}

    def held_out_top(level: str, pattern: str, variant: str) -> set[str]:
        if (level, pattern, variant) not in tops:
            mine = truth[
                (truth.entity_type == level)
                & (truth.pattern == pattern)
                & (truth.variant == variant)
            ]
            tops[level, pattern, variant] = top(
                levels[level], heldout_scores(levels[level], set(mine.entity_id))
            )
        return tops[level, pattern, variant]

    hospital_of = (
        levels["case"].later.set_index("case_id").hospital_code if "case" in levels else {}
    )
    rows = []
    for (pattern, variant, entity_type), ids in _in_scope(truth, "variant", in_scope):
        by_rules = {i for i in ids if (entity_type, i) in rule_alerted}
        by_model: set[str] = set()
        if entity_type in levels:
            by_model = ids & held_out_top(entity_type, pattern, variant)
        if entity_type == "case" and pattern in hospital_patterns and "provider" in levels:
            sites = held_out_top("provider", pattern, variant)
            by_model |= {i for i in ids if hospital_of.get(i) in sites}
        log.info(
            "held out %s/%s (%s): %d of %d by the model, %d by rules",
            pattern,
            variant,
            entity_type,
            len(by_model),
            len(ids),
            len(by_rules),
        )
        found = by_rules | by_model
        rows.append(
            {
                "pattern": pattern,
                "variant": variant,
                "entity_type": entity_type,
                "planted": len(ids),
                "by_rules": len(by_rules),
                "by_model": len(by_model),
                "found": len(found),
                "recall": len(found) / len(ids),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "pattern",
            "variant",
            "entity_type",
            "planted",
            "by_rules",
            "by_model",
            "found",
            "recall",
        ],
    )


def _in_scope(frame: pd.DataFrame, shape: str, in_scope: dict[str, set[str]]):
    """((pattern, ``shape``, entity_type), the ids of that group within ``in_scope``) for
    each group with any: an entity type not in ``in_scope`` is all in scope."""
    for (pattern, kind, entity_type), members in frame.groupby(
        ["pattern", shape, "entity_type"], sort=True
    ):
        ids = set(members.entity_id)
        if entity_type in in_scope:
            ids &= in_scope[entity_type]
        if ids:
            yield (pattern, kind, entity_type), ids


def pattern_recall(by_variant: pd.DataFrame) -> pd.DataFrame:
    """A pattern's recall over all its variants and entity types, and its weakest variant."""
    grouped = by_variant.groupby("pattern")
    out = grouped[["planted", "found"]].sum()
    out["recall"] = out.found / out.planted
    out["weakest_variant"] = grouped.apply(
        lambda g: g.sort_values(["recall", "variant"]).iloc[0].variant, include_groups=False
    )
    out["weakest_recall"] = grouped.recall.min()
    return out.reset_index()


def false_alerts(
    lookalikes: pd.DataFrame, alerted: set[tuple[str, str]], in_scope: dict[str, set[str]]
) -> pd.DataFrame:
    """Per look-alike family: members (in scope), how many are on the alert list, share."""
    rows = []
    for (pattern, family, entity_type), ids in _in_scope(lookalikes, "family", in_scope):
        hit = {i for i in ids if (entity_type, i) in alerted}
        rows.append(
            {
                "pattern": pattern,
                "family": family,
                "entity_type": entity_type,
                "members": len(ids),
                "alerted": len(hit),
                "share": len(hit) / len(ids),
            }
        )
    return pd.DataFrame(
        rows, columns=["pattern", "family", "entity_type", "members", "alerted", "share"]
    )


def charts(by_pattern: pd.DataFrame, families: pd.DataFrame, folder) -> list[str]:
    """Held-out recall per pattern and false alerts per family, each against its target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if len(by_pattern):
        shown = by_pattern.sort_values("recall")
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(shown) + 1.2))
        ax.barh(shown.pattern, shown.recall, color="tab:blue")
        ax.axvline(RECALL_TARGET, color="grey", linestyle="--", linewidth=1)
        ax.set(xlim=(0, 1), xlabel="share of planted entities found (each variant held out)")
        ax.set_title("Recall on variants the models were not taught")
        fig.savefig(folder / "heldout_recall.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append("heldout_recall.png")
    if len(families):
        shown = families.assign(label=families.pattern + " / " + families.family).sort_values(
            "share"
        )
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(shown) + 1.2))
        ax.barh(shown.label, shown.share, color="tab:orange")
        ax.axvline(FALSE_ALERT_LIMIT, color="grey", linestyle="--", linewidth=1)
        ax.set(
            xlim=(0, max(0.2, float(shown.share.max()) * 1.1)),
            xlabel="share of the family on the alert list",
        )
        ax.set_title("False alerts per look-alike family")
        fig.savefig(folder / "lookalike_alerts.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append("lookalike_alerts.png")
    return written
