"""Each planted pattern shows the signal SPEC 6 names, and its look-alikes are innocent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs import vocab
from jobs.generate import activity, clinical, discharges, feeds, fraud, world
from jobs.generate.knobs import preset


@pytest.fixture(scope="module")
def city():
    knobs = preset("demo").replace(seed=3)
    rng = np.random.default_rng(knobs.seed)
    w = world.build_world(knobs, rng)
    model = clinical.build_model(vocab.load(), rng)
    cases = discharges.build_discharges(model, w, knobs, rng)
    planted = fraud.plant_all(cases, w, knobs, rng)
    labels = pd.DataFrame(planted.labels, columns=["entity_type", "entity_id", "pattern"])
    labels["variant"] = [planted.variant_of[k] for k in planted.labels]
    return knobs, w, planted, labels, rng


def _ids(labels: pd.DataFrame, pattern: str, entity_type: str, variant: str = "") -> set[str]:
    rows = labels[(labels.pattern == pattern) & (labels.entity_type == entity_type)]
    if variant:
        rows = rows[rows.variant == variant]
    return set(rows.entity_id)


def _family(planted, pattern: str, family: str) -> set[str]:
    return {
        e
        for t, e, p in planted.lookalikes
        if p == pattern and planted.family_of[(t, e, p)] == family
    }


def test_each_pattern_is_planted_in_every_one_of_its_variants(city):
    labels = city[3]
    for pattern, variants in fraud.VARIANTS.items():
        assert set(labels.variant[labels.pattern == pattern]) >= set(variants), pattern


@pytest.mark.parametrize(("n", "expected"), [(10, 4), (3, 1), (2, 1), (1, 1)])
def test_variants_are_drawn_in_their_shares_and_each_at_least_once(n, expected):
    drawn = fraud.draw_variants(np.random.default_rng(0), n, "SPLIT_ADMISSION")
    assert len(drawn) == n
    counts = pd.Series(drawn).value_counts()
    # plain is 40%: 4 of 10; with fewer entities than variants, each drawn at most once
    assert counts.get("plain", 0) == expected
    assert len(counts) == min(n, len(fraud.VARIANTS["SPLIT_ADMISSION"]))


# variant: (days back, at most, at least), the diagnosis kept (3: category, 1: chapter), kind
SPLIT_SHAPES = {
    "plain": (1, 15, 3, "elective"),
    "waits_out_the_window": (16, 30, 3, "elective"),
    "recoded_second_stay": (1, 15, 1, "elective"),
    "emergency_coded": (1, 15, 3, "emergency"),
}


@pytest.mark.parametrize("variant", list(SPLIT_SHAPES))
def test_split_admissions_follow_a_stay_in_the_shape_of_their_variant(city, variant):
    _, _, planted, labels, _ = city
    c = planted.cases
    low, high, kept, kind = SPLIT_SHAPES[variant]
    split = c[c.case_id.isin(_ids(labels, "SPLIT_ADMISSION", "case", variant))]
    assert len(split)
    for row in split.itertuples():
        before = c[
            (c.id_no == row.id_no)
            & (c.hospital_code == row.hospital_code)
            & (c.principal_dx.str[:kept] == row.principal_dx[:kept])
            & (c.discharge_date <= row.admission_date - pd.Timedelta(days=low))
            & (c.discharge_date >= row.admission_date - pd.Timedelta(days=high))
        ]
        assert len(before) >= 1 and row.admission_type == kind, row.case_id
        if variant == "recoded_second_stay":
            assert (before.principal_dx.str[:3] != row.principal_dx[:3]).all()


def test_split_admission_look_alikes_are_cycles_or_an_unrelated_emergency(city):
    _, _, planted, _, _ = city
    c = planted.cases
    cycles = c[c.case_id.isin(_family(planted, "SPLIT_ADMISSION", "treatment_cycle"))]
    assert len(cycles) and set(cycles.principal_dx) <= {"Z51.1", "Z49.1"}
    back = c[c.case_id.isin(_family(planted, "SPLIT_ADMISSION", "unrelated_emergency_return"))]
    assert len(back) and (back.admission_type == "emergency").all()
    for row in back.itertuples():
        before = c[
            (c.id_no == row.id_no)
            & (c.hospital_code == row.hospital_code)
            & (c.discharge_date < row.admission_date)
            & (c.discharge_date >= row.admission_date - pd.Timedelta(days=10))
        ]
        assert len(before) and (before.principal_dx.str[0] != row.principal_dx[0]).all()


def test_upcoding_moves_a_provider_to_costlier_siblings(city):
    knobs, _, planted, labels, _ = city
    c = planted.cases
    upcoded = c[c.case_id.isin(_ids(labels, "UPCODING", "case"))]
    targets = set(upcoded.principal_dx)
    bad = c[c.hospital_code.isin(_ids(labels, "UPCODING", "provider"))]
    late = bad.year >= knobs.settlement_year - 1
    share_late = bad[late].principal_dx.isin(targets).mean()
    share_early = bad[~late].principal_dx.isin(targets).mean()
    assert len(upcoded) and share_late > 1.5 * share_early


def test_no_case_clean_or_planted_has_a_diagnosis_the_patients_sex_cannot_have(city):
    _, w, planted, _, _ = city
    c = planted.cases
    # The case's sex is the registry person's.
    sex_of_person = dict(zip(w.persons.id_no, w.persons.sex, strict=True))
    assert (c.id_no.map(sex_of_person) == c.sex).all()
    wrong = [
        (cid, code)
        for cid, sex, principal, others in zip(
            c.case_id, c.sex, c.principal_dx, c.other_dx, strict=True
        )
        for code in (principal, *others)
        if vocab.sex_of_diagnosis(code) not in (None, sex)
    ]
    assert wrong == []
    # And the city does see sex-specific diagnoses, for the sex that can have them.
    only = c.principal_dx.map(vocab.sex_of_diagnosis)
    assert (only == "F").sum() > 50 and (only == "M").sum() > 5


def test_only_cases_fit_for_either_sex_are_templates_for_another_persons_claim():
    cases = pd.DataFrame(
        {
            "principal_dx": ["K35.8", "O80", "K35.8", "N40"],
            "other_dx": [("I10",), (), ("N70.0",), ("I10",)],
        }
    )
    assert fraud._sex_neutral(cases).tolist() == [True, False, False, False]


def test_claims_after_death_are_identity_fraud(city):
    _, w, planted, labels, _ = city
    c = planted.cases.merge(w.persons[["id_no", "death_date"]], on="id_no")
    after_death = set(c.case_id[c.admission_date > c.death_date])
    assert after_death == _ids(labels, "IDENTITY_FRAUD", "case")


# variant: (visits, hospitals, most days between members' admissions on one visit)
GANG_SHAPES = {
    "plain": ((3, 5), 1, 0),
    "staggered": ((3, 5), 1, 1),
    "two_hospitals": ((3, 5), 2, 0),
    "twice": ((2, 2), 1, 0),
}


@pytest.mark.parametrize("variant", list(GANG_SHAPES))
def test_gangs_are_admitted_together_in_the_shape_of_their_variant(city, variant):
    _, _, planted, labels, _ = city
    (fewest, most), sites, spread = GANG_SHAPES[variant]
    c = planted.cases
    gang = c[c.id_no.isin(_ids(labels, "GANG", "person", variant)) & c.case_id.str.contains("G")]
    assert gang.id_no.nunique() >= 5
    # a visit: the members' admissions within two days of each other
    visit = (gang.admission_date.sort_values().diff().dt.days.fillna(99) > 2).cumsum()
    visits = gang.assign(visit=visit.reindex(gang.index))
    per_visit = visits.groupby("visit").agg(
        people=("id_no", "nunique"),
        first=("admission_date", "min"),
        last=("admission_date", "max"),
    )
    # several gangs of a variant may be planted: visits per member tell the shape
    per_member = visits.groupby("id_no").agg(
        visits=("visit", "nunique"), sites=("hospital_code", "nunique")
    )
    assert per_member.visits.between(fewest, most).all()
    assert (per_member.sites == sites).all()
    assert ((per_visit["last"] - per_visit["first"]).dt.days <= spread).all()
    assert (per_visit.people >= 5).all()


def test_a_family_is_admitted_together_once_and_its_stays_are_in_the_data(city):
    _, _, planted, _, _ = city
    family = _family(planted, "GANG", "family_admitted_once")
    stays = planted.cases[
        planted.cases.id_no.isin(family) & planted.cases.case_id.str.contains("G")
    ]
    assert len(family) == 5 and stays.id_no.nunique() == 5
    assert stays.admission_date.nunique() == 1 and stays.hospital_code.nunique() == 1


def test_shadow_doctors_bill_where_or_when_they_may_not(city):
    _, w, planted, labels, _ = city
    c = planted.cases
    doctors = w.doctors.set_index("doctor_id")
    for doctor_id in _ids(labels, "SHADOW_DOCTOR", "doctor"):
        theirs = c[c.doctor_id == doctor_id]
        home = doctors.at[doctor_id, "institution_code"]
        elsewhere = (theirs.hospital_code != home).any()
        after_leaving = (
            doctor_id in planted.deregistered
            and (theirs.admission_date > planted.deregistered[doctor_id]).any()
        )
        assert elsewhere or after_leaving, doctor_id
    for doctor_id in _ids(labels, "SHADOW_DOCTOR", "doctor", "few_stays"):
        theirs = c[c.doctor_id == doctor_id]
        assert (theirs.hospital_code != doctors.at[doctor_id, "institution_code"]).sum() == 2
    # Look-alikes bill only at sites they are registered for.
    for _, doctor_id, pattern in planted.lookalikes:  # all registered_second_site
        if pattern == "SHADOW_DOCTOR":
            sites = {
                doctors.at[doctor_id, "institution_code"],
                doctors.at[doctor_id, "second_site"],
            }
            assert set(c.hospital_code[c.doctor_id == doctor_id]) <= sites


def test_over_testing_providers_spend_far_more_on_exams(city):
    knobs, _, planted, labels, _ = city
    c = planted.cases[planted.cases.year >= knobs.settlement_year - 1]
    share = c.groupby("hospital_code").exams_fen.sum() / c.groupby("hospital_code").total_fen.sum()
    bad = _ids(labels, "OVER_TESTING", "provider")
    typical = share.drop(list(bad)).median()
    assert share[list(_ids(labels, "OVER_TESTING", "provider", "heavy"))].min() > typical * 1.5
    assert share[list(_ids(labels, "OVER_TESTING", "provider", "light"))].min() > typical * 1.15


def test_low_standard_providers_admit_short_exam_only_stays(city):
    _, _, planted, labels, _ = city
    c = planted.cases
    los = (c.discharge_date - c.admission_date).dt.days
    level1 = c.level == 1
    bad = c.hospital_code.isin(_ids(labels, "LOW_STANDARD_ADMISSION", "provider"))
    short = los <= 2
    typical = short[level1 & ~bad].mean()
    heavy = c.hospital_code.isin(_ids(labels, "LOW_STANDARD_ADMISSION", "provider", "doubles"))
    light = c.hospital_code.isin(_ids(labels, "LOW_STANDARD_ADMISSION", "provider", "light"))
    assert short[heavy].mean() > 3 * typical
    assert short[light].mean() > 1.5 * typical


@pytest.mark.parametrize(
    ("variant", "villages", "varied"), [("one_village", 1, False), ("spread", 4, True)]
)
def test_fictitious_cases_are_templated_in_the_shape_of_their_variant(
    city, variant, villages, varied
):
    _, w, planted, labels, _ = city
    c = planted.cases[
        planted.cases.case_id.isin(_ids(labels, "FICTITIOUS_SERVICE", "case", variant))
    ]
    assert len(c)
    where = c.merge(w.persons[["id_no", "village"]], on="id_no")
    per_provider = where.groupby("hospital_code").agg(
        villages=("village", "nunique"),
        costs=("total_fen", "nunique"),
        dx=("principal_dx", "nunique"),
    )
    assert (per_provider.villages <= villages).all() and (per_provider.dx == 1).all()
    assert ((per_provider.costs > 1) == varied).all()


def test_the_screening_campaign_admits_people_of_many_villages_in_the_settlement_year(city):
    knobs, w, planted, _, _ = city
    (site,) = _family(planted, "FICTITIOUS_SERVICE", "screening_campaign")
    camp = planted.cases[planted.cases.case_id.str.startswith(f"ZY{knobs.settlement_year}M")]
    camp = camp[camp.hospital_code == site]
    assert len(camp) == 40
    # where the fraud is sought, so the campaign can be mistaken for fiction there
    assert (camp.discharge_date.dt.year == knobs.settlement_year).all()
    assert camp.admission_date.nunique() > 1  # over weeks, not one day
    where = camp.merge(w.persons[["id_no", "village"]], on="id_no")
    assert where.village.nunique() > 10  # from all over the city, unlike the fiction's 1-4


def test_duplicate_billing_repeats_an_item_on_one_day_and_its_look_alike_does_not(city):
    knobs, _, planted, labels, rng = city
    recent = planted.cases[planted.cases.year == knobs.settlement_year]
    fees = feeds._plant_fee_signals(feeds.fee_details(recent, rng), planted)
    repeated = fees[
        fees.duplicated(["case_id", "fee_date", "item_code"], keep=False)
        & (fees.category == "treatment")
    ]
    billed_twice = set(repeated.case_id)
    truth = _ids(labels, "DUPLICATE_BILLING", "case", "plain") & set(recent.case_id)
    assert truth and billed_twice == truth
    # the sibling code: another code of the item, the same price, the same day
    treatment = fees[fees.category == "treatment"]
    same_price = treatment[treatment.duplicated(["case_id", "fee_date", "amount_fen"], keep=False)]
    siblings = set(same_price.case_id) - billed_twice
    assert siblings == _ids(labels, "DUPLICATE_BILLING", "case", "sibling_code") & set(
        recent.case_id
    )
    looks = _family(planted, "DUPLICATE_BILLING", "two_different_items")
    assert looks and not looks & (billed_twice | siblings)


def test_ghost_bed_look_alikes_are_nursed_daily_and_add_up(city):
    _, _, planted, _, rng = city
    looks = [e for _, e, p in planted.lookalikes if p == "GHOST_BED"]
    cases = planted.cases[planted.cases.case_id.isin(looks)]
    fees = feeds._plant_fee_signals(feeds.fee_details(cases, rng), planted)
    per_case = fees.groupby("case_id").amount_fen.sum()
    assert (per_case.reindex(cases.case_id).to_numpy() == cases.total_fen.to_numpy()).all()
    days = (cases.discharge_date - cases.admission_date).dt.days
    nursed = fees[fees.category == "nursing"].groupby("case_id").size()
    assert (nursed.reindex(cases.case_id).to_numpy() == days.to_numpy()).all()


def test_ghost_beds_have_no_care_items_and_a_purchase_elsewhere(city):
    knobs, w, planted, labels, rng = city
    recent = planted.cases[planted.cases.case_id.isin(planted.ghost_cases)]
    fees = feeds._plant_fee_signals(feeds.fee_details(recent, rng), planted)
    token = fees.case_id.isin(_ids(labels, "GHOST_BED", "case", "token_care"))
    assert set(fees.category[~token]) == {"bed", "consumables", "other"}
    # a token round: nursing on every fourth day at most, nothing else of care
    rounds = fees[token & (fees.category == "nursing")].groupby("case_id").fee_date.nunique()
    beds = fees[token & (fees.category == "bed")].groupby("case_id").fee_date.nunique()
    assert len(rounds) and (rounds <= (beds.reindex(rounds.index) + 3) // 4).all()
    assert set(fees.category[token]) <= {"bed", "consumables", "other", "nursing"}
    sales = pd.concat([frame for _, frame in activity.pharmacy_months(w, planted, knobs, rng)])
    for row in recent.itertuples():
        during = sales[
            (sales.id_no == row.id_no)
            & (sales.txn_time >= row.admission_date)
            & (sales.txn_time <= row.discharge_date)
        ]
        assert len(during) >= 1
    checks = activity.face_checks(w, planted, knobs, rng)
    persons = checks[checks.subject_type == "person"]
    checked_in = _ids(labels, "GHOST_BED", "case", "checked_in")
    for row in recent.itertuples():
        seen = persons[
            (persons.subject_id == row.id_no)
            & (persons.institution_code == row.hospital_code)
            & (persons.check_time >= row.admission_date)
            & (persons.check_time <= row.discharge_date)
        ]
        assert seen.empty != (row.case_id in checked_in), row.case_id


def test_drug_resale_sells_a_traceability_code_twice(city):
    knobs, w, planted, _, rng = city
    sales = pd.concat([frame for _, frame in activity.pharmacy_months(w, planted, knobs, rng)])
    twice = sales[sales.trace_code.duplicated(keep=False)]
    assert set(twice.id_no) == set(planted.resale_persons)
    # fresh codes: 90 days of supply again and again, at several pharmacies, within 120 days
    hoarded = sales[sales.id_no.isin(planted.hoarding_persons)].groupby("id_no")
    assert len(hoarded) == len(planted.hoarding_persons) > 0
    assert (hoarded.institution_code.nunique() >= 3).all()
    assert (hoarded.days_supply.sum() >= 10 * 90).all()
    # The look-alikes' long supplies come from one pharmacy at the pace of need.
    chronic = sales[sales.id_no.isin(planted.chronic_persons) & (sales.days_supply == 90)]
    assert chronic.groupby("id_no").institution_code.nunique().max() == 1
    gaps = chronic.sort_values("txn_time").groupby("id_no").txn_time.diff().dropna()
    assert (gaps >= pd.Timedelta(days=85)).all()


def test_duplicate_enrolments_are_active_elsewhere_and_movers_are_not(city):
    knobs, w, planted, _, rng = city
    ext = activity.external_enrolments(w, planted, knobs, rng)
    short = set(planted.overlap_days) & set(planted.duplicate_enrolments)
    active = set(ext.id_no[ext.enrol_end.isna()])
    assert short and active == set(planted.duplicate_enrolments) - short
    local = w.persons[["id_no", "enrol_start"]]
    overlap = ext[ext.id_no.isin(short)].merge(local, on="id_no", suffixes=("", "_local"))
    days = (overlap.enrol_end - overlap[["enrol_start", "enrol_start_local"]].max(axis=1)).dt.days
    assert days.between(59, 150).all()
    movers = ext[ext.id_no.isin(planted.moved_persons)].merge(
        local, on="id_no", suffixes=("", "_local")
    )
    lag = movers.id_no.isin(set(planted.overlap_days))
    assert lag.any() and (movers.enrol_end[~lag] < movers.enrol_start_local[~lag]).all()
    late = (movers.enrol_end[lag] - movers.enrol_start_local[lag]).dt.days
    assert late.between(2, 20).all()


def test_honest_fee_details_add_up_to_the_settlement_breakdown(city):
    knobs, _, planted, labels, rng = city
    guilty = set(labels.entity_id)
    honest = planted.cases[
        (planted.cases.year == knobs.settlement_year) & ~planted.cases.case_id.isin(guilty)
    ].head(300)
    fees = feeds._plant_fee_signals(feeds.fee_details(honest, rng), planted)
    sums = fees.pivot_table(
        index="case_id", columns="category", values="amount_fen", aggfunc="sum", fill_value=0
    )
    for part in discharges.COST_PARTS:
        expected = honest.set_index("case_id")[f"{part}_fen"]
        got = sums[part].reindex(expected.index, fill_value=0) if part in sums else 0 * expected
        assert (got == expected).all(), part
    los = (honest.discharge_date - honest.admission_date).dt.days.clip(lower=1)
    beds = fees[fees.category == "bed"].groupby("case_id").size()
    assert (beds.reindex(honest.case_id).to_numpy() == los.to_numpy()).all()
