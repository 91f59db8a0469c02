"""Planted fraud: the twelve patterns of SPEC 6, each beside harmless look-alikes.

Each ``plant_*`` function changes the clean city the way the fraud would show
in the data, records the truth as (entity_type, entity_id, pattern) labels,
and plants look-alikes that share the surface signal but are legitimate (they
get no label). Persons are labelled by raw ID number, as SPEC 4 asks; the
truth folder is read only by evaluation.

Each pattern is planted as a family of variants (:data:`VARIANTS`): the plain
shape, the ways a hospital or a person who knows the rule would step around it
(a return after the window, a sibling item code, a token nursing round, a gang
admitted a day apart...), and graded intensities of the hospital-level patterns.
Each label carries its variant and each look-alike its family, so that evaluation
can leave a variant out and count false alerts per family (docs/fraud.md lists
each rule's evasions and what catches them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jobs.generate.knobs import Knobs
from jobs.generate.world import World
from jobs.terms import FEE_CATEGORIES
from jobs.vocab import sex_of_diagnosis

# The variants of each pattern, with the share of its entities planted in each. The
# first is the plain shape; the others are evasions of the pattern's rule, or milder
# intensities of a hospital-level pattern.
VARIANTS: dict[str, dict[str, float]] = {
    "SPLIT_ADMISSION": {
        "plain": 0.4,
        "waits_out_the_window": 0.2,  # back 16-28 days later, past FR01's 15
        "recoded_second_stay": 0.2,  # another category of the same ICD chapter
        "emergency_coded": 0.2,  # the return coded as an emergency
    },
    "GHOST_BED": {
        "plain": 0.4,
        "token_care": 0.3,  # one nursing round every fourth day
        "checked_in": 0.3,  # the patient's face checked at admission, then gone
    },
    "DUPLICATE_BILLING": {
        "plain": 0.5,
        "sibling_code": 0.5,  # the repeat billed under another code, same price, same day
    },
    "SHADOW_DOCTOR": {
        "plain": 0.35,  # a dozen stays at another hospital
        "after_leaving": 0.35,  # stays after the deregistration
        "few_stays": 0.3,  # two stays elsewhere: under FR06's three
    },
    "GANG": {
        "plain": 0.25,  # one hospital, one day, 3-5 times
        "staggered": 0.25,  # members admitted over two days
        "two_hospitals": 0.25,  # visits alternate between two hospitals
        "twice": 0.25,  # only two visits: under FR08's three
    },
    "IDENTITY_FRAUD": {
        "plain": 0.5,  # a claim long after the death; one card 25 km apart in half an hour
        "soon_after": 0.25,  # a claim within two weeks of the death
        "an_hour_apart": 0.25,  # one card at distant sites about an hour apart
    },
    "DRUG_RESALE": {
        "plain": 0.5,  # traceability codes sold twice
        "fresh_codes": 0.5,  # supply piled up at many pharmacies, no code reused
    },
    "DUPLICATE_ENROLMENT": {
        "plain": 0.5,  # enrolled elsewhere, still open
        "short_overlap": 0.5,  # the other enrolment overlaps 60-150 days, then ends
    },
    "LOW_STANDARD_ADMISSION": {"doubles": 0.5, "light": 0.5},  # +100% / +30% own admissions
    "UPCODING": {"heavy": 0.5, "light": 0.5},  # half / a fifth of eligible cases moved
    "FICTITIOUS_SERVICE": {"one_village": 0.5, "spread": 0.5},  # 1 village / 4, costs varied
    "OVER_TESTING": {"heavy": 0.5, "light": 0.5},  # exams +25-50% / +10-20% of the cost
}


def draw_variants(rng: np.random.Generator, n: int, pattern: str) -> np.ndarray:
    """``n`` variants of ``pattern`` in the shares of :data:`VARIANTS`: every variant at
    least once where ``n`` allows (a small city still has each shape to hold out)."""
    names = list(VARIANTS[pattern])
    shares = np.array(list(VARIANTS[pattern].values()))
    counts = np.floor(shares * n).astype(int)
    for i in range(min(len(names), n)):
        counts[i] = max(counts[i], 1)
    while counts.sum() > n:
        counts[int(np.argmax(counts))] -= 1
    while counts.sum() < n:
        counts[int(np.argmax(shares * n - counts))] += 1
    out = np.repeat(np.array(names, dtype=object), counts)
    return out[rng.permutation(len(out))]


@dataclass
class Planted:
    """The city after planting, plus what the other feeds need to show each pattern."""

    cases: pd.DataFrame
    labels: list[tuple[str, str, str]] = field(default_factory=list)
    lookalikes: list[tuple[str, str, str]] = field(default_factory=list)
    ghost_cases: set[str] = field(default_factory=set)
    duplicate_billing_cases: set[str] = field(default_factory=set)
    second_item_cases: set[str] = field(default_factory=set)
    resale_persons: list[str] = field(default_factory=list)
    chronic_persons: list[str] = field(default_factory=list)
    distant_same_day: list[tuple[str, pd.Timestamp]] = field(default_factory=list)
    duplicate_enrolments: list[str] = field(default_factory=list)
    moved_persons: list[str] = field(default_factory=list)
    deregistered: dict[str, pd.Timestamp] = field(default_factory=dict)
    # Cases a pattern already shaped: later patterns leave them alone, so that each
    # planted signal stays what its own pattern made it.
    touched: set[str] = field(default_factory=set)
    # The variant of each label and the family of each look-alike, by (type, id, pattern).
    variant_of: dict[tuple[str, str, str], str] = field(default_factory=dict)
    family_of: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # What the other feeds need to show an evasion.
    token_care_cases: set[str] = field(default_factory=set)
    checked_in_ghosts: set[str] = field(default_factory=set)
    sibling_code_cases: set[str] = field(default_factory=set)
    hoarding_persons: list[str] = field(default_factory=list)
    distant_gap_minutes: dict[str, int] = field(default_factory=dict)
    nearby_two_shops: list[tuple[str, pd.Timestamp]] = field(default_factory=list)
    overlap_days: dict[str, int] = field(default_factory=dict)

    def free(self, mask: pd.Series) -> pd.Index:
        return self.cases.index[mask & ~self.cases.case_id.isin(self.touched)]

    def touch(self, case_ids) -> None:
        self.touched.update(str(c) for c in case_ids)

    def label(self, entity_type: str, entity_id: str, pattern: str, variant: str = "") -> None:
        key = (entity_type, str(entity_id), pattern)
        self.labels.append(key)
        self.variant_of.setdefault(key, variant or next(iter(VARIANTS[pattern])))

    def lookalike(self, entity_type: str, entity_id: str, pattern: str, family: str) -> None:
        key = (entity_type, str(entity_id), pattern)
        self.lookalikes.append(key)
        self.family_of.setdefault(key, family)

    def innocent_of_the_rest(self, hospitals: np.ndarray) -> np.ndarray:
        """``hospitals`` without the provider look-alikes planted so far: a look-alike
        stays innocent, so a later pattern does not pick it."""
        spared = {e for t, e, _ in self.lookalikes if t == "provider"}
        return np.array([h for h in hospitals if h not in spared], dtype=object)


def _next_case_ids(n: int, year: int, tag: str) -> list[str]:
    return [f"ZY{year}{tag}{i:06d}" for i in range(n)]


def _copy_cases(source: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    out = source.copy()
    out["case_id"] = ids
    return out


def _sex_neutral(cases: pd.DataFrame) -> pd.Series:
    """Cases whose every diagnosis fits a person of either sex: the only templates a claim
    for somebody else may be copied from (a planted claim is fraud, not a defect: it must
    pass ingest's sex-plausibility check)."""
    codes = set(cases.principal_dx) | {c for dx in cases.other_dx for c in dx}
    either = {c for c in codes if sex_of_diagnosis(c) is None}
    return cases.principal_dx.isin(either) & cases.other_dx.map(lambda dx: either.issuperset(dx))


def _living_adults(world: World, knobs: Knobs) -> pd.DataFrame:
    """People who can be put into any planted stay: alive, and adults before the first year."""
    persons = world.persons
    adult = persons.birth_date < pd.Timestamp(f"{knobs.first_year - 18}-01-01")
    return persons[persons.death_date.isna() & adult]


def _hospitals(world: World, level: int | None = None) -> np.ndarray:
    inst = world.institutions
    mask = inst.type == "hospital"
    if level is not None:
        mask &= inst.level == level
    return inst.institution_code[mask].to_numpy()


def plant_split_admission(p: Planted, knobs: Knobs, rng: np.random.Generator) -> None:
    """One stay billed as two: discharge, then readmission with the same complaint. Plain:
    within 15 days, same diag3, elective; the evasions of FR01 in :data:`VARIANTS`."""
    c = p.cases
    los = (c.discharge_date - c.admission_date).dt.days
    pool = p.free(
        (c.admission_type == "elective") & (los >= 6) & ~c.principal_dx.str.startswith("Z")
    )
    n = max(len(VARIANTS["SPLIT_ADMISSION"]), int(len(c) * 0.004))
    chosen = rng.choice(pool, size=n, replace=False)
    variants = draw_variants(rng, n, "SPLIT_ADMISSION")
    first = c.loc[chosen].copy()
    half = ((first.discharge_date - first.admission_date).dt.days // 2).clip(lower=2)
    second = first.copy()
    first["discharge_date"] = first.admission_date + pd.to_timedelta(half, unit="D")
    late = variants == "waits_out_the_window"
    days = np.where(late, rng.integers(16, 29, n), rng.integers(1, 10, n))
    second["admission_date"] = first.discharge_date + pd.to_timedelta(days, unit="D")
    second["discharge_date"] = second.admission_date + pd.to_timedelta(
        (c.loc[chosen].discharge_date - c.loc[chosen].admission_date).dt.days - half, unit="D"
    ).clip(lower=pd.Timedelta(days=1))
    neutral = sorted(set(c.principal_dx[_sex_neutral(c)]))
    recoded = variants == "recoded_second_stay"
    moved = [_chapter_sibling(dx, neutral, rng) for dx in second.principal_dx[recoded]]
    second.loc[recoded, "principal_dx"] = moved
    # a diagnosis with no sibling in its chapter stays as it was: then the case is plain
    variants[recoded] = np.where(
        np.array(moved, dtype=object) == first.principal_dx[recoded].to_numpy(),
        "plain",
        "recoded_second_stay",
    )
    second.loc[variants == "emergency_coded", "admission_type"] = "emergency"
    second["year"] = second.discharge_date.dt.year
    kept = second.year.isin(knobs.year_list).to_numpy()
    second, variants = second[kept], variants[kept]
    second = _copy_cases(second, _next_case_ids(len(second), knobs.settlement_year, "S"))
    c.loc[chosen, "discharge_date"] = first.discharge_date
    p.touch(c.case_id[chosen])
    p.touch(second.case_id)
    for cid, variant in zip(second.case_id, variants, strict=True):
        p.label("case", cid, "SPLIT_ADMISSION", variant)
    # Look-alikes: chemotherapy and dialysis cycles, elective readmissions every 2-4 weeks.
    cyc_idx = rng.choice(c.index, size=max(2, int(len(c) * 0.002)), replace=False)
    cycles = []
    for k in range(1, 4):
        more = c.loc[cyc_idx].copy()
        more["principal_dx"] = np.where(rng.random(len(more)) < 0.6, "Z51.1", "Z49.1")
        shift = pd.to_timedelta(k * rng.integers(14, 28, len(more)), unit="D")
        more["admission_date"] = more.admission_date + shift
        more["discharge_date"] = more.admission_date + pd.Timedelta(days=2)
        more["admission_type"] = "elective"
        more["procedures"] = [
            ("99.25",) if dx == "Z51.1" else ("39.95",) for dx in more.principal_dx
        ]
        more["year"] = more.discharge_date.dt.year
        cycles.append(more[more.year.isin(knobs.year_list)])
    cyc = pd.concat(cycles, ignore_index=True)
    cyc = _copy_cases(cyc, _next_case_ids(len(cyc), knobs.settlement_year, "L"))
    for cid in cyc.case_id:
        p.lookalike("case", cid, "SPLIT_ADMISSION", "treatment_cycle")
    p.touch(cyc.case_id)
    # Look-alike: back within days as an emergency with a complaint of another chapter
    # (a fall, an infection): a second stay, but not the first one cut in two.
    back_idx = rng.choice(p.free(c.year >= knobs.settlement_year - 1), size=n, replace=False)
    back = c.loc[back_idx].copy()
    back["principal_dx"] = [_other_chapter(dx, neutral, rng) for dx in back.principal_dx]
    back["admission_date"] = back.discharge_date + pd.to_timedelta(rng.integers(3, 11, n), unit="D")
    back["discharge_date"] = back.admission_date + pd.to_timedelta(rng.integers(2, 6, n), unit="D")
    back["admission_type"] = "emergency"
    back["year"] = back.discharge_date.dt.year
    back = back[back.year.isin(knobs.year_list)]
    back = _copy_cases(back, _next_case_ids(len(back), knobs.settlement_year, "K"))
    for cid in back.case_id:
        p.lookalike("case", cid, "SPLIT_ADMISSION", "unrelated_emergency_return")
    p.touch(c.case_id[back_idx])
    p.touch(back.case_id)
    p.cases = pd.concat([c, second, cyc, back], ignore_index=True)


def _chapter_sibling(dx: str, codes: list[str], rng: np.random.Generator) -> str:
    """A code of ``dx``'s ICD chapter (its letter) in another category, or ``dx`` itself."""
    others = [x for x in codes if x[0] == dx[0] and x[:3] != dx[:3]]
    return str(rng.choice(others)) if others else dx


def _other_chapter(dx: str, codes: list[str], rng: np.random.Generator) -> str:
    """A code of another ICD chapter than ``dx``'s, not a treatment cycle (Z)."""
    others = [x for x in codes if x[0] not in (dx[0], "Z")]
    return str(rng.choice(others))


def plant_ghost_bed(p: Planted, knobs: Knobs, rng: np.random.Generator) -> None:
    """Beds billed for patients who are not there; the evasions add a token nursing round or
    a face check at admission (:data:`VARIANTS`)."""
    c = p.cases
    first_year = knobs.settlement_year - knobs.fee_detail_years + 1
    # the whole stay in the fee-detail years: the purchase elsewhere falls in the pharmacy feed
    recent = p.free(
        (c.admission_date.dt.year >= first_year)
        & ((c.discharge_date - c.admission_date).dt.days >= 5)
    )
    n = max(len(VARIANTS["GHOST_BED"]), int(len(recent) * 0.003))
    picked = rng.choice(recent, size=2 * n, replace=False)
    chosen, looks = picked[:n], picked[n:]
    for i, variant in zip(chosen, draw_variants(rng, n, "GHOST_BED"), strict=True):
        cid = c.case_id.at[i]
        p.ghost_cases.add(cid)
        if variant == "token_care":
            p.token_care_cases.add(cid)
        elif variant == "checked_in":
            p.checked_in_ghosts.add(cid)
        p.label("case", cid, "GHOST_BED", variant)
    # Look-alike: long rehabilitation stays with few drugs and tests, but nursed every day
    # and checked in at the terminal: the patient is there.
    for i in looks:
        p.lookalike("case", c.case_id.at[i], "GHOST_BED", "rehabilitation")
    c.loc[looks, "nursing_fen"] += c.loc[looks, "drugs_fen"] + c.loc[looks, "exams_fen"]
    c.loc[looks, ["drugs_fen", "exams_fen"]] = 0
    p.touch(c.case_id[picked])


def plant_low_standard(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Short exam-only stays of people who needed no bed: ``doubles`` a hospital's own
    admissions of the last two years, ``light`` adds a third of them."""
    c = p.cases
    level1 = p.innocent_of_the_rest(_hospitals(world, 1))
    n = min(max(2, int(len(level1) * 0.04)), len(level1) // 2)
    bad = rng.choice(level1, size=n, replace=False)
    variants = draw_variants(rng, n, "LOW_STANDARD_ADMISSION")
    last_two = c.year >= knobs.settlement_year - 1
    pool = c[c.principal_dx.str[0].isin(["R", "J", "K"]) & last_two]
    parts = []
    for h, variant in zip(bad, variants, strict=True):
        own = int((c.hospital_code.eq(h) & last_two).sum())
        wanted = max(10, round(own * (1.0 if variant == "doubles" else 0.3)))
        part = pool.sample(
            n=wanted, replace=wanted > len(pool), random_state=int(rng.integers(2**31))
        )
        parts.append(part.assign(hospital_code=h))
        p.label("provider", h, "LOW_STANDARD_ADMISSION", variant)
    extra = pd.concat(parts, ignore_index=True)
    los = rng.integers(1, 3, len(extra))
    extra["admission_date"] = extra.discharge_date - pd.to_timedelta(los, unit="D")
    extra["procedures"] = [
        ("88.38",) if rng.random() < 0.5 else ("87.44",) for _ in range(len(extra))
    ]
    scale = rng.uniform(0.15, 0.3, len(extra))
    for col in [col for col in extra.columns if col.endswith("_fen")]:
        extra[col] = (extra[col] * scale).round().astype(np.int64)
    extra["other_fen"] = extra.total_fen - extra[
        [f"{x}_fen" for x in FEE_CATEGORIES if x != "other"]
    ].sum(axis=1)
    extra["self_fen"] = extra.total_fen - extra.fund_fen
    extra = _copy_cases(extra, _next_case_ids(len(extra), knobs.settlement_year, "W"))
    p.touch(extra.case_id)
    for h in rng.choice(
        np.setdiff1d(level1, bad), size=min(len(bad), len(level1) - len(bad)), replace=False
    ):
        p.lookalike("provider", h, "LOW_STANDARD_ADMISSION", "peer_primary_hospital")
    p.cases = pd.concat([c, extra], ignore_index=True)


def plant_upcoding(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Principal diagnosis moved to a costlier sibling in the same category, nothing else:
    half the eligible cases (``heavy``) or a fifth (``light``)."""
    c = p.cases
    hospitals = p.innocent_of_the_rest(_hospitals(world))
    n = max(2, int(len(hospitals) * 0.04))
    bad = rng.choice(hospitals, size=n, replace=False)
    share = {"heavy": 0.5, "light": 0.2}
    mean_cost = c.groupby("principal_dx").total_fen.mean()
    # Siblings share the category and the sex the code allows (D07.1 is a woman's, D07.5 a
    # man's): the moved code must still fit the patient.
    only = mean_cost.index.map(lambda code: sex_of_diagnosis(code) or "")
    sibling = {}
    for _, group in mean_cost.groupby([mean_cost.index.str[:3], only]):
        if len(group) > 1:
            top = group.idxmax()
            sibling.update({code: top for code in group.index if code != top})
    last_years = c.year >= knobs.settlement_year - 1
    for h, variant in zip(bad, draw_variants(rng, n, "UPCODING"), strict=True):
        target = p.free(c.hospital_code.eq(h) & last_years & c.principal_dx.isin(list(sibling)))
        moved = target[rng.random(len(target)) < share[variant]]
        c.loc[moved, "principal_dx"] = c.loc[moved, "principal_dx"].map(sibling)
        p.label("provider", h, "UPCODING", variant)
        for cid in c.case_id[moved]:
            p.label("case", cid, "UPCODING", variant)
        p.touch(c.case_id[moved])
    # Look-alike: a specialist hospital whose costly case mix is real and steady.
    for h in rng.choice(np.setdiff1d(_hospitals(world, 3), bad), size=1, replace=False):
        p.lookalike("provider", h, "UPCODING", "specialist_case_mix")


def plant_fictitious(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Templated cases of people who were never treated, all with one diagnosis: forty people
    of one village with identical stays (``one_village``), or of four villages with costs
    and stays varied a little to look like real ones (``spread``)."""
    c = p.cases
    hospitals = p.innocent_of_the_rest(_hospitals(world, 2))
    n = min(max(2, int(len(hospitals) * 0.02)), len(hospitals))
    bad = rng.choice(hospitals, size=n, replace=False)
    persons = _living_adults(world, knobs)
    neutral = _sex_neutral(c)
    villages = persons.village.value_counts().index
    rows = []
    for h, variant in zip(bad, draw_variants(rng, n, "FICTITIOUS_SERVICE"), strict=True):
        picked = rng.choice(min(50, len(villages)), size=1 if variant == "one_village" else 4)
        people = persons[persons.village.isin(villages[picked])]
        people = people.sample(n=min(40, len(people)), random_state=int(rng.integers(2**31)))
        own = c[(c.hospital_code == h) & neutral]
        template = own.iloc[0] if len(own) else c[neutral].iloc[0]
        for _, person in people.iterrows():
            row = template.copy()
            row["hospital_code"] = h
            for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
                row[col] = person[col]
            shift = pd.Timedelta(days=int(rng.integers(0, 300)))
            start = pd.Timestamp(f"{knobs.settlement_year}-01-05") + shift
            stay = template.discharge_date - template.admission_date
            if variant == "spread":
                stay += pd.Timedelta(days=int(rng.integers(0, 3)))
                factor = rng.uniform(0.85, 1.15)
                for col in [x for x in row.index if x.endswith("_fen") and x != "total_fen"]:
                    row[col] = int(np.rint(row[col] * factor))
                row["total_fen"] = sum(row[f"{x}_fen"] for x in FEE_CATEGORIES)
                row["self_fen"] = row.total_fen - row.fund_fen
            row["admission_date"] = start
            row["discharge_date"] = start + stay
            row["year"] = row.discharge_date.year
            row["variant"] = variant
            rows.append(row)
        p.label("provider", h, "FICTITIOUS_SERVICE", variant)
    extra = pd.DataFrame(rows)
    extra = extra[extra.year.isin(knobs.year_list)]
    extra = _copy_cases(extra, _next_case_ids(len(extra), knobs.settlement_year, "F"))
    for cid, variant in zip(extra.case_id, extra.pop("variant"), strict=True):
        p.label("case", cid, "FICTITIOUS_SERVICE", variant)
    p.touch(extra.case_id)
    # Look-alike: a real screening campaign, one diagnosis and one operation, but people
    # from all over the city and costs that vary as real stays do, in the settlement year.
    # (at a tertiary hospital that has cases to copy; in a tiny city, any that has)
    busy = np.setdiff1d(c.hospital_code.unique(), bad)
    sites = np.intersect1d(_hospitals(world, 3), busy)
    campaign_site = rng.choice(sites if len(sites) else busy)
    template = c[(c.hospital_code == campaign_site) & neutral].head(1)
    if len(template):
        people = persons.sample(n=40, random_state=int(rng.integers(2**31)))
        camp = template.loc[template.index.repeat(len(people))].copy()
        for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
            camp[col] = people[col].to_numpy()
        factor = rng.uniform(0.8, 1.25, len(camp))
        for col in [x for x in camp.columns if x.endswith("_fen") and x != "total_fen"]:
            camp[col] = (camp[col] * factor).round().astype(np.int64)
        parts = [f"{x}_fen" for x in FEE_CATEGORIES]
        camp["total_fen"] = camp[parts].sum(axis=1)
        camp["self_fen"] = camp.total_fen - camp.fund_fen
        # over a few weeks of the settlement year, the year the fraud is sought in
        start = pd.Timestamp(f"{knobs.settlement_year}-03-01") + pd.to_timedelta(
            rng.integers(0, 42, len(camp)), unit="D"
        )
        stay = camp.discharge_date - camp.admission_date
        camp["admission_date"] = start
        camp["discharge_date"] = start + stay.to_numpy()
        camp["year"] = camp.discharge_date.dt.year
        camp = _copy_cases(camp, _next_case_ids(len(camp), knobs.settlement_year, "M"))
        p.touch(camp.case_id)
        extra = pd.concat([extra, camp], ignore_index=True)
        p.lookalike("provider", campaign_site, "FICTITIOUS_SERVICE", "screening_campaign")
    p.cases = pd.concat([c, extra], ignore_index=True)


def plant_identity(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Claims for the dead (long after, or ``soon_after``: within two weeks of the death),
    and one card at distant sites the same day (half an hour apart, or about an hour:
    ``an_hour_apart``)."""
    c = p.cases
    dead = world.persons[
        world.persons.death_date.notna()
        & (world.persons.death_date.dt.year < knobs.settlement_year)
    ]
    if dead.empty:
        return
    victims = dead.sample(
        n=max(2, min(len(dead), int(len(c) * 0.0004))), random_state=int(rng.integers(2**31))
    )
    soon = np.arange(len(victims)) % 3 == 2  # a third: within two weeks
    template = (
        c[_sex_neutral(c)].sample(n=len(victims), random_state=int(rng.integers(2**31))).copy()
    )
    for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
        template[col] = victims[col].to_numpy()
    days = np.where(soon, rng.integers(1, 15, len(victims)), rng.integers(30, 300, len(victims)))
    after = victims.death_date.to_numpy() + pd.to_timedelta(days, unit="D").to_numpy()
    stay = template.discharge_date - template.admission_date
    template["admission_date"] = after
    template["discharge_date"] = template.admission_date + stay
    template["year"] = template.discharge_date.dt.year
    template["variant"] = np.where(soon, "soon_after", "plain")
    template = template[template.year.isin(knobs.year_list)]
    template = _copy_cases(template, _next_case_ids(len(template), knobs.settlement_year, "D"))
    for cid, variant in zip(template.case_id, template.pop("variant"), strict=True):
        p.label("case", cid, "IDENTITY_FRAUD", variant)
    p.touch(template.case_id)
    # Look-alike: people who died in hospital; the claim ends on the day of death.
    died = c.index[c.discharge_status == "died"]
    for cid in c.case_id[died[: len(template)]]:
        p.lookalike("case", cid, "IDENTITY_FRAUD", "died_in_hospital")
    alive = world.persons[world.persons.death_date.isna()]
    cards = alive.sample(n=max(2, len(template)), random_state=int(rng.integers(2**31)))
    for k, id_no in enumerate(cards.id_no):
        day = pd.Timestamp(f"{knobs.settlement_year}-01-01") + pd.Timedelta(
            days=int(rng.integers(0, 360))
        )
        p.distant_same_day.append((id_no, day))
        slow = k % 2 == 1
        p.distant_gap_minutes[id_no] = int(rng.integers(50, 71) if slow else rng.integers(15, 36))
        p.label("person", id_no, "IDENTITY_FRAUD", "an_hour_apart" if slow else "plain")
    # Look-alike: one card at two pharmacies of neighbouring districts in one morning.
    for id_no in (
        alive.drop(cards.index).sample(n=len(cards), random_state=int(rng.integers(2**31))).id_no
    ):
        day = pd.Timestamp(f"{knobs.settlement_year}-01-01") + pd.Timedelta(
            days=int(rng.integers(0, 360))
        )
        p.nearby_two_shops.append((id_no, day))
        p.lookalike("person", id_no, "IDENTITY_FRAUD", "two_shops_nearby")
    p.cases = pd.concat([c, template], ignore_index=True)


def plant_duplicate_billing(p: Planted, knobs: Knobs, rng: np.random.Generator) -> None:
    """One treatment charged twice on a day: the same item (plain) or, to step around a
    check of repeated codes, a sibling code at the same price (``sibling_code``)."""
    c = p.cases
    recent = p.free(c.year >= knobs.settlement_year - knobs.fee_detail_years + 1)
    n = max(2, int(len(recent) * 0.005))
    chosen = rng.choice(recent, size=n, replace=False)
    p.touch(c.case_id[chosen])
    for cid, variant in zip(
        c.case_id[chosen], draw_variants(rng, n, "DUPLICATE_BILLING"), strict=True
    ):
        p.duplicate_billing_cases.add(cid)
        if variant == "sibling_code":
            p.sibling_code_cases.add(cid)
        p.label("case", cid, "DUPLICATE_BILLING", variant)
    # Look-alike: two different treatment items on one day, each billed once, each its price.
    others = np.setdiff1d(recent, chosen)
    for cid in c.case_id[rng.choice(others, size=len(chosen), replace=False)]:
        p.second_item_cases.add(cid)
        p.touch([cid])
        p.lookalike("case", cid, "DUPLICATE_BILLING", "two_different_items")


def plant_over_testing(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Tests nobody needed on every stay of the last two years: 25-50% of the cost added in
    exams (``heavy``) or 10-20% (``light``)."""
    c = p.cases
    hospitals = p.innocent_of_the_rest(_hospitals(world))
    n = max(2, int(len(hospitals) * 0.04))
    bad = rng.choice(hospitals, size=n, replace=False)
    span = {"heavy": (0.25, 0.5), "light": (0.1, 0.2)}
    for h, variant in zip(bad, draw_variants(rng, n, "OVER_TESTING"), strict=True):
        rows = p.free(c.hospital_code.eq(h) & (c.year >= knobs.settlement_year - 1))
        extra = (c.loc[rows, "total_fen"] * rng.uniform(*span[variant], len(rows))).round()
        extra = extra.astype(np.int64)
        c.loc[rows, "exams_fen"] += extra
        c.loc[rows, "total_fen"] += extra
        c.loc[rows, "self_fen"] += extra
        c.loc[rows, "procedures"] = pd.Series(
            [
                tuple(dict.fromkeys([*pr, "88.38", "88.71", "87.03"]))
                for pr in c.loc[rows, "procedures"]
            ],
            index=rows,
            dtype=object,
        )
        p.label("provider", h, "OVER_TESTING", variant)
    # Look-alike: a tertiary hospital whose many cancer cases do need the extra imaging.
    honest = rng.choice(np.setdiff1d(_hospitals(world, 3), bad))
    onco = p.free(
        (c.hospital_code == honest)
        & c.principal_dx.str.startswith("C")
        & (c.year >= knobs.settlement_year - 1)
    )
    more = (c.loc[onco, "total_fen"] * 0.2).round().astype(np.int64)
    c.loc[onco, "exams_fen"] += more
    c.loc[onco, "total_fen"] += more
    c.loc[onco, "self_fen"] += more
    p.lookalike("provider", honest, "OVER_TESTING", "oncology_centre")


def plant_shadow_doctor(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Licences lent out: a doctor billing at a second site (a dozen stays, or only two:
    ``few_stays``), or after leaving (``after_leaving``)."""
    c = p.cases
    doctors = world.doctors
    hospitals = _hospitals(world)
    # Discharges come only from hospitals: the lent licences are hospital doctors'.
    lent = doctors[(doctors.second_site == "") & doctors.institution_code.isin(hospitals)].sample(
        n=max(3, int(len(doctors) * 0.004)), random_state=int(rng.integers(2**31))
    )
    recent = p.free(c.year >= knobs.settlement_year - 1)
    variants = draw_variants(rng, len(lent), "SHADOW_DOCTOR")
    for doctor, variant in zip(lent.itertuples(index=False), variants, strict=True):
        rows = rng.choice(recent, size=2 if variant == "few_stays" else 12, replace=False)
        if variant == "after_leaving":
            c.loc[rows, "hospital_code"] = doctor.institution_code
            p.deregistered[doctor.doctor_id] = pd.Timestamp(f"{knobs.settlement_year - 1}-06-30")
        else:
            other = rng.choice(hospitals[hospitals != doctor.institution_code])
            c.loc[rows, "hospital_code"] = other
        c.loc[rows, "doctor_id"] = doctor.doctor_id
        p.touch(c.case_id[rows])
        recent = recent.difference(rows)
        p.label("doctor", doctor.doctor_id, "SHADOW_DOCTOR", variant)
    # Look-alike: registered multi-site doctors working at both sites.
    multi = doctors[doctors.second_site != ""].head(len(lent))
    for doctor in multi.itertuples(index=False):
        rows = rng.choice(recent, size=6, replace=False)
        c.loc[rows, "hospital_code"] = doctor.second_site
        c.loc[rows, "doctor_id"] = doctor.doctor_id
        p.touch(c.case_id[rows])
        recent = recent.difference(rows)
        p.lookalike("doctor", doctor.doctor_id, "SHADOW_DOCTOR", "registered_second_site")


def plant_gang(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """The same group of people admitted and discharged together, again and again: on one
    day at one hospital (plain), over two days (``staggered``), at two hospitals in turn
    (``two_hospitals``), or only twice (``twice``)."""
    c = p.cases
    hospitals = _hospitals(world)
    rows = []
    n_gangs = max(len(VARIANTS["GANG"]), knobs.discharges_per_year // 20_000)
    alive = _living_adults(world, knobs)
    neutral = _sex_neutral(c)
    for variant in draw_variants(rng, n_gangs, "GANG"):
        members = alive.sample(n=int(rng.integers(5, 9)), random_state=int(rng.integers(2**31)))
        sites = rng.choice(hospitals, size=2, replace=False)
        template = c[neutral].sample(n=1, random_state=int(rng.integers(2**31))).iloc[0]
        visits = 2 if variant == "twice" else int(rng.integers(3, 6))
        for visit in range(visits):
            start = pd.Timestamp(f"{knobs.settlement_year - 1}-02-01") + pd.Timedelta(
                days=int(visit * 70 + rng.integers(0, 20))
            )
            h = sites[visit % 2] if variant == "two_hospitals" else sites[0]
            for _, person in members.iterrows():
                row = template.copy()
                for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
                    row[col] = person[col]
                late = int(rng.integers(0, 2)) if variant == "staggered" else 0
                row["hospital_code"] = h
                row["admission_date"] = start + pd.Timedelta(days=late)
                row["discharge_date"] = row.admission_date + pd.Timedelta(
                    days=int(rng.integers(4, 7))
                )
                row["year"] = row.discharge_date.year
                rows.append(row)
        for id_no in members.id_no:
            p.label("person", id_no, "GANG", variant)
    # Look-alike: a family poisoned at one dinner, admitted together once (and its stays
    # are in the data: the look-alike meets the rule).
    family = alive[~alive.id_no.isin({e for t, e, _ in p.labels if t == "person"})].sample(
        n=5, random_state=int(rng.integers(2**31))
    )
    poisoned = c[c.principal_dx.str.startswith(("A0", "T6")) & neutral]
    meal = (poisoned if len(poisoned) else c[neutral]).iloc[0]
    day = pd.Timestamp(f"{knobs.settlement_year}-07-14")
    for _, person in family.iterrows():
        row = meal.copy()
        for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
            row[col] = person[col]
        row["hospital_code"] = hospitals[0]
        row["admission_type"] = "emergency"
        row["admission_date"] = day
        row["discharge_date"] = day + pd.Timedelta(days=3)
        row["year"] = day.year
        rows.append(row)
        p.lookalike("person", person.id_no, "GANG", "family_admitted_once")
    extra = _copy_cases(pd.DataFrame(rows), _next_case_ids(len(rows), knobs.settlement_year, "G"))
    p.touch(extra.case_id)
    p.cases = pd.concat([c, extra], ignore_index=True)


def _person_pairs(
    p: Planted,
    world: World,
    rng: np.random.Generator,
    share: float,
    pattern: str,
    families: tuple[str, ...],
) -> tuple[dict[str, str], dict[str, str]]:
    """Draw living persons for a person-level pattern and as many look-alikes, label them
    with their variants and families; return {id_no: variant} and {id_no: family}."""
    alive = world.persons[world.persons.death_date.isna()]
    n = max(len(VARIANTS[pattern]), int(len(alive) * share))
    picked = alive.sample(n=2 * n, random_state=int(rng.integers(2**31))).id_no.to_list()
    guilty = dict(zip(picked[:n], draw_variants(rng, n, pattern), strict=True))
    innocent = {id_no: families[k % len(families)] for k, id_no in enumerate(picked[n:])}
    for id_no, variant in guilty.items():
        p.label("person", id_no, pattern, variant)
    for id_no, family in innocent.items():
        p.lookalike("person", id_no, pattern, family)
    return guilty, innocent


def plant_drug_resale(p: Planted, world: World, rng: np.random.Generator) -> None:
    """Resellers (signal in the pharmacy feed: codes sold twice, or ``fresh_codes``: supply
    piled up at many pharmacies) beside chronic patients with long supplies."""
    guilty, innocent = _person_pairs(p, world, rng, 0.0005, "DRUG_RESALE", ("chronic_long_supply",))
    p.resale_persons = [i for i, v in guilty.items() if v == "plain"]
    p.hoarding_persons = [i for i, v in guilty.items() if v == "fresh_codes"]
    p.chronic_persons = list(innocent)


def plant_duplicate_enrolment(p: Planted, world: World, rng: np.random.Generator) -> None:
    """Enrolled elsewhere at the same time (signal in external_enrolments; still open, or a
    ``short_overlap`` of 60-150 days) beside movers, some with a few weeks' paperwork lag."""
    guilty, innocent = _person_pairs(
        p, world, rng, 0.002, "DUPLICATE_ENROLMENT", ("moved_here", "paperwork_lag")
    )
    p.duplicate_enrolments = list(guilty)
    p.moved_persons = list(innocent)
    for id_no, variant in guilty.items():
        if variant == "short_overlap":
            p.overlap_days[id_no] = int(rng.integers(60, 151))
    for id_no, family in innocent.items():
        if family == "paperwork_lag":
            p.overlap_days[id_no] = int(rng.integers(3, 21))


def plant_all(cases: pd.DataFrame, world: World, knobs: Knobs, rng: np.random.Generator) -> Planted:
    p = Planted(cases=cases.copy())
    plant_split_admission(p, knobs, rng)
    plant_low_standard(p, world, knobs, rng)
    plant_fictitious(p, world, knobs, rng)
    plant_identity(p, world, knobs, rng)
    plant_gang(p, world, knobs, rng)
    plant_upcoding(p, world, knobs, rng)
    plant_over_testing(p, world, knobs, rng)
    plant_shadow_doctor(p, world, knobs, rng)
    plant_ghost_bed(p, knobs, rng)
    plant_duplicate_billing(p, knobs, rng)
    plant_drug_resale(p, world, rng)
    plant_duplicate_enrolment(p, world, rng)
    p.cases = p.cases.reset_index(drop=True)
    p.cases["year"] = p.cases.discharge_date.dt.year
    _conform_sites(p, world, rng)
    # A look-alike is innocent by definition: drop any that another pattern made guilty.
    guilty = {(t, e) for t, e, _ in p.labels}
    p.lookalikes = [row for row in p.lookalikes if (row[0], row[1]) not in guilty]
    return p


def _conform_sites(p: Planted, world: World, rng: np.random.Generator) -> None:
    """Cases moved to another hospital get that hospital's level and one of its doctors,
    except the shadow-doctor claims, whose mismatch is the signal itself."""
    from jobs.generate.discharges import _pick_doctors

    c = p.cases
    inst = world.institutions.set_index("institution_code")
    c["level"] = c.hospital_code.map(inst.level).astype(int)
    doctors = world.doctors
    valid = set(zip(doctors.doctor_id, doctors.institution_code, strict=True)) | set(
        zip(doctors.doctor_id, doctors.second_site, strict=True)
    )
    shadow = {e for t, e, _ in p.labels if t == "doctor"}
    pairs = zip(c.doctor_id, c.hospital_code, strict=True)
    wrong = np.array([(d, h) not in valid and d not in shadow for d, h in pairs])
    if wrong.any():
        c.loc[wrong, "doctor_id"] = _pick_doctors(c.hospital_code.to_numpy()[wrong], world, rng)
