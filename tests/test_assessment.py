"""The assessment from data (SPEC 9.3) on hand-made indicator rows, figures by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.dip import assessment

QUIET = {  # no deduction: equal within the level (never above its own p90), low indices
    "low_rate": 0.1, "short_admission_rate": 0.05, "self_pay_ratio": 0.2, "time_index": 1.0,
    "cost_index": 1.0, "quarantine_rate": 0.0,
}  # fmt: skip


def row(code: str, level: int, **values) -> dict:
    return {"hospital_code": code, "level": level, "readmit_rate": 0.1} | QUIET | values


# Level 3's readmission rates 0.1, 0.2, 0.3, 0.4: p90 (linear) at 0.9·3 = 2.7 between the
# third and fourth, 0.3 + 0.7·0.1 = 0.37. H4 (0.4) is above it.
ROWS = [
    row("H1", 3),
    row("H2", 3, readmit_rate=0.2),
    row("H3", 3, readmit_rate=0.3),
    row("H4", 3, readmit_rate=0.4, time_index=1.3),  # and its stays are long: 1.3 > 1.2
    row("H5", 2, quarantine_rate=0.021),  # alone in level 2: its own p90; 0.021 > 0.02
]


@pytest.fixture(scope="module")
def scheme():
    return assessment.load_scheme("2025.1")


def test_a_hospital_hit_by_two_deductions(scheme):
    got = {a.hospital_code: a for a in assessment.assess(ROWS, {}, scheme)}
    h4 = got["H4"]
    assert [(d["id"], d["points"]) for d in h4.deductions] == [
        ("readmissions", 3),
        ("length_of_stay", 2),
    ]
    assert h4.deductions[0]["threshold"] == pytest.approx(0.37)
    # S = 100 - 3 - 2 = 95; A = 0.90 + 0.10 · 95 / 100 = 0.995
    assert (h4.score, h4.coefficient) == (95, Decimal("0.9950"))
    assert (got["H1"].score, got["H1"].coefficient, got["H1"].deductions) == (
        100,
        Decimal("1.0000"),
        (),
    )
    # H5: 3 for data quality: 97 -> 0.997
    assert (got["H5"].score, got["H5"].coefficient) == (97, Decimal("0.9970"))


def test_confirmed_fraud_cases_deduct_five_each_up_to_thirty(scheme):
    got = {a.hospital_code: a for a in assessment.assess(ROWS, {"H1": 2, "H2": 7}, scheme)}
    assert (got["H1"].score, got["H1"].coefficient) == (90, Decimal("0.9900"))  # 2 · 5
    # 7 · 5 = 35, capped at 30: 70 -> 0.97
    assert (got["H2"].score, got["H2"].coefficient) == (70, Decimal("0.9700"))
    assert got["H2"].deductions[-1] == {
        "id": "fraud",
        "indicator": "confirmed_fraud_cases",
        "value": 7,
        "threshold": 0,
        "points": 30,
    }


def test_a_score_below_zero_gives_the_floor(tmp_path):
    text = (assessment.SCHEMES / "assessment-2025.1.yaml").read_text(encoding="utf-8")
    (tmp_path / "assessment-9.yaml").write_text(
        text.replace('version: "2025.1"', 'version: "9"').replace("points: 3}", "points: 60}"),
        encoding="utf-8",
    )
    harsh = assessment.load_scheme("9", tmp_path)
    (h4,) = [a for a in assessment.assess(ROWS, {}, harsh) if a.hospital_code == "H4"]
    # readmissions now deduct 60, the length of stay still 2: 100 - 62 = 38 -> 0.938
    assert h4.score == 38 and h4.coefficient == Decimal("0.9380")
    # H9 is above level 1's p90 for readmissions and short admissions (60 each) and has 9
    # confirmed fraud cases (30 at most): 100 - 60 - 60 - 30 = -50, and A stops at 0.90.
    many = [row("H9", 1, readmit_rate=1.0, short_admission_rate=0.9)]
    many += [row(f"G{i}", 1) for i in range(9)]
    (h9,) = [a for a in assessment.assess(many, {"H9": 9}, harsh) if a.hospital_code == "H9"]
    assert (h9.score, h9.coefficient) == (-50, Decimal("0.9000"))


def test_a_scheme_that_is_not_there_or_broken_is_refused(tmp_path):
    with pytest.raises(assessment.SchemeError, match="no assessment scheme '1999'"):
        assessment.load_scheme("1999")
    (tmp_path / "assessment-x.yaml").write_text('version: "x"\nbase_score: 100\n')
    with pytest.raises(assessment.SchemeError, match=r"assessment-x\.yaml"):
        assessment.load_scheme("x", tmp_path)
