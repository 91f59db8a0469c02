"""Planted fraud: the twelve patterns of SPEC 6, each beside harmless look-alikes.

Each ``plant_*`` function changes the clean city the way the fraud would show
in the data, records the truth as (entity_type, entity_id, pattern) labels,
and plants look-alikes that share the surface signal but are legitimate (they
get no label). Persons are labelled by raw ID number, as SPEC 4 asks; the
truth folder is read only by evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jobs.generate.knobs import Knobs
from jobs.generate.world import World
from jobs.terms import FEE_CATEGORIES
from jobs.vocab import sex_of_diagnosis


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

    def free(self, mask: pd.Series) -> pd.Index:
        return self.cases.index[mask & ~self.cases.case_id.isin(self.touched)]

    def touch(self, case_ids) -> None:
        self.touched.update(str(c) for c in case_ids)

    def label(self, entity_type: str, entity_id: str, pattern: str) -> None:
        self.labels.append((entity_type, str(entity_id), pattern))

    def lookalike(self, entity_type: str, entity_id: str, pattern: str) -> None:
        self.lookalikes.append((entity_type, str(entity_id), pattern))

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
    """One stay billed as two: discharge, then readmission within 15 days, same diag3."""
    c = p.cases
    los = (c.discharge_date - c.admission_date).dt.days
    pool = p.free(
        (c.admission_type == "elective") & (los >= 6) & ~c.principal_dx.str.startswith("Z")
    )
    chosen = rng.choice(pool, size=max(2, int(len(c) * 0.004)), replace=False)
    first = c.loc[chosen].copy()
    half = ((first.discharge_date - first.admission_date).dt.days // 2).clip(lower=2)
    second = first.copy()
    first["discharge_date"] = first.admission_date + pd.to_timedelta(half, unit="D")
    gap = pd.to_timedelta(rng.integers(1, 10, len(first)), unit="D")
    second["admission_date"] = first.discharge_date + gap
    second["discharge_date"] = second.admission_date + pd.to_timedelta(
        (c.loc[chosen].discharge_date - c.loc[chosen].admission_date).dt.days - half, unit="D"
    ).clip(lower=pd.Timedelta(days=1))
    second["year"] = second.discharge_date.dt.year
    second = second[second.year.isin(knobs.year_list)]
    ids = _next_case_ids(len(second), knobs.settlement_year, "S")
    second = _copy_cases(second, ids)
    c.loc[chosen, "discharge_date"] = first.discharge_date
    p.touch(c.case_id[chosen])
    p.touch(second.case_id)
    for cid in second.case_id:
        p.label("case", cid, "SPLIT_ADMISSION")
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
        p.lookalike("case", cid, "SPLIT_ADMISSION")
    p.touch(cyc.case_id)
    p.cases = pd.concat([c, second, cyc], ignore_index=True)


def plant_ghost_bed(p: Planted, knobs: Knobs, rng: np.random.Generator) -> None:
    c = p.cases
    recent = p.free(
        (c.year >= knobs.settlement_year - knobs.fee_detail_years + 1)
        & ((c.discharge_date - c.admission_date).dt.days >= 5)
    )
    picked = rng.choice(recent, size=2 * max(2, int(len(recent) * 0.003)), replace=False)
    chosen, looks = picked[: len(picked) // 2], picked[len(picked) // 2 :]
    for i in chosen:
        p.ghost_cases.add(c.case_id.at[i])
        p.label("case", c.case_id.at[i], "GHOST_BED")
    # Look-alike: long rehabilitation stays with few drugs and tests, but nursed every day
    # and checked in at the terminal: the patient is there.
    for i in looks:
        p.lookalike("case", c.case_id.at[i], "GHOST_BED")
    c.loc[looks, "nursing_fen"] += c.loc[looks, "drugs_fen"] + c.loc[looks, "exams_fen"]
    c.loc[looks, ["drugs_fen", "exams_fen"]] = 0
    p.touch(c.case_id[picked])


def plant_low_standard(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    c = p.cases
    level1 = p.innocent_of_the_rest(_hospitals(world, 1))
    bad = rng.choice(level1, size=max(1, int(len(level1) * 0.04)), replace=False)
    # Short exam-only stays that double the providers' own admissions of the last two years.
    own = int((c.hospital_code.isin(bad) & (c.year >= knobs.settlement_year - 1)).sum())
    template = c[
        c.principal_dx.str[0].isin(["R", "J", "K"]) & (c.year >= knobs.settlement_year - 1)
    ].sample(n=max(20, own), random_state=int(rng.integers(2**31)))
    extra = template.copy()
    extra["hospital_code"] = rng.choice(bad, len(extra))
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
    for h in bad:
        p.label("provider", h, "LOW_STANDARD_ADMISSION")
    for h in rng.choice(
        np.setdiff1d(level1, bad), size=min(len(bad), len(level1) - len(bad)), replace=False
    ):
        p.lookalike("provider", h, "LOW_STANDARD_ADMISSION")
    p.cases = pd.concat([c, extra], ignore_index=True)


def plant_upcoding(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Principal diagnosis moved to a costlier sibling in the same category, nothing else."""
    c = p.cases
    hospitals = p.innocent_of_the_rest(_hospitals(world))
    bad = rng.choice(hospitals, size=max(1, int(len(hospitals) * 0.04)), replace=False)
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
    target = p.free(c.hospital_code.isin(bad) & last_years & c.principal_dx.isin(list(sibling)))
    moved = target[rng.random(len(target)) < 0.5]
    c.loc[moved, "principal_dx"] = c.loc[moved, "principal_dx"].map(sibling)
    for h in bad:
        p.label("provider", h, "UPCODING")
    for cid in c.case_id[moved]:
        p.label("case", cid, "UPCODING")
    p.touch(c.case_id[moved])
    # Look-alike: a specialist hospital whose costly case mix is real and steady.
    for h in rng.choice(np.setdiff1d(_hospitals(world, 3), bad), size=1, replace=False):
        p.lookalike("provider", h, "UPCODING")


def plant_fictitious(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Templated near-identical cases for people of one village, all with one diagnosis."""
    c = p.cases
    hospitals = p.innocent_of_the_rest(_hospitals(world, 2))
    bad = rng.choice(hospitals, size=max(1, int(len(hospitals) * 0.02)), replace=False)
    persons = _living_adults(world, knobs)
    neutral = _sex_neutral(c)
    rows = []
    for h in bad:
        village = persons.village.value_counts().index[int(rng.integers(0, 50))]
        people = persons[persons.village == village].sample(
            n=min(40, (persons.village == village).sum()), random_state=int(rng.integers(2**31))
        )
        own = c[(c.hospital_code == h) & neutral]
        template = own.iloc[0] if len(own) else c[neutral].iloc[0]
        for _, person in people.iterrows():
            row = template.copy()
            row["hospital_code"] = h
            for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
                row[col] = person[col]
            shift = pd.Timedelta(days=int(rng.integers(0, 300)))
            start = pd.Timestamp(f"{knobs.settlement_year}-01-05") + shift
            row["admission_date"] = start
            row["discharge_date"] = start + (template.discharge_date - template.admission_date)
            row["year"] = row.discharge_date.year
            rows.append(row)
    extra = pd.DataFrame(rows)
    extra = extra[extra.year.isin(knobs.year_list)]
    extra = _copy_cases(extra, _next_case_ids(len(extra), knobs.settlement_year, "F"))
    for h in bad:
        p.label("provider", h, "FICTITIOUS_SERVICE")
    for cid in extra.case_id:
        p.label("case", cid, "FICTITIOUS_SERVICE")
    p.touch(extra.case_id)
    # Look-alike: a real screening campaign, one diagnosis and one operation, but people
    # from all over the city and costs that vary as real stays do.
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
        camp = _copy_cases(camp, _next_case_ids(len(camp), knobs.settlement_year, "M"))
        p.touch(camp.case_id)
        extra = pd.concat([extra, camp], ignore_index=True)
        p.lookalike("provider", campaign_site, "FICTITIOUS_SERVICE")
    p.cases = pd.concat([c, extra], ignore_index=True)


def plant_identity(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Claims for the dead, and one card at distant sites the same day."""
    c = p.cases
    dead = world.persons[
        world.persons.death_date.notna()
        & (world.persons.death_date.dt.year < knobs.settlement_year)
    ]
    if dead.empty:
        return
    victims = dead.sample(
        n=max(1, min(len(dead), int(len(c) * 0.0004))), random_state=int(rng.integers(2**31))
    )
    template = (
        c[_sex_neutral(c)].sample(n=len(victims), random_state=int(rng.integers(2**31))).copy()
    )
    for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
        template[col] = victims[col].to_numpy()
    after = (
        victims.death_date.to_numpy()
        + pd.to_timedelta(rng.integers(30, 300, len(victims)), unit="D").to_numpy()
    )
    stay = template.discharge_date - template.admission_date
    template["admission_date"] = after
    template["discharge_date"] = template.admission_date + stay
    template["year"] = template.discharge_date.dt.year
    template = template[template.year.isin(knobs.year_list)]
    template = _copy_cases(template, _next_case_ids(len(template), knobs.settlement_year, "D"))
    for cid in template.case_id:
        p.label("case", cid, "IDENTITY_FRAUD")
    p.touch(template.case_id)
    # Look-alike: people who died in hospital; the claim ends on the day of death.
    died = c.index[c.discharge_status == "died"]
    for cid in c.case_id[died[: len(template)]]:
        p.lookalike("case", cid, "IDENTITY_FRAUD")
    alive = world.persons[world.persons.death_date.isna()]
    cards = alive.sample(n=max(1, len(template)), random_state=int(rng.integers(2**31)))
    for id_no in cards.id_no:
        day = pd.Timestamp(f"{knobs.settlement_year}-01-01") + pd.Timedelta(
            days=int(rng.integers(0, 360))
        )
        p.distant_same_day.append((id_no, day))
        p.label("person", id_no, "IDENTITY_FRAUD")
    p.cases = pd.concat([c, template], ignore_index=True)


def plant_duplicate_billing(p: Planted, knobs: Knobs, rng: np.random.Generator) -> None:
    c = p.cases
    recent = p.free(c.year >= knobs.settlement_year - knobs.fee_detail_years + 1)
    chosen = rng.choice(recent, size=max(2, int(len(recent) * 0.005)), replace=False)
    p.touch(c.case_id[chosen])
    for cid in c.case_id[chosen]:
        p.duplicate_billing_cases.add(cid)
        p.label("case", cid, "DUPLICATE_BILLING")
    # Look-alike: two different treatment items on one day, each billed once.
    others = np.setdiff1d(recent, chosen)
    for cid in c.case_id[rng.choice(others, size=len(chosen), replace=False)]:
        p.second_item_cases.add(cid)
        p.touch([cid])
        p.lookalike("case", cid, "DUPLICATE_BILLING")


def plant_over_testing(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    c = p.cases
    hospitals = p.innocent_of_the_rest(_hospitals(world))
    bad = rng.choice(hospitals, size=max(1, int(len(hospitals) * 0.04)), replace=False)
    rows = p.free(c.hospital_code.isin(bad) & (c.year >= knobs.settlement_year - 1))
    extra = (c.loc[rows, "total_fen"] * rng.uniform(0.25, 0.5, len(rows))).round().astype(np.int64)
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
    for h in bad:
        p.label("provider", h, "OVER_TESTING")
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
    p.lookalike("provider", honest, "OVER_TESTING")


def plant_shadow_doctor(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """Licences lent out: one doctor billing at a second site at the same time, or after leaving."""
    c = p.cases
    doctors = world.doctors
    hospitals = _hospitals(world)
    # Discharges come only from hospitals: the lent licences are hospital doctors'.
    lent = doctors[(doctors.second_site == "") & doctors.institution_code.isin(hospitals)].sample(
        n=max(2, int(len(doctors) * 0.004)), random_state=int(rng.integers(2**31))
    )
    recent = p.free(c.year >= knobs.settlement_year - 1)
    half = len(lent) // 2
    for k, doctor in enumerate(lent.itertuples(index=False)):
        rows = rng.choice(recent, size=12, replace=False)
        if k < half:
            other = rng.choice(hospitals[hospitals != doctor.institution_code])
            c.loc[rows, "hospital_code"] = other
        else:
            c.loc[rows, "hospital_code"] = doctor.institution_code
            p.deregistered[doctor.doctor_id] = pd.Timestamp(f"{knobs.settlement_year - 1}-06-30")
        c.loc[rows, "doctor_id"] = doctor.doctor_id
        p.touch(c.case_id[rows])
        recent = recent.difference(rows)
        p.label("doctor", doctor.doctor_id, "SHADOW_DOCTOR")
    # Look-alike: registered multi-site doctors working at both sites.
    multi = doctors[doctors.second_site != ""].head(len(lent))
    for doctor in multi.itertuples(index=False):
        rows = rng.choice(recent, size=6, replace=False)
        c.loc[rows, "hospital_code"] = doctor.second_site
        c.loc[rows, "doctor_id"] = doctor.doctor_id
        p.touch(c.case_id[rows])
        recent = recent.difference(rows)
        p.lookalike("doctor", doctor.doctor_id, "SHADOW_DOCTOR")


def plant_gang(p: Planted, world: World, knobs: Knobs, rng: np.random.Generator) -> None:
    """The same group of people admitted and discharged together, again and again."""
    c = p.cases
    hospitals = _hospitals(world)
    rows = []
    n_gangs = max(1, knobs.discharges_per_year // 20_000)
    alive = _living_adults(world, knobs)
    neutral = _sex_neutral(c)
    for _ in range(n_gangs):
        members = alive.sample(n=int(rng.integers(5, 9)), random_state=int(rng.integers(2**31)))
        h = rng.choice(hospitals)
        template = c[neutral].sample(n=1, random_state=int(rng.integers(2**31))).iloc[0]
        for visit in range(int(rng.integers(3, 6))):
            start = pd.Timestamp(f"{knobs.settlement_year - 1}-02-01") + pd.Timedelta(
                days=int(visit * 70 + rng.integers(0, 20))
            )
            for _, person in members.iterrows():
                row = template.copy()
                for col in ("id_no", "name", "sex", "birth_date", "insurance_type"):
                    row[col] = person[col]
                row["hospital_code"] = h
                row["admission_date"] = start
                row["discharge_date"] = start + pd.Timedelta(days=int(rng.integers(4, 7)))
                row["year"] = row.discharge_date.year
                rows.append(row)
        for id_no in members.id_no:
            p.label("person", id_no, "GANG")
    extra = _copy_cases(pd.DataFrame(rows), _next_case_ids(len(rows), knobs.settlement_year, "G"))
    p.touch(extra.case_id)
    # Look-alike: a family poisoned at one dinner, admitted together once.
    family = alive.sample(n=5, random_state=int(rng.integers(2**31)))
    for id_no in family.id_no:
        p.lookalike("person", id_no, "GANG")
    p.cases = pd.concat([c, extra], ignore_index=True)


def _person_pairs(
    p: Planted, world: World, rng: np.random.Generator, share: float, pattern: str
) -> tuple[list[str], list[str]]:
    """Draw living persons for a person-level pattern and as many look-alikes, and label them."""
    alive = world.persons[world.persons.death_date.isna()]
    n = max(2, int(len(alive) * share))
    picked = alive.sample(n=2 * n, random_state=int(rng.integers(2**31))).id_no.to_list()
    guilty, innocent = picked[:n], picked[n:]
    for id_no in guilty:
        p.label("person", id_no, pattern)
    for id_no in innocent:
        p.lookalike("person", id_no, pattern)
    return guilty, innocent


def plant_drug_resale(p: Planted, world: World, rng: np.random.Generator) -> None:
    """Resellers (signal in the pharmacy feed) beside chronic patients with long supplies."""
    p.resale_persons, p.chronic_persons = _person_pairs(p, world, rng, 0.0005, "DRUG_RESALE")


def plant_duplicate_enrolment(p: Planted, world: World, rng: np.random.Generator) -> None:
    """Enrolled elsewhere at the same time (signal in external_enrolments) beside movers."""
    p.duplicate_enrolments, p.moved_persons = _person_pairs(
        p, world, rng, 0.002, "DUPLICATE_ENROLMENT"
    )


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
