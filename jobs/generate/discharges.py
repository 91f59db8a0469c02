"""Inpatient discharges of every year: who, where, what, how long, how much.

One row per case with clean, canonical values (the truth); the dialect writers
later format them the way each HIS vendor would, and the mess module spoils
some. Money is carried as integer fen so that every breakdown adds up exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from jobs.generate.clinical import LEVEL_COST, SEASON, YEARLY_GROWTH, ClinicalModel
from jobs.generate.knobs import Knobs
from jobs.generate.world import World
from jobs.terms import FEE_CATEGORIES
from jobs.vocab import sex_of_diagnosis

COST_PARTS = FEE_CATEGORIES
# Dirichlet concentration of the cost breakdown by treatment class.
PART_SHAPE = {
    "C": np.array([40, 6, 20, 12, 8, 9, 5], dtype=float),
    "D": np.array([30, 8, 32, 12, 7, 7, 4], dtype=float),
    "T": np.array([32, 10, 15, 28, 6, 6, 3], dtype=float),
    "S": np.array([22, 30, 12, 22, 5, 6, 3], dtype=float),
}
FUND_SHARE = {"employee": 0.82, "resident": 0.66}
LEVEL_PREFERENCE = {  # probability of each level (3, 2, 1) by treatment class
    "S": (0.62, 0.30, 0.08),
    "T": (0.55, 0.33, 0.12),
    "D": (0.45, 0.35, 0.20),
    "C": (0.38, 0.35, 0.27),
}


def _pick_hospitals(
    klass: np.ndarray, institutions: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    hospitals = institutions[institutions.type == "hospital"]
    out = np.empty(len(klass), dtype=object)
    levels = np.array([3, 2, 1])
    chosen_level = np.empty(len(klass), dtype=int)
    for k, probs in LEVEL_PREFERENCE.items():
        mask = klass == k
        chosen_level[mask] = rng.choice(levels, size=mask.sum(), p=probs)
    for level in levels:
        pool = hospitals[hospitals.level == level]
        if pool.empty:  # tiny cities may lack a level: fall back to any hospital
            pool = hospitals
        mask = chosen_level == level
        weights = pool["size"].to_numpy() / pool["size"].sum()
        out[mask] = rng.choice(pool.institution_code.to_numpy(), size=mask.sum(), p=weights)
    return out.astype(str)


def _pick_persons(
    sex: np.ndarray,
    age: np.ndarray,
    when: np.ndarray,
    persons: pd.DataFrame,
    rng: np.random.Generator,
) -> np.ndarray:
    """Index of a person of that sex born near (when - age), alive and enrolled by then."""
    female = (persons.sex.to_numpy() == "F").astype(np.int64)
    birth = persons.birth_date.to_numpy().astype("datetime64[D]").astype(np.int64)
    death = persons.death_date.to_numpy().astype("datetime64[D]")
    order = np.lexsort((birth, female))
    n_male = int((female == 0).sum())
    sorted_key = female[order] * 10**6 + birth[order]
    when_days = when.astype("datetime64[D]")
    want_f = (sex == "F").astype(np.int64)
    target = want_f * 10**6 + when_days.astype(np.int64) - (age * 365.25).astype(np.int64)
    lo = np.where(want_f == 1, n_male, 0)
    hi = np.where(want_f == 1, len(order), n_male) - 1
    # Nobody is admitted before being born: the last person born by then bounds the draw.
    born_by = np.searchsorted(sorted_key, want_f * 10**6 + when_days.astype(np.int64), "right") - 1
    hi = np.maximum(np.minimum(hi, born_by), lo)
    base = np.searchsorted(sorted_key, target)
    picked = np.empty(len(target), dtype=np.int64)
    todo = np.arange(len(target))
    for _ in range(8):  # redraw the few who had died by then
        pos = np.clip(base[todo] + rng.integers(-300, 300, len(todo)), lo[todo], hi[todo])
        picked[todo] = order[pos]
        dead = death[picked[todo]] <= when_days[todo]
        todo = todo[dead]
        if not len(todo):
            break
    return picked


def split_cost(total_fen: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split integer totals into parts by shares; the parts add up to the total exactly."""
    parts = np.floor(total_fen[:, None] * shares).astype(np.int64)
    parts[:, 0] += total_fen - parts.sum(axis=1)
    return parts


def build_discharges(
    model: ClinicalModel, world: World, knobs: Knobs, rng: np.random.Generator
) -> pd.DataFrame:
    frames = [
        draw_stays(
            model,
            world,
            knobs.discharges_per_year,
            year,
            y_index,
            partial(_seasonal_discharges, year),
            rng,
        )
        for y_index, year in enumerate(knobs.year_list)
    ]
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["discharge_date", "hospital_code"], kind="stable", ignore_index=True)
    out.insert(0, "case_id", [f"ZY{d:%Y}{i:08d}" for i, d in enumerate(out.discharge_date)])
    out["doctor_id"] = _pick_doctors(out.hospital_code.to_numpy(), world, rng)
    return out


def _seasonal_discharges(
    year: int, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Month (0-11) and discharge day of ``n`` stays spread over ``year`` by season."""
    month_w = SEASON / SEASON.sum()
    month = rng.choice(12, size=n, p=month_w)
    day = rng.integers(0, 28, n)
    discharge = (
        pd.to_datetime({"year": np.full(n, year), "month": month + 1, "day": 1})
        + pd.to_timedelta(day + rng.integers(0, 3, n), unit="D")
    ).to_numpy()
    return month, discharge


def draw_stays(
    model: ClinicalModel,
    world: World,
    n: int,
    year: int,
    y_index: int,
    discharges: Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``n`` stays of ``year`` (the ``y_index``-th year of the city, for cost growth), each
    with its treatment, patient, hospital and costs; ``discharges(n, rng)`` says their
    month (0-11, for the season's cost) and discharge day. No case or doctor id yet."""
    profiles = model.profiles
    weight = profiles.weight.to_numpy()
    st_codes = model.procedure_pool[model.procedure_pool["class"] != "D"].code.to_numpy()
    level_of = dict(zip(world.institutions.institution_code, world.institutions.level, strict=True))
    pick = rng.choice(len(profiles), size=n, p=weight)
    prof = profiles.iloc[pick].reset_index(drop=True)
    procs = prof.procedures.to_numpy().copy()
    # Unusual treatments: the long tail that ends in comprehensive types.
    odd = np.flatnonzero(rng.random(n) < 0.05)
    n_odd = 1 + (rng.random(len(odd)) < 0.3)
    for j, i in enumerate(odd):
        procs[i] = tuple(dict.fromkeys(rng.choice(st_codes, size=n_odd[j])))
    # Diagnostic procedures ride along; now and then one is coded first.
    n_diag = rng.choice([0, 1, 2], size=n, p=[0.55, 0.33, 0.12])
    diag = rng.choice(model.diagnostic_codes, size=(n, 2))
    first = rng.random(n) < 0.04
    procs = np.array(
        [_with_diagnostics(p, diag[i, : n_diag[i]], first[i]) for i, p in enumerate(procs)],
        dtype=object,
    )
    month, discharge = discharges(n, rng)
    los = np.maximum(1, np.round(prof.los_mean.to_numpy() * rng.lognormal(0, 0.35, n))).astype(int)
    admission = discharge - los.astype("timedelta64[D]")
    age = np.clip(rng.normal(prof.age_mean.to_numpy(), 12.0), 0, 95)
    age = np.where(prof.principal_dx.str[0].to_numpy() == "P", rng.uniform(0, 0.08, n), age)
    sex = np.where(rng.random(n) < prof.female_share.to_numpy(), "F", "M")
    person_ix = _pick_persons(sex, age, admission, world.persons, rng)
    hospital = _pick_hospitals(prof.treatment_class.to_numpy(), world.institutions, rng)
    level = np.array([level_of[h] for h in hospital])
    cost = (
        prof.base_cost.to_numpy()
        * np.array([LEVEL_COST[lv] for lv in level])
        * (1 + YEARLY_GROWTH) ** y_index
        * SEASON[month]
        * np.sqrt(los / prof.los_mean.to_numpy())
        * rng.lognormal(0, 0.28, n)
    )
    total_fen = np.maximum(30_000, np.round(cost * 100)).astype(np.int64)
    klass = prof.treatment_class.to_numpy()
    shares = np.empty((n, len(COST_PARTS)))
    for k, shape in PART_SHAPE.items():
        shares[klass == k] = rng.dirichlet(shape, size=int((klass == k).sum()))
    parts = split_cost(total_fen, shares)
    persons = world.persons.iloc[person_ix]
    fund_share = np.clip(
        persons.insurance_type.map(FUND_SHARE).to_numpy() + rng.normal(0, 0.04, n), 0.3, 0.95
    )
    fund_fen = np.round(total_fen * fund_share).astype(np.int64)
    emergency_p = np.where(np.isin(prof.principal_dx.str[0], ["I", "S", "T", "O"]), 0.6, 0.2)
    status = rng.choice(
        ["cured", "transferred", "died", "left"], size=n, p=[0.88, 0.04, 0.02, 0.06]
    )
    frame = pd.DataFrame(
        {
            "year": year,
            "hospital_code": hospital,
            "level": level,
            "id_no": persons.id_no.to_numpy(),
            "name": persons.name.to_numpy(),
            "sex": persons.sex.to_numpy(),
            "birth_date": persons.birth_date.to_numpy(),
            "insurance_type": persons.insurance_type.to_numpy(),
            "admission_date": admission,
            "discharge_date": discharge,
            "admission_type": np.where(rng.random(n) < emergency_p, "emergency", "elective"),
            "discharge_status": status,
            "principal_dx": prof.principal_dx.to_numpy(),
            "other_dx": _other_diagnoses(
                profiles.principal_dx.to_numpy(), weight, persons.sex.to_numpy(), rng
            ),
            "procedures": procs,
            "total_fen": total_fen,
            "fund_fen": fund_fen,
            "self_fen": total_fen - fund_fen,
        }
    )
    for k, part in enumerate(COST_PARTS):
        frame[f"{part}_fen"] = parts[:, k]
    return frame


def _with_diagnostics(treatment: tuple, diagnostics: np.ndarray, first: bool) -> tuple:
    extra = [c for c in diagnostics if c not in treatment]
    if first and extra:
        return tuple(dict.fromkeys([*extra, *treatment]))
    return tuple(dict.fromkeys([*treatment, *extra]))


def _other_diagnoses(
    codes: np.ndarray, weight: np.ndarray, sex: np.ndarray, rng: np.random.Generator
) -> list[tuple[str, ...]]:
    """Secondary diagnoses of each case; a drawn code the patient's sex cannot have is dropped
    (the draw itself does not depend on sex, so the stream stays the same)."""
    n = len(sex)
    count = rng.choice([0, 1, 2, 3, 4], size=n, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    drawn = rng.choice(codes, size=(n, 4), p=weight)
    only = {code: sex_of_diagnosis(code) for code in np.unique(drawn)}
    return [
        tuple(dict.fromkeys(c for c in drawn[i, : count[i]] if only[c] in (None, sex[i])))
        for i in range(n)
    ]


def _pick_doctors(hospital: np.ndarray, world: World, rng: np.random.Generator) -> np.ndarray:
    doctors = world.doctors.sort_values(["institution_code", "doctor_id"])
    codes = doctors.institution_code.to_numpy()
    start = np.searchsorted(codes, hospital, side="left")
    stop = np.searchsorted(codes, hospital, side="right")
    offset = (rng.random(len(hospital)) * (stop - start)).astype(int)
    return doctors.doctor_id.to_numpy()[start + offset]
