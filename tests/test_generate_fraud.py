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
    return knobs, w, planted, labels, rng


def _ids(labels: pd.DataFrame, pattern: str, entity_type: str) -> set[str]:
    rows = labels[(labels.pattern == pattern) & (labels.entity_type == entity_type)]
    return set(rows.entity_id)


def test_split_admissions_follow_a_stay_within_15_days(city):
    _, _, planted, labels, _ = city
    c = planted.cases
    split = c[c.case_id.isin(_ids(labels, "SPLIT_ADMISSION", "case"))]
    assert len(split)
    for row in split.itertuples():
        before = c[
            (c.id_no == row.id_no)
            & (c.hospital_code == row.hospital_code)
            & (c.principal_dx.str[:3] == row.principal_dx[:3])
            & (c.discharge_date <= row.admission_date)
            & (c.discharge_date >= row.admission_date - pd.Timedelta(days=15))
        ]
        assert len(before) >= 1 and row.admission_type == "elective"
    looks = [cid for t, cid, p in planted.lookalikes if p == "SPLIT_ADMISSION"]
    assert set(c[c.case_id.isin(looks)].principal_dx) <= {"Z51.1", "Z49.1"}


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


def test_gangs_are_admitted_together_three_times_or_more(city):
    _, _, planted, labels, _ = city
    c = planted.cases
    members = _ids(labels, "GANG", "person")
    together = c[c.id_no.isin(members)].groupby(["hospital_code", "admission_date"]).id_no.nunique()
    assert (together >= 5).sum() >= 3


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
    # Look-alikes bill only at sites they are registered for.
    for _, doctor_id, pattern in planted.lookalikes:
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
    assert share[list(bad)].min() > share.drop(list(bad)).median() * 1.5


def test_low_standard_providers_admit_short_exam_only_stays(city):
    _, _, planted, labels, _ = city
    c = planted.cases
    los = (c.discharge_date - c.admission_date).dt.days
    level1 = c.level == 1
    bad = c.hospital_code.isin(_ids(labels, "LOW_STANDARD_ADMISSION", "provider"))
    short = los <= 2
    assert short[bad].mean() > 3 * short[level1 & ~bad].mean()


def test_fictitious_cases_are_templated_in_one_village(city):
    _, w, planted, labels, _ = city
    c = planted.cases[planted.cases.case_id.isin(_ids(labels, "FICTITIOUS_SERVICE", "case"))]
    villages = c.merge(w.persons[["id_no", "village"]], on="id_no")
    per_provider = villages.groupby("hospital_code").agg(
        villages=("village", "nunique"),
        costs=("total_fen", "nunique"),
        dx=("principal_dx", "nunique"),
    )
    assert (per_provider.villages == 1).all() and (per_provider.costs == 1).all()
    assert (per_provider.dx == 1).all()


def test_duplicate_billing_repeats_an_item_on_one_day_and_its_look_alike_does_not(city):
    knobs, _, planted, labels, rng = city
    recent = planted.cases[planted.cases.year == knobs.settlement_year]
    fees = feeds._plant_fee_signals(feeds.fee_details(recent, rng), planted)
    repeated = fees[
        fees.duplicated(["case_id", "fee_date", "item_code"], keep=False)
        & (fees.category == "treatment")
    ]
    billed_twice = set(repeated.case_id)
    truth = _ids(labels, "DUPLICATE_BILLING", "case") & set(recent.case_id)
    assert truth and billed_twice == truth
    looks = {e for _, e, p in planted.lookalikes if p == "DUPLICATE_BILLING"}
    assert not looks & billed_twice


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
    knobs, w, planted, _, rng = city
    recent = planted.cases[planted.cases.case_id.isin(planted.ghost_cases)]
    fees = feeds._plant_fee_signals(feeds.fee_details(recent, rng), planted)
    assert set(fees.category) == {"bed", "consumables", "other"}
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
    for row in recent.itertuples():
        seen = persons[
            (persons.subject_id == row.id_no)
            & (persons.institution_code == row.hospital_code)
            & (persons.check_time >= row.admission_date)
            & (persons.check_time <= row.discharge_date)
        ]
        assert seen.empty


def test_drug_resale_sells_a_traceability_code_twice(city):
    knobs, w, planted, _, rng = city
    sales = pd.concat([frame for _, frame in activity.pharmacy_months(w, planted, knobs, rng)])
    twice = sales[sales.trace_code.duplicated(keep=False)]
    assert set(twice.id_no) == set(planted.resale_persons)
    # The look-alikes' long supplies come from one pharmacy at the pace of need.
    chronic = sales[sales.id_no.isin(planted.chronic_persons) & (sales.days_supply == 90)]
    assert chronic.groupby("id_no").institution_code.nunique().max() == 1
    gaps = chronic.sort_values("txn_time").groupby("id_no").txn_time.diff().dropna()
    assert (gaps >= pd.Timedelta(days=85)).all()


def test_duplicate_enrolments_are_active_elsewhere_and_movers_are_not(city):
    knobs, w, planted, _, rng = city
    ext = activity.external_enrolments(w, planted, knobs, rng)
    active = set(ext.id_no[ext.enrol_end.isna()])
    assert active == set(planted.duplicate_enrolments)
    movers = ext[ext.id_no.isin(planted.moved_persons)].merge(
        w.persons[["id_no", "enrol_start"]], on="id_no", suffixes=("", "_local")
    )
    assert (movers.enrol_end < movers.enrol_start_local).all()


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
