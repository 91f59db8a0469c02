"""Each rule of jobs/fraud/rules/ on a hand-made silver: a positive and its look-alike.

The expected hits are written by hand from the rule's description, never by
running the rule's own SQL another way.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame

from jobs.fraud import features, rules

START, END = date(2024, 1, 1), date(2025, 12, 31)

DISCHARGES = (
    "case_id string, hospital_code string, person_key string, admission_date date, "
    "discharge_date date, admission_type string, principal_dx string, doctor_id string"
)
PERSONS = "person_key string, enrol_start date, enrol_end date, death_date date"
FEES = "case_id string, fee_date date, item_code string, category string, amount decimal(18,2)"
CHECKS = (
    "subject_type string, subject_id string, institution_code string, "
    "check_time timestamp, matched boolean"
)
SALES = (
    "record_id string, person_key string, institution_code string, "
    "txn_time timestamp, trace_code string, days_supply int"
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
    return set(graded(spark, rule, **frames))


def graded(spark, rule, **frames) -> dict[str, tuple[str, float]]:
    """entity -> (severity, strength to three places) of each hit."""
    tables = {
        name: given if isinstance(given, DataFrame) else spark.createDataFrame(*given)
        for name, given in frames.items()
    }
    found = rule.hits(spark, tables, START, END).collect()
    assert all(r.pattern == rule.pattern and r.evidence for r in found)
    assert len({r.entity_id for r in found}) == len(found), "one hit per entity"
    return {r.entity_id: (r.severity, round(r.strength, 3)) for r in found}


def fee(case, day, item, category, amount="50.00"):
    return (case, d(day), item, category, Decimal(amount))


def case_fees(spark, rows) -> DataFrame:
    """The fee sums per case the rules read (scoring takes them from the features)."""
    fees = spark.createDataFrame(rows, FEES)
    return features.case_fees(fees, fees.select("case_id").distinct())


def sale(record, person, shop, when, trace="t", days=7):
    return (record, person, shop, when, trace if trace != "t" else f"t{record}", days)


def test_split_admission_is_graded_by_the_days_back_the_category_and_the_kind(spark, rule_base):
    rows = [
        stay("A1", "p1", "2025-03-01", "2025-03-05", "K35.8"),
        stay("A2", "p1", "2025-03-12", "2025-03-15", "K35.3"),  # 7 days, same K35: full
        stay("B1", "p2", "2025-03-01", "2025-03-03", "Z51.1"),
        stay("B2", "p2", "2025-03-16", "2025-03-18", "Z51.1"),  # chemotherapy cycle
        stay("C1", "p3", "2025-03-01", "2025-03-05", "K35.8"),
        stay("C2", "p3", "2025-03-21", "2025-03-25", "K35.8"),  # 16 days: (45-16)/30
        stay("D1", "p6", "2025-03-01", "2025-03-05", "K35.8"),
        stay("D2", "p6", "2025-04-09", "2025-04-12", "K35.8"),  # 35 days: (45-35)/30
        stay("H1", "p7", "2025-03-01", "2025-03-05", "K35.8"),
        stay("H2", "p7", "2025-04-19", "2025-04-22", "K35.8"),  # 45 days: faded out
        stay("E1", "p4", "2025-03-01", "2025-03-05", "I21.0"),
        stay("E2", "p4", "2025-03-08", "2025-03-15", "I21.1", kind="emergency"),  # x 0.6
        stay("R1", "p8", "2025-03-01", "2025-03-05", "K35.8"),
        stay("R2", "p8", "2025-03-10", "2025-03-14", "K40.9"),  # same chapter K: x 0.6
        stay("O1", "p9", "2025-03-01", "2025-03-05", "K35.8"),
        stay("O2", "p9", "2025-03-10", "2025-03-14", "S72.0"),  # another chapter: a fall
        stay("F1", "p5", "2025-03-01", "2025-03-05", "K35.8"),
        stay("F2", "p5", "2025-03-06", "2025-03-09", "K35.8", hospital="H2"),  # elsewhere
    ]
    found = graded(spark, rule_base["split_admission"], discharges=(rows, DISCHARGES))
    assert found == {
        "A2": ("high", 1.0),
        "C2": ("high", 0.967),
        "D2": ("low", 0.333),
        "E2": ("medium", 0.6),
        "R2": ("medium", 0.6),
    }


def test_split_admission_fifteen_days_is_still_within(spark, rule_base):
    rows = [
        stay("A1", "p1", "2025-03-01", "2025-03-05"),
        stay("A2", "p1", "2025-03-20", "2025-03-22"),  # 15 days after discharge
    ]
    found = graded(spark, rule_base["split_admission"], discharges=(rows, DISCHARGES))
    assert found == {"A2": ("high", 1.0)}


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
        sale("1", "reseller", "P1", t, "811"),
        sale("2", "reseller", "P2", t.replace(day=2), "811"),
        sale("3", "chronic", "P1", t, "821"),
        sale("4", "chronic", "P1", t.replace(month=5), "822"),
    ]
    found = hits(spark, rule_base["trace_code_sold_twice"], outpatient_pharmacy=(sales, SALES))
    assert found == {"reseller"}


def test_supply_far_above_need_catches_the_reseller_with_fresh_codes(spark, rule_base):
    t = datetime(2024, 3, 1, 10)
    sales = [
        # 10 x 90 days in 99 days at three pharmacies: 900 / (99 + 90) > 3: full
        *[
            sale(f"h{i}", "hoarder", f"P{i % 3}", t + timedelta(days=11 * i), days=90)
            for i in range(10)
        ],
        # the same at two pharmacies: x 0.5
        *[
            sale(f"w{i}", "two_shops", f"P{i % 2}", t + timedelta(days=11 * i), days=90)
            for i in range(10)
        ],
        # 90 days every 90 days at one pharmacy: 360 / (270 + 90) = 1, the pace of need
        *[sale(f"c{i}", "chronic", "P1", t + timedelta(days=90 * i), days=90) for i in range(4)],
        # stocking up at one pharmacy: 4 x 90 in 90 days: 360 / 180 = 2, (2 - 1.5) / 1.5 x 0.5
        *[sale(f"s{i}", "stocking", "P1", t + timedelta(days=30 * i), days=90) for i in range(4)],
        # under 180 days of supply in the period: not looked at
        *[sale(f"f{i}", "few", f"P{i}", t + timedelta(days=i), days=30) for i in range(5)],
    ]
    found = graded(spark, rule_base["supply_far_above_need"], outpatient_pharmacy=(sales, SALES))
    assert found == {
        "hoarder": ("high", 1.0),
        "two_shops": ("medium", 0.5),
        "stocking": ("low", 0.167),
    }


def test_one_item_twice_a_day_or_a_sibling_code_at_one_price_is_duplicate_billing(spark, rule_base):
    ids = ("A1", "S1", "B1", "N1", "D1", "M1", "W1")
    cases = [stay(c, f"p{c}", "2025-03-01", "2025-03-05") for c in ids]
    fees = [
        # both kinds: the item twice is the example, and both count
        fee("D1", "2025-03-02", "3101000001", "treatment"),
        fee("D1", "2025-03-02", "3101000001", "treatment"),
        fee("D1", "2025-03-03", "3101000002", "treatment"),
        fee("D1", "2025-03-03", "3101000003", "treatment"),
        # two items twice: the greatest is the example
        fee("M1", "2025-03-02", "3101000001", "treatment"),
        fee("M1", "2025-03-02", "3101000001", "treatment"),
        fee("M1", "2025-03-04", "3101000005", "treatment"),
        fee("M1", "2025-03-04", "3101000005", "treatment"),
        # one nursing item twice: a repeat, though nursing has no sibling codes counted
        fee("W1", "2025-03-02", "1202000000", "nursing", "30.00"),
        fee("W1", "2025-03-02", "1202000000", "nursing", "30.00"),
        fee("A1", "2025-03-02", "3101000001", "treatment"),
        fee("A1", "2025-03-02", "3101000001", "treatment"),  # the same item twice: full
        fee("S1", "2025-03-02", "3101000001", "treatment"),
        fee("S1", "2025-03-02", "3101000009", "treatment"),  # a sibling code, same price
        fee("B1", "2025-03-02", "3101000001", "treatment"),
        fee("B1", "2025-03-02", "3101000099", "treatment", "20.00"),  # another item, price
        fee("B1", "2025-03-03", "3101000001", "treatment"),  # the next day: normal
        fee("N1", "2025-03-02", "1202000000", "nursing", "30.00"),
        fee("N1", "2025-03-02", "1202000001", "nursing", "30.00"),  # daily care: left out
    ]
    found = graded(
        spark,
        rule_base["same_item_twice_a_day"],
        case_fees=case_fees(spark, fees),
        discharges=(cases, DISCHARGES),
    )
    # the rule's own severity is medium: a full hit is capped there
    assert found == {
        "A1": ("medium", 1.0),
        "S1": ("medium", 0.7),
        "D1": ("medium", 1.0),
        "M1": ("medium", 1.0),
        "W1": ("medium", 1.0),
    }
    tables = {
        "case_fees": case_fees(spark, fees),
        "discharges": spark.createDataFrame(cases, DISCHARGES),
    }
    said = {
        r.entity_id: r.evidence
        for r in rule_base["same_item_twice_a_day"].hits(spark, tables, START, END).collect()
    }
    assert said == {
        "A1": "1 repeated charges, e.g. 3101000001 twice on 2025-03-02",
        "S1": "1 repeated charges, e.g. 3101000001 and 3101000009 at 50.00 yuan on 2025-03-02",
        "D1": "2 repeated charges, e.g. 3101000001 twice on 2025-03-02",
        "M1": "2 repeated charges, e.g. 3101000005 twice on 2025-03-04",
        "W1": "1 repeated charges, e.g. 1202000000 twice on 2025-03-02",
    }


def test_a_stay_with_next_to_no_care_is_a_ghost_bed_graded_by_care_and_check(spark, rule_base):
    cases = [
        stay("G1", "ghost", "2025-03-01", "2025-03-09"),
        stay("T1", "token", "2025-03-01", "2025-03-09"),  # a nursing round on 2 of 8 days
        stay("C1", "checked", "2025-03-01", "2025-03-09"),  # no care, checked in
        stay("R1", "rehab", "2025-03-01", "2025-03-09"),  # nursed daily and checked in
        stay("S1", "short", "2025-03-01", "2025-03-03"),  # two days: not looked at
    ]
    days = [f"2025-03-0{i}" for i in range(1, 9)]
    fees = [fee("S1", day, "1102000000", "bed") for day in days[:2]]
    fees += [fee(c, day, "1102000000", "bed") for c in ("G1", "T1", "C1", "R1") for day in days]
    fees += [fee("T1", day, "1202000000", "nursing") for day in (days[0], days[4])]
    fees += [fee("R1", day, "1202000000", "nursing") for day in days]
    checks = [
        ("person", "rehab", "H1", datetime(2025, 3, 1, 9), True),
        ("person", "checked", "H1", datetime(2025, 3, 1, 9), True),
        ("person", "checked", "H1", datetime(2025, 3, 2, 9), True),  # twice: one hit still
    ]
    found = graded(
        spark,
        rule_base["stay_without_care"],
        discharges=(cases, DISCHARGES),
        case_fees=case_fees(spark, fees),
        face_checks=(checks, CHECKS),
    )
    # token: 1 - (2 / 8) / 1.0; checked in: 1.0 x 0.6
    assert found == {"G1": ("high", 1.0), "T1": ("medium", 0.75), "C1": ("medium", 0.6)}


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
        stay("O0", "o0", "2025-03-01", "2025-03-04", hospital="H9", doctor="once"),
    ]
    doctors = [
        ("lent", "H1", None, None),
        ("multi", "H1", "H2", None),  # registered at a second site: allowed
        ("gone", "H1", None, d("2024-06-30")),
        ("twice", "H1", None, None),  # two stays: the way around a cut-off at three
        ("once", "H1", None, None),
    ]
    found = graded(
        spark,
        rule_base["doctor_outside_registration"],
        discharges=(cases, DISCHARGES),
        doctors=(doctors, DOCTORS),
    )
    assert found == {
        "lent": ("high", 1.0),
        "gone": ("high", 1.0),
        "twice": ("medium", 0.667),
        "once": ("low", 0.333),
    }


def test_an_overlapping_enrolment_is_graded_by_its_days_a_mover_is_not_hit(spark, rule_base):
    persons = [(p, d("2010-01-01"), None, None) for p in ("twice", "short", "edge", "lag")]
    persons.append(("mover", d("2023-01-01"), None, None))
    external = [
        ("twice", "440106", d("2024-01-01"), None),  # open: 731 days
        ("short", "440106", d("2024-03-01"), d("2024-04-29")),  # 60 days: (60-30)/60
        ("edge", "440106", d("2024-03-01"), d("2024-03-31")),  # 31 days: (31-30)/60
        ("lag", "440106", d("2024-03-01"), d("2024-03-30")),  # 30 days: paperwork
        ("mover", "350502", d("2018-01-01"), d("2022-12-31")),
    ]
    found = graded(
        spark,
        rule_base["enrolled_twice"],
        insured_persons=(persons, PERSONS),
        external_enrolments=(external, EXTERNAL),
    )
    assert found == {
        "twice": ("medium", 1.0),  # the rule's severity is medium
        "short": ("medium", 0.5),
        "edge": ("low", 0.017),
    }


def test_admitted_together_is_graded_by_times_and_group_a_family_once_is_not(spark, rule_base):
    # c1 has three stays starting on one day beside c2's one: three rows, one occasion
    cases = [stay(f"c1-{i}", "c1", "2025-08-01", "2025-08-03") for i in range(3)]
    cases.append(stay("c2-0", "c2", "2025-08-01", "2025-08-03"))
    visits = ("2025-02-01", "2025-04-10", "2025-06-20")

    def group(members, days, late=0, hospitals=("H1",)):
        for v, day in enumerate(days):
            for k, member in enumerate(members):
                start = (d(day) + timedelta(days=late * k)).isoformat()
                site = hospitals[v % len(hospitals)]
                cases.append(stay(f"{member}-{v}", member, start, "2025-07-01", hospital=site))

    # each group at hospitals of its own: groups on the same days elsewhere are not together
    group(("g1", "g2", "g3"), visits, hospitals=("G",))  # three together three times: full
    group(("s1", "s2", "s3"), visits, late=1, hospitals=("S",))  # a day after the one before
    group(("h1", "h2", "h3"), visits, hospitals=("H1", "H2"))  # two hospitals in turn
    group(("t1", "t2", "t3"), visits[:2], hospitals=("T",))  # twice: (2 - 1) / (3 - 1)
    group(("p1", "p2"), visits, hospitals=("P",))  # a pair alone: x 0.6
    group(("w1", "w2"), visits, late=2, hospitals=("W",))  # two days apart: not together
    for member in ("f1", "f2", "f3"):  # a family, once
        cases.append(stay(f"{member}", member, "2025-05-05", "2025-05-08", hospital="F"))
    found = graded(spark, rule_base["admitted_together"], discharges=(cases, DISCHARGES))
    full = ("high", 1.0)
    assert found == {
        **{m: full for m in ("g1", "g2", "g3", "s2", "h1", "h2", "h3")},
        # s1 and s3 are two days apart: each is together with s2 only, a pair
        "s1": ("medium", 0.6),
        "s3": ("medium", 0.6),
        **{m: ("medium", 0.5) for m in ("t1", "t2", "t3")},
        "p1": ("medium", 0.6),
        "p2": ("medium", 0.6),
    }


def _km(a: str, b: str) -> float:
    """Great-circle distance between two district seats, by hand from the reference CSV."""
    import csv
    import math

    with (rules.REFERENCE_DIR / "district_seats.csv").open(encoding="utf-8") as f:
        seats = {r["district"]: (float(r["lat"]), float(r["lon"])) for r in csv.DictReader(f)}
    (la, lo), (lb, lob) = seats[a], seats[b]
    h = (
        math.sin(math.radians(lb - la) / 2) ** 2
        + math.cos(math.radians(la))
        * math.cos(math.radians(lb))
        * math.sin(math.radians(lob - lo) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


def test_one_card_at_distant_sites_is_graded_by_the_speed_it_implies(spark, rule_base):
    nine = datetime(2025, 3, 1, 9)
    sales = [
        sale("1", "cloned", "P1", nine),
        sale("2", "cloned", "P2", nine + timedelta(minutes=30)),  # 思明 -> 翔安
        sale("3", "hour", "P1", nine),
        sale("4", "hour", "P2", nine + timedelta(minutes=60)),
        sale("5", "slow", "P1", nine),
        sale("6", "slow", "P2", nine + timedelta(minutes=90)),
        sale("7", "busy", "P1", nine),
        sale("8", "busy", "P2", nine + timedelta(hours=6)),  # six hours apart: a journey
        sale("9", "local", "P1", nine),
        sale("10", "local", "P3", nine + timedelta(minutes=30)),  # same district
        sale("11", "near", "P1", nine),
        sale("12", "near", "P4", nine + timedelta(minutes=20)),  # 思明 -> 湖里, under 10 km
    ]
    places = [("P1", "350203"), ("P2", "350213"), ("P3", "350203"), ("P4", "350206")]
    tables = {
        "outpatient_pharmacy": spark.createDataFrame(sales, SALES),
        "institutions": spark.createDataFrame(places, INSTITUTIONS),
        **rules.reference_tables(spark),
    }
    rule = rule_base["card_at_distant_sites"]
    found = {r.entity_id: r for r in rule.hits(spark, tables, START, END).collect()}
    km = _km("350203", "350213")
    assert 24 < km < 26 and _km("350203", "350206") < 10

    def strength(minutes):
        return min(1.0, max(0.0, (km / (minutes / 60) - 15) / (40 - 15)))

    assert set(found) == {"cloned", "hour", "slow"}
    assert found["cloned"].strength == pytest.approx(strength(30)) == 1.0
    assert found["hour"].strength == pytest.approx(strength(60))
    assert found["slow"].strength == pytest.approx(strength(90))
    assert [found[p].severity for p in ("cloned", "hour", "slow")] == ["medium", "medium", "low"]
    assert "25 km" in found["cloned"].evidence


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


def _variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (rules.RULES_DIR / name).read_text(encoding="utf-8")
    assert old in text
    (tmp_path / name).write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


def test_a_threshold_is_data_moving_it_in_the_file_moves_the_hits(spark, tmp_path: Path):
    folder = _variant(tmp_path, "split_admission.yaml", "window_days: 15", "window_days: 5")
    (rule,) = rules.load_rules(folder)
    rows = [
        stay("A1", "p1", "2025-03-01", "2025-03-05"),
        stay("A2", "p1", "2025-03-12", "2025-03-15"),  # 7 days: now past a 5-day window
    ]
    # (45 - 7) / (45 - 5) by hand
    assert graded(spark, rule, discharges=(rows, DISCHARGES)) == {"A2": ("high", 0.95)}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("window_days: 15", "window_days: fifteen", "must be a number"),
        ("window_days: 15", "window_days: 15\n  unused_days: 3", "not used by the logic"),
        ("grades: {high: 0.8, medium: 0.5}", "grades: {high: 0.4, medium: 0.5}", "grades"),
        ("grades: {high: 0.8, medium: 0.5}", "grades: {high: 0.8}", "grades"),
        ("window_days: 15", "discharges: 15", "reuse"),
    ],
)
def test_a_graded_rule_with_bad_numbers_is_refused(tmp_path: Path, old, new, message):
    folder = _variant(tmp_path, "split_admission.yaml", old, new)
    with pytest.raises(rules.RuleError, match=message):
        rules.load_rules(folder)


def test_a_graded_rule_must_return_its_strength(tmp_path: Path):
    text = (rules.RULES_DIR / "doctor_outside_registration.yaml").read_text(encoding="utf-8")
    broken = text.replace("least(1.0, count(*) / {full_at_stays}) AS strength,", "")
    broken = broken.replace("thresholds:\n  full_at_stays: 3", "thresholds: {}")
    (tmp_path / "r.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(rules.RuleError, match="strength"):
        rules.load_rules(tmp_path)


def test_shared_inputs_are_read_once_cut_to_the_rules_columns_with_the_same_hits(spark, rule_base):
    """The pharmacy sales three rules read come from one cached, partitioned cut holding
    only the columns some rule names; every rule hits what it hits on the raw table."""
    t = datetime(2024, 2, 1, 10)
    rows = [
        sale("1", "reseller", "P1", t, "811"),
        sale("2", "reseller", "P2", t.replace(day=2), "811"),
        sale("3", "chronic", "P1", t, "821"),
    ]
    wide = SALES + ", item_code string"  # a column no rule reads
    raw = spark.createDataFrame([(*r, "X1") for r in rows], wide)
    base = list(rule_base.values())
    readers = [r for r in base if "outpatient_pharmacy" in r.reads]
    assert len(readers) >= 2
    shared, held = rules.shared_inputs(base, {"outpatient_pharmacy": raw}, 4)
    cut = shared["outpatient_pharmacy"]
    assert held == [cut] and cut.is_cached
    assert "item_code" not in cut.columns
    assert set(cut.columns) == set(SALES_COLUMNS)
    assert sorted(cut.collect()) == sorted(raw.drop("item_code").collect())
    for rule in (rule_base["trace_code_sold_twice"], rule_base["supply_far_above_need"]):
        alone = {"outpatient_pharmacy": raw}
        assert sorted(rule.hits(spark, shared, START, END).collect()) == sorted(
            rule.hits(spark, alone, START, END).collect()
        )
    one = [rule_base["trace_code_sold_twice"]]  # a table one rule reads stays as it is
    assert rules.shared_inputs(one, {"outpatient_pharmacy": raw}, 4)[1] == []
    for frame in held:
        frame.unpersist()


SALES_COLUMNS = [c.split()[0] for c in SALES.split(", ")]
