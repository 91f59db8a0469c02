"""Each rule of jobs/fraud/rules/ on a hand-made silver: a positive and its look-alike.

The expected hits are written by hand from the rule's description, never by
running the rule's own SQL another way.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from jobs.fraud import rules

START, END = date(2024, 1, 1), date(2025, 12, 31)

DISCHARGES = (
    "case_id string, hospital_code string, person_key string, admission_date date, "
    "discharge_date date, admission_type string, principal_dx string, doctor_id string"
)
PERSONS = "person_key string, enrol_start date, enrol_end date, death_date date"
FEES = "case_id string, fee_date date, item_code string, category string"
CHECKS = (
    "subject_type string, subject_id string, institution_code string, "
    "check_time timestamp, matched boolean"
)
SALES = (
    "record_id string, person_key string, institution_code string, "
    "txn_time timestamp, trace_code string"
)
DOCTORS = "doctor_id string, institution_code string, second_site string, deregistered_on date"
EXTERNAL = "person_key string, region_code string, enrol_start date, enrol_end date"
INSTITUTIONS = "institution_code string, district string"


def d(text: str) -> date:
    return date.fromisoformat(text)


def stay(
    case, person, admitted, discharged, dx="K35.8", hospital="H1", kind="elective", doctor="D1"
):
    return (case, hospital, person, d(admitted), d(discharged), kind, dx, doctor)


@pytest.fixture(scope="module")
def rule_base():
    return {r.name: r for r in rules.load_rules()}


def hits(spark, rule, **frames) -> set[str]:
    tables = {name: spark.createDataFrame(rows, schema) for name, (rows, schema) in frames.items()}
    found = rule.hits(spark, tables, START, END).collect()
    assert all(r.pattern == rule.pattern and r.evidence for r in found)
    return {r.entity_id for r in found}


def test_split_admission_hits_a_quick_elective_return_not_a_chemotherapy_cycle(spark, rule_base):
    rows = [
        stay("A1", "p1", "2025-03-01", "2025-03-05", "K35.8"),
        stay("A2", "p1", "2025-03-12", "2025-03-15", "K35.3"),  # 7 days later, same K35
        stay("B1", "p2", "2025-03-01", "2025-03-03", "Z51.1"),
        stay("B2", "p2", "2025-03-16", "2025-03-18", "Z51.1"),  # chemotherapy cycle
        stay("C1", "p3", "2025-03-01", "2025-03-05", "K35.8"),
        stay("C2", "p3", "2025-03-21", "2025-03-25", "K35.8"),  # 16 days: outside the window
        stay("E1", "p4", "2025-03-01", "2025-03-05", "I21.0"),
        stay("E2", "p4", "2025-03-08", "2025-03-15", "I21.1", kind="emergency"),
        stay("F1", "p5", "2025-03-01", "2025-03-05", "K35.8"),
        stay("F2", "p5", "2025-03-06", "2025-03-09", "K35.8", hospital="H2"),  # elsewhere
    ]
    found = hits(spark, rule_base["split_admission"], discharges=(rows, DISCHARGES))
    assert found == {"A2"}


def test_split_admission_fifteen_days_is_still_within(spark, rule_base):
    rows = [
        stay("A1", "p1", "2025-03-01", "2025-03-05"),
        stay("A2", "p1", "2025-03-20", "2025-03-22"),  # 15 days after discharge
    ]
    assert hits(spark, rule_base["split_admission"], discharges=(rows, DISCHARGES)) == {"A2"}


def test_a_claim_after_death_hits_but_dying_in_hospital_does_not(spark, rule_base):
    cases = [
        stay("A1", "dead", "2025-05-01", "2025-05-06"),
        stay("B1", "died_there", "2025-04-01", "2025-04-10"),
        stay("C1", "alive", "2025-04-01", "2025-04-10"),
    ]
    persons = [
        ("dead", d("2000-01-01"), None, d("2024-12-01")),
        ("died_there", d("2000-01-01"), None, d("2025-04-10")),
        ("alive", d("2000-01-01"), None, None),
    ]
    found = hits(
        spark,
        rule_base["claim_after_death"],
        discharges=(cases, DISCHARGES),
        insured_persons=(persons, PERSONS),
    )
    assert found == {"A1"}


def test_a_trace_code_sold_twice_flags_its_buyers_not_a_chronic_patient(spark, rule_base):
    t = datetime(2024, 2, 1, 10)
    sales = [
        ("1", "reseller", "P1", t, "811"),
        ("2", "reseller", "P2", t.replace(day=2), "811"),
        ("3", "chronic", "P1", t, "821"),
        ("4", "chronic", "P1", t.replace(month=5), "822"),
    ]
    found = hits(spark, rule_base["trace_code_sold_twice"], outpatient_pharmacy=(sales, SALES))
    assert found == {"reseller"}


def test_one_item_twice_a_day_is_duplicate_billing_two_items_are_not(spark, rule_base):
    cases = [
        stay("A1", "p1", "2025-03-01", "2025-03-05"),
        stay("B1", "p2", "2025-03-01", "2025-03-05"),
    ]
    fees = [
        ("A1", d("2025-03-02"), "31010001", "treatment"),
        ("A1", d("2025-03-02"), "31010001", "treatment"),
        ("B1", d("2025-03-02"), "31010001", "treatment"),
        ("B1", d("2025-03-02"), "3101000099", "treatment"),
        ("B1", d("2025-03-03"), "31010001", "treatment"),
    ]
    found = hits(
        spark,
        rule_base["same_item_twice_a_day"],
        fee_details=(fees, FEES),
        discharges=(cases, DISCHARGES),
    )
    assert found == {"A1"}


def test_a_stay_with_only_bed_fees_and_no_check_is_a_ghost_bed(spark, rule_base):
    cases = [
        stay("G1", "ghost", "2025-03-01", "2025-03-08"),
        stay("R1", "rehab", "2025-03-01", "2025-03-08"),  # nursed and checked in
        stay("U1", "unchecked", "2025-03-01", "2025-03-08"),  # nursed, no check
    ]
    fees = [
        ("G1", d("2025-03-02"), "1102", "bed"),
        ("R1", d("2025-03-02"), "1102", "bed"),
        ("R1", d("2025-03-02"), "1202", "nursing"),
        ("U1", d("2025-03-02"), "1202", "nursing"),
    ]
    checks = [("person", "rehab", "H1", datetime(2025, 3, 1, 9), True)]
    found = hits(
        spark,
        rule_base["stay_without_care"],
        discharges=(cases, DISCHARGES),
        fee_details=(fees, FEES),
        face_checks=(checks, CHECKS),
    )
    assert found == {"G1"}


def test_billing_outside_the_registration_or_after_leaving_is_a_shadow_doctor(spark, rule_base):
    cases = [
        *[
            stay(f"L{i}", f"p{i}", "2025-03-01", "2025-03-04", hospital="H9", doctor="lent")
            for i in range(3)
        ],
        *[
            stay(f"M{i}", f"q{i}", "2025-03-01", "2025-03-04", hospital="H2", doctor="multi")
            for i in range(3)
        ],
        *[
            stay(f"G{i}", f"r{i}", "2025-03-01", "2025-03-04", hospital="H1", doctor="gone")
            for i in range(3)
        ],
        *[
            stay(f"T{i}", f"s{i}", "2025-03-01", "2025-03-04", hospital="H9", doctor="twice")
            for i in range(2)
        ],
    ]
    doctors = [
        ("lent", "H1", None, None),
        ("multi", "H1", "H2", None),  # registered at a second site: allowed
        ("gone", "H1", None, d("2024-06-30")),
        ("twice", "H1", None, None),  # only two stays: below the threshold of three
    ]
    found = hits(
        spark,
        rule_base["doctor_outside_registration"],
        discharges=(cases, DISCHARGES),
        doctors=(doctors, DOCTORS),
    )
    assert found == {"lent", "gone"}


def test_an_overlapping_enrolment_elsewhere_hits_a_mover_does_not(spark, rule_base):
    persons = [
        ("twice", d("2010-01-01"), None, None),
        ("mover", d("2023-01-01"), None, None),
    ]
    external = [
        ("twice", "440106", d("2024-01-01"), None),
        ("mover", "350502", d("2018-01-01"), d("2022-12-31")),
    ]
    found = hits(
        spark,
        rule_base["enrolled_twice"],
        insured_persons=(persons, PERSONS),
        external_enrolments=(external, EXTERNAL),
    )
    assert found == {"twice"}


def test_admitted_together_three_times_is_a_gang_once_is_a_family(spark, rule_base):
    # c1 has three stays starting on one day beside c2's one: three rows, one occasion
    cases = [stay(f"c1-{i}", "c1", "2025-08-01", "2025-08-03") for i in range(3)]
    cases.append(stay("c2-0", "c2", "2025-08-01", "2025-08-03"))
    for visit, day in enumerate(("2025-02-01", "2025-04-10", "2025-06-20")):
        for member in ("g1", "g2"):
            cases.append(stay(f"{member}-{visit}", member, day, "2025-07-01"))
    for member in ("f1", "f2", "f3"):
        cases.append(stay(f"{member}", member, "2025-05-05", "2025-05-08"))
    found = hits(spark, rule_base["admitted_together"], discharges=(cases, DISCHARGES))
    assert found == {"g1", "g2"}


def test_one_card_at_distant_sites_within_an_hour(spark, rule_base):
    sales = [
        ("1", "cloned", "P1", datetime(2025, 3, 1, 9), "a"),
        ("2", "cloned", "P2", datetime(2025, 3, 1, 10), "b"),  # 思明 -> 翔安, 60 minutes
        ("3", "busy", "P1", datetime(2025, 3, 1, 9), "c"),
        ("4", "busy", "P2", datetime(2025, 3, 1, 15), "d"),  # six hours apart
        ("5", "local", "P1", datetime(2025, 3, 1, 9), "e"),
        ("6", "local", "P3", datetime(2025, 3, 1, 9, 30), "f"),  # same district
        ("7", "near", "P1", datetime(2025, 3, 1, 9), "g"),
        ("8", "near", "P4", datetime(2025, 3, 1, 9, 20), "h"),  # 思明 -> 湖里, under 20 km
    ]
    places = [("P1", "350203"), ("P2", "350213"), ("P3", "350203"), ("P4", "350206")]
    tables = {
        "outpatient_pharmacy": spark.createDataFrame(sales, SALES),
        "institutions": spark.createDataFrame(places, INSTITUTIONS),
        **rules.reference_tables(spark),
    }
    found = rule_base["card_at_distant_sites"].hits(spark, tables, START, END).collect()
    assert {r.entity_id for r in found} == {"cloned"}
    # 思明 (24.4455, 118.0823) to 翔安 (24.6186, 118.2466): about 25 km by hand
    assert "25 km" in found[0].evidence


OFFSITE = (
    "settlement_id string, person_key string, direction string, treating_region string, "
    "admission_date date, discharge_date date"
)


def test_treated_elsewhere_on_a_day_of_a_local_stay_not_on_a_transfer_day(spark, rule_base):
    cases = [
        stay("L1", "lent", "2025-03-01", "2025-03-10"),
        stay("L2", "moved", "2025-04-01", "2025-04-05"),  # transferred out on the 5th
        stay("L3", "back", "2025-06-10", "2025-06-20"),  # admitted here the day they left
        stay("L4", "stay", "2025-07-01", "2025-07-09"),
        stay("L5", "inbound", "2025-08-01", "2025-08-09"),
    ]
    offsite = [
        # an outpatient visit elsewhere on the 5th, in the middle of a stay here
        ("S1", "lent", "outbound", "310000", d("2025-03-05"), d("2025-03-05")),
        # a stay elsewhere from the day of the transfer: no day in both
        ("S2", "moved", "outbound", "310000", d("2025-04-05"), d("2025-04-20")),
        ("S3", "back", "outbound", "310000", d("2025-06-01"), d("2025-06-10")),
        # a stay elsewhere overlapping two nights of the stay here
        ("S4", "stay", "outbound", "440100", d("2025-07-07"), d("2025-07-15")),
        # a visitor treated here is no outbound settlement
        ("S5", "inbound", "inbound", "350200", d("2025-08-03"), d("2025-08-03")),
        # a visit on the admission day itself is the day of travel, not inside the stay
        ("S6", "stay", "outbound", "440100", d("2025-07-01"), d("2025-07-01")),
    ]
    found = hits(
        spark,
        rule_base["treated_elsewhere_during_local_stay"],
        offsite_settlements=(offsite, OFFSITE),
        discharges=(cases, DISCHARGES),
    )
    assert found == {"lent", "stay"}


def test_the_district_seats_are_numbers():
    import pandas as pd

    seats = pd.read_csv(rules.REFERENCE_DIR / "district_seats.csv", dtype={"district": str})
    assert seats.district.str.fullmatch(r"3502\d\d").all()
    assert seats.lat.between(24, 25).all() and seats.lon.between(117.5, 118.5).all()


def test_rules_see_nothing_after_the_period(spark, rule_base):
    rows = [
        stay("A1", "p1", "2025-12-20", "2025-12-25"),
        stay("A2", "p1", "2026-01-02", "2026-01-05"),  # discharged after END
    ]
    assert hits(spark, rule_base["split_admission"], discharges=(rows, DISCHARGES)) == set()


def test_a_rule_file_missing_its_legal_basis_is_refused(tmp_path: Path):
    text = (rules.RULES_DIR / "split_admission.yaml").read_text(encoding="utf-8")
    broken = "\n".join(line for line in text.splitlines() if not line.startswith("legal_basis"))
    (tmp_path / "broken.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(rules.RuleError, match="missing legal_basis"):
        rules.load_rules(tmp_path)


def test_a_rule_reading_an_undeclared_table_is_refused(tmp_path: Path):
    text = (rules.RULES_DIR / "claim_after_death.yaml").read_text(encoding="utf-8")
    (tmp_path / "r.yaml").write_text(
        text.replace("reads: [discharges, insured_persons]", "reads: [discharges]"),
        encoding="utf-8",
    )
    with pytest.raises(rules.RuleError, match="insured_persons"):
        rules.load_rules(tmp_path)


def test_every_shipped_rule_names_a_known_pattern_and_a_legal_article():
    loaded = rules.load_rules()
    assert len({r.id for r in loaded}) == len(loaded) >= 9
    assert all("条例" in r.legal_basis and "第" in r.legal_basis for r in loaded)
