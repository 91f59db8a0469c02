"""Settlement lists: each dialect conformed, each reason code raised, newest version kept."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from jobs.ingest import dialects, discharges

A_RECORD = {
    "record_id": "A2024020000001",
    "case": {
        "case_id": "ZY202400000001",
        "hospital_code": "H35020300004",
        "admission_date": "2024-01-02",
        "discharge_date": "2024-01-09",
        "admission_type": "elective",
        "discharge_status": "cured",
        "attending_doctor": "D350201315",
    },
    "patient": {
        "id_no": "11010519491231002X",
        "name": "张三",
        "sex": "M",
        "birth_date": "1949-12-31",
    },
    "diagnoses": [{"code": "k35.800x002", "principal": True}, {"code": "I10", "principal": False}],
    "procedures": [{"code": "47.09", "principal": True}, {"code": "88.01", "principal": False}],
    "costs": {
        "total": "1000.00",
        "drugs": "100.00",
        "consumables": "200.00",
        "exams": "150.00",
        "treatment": "300.00",
        "nursing": "50.00",
        "bed": "180.00",
        "other": "20.00",
        "fund_paid": "700.00",
        "self_paid": "300.00",
    },
}
B_LINE = (
    "B2024020000002,ZY202400000002,H35020300004,11010519491231002X,张三,女,1949-12-31,"
    "2024/01/02,2024-01-09,急诊,死亡,K35.8,I10;E11.9,47.09,88.01,D350201315,1000.00,100.00,"
    "200.00,150.00,300.00,50.00,180.00,20.00,700.00,300.00"
)
C_LINE = (
    "C2024020000003|ZY202400000003|H35020300004|11010519491231002X|张三|1|19491231|20240102|"
    "20240109|2|4|K358|i10|4709|8801|D350201315|100000|10000|20000|15000|30000|5000|18000|"
    "2000|70000|30000"
)


def _lines(spark, text: str, dialect: str):
    return spark.createDataFrame(
        [(f"settlement_lists/2024-02-05/{dialect}_202402.x", "2024-02-05", 2, text, "utf-8")],
        "source_file string, day string, line int, text string, encoding string",
    )


def _conformed(spark, text: str, dialect: str):
    bronze = dialects.PARSERS[dialect](_lines(spark, text, dialect))
    return discharges.conform(bronze).first()


def test_the_three_dialects_conform_to_the_same_values(spark):
    a = _conformed(spark, json.dumps(A_RECORD, ensure_ascii=False), "A")
    b = _conformed(spark, B_LINE, "B")
    c = _conformed(spark, C_LINE, "C")
    for row in (a, b, c):
        assert row.reasons == []
        assert row.principal_dx == "K35.8"
        assert row.procedures == ["47.09", "88.01"]
        assert row.admission_date == date(2024, 1, 2)
        assert row.discharge_date == date(2024, 1, 9)
        assert row.discharge_year == 2024
        assert row.birth_date == date(1949, 12, 31)
        assert row.total_cost == Decimal("1000.00")
        assert row.fund_paid == Decimal("700.00")
        assert row.self_paid == Decimal("300.00")
        assert row.drugs_cost == Decimal("100.00")
    assert (a.sex, a.admission_type, a.discharge_status) == ("M", "elective", "cured")
    assert (b.sex, b.admission_type, b.discharge_status) == ("F", "emergency", "died")
    assert (c.sex, c.admission_type, c.discharge_status) == ("M", "elective", "left")
    assert a.other_dx == ["I10"] and b.other_dx == ["I10", "E11.9"] and c.other_dx == ["I10"]


def _with(change: dict) -> str:
    record = json.loads(json.dumps(A_RECORD))
    for path, value in change.items():
        target = record
        *parents, leaf = path.split(".")
        for p in parents:
            target = target[p]
        target[leaf] = value
    return json.dumps(record, ensure_ascii=False)


REASON_CASES = [
    ({"case.hospital_code": ""}, "missing_hospital_code"),
    ({"record_id": None}, "missing_record_id"),
    ({"patient.id_no": "110105194912310021"}, "invalid_id_checksum"),
    ({"case.discharge_date": "2023-12-30"}, "discharge_before_admission"),
    ({"case.admission_date": "2024-13-02"}, "invalid_date"),
    ({"patient.birth_date": "2024-05-01"}, "admission_before_birth"),
    ({"costs.drugs": "150.00"}, "cost_breakdown_mismatch"),
    ({"costs.fund_paid": "650.00"}, "payment_mismatch"),
    ({"costs.bed": "many"}, "invalid_amount"),
    ({"patient.sex": "X"}, "invalid_sex"),
    ({"case.admission_type": "walk-in"}, "invalid_admission_type"),
    ({"case.discharge_status": "?"}, "invalid_discharge_status"),
    ({"diagnoses": [{"code": "35.8", "principal": True}]}, "unknown_diagnosis_code"),
    ({"procedures": [{"code": "4", "principal": True}]}, "unknown_procedure_code"),
]


def test_each_reason_code(spark):
    # One frame, one Spark job: line i carries the i-th defect.
    lines = spark.createDataFrame(
        [
            (
                "settlement_lists/2024-02-05/A_202402.jsonl",
                "2024-02-05",
                i + 1,
                _with(change),
                "utf-8",
            )
            for i, (change, _) in enumerate(REASON_CASES)
        ],
        "source_file string, day string, line int, text string, encoding string",
    )
    rows = {r.line: r.reasons for r in discharges.conform(dialects.parse_a(lines)).collect()}
    for i, (change, reason) in enumerate(REASON_CASES):
        assert reason in rows[i + 1], (change, rows[i + 1])


def test_a_truncated_line_is_malformed(spark):
    text = json.dumps(A_RECORD, ensure_ascii=False)
    assert "malformed_record" in _conformed(spark, text[: len(text) // 2], "A").reasons
    assert "malformed_record" in _conformed(spark, C_LINE[:60], "C").reasons


def test_reference_checks_know_codes_and_hospitals(spark):
    bronze = dialects.parse_a(_lines(spark, json.dumps(A_RECORD, ensure_ascii=False), "A"))
    conformed = discharges.conform(bronze)
    codes = spark.createDataFrame([("K35.8",), ("I10",)], "code string")
    procs = spark.createDataFrame([("47.09",), ("88.01",)], "code string")
    hospitals = spark.createDataFrame([("H35020300004",)], "institution_code string")
    ok = discharges.check_references(conformed, codes, procs, hospitals).first()
    assert ok.reasons == []
    none = spark.createDataFrame([("X",)], "code string")
    clinic_only = spark.createDataFrame([("H35020300099",)], "institution_code string")
    bad = discharges.check_references(conformed, none, none, clinic_only).first()
    assert sorted(bad.reasons) == [
        "unknown_diagnosis_code",
        "unknown_hospital",
        "unknown_procedure_code",
    ]


def test_enrolment_unknown_persons_are_rejected_and_periods_flagged(spark):
    from datetime import date

    claims = spark.createDataFrame(
        [
            ("c1", "p1", date(2024, 3, 1), []),  # enrolled, alive
            ("c2", "p2", date(2024, 3, 1), []),  # enrolment ended in 2023
            ("c3", "p3", date(2024, 3, 1), []),  # died in January
            ("c4", "nobody", date(2024, 3, 1), []),  # not in the registry
            ("c5", None, date(2024, 3, 1), ["invalid_id_checksum"]),  # no usable key
        ],
        "case_id string, person_key string, admission_date date, reasons array<string>",
    )
    persons = spark.createDataFrame(
        [
            ("p1", date(2020, 1, 1), None, None),
            ("p2", date(2020, 1, 1), date(2023, 6, 30), None),
            ("p3", date(2020, 1, 1), date(2024, 1, 9), date(2024, 1, 9)),
        ],
        "person_key string, enrol_start date, enrol_end date, death_date date",
    )
    got = {
        r.case_id: (sorted(r.reasons), r.enrolled_on_admission, r.after_death)
        for r in discharges.check_enrolment(claims, persons).collect()
    }
    assert got == {
        "c1": ([], True, False),
        "c2": ([], False, False),
        "c3": ([], False, True),
        "c4": (["person_not_enrolled"], False, False),
        "c5": (["invalid_id_checksum"], False, False),
    }
