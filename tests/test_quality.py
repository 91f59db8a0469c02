"""The silver/discharges suite gates a batch: critical failures stop it, warnings do not."""

from datetime import date
from decimal import Decimal

import pytest

from jobs import quality

KEY = "a" * 64
SCHEMA = (
    "case_id string, person_key string, principal_dx string, hospital_code string, sex string, "
    "admission_type string, discharge_status string, discharge_year int, "
    "total_cost decimal(18,2), fund_paid decimal(18,2), doctor_id string, "
    "admission_date date"
)


def _row(case_id="ZY1", **change):
    row = {
        "case_id": case_id,
        "person_key": KEY,
        "principal_dx": "K35.8",
        "hospital_code": "H1",
        "sex": "M",
        "admission_type": "elective",
        "discharge_status": "cured",
        "discharge_year": 2024,
        "total_cost": Decimal("100.00"),
        "fund_paid": Decimal("70.00"),
        "doctor_id": "D1",
        "admission_date": date(2024, 1, 2),
    }
    row.update(change)
    return tuple(row.values())


def test_a_clean_batch_passes(spark):
    df = spark.createDataFrame([_row("ZY1"), _row("ZY2")], SCHEMA)
    assert quality.gate(df, "silver", "discharges").failures == ()


def test_a_raw_id_number_in_person_key_is_critical(spark):
    df = spark.createDataFrame([_row(person_key="11010519491231002X")], SCHEMA)
    with pytest.raises(quality.QualityGateError, match="person_key"):
        quality.gate(df, "silver", "discharges")


def test_a_duplicate_case_is_critical(spark):
    df = spark.createDataFrame([_row("ZY1"), _row("ZY1")], SCHEMA)
    with pytest.raises(quality.QualityGateError, match="unique"):
        quality.gate(df, "silver", "discharges")


def test_a_warning_is_reported_but_does_not_stop(spark):
    df = spark.createDataFrame([_row(doctor_id=None)], SCHEMA)
    report = quality.gate(df, "silver", "discharges")
    assert [(f.severity, f.column) for f in report.failures] == [("warning", "doctor_id")]


def test_results_are_kept_and_data_docs_built_under_a_root(spark, tmp_path):
    df = spark.createDataFrame([_row("ZY1"), _row("ZY1")], SCHEMA)  # case_id not unique
    with pytest.raises(quality.QualityGateError):
        quality.gate(df, "silver", "discharges", tmp_path)
    index = quality.build_docs(tmp_path)
    assert index.is_file()
    pages = list(index.parent.rglob("*.html"))
    assert any("silver.discharges" in p.read_text(encoding="utf-8") for p in pages)
