"""Person and doctor features: values worked out by hand, and nothing after the cutoff."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jobs.fraud import entity_features as ef

STAYS = (
    "case_id string, hospital_code string, person_key string, doctor_id string, "
    "admission_date date, discharge_date date, after_death boolean"
)
SALES = (
    "person_key string, institution_code string, txn_time timestamp, days_supply int, "
    "trace_code string"
)


def stay(cid, person, hospital, doctor, admitted, discharged, after_death=False):
    return (
        cid,
        hospital,
        person,
        doctor,
        date.fromisoformat(admitted),
        date.fromisoformat(discharged),
        after_death,
    )


STAYS_2024 = [
    stay("A", "p1", "H1", "D1", "2024-03-01", "2024-03-05"),
    stay("B", "p2", "H1", "D1", "2024-03-01", "2024-03-03"),  # admitted with p1
    stay("C", "p1", "H2", "D1", "2024-06-10", "2024-06-12"),  # D1 is not registered at H2
    stay("D", "p3", "H2", "D2", "2024-06-10", "2024-06-11", after_death=True),
    stay("E", "p3", "H2", "D2", "2024-11-02", "2024-11-04"),  # D2 left on 2024-10-01
]
SALES_2024 = [
    ("p1", "P1", datetime(2024, 5, 1, 9), 30, "T1"),
    ("p1", "P2", datetime(2024, 5, 1, 10), 30, "T2"),  # another district, same day
    ("p4", "P1", datetime(2024, 7, 1, 9), 366, "T1"),  # T1 sold twice
]
DOCTORS = [
    ("D1", "H1", "", "active", None),
    ("D2", "H2", "", "deregistered", date(2024, 10, 1)),
]


def tables(spark, stays=STAYS_2024, sales=SALES_2024, doctors=DOCTORS, enrolments=(), checks=()):
    return {
        "discharges": spark.createDataFrame(stays, STAYS),
        "outpatient_pharmacy": spark.createDataFrame(sales, SALES),
        "institutions": spark.createDataFrame(
            [("P1", "350203"), ("P2", "350213"), ("H1", "350203"), ("H2", "350206")],
            "institution_code string, district string",
        ),
        "external_enrolments": spark.createDataFrame(
            list(enrolments), "person_key string, enrol_start date, enrol_end date"
        ),
        "doctors": spark.createDataFrame(
            doctors,
            "doctor_id string, institution_code string, second_site string, status string, "
            "deregistered_on date",
        ),
        "face_checks": spark.createDataFrame(
            list(checks),
            "subject_type string, subject_id string, check_time timestamp, matched boolean",
        ),
    }


def _by(rows, key):
    return {getattr(r, key): r.asDict() for r in rows}


def test_person_features_by_hand(spark):
    enrolments = [("p2", date(2023, 1, 1), None), ("p3", date(2020, 1, 1), date(2022, 12, 31))]
    got = _by(
        ef.person_features(tables(spark, enrolments=enrolments), 2024).collect(), "person_key"
    )
    assert set(got) == {"p1", "p2", "p3", "p4"}
    p1, p2, p3, p4 = (got[p] for p in ("p1", "p2", "p3", "p4"))
    assert (p1["admissions"], p1["hospitals"], p1["days_in_hospital"]) == (2, 2, 6)
    # p1 with p2 (H1, 1 March) and with p3 (H2, 10 June)
    assert (p1["co_admitted_partners"], p2["co_admitted_partners"]) == (2, 1)
    assert p3["co_admitted_partners"] == 1
    assert p3["after_death_claims"] == 1 and p1["after_death_claims"] == 0
    assert (p1["pharmacy_sales"], p1["pharmacies"], p1["max_districts_a_day"]) == (2, 2, 2)
    assert p1["supply_per_day"] == pytest.approx(60 / 366)  # 2024 has 366 days
    assert p1["resold_trace_codes"] == 1 and p4["resold_trace_codes"] == 1  # T1
    assert p2["enrolled_elsewhere"] == 1 and p3["enrolled_elsewhere"] == 0  # p3's ended 2022


def test_doctor_features_by_hand(spark):
    checks = [("doctor", "D2", datetime(2024, 11, 2, 8), False)]
    got = _by(ef.doctor_features(tables(spark, checks=checks), 2024).collect(), "doctor_id")
    d1, d2 = got["D1"], got["D2"]
    assert (d1["cases"], d1["institutions_billed"], d1["outside_registration"]) == (3, 2, 1)
    assert d1["max_sites_a_day"] == 1 and d1["after_deregistration"] == 0
    assert (d2["after_deregistration"], d2["failed_face_checks"]) == (1, 1)


def test_nothing_after_the_year_changes_a_feature(spark):
    before_p = ef.person_features(tables(spark), 2024).collect()
    before_d = ef.doctor_features(tables(spark), 2024).collect()
    later = tables(
        spark,
        stays=[*STAYS_2024, stay("F", "p1", "H1", "D1", "2024-12-30", "2025-01-03")],
        sales=[*SALES_2024, ("p1", "P2", datetime(2025, 1, 1, 9), 90, "T2")],
        # D1 leaves in 2025: not known at the end of 2024
        doctors=[("D1", "H1", "", "deregistered", date(2025, 1, 1)), DOCTORS[1]],
        enrolments=[("p1", date(2025, 2, 1), None)],
        checks=[("doctor", "D1", datetime(2025, 1, 2, 8), False)],
    )
    assert sorted(ef.person_features(later, 2024).collect()) == sorted(before_p)
    assert sorted(ef.doctor_features(later, 2024).collect()) == sorted(before_d)
