"""The DIP year's jobs on tiny lakes, by hand: the month's proposal from silver, the clearing
on a computed assessment and review points, and a review round from draw to decision."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from jobs import lake
from jobs.clearing import run as clearing
from jobs.dip import catalogue, points, special_review, year

D = Decimal
DISCHARGES = (
    "case_id string, hospital_code string, person_key string, discharge_year int, "
    "admission_date date, discharge_date date, principal_dx string, "
    "procedures array<string>, total_cost decimal(18,2), fund_paid decimal(18,2), "
    "self_paid decimal(18,2)"
)


def _case(case_id, hospital, year_, cost="100.00", person=None, discharged=None):
    discharged = discharged or date(year_, 3, 5)
    cost = D(cost)
    fund = (cost * D("0.7")).quantize(D("0.01"))
    return (
        case_id,
        hospital,
        person or f"p-{case_id}",
        year_,
        date(year_, discharged.month, 1),
        discharged,
        "K35.8",
        ["47.09"],
        cost,
        fund,
        cost - fund,
    )


def _lake(spark, cfg, cases_2025, extra=()):
    """15 base cases of 2024 at H3 (cost 100: M = 100, rw 1000, K3 = 1), the given 2025 cases,
    three hospitals (H3 level 3, H2 level 2 with no base case: K = 1, H9 level 1)."""
    cases = [_case(f"b{i:02d}", "H3", 2024) for i in range(15)] + list(cases_2025)
    spark.createDataFrame(cases, DISCHARGES).write.format("delta").save(
        lake.table_path(cfg, "silver", "discharges")
    )
    spark.createDataFrame(
        [("47.09", "S", "阑尾切除术")], "code string, class string, name_zh string"
    ).write.format("delta").save(lake.table_path(cfg, "silver", "procedure_classes"))
    spark.createDataFrame(
        [("H3", "hospital", 3), ("H2", "hospital", 2), ("H9", "hospital", 1)],
        "institution_code string, type string, level int",
    ).write.format("delta").save(lake.table_path(cfg, "silver", "institutions"))
    spark.createDataFrame([("K35.8", "急性阑尾炎")], "code string, name_zh string").write.format(
        "delta"
    ).save(lake.table_path(cfg, "silver", "icd10_codes"))
    for table, rows, schema in extra:
        spark.createDataFrame(rows, schema).write.format("delta").save(
            lake.table_path(cfg, "silver", table)
        )
    catalogue.run(spark, cfg, catalogue.Params(2025))
    points.run(spark, cfg, 2025)


PREPAYMENTS = "record_id string, hospital_code string, year int, month int, amount decimal(18,2)"
BUDGETS = "record_id string, year int, budget decimal(18,2), deposit_rate decimal(6,4)"


@pytest.fixture(scope="module")
def months(spark, tmp_path_factory):
    """2025: y1, y2 at H3 discharged in January, y3 at H2 in March; all normal, 1000 points.
    Budget 1200.00, deposit 5%; H3 was prepaid 40.00 in each of January and February."""
    from jobs import config

    cfg = config.load({"home": str(tmp_path_factory.mktemp("months"))})
    _lake(
        spark,
        cfg,
        [
            _case("y1", "H3", 2025, discharged=date(2025, 1, 10)),
            _case("y2", "H3", 2025, discharged=date(2025, 1, 25)),
            _case("y3", "H2", 2025, discharged=date(2025, 3, 5)),
        ],
        extra=[
            ("fund_budgets", [("B1", 2025, D("1200.00"), D("0.0500"))], BUDGETS),
            (
                "prepayments",
                [("F1", "H3", 2025, 1, D("40.00")), ("F2", "H3", 2025, 2, D("40.00"))],
                PREPAYMENTS,
            ),
        ],
    )
    return cfg


def _proposals(spark, cfg, month):
    rows = lake.read_version(spark, lake.table_path(cfg, "gold", "dip_prepayment_proposals"))
    return {
        r.hospital_code: (
            r.ytd_points,
            r.ytd_gross,
            r.deposit,
            r.prepaid_to_date,
            r.proposed,
            r.pv_est,
        )
        for r in rows.filter(F.col("month") == month).collect()
    }


def test_the_months_proposal_reads_the_year_to_date_from_silver(spark, months):
    """January: only H3 has points (2000). B × 1/12 = 100.00, all H3's; 5% held: 95.00;
    nothing prepaid before January. r = 140/200 = 0.7: pv_est = 100 / 0.7 / 2000 = 0.071429.

    March: H3 2000, H2 1000 points; B × 3/12 = 300.00 -> 200.00 and 100.00; held 10.00 and
    5.00; H3 was prepaid 80.00 in January and February: 190.00 − 80.00 = 110.00; H2 95.00.
    pv_est = 300 / 0.7 / 3000 = 0.142857.
    """
    year.proposal_run(spark, months, 2025, 1)
    summary = year.proposal_run(spark, months, 2025, 3)
    assert _proposals(spark, months, 1) == {
        "H3": (D("2000.0000"), D("100.00"), D("5.00"), D("0.00"), D("95.00"), D("0.071429")),
    }
    assert _proposals(spark, months, 3) == {
        "H3": (D("2000.0000"), D("200.00"), D("10.00"), D("80.00"), D("110.00"), D("0.142857")),
        "H2": (D("1000.0000"), D("100.00"), D("5.00"), D("0.00"), D("95.00"), D("0.142857")),
    }
    assert summary["proposed"] == "205.00" and summary["deposit"] == "15.00"
    path = lake.table_path(months, "gold", "dip_prepayment_proposals")
    before = lake.read_version(spark, path).orderBy("month", "hospital_code").collect()
    again = year.proposal_run(spark, months, 2025, 3)
    assert again["run_id"] == summary["run_id"]
    assert lake.read_version(spark, path).orderBy("month", "hospital_code").collect() == before


def test_a_proposal_without_points_or_a_month_is_refused(spark, months):
    with pytest.raises(year.YearJobRefused, match="no case points of 2026"):
        year.proposal_run(spark, months, 2026, 1)
    with pytest.raises(year.YearJobRefused, match="month 13"):
        year.proposal_run(spark, months, 2025, 13)


ASSESSMENT = (
    "year int, hospital_code string, level int, score int, coefficient decimal(6,4), "
    "deductions array<struct<id:string,indicator:string,value:double,threshold:double,"
    "points:int>>, scheme_version string, run_id string, input_versions string"
)
OUTCOMES = (
    "year int, case_id string, hospital_code string, approvals int, passed string, "
    "median_approved_cost decimal(18,2), total_cost decimal(18,2), points decimal(18,4), "
    "review_points decimal(18,4), run_id string, input_versions string"
)


def test_the_clearing_on_a_computed_assessment_and_review_points(spark, months):
    """H3 has the quality department's 0.9500 (the feed wins); H2 none, so the computed 0.9700
    with its two deductions; H9 neither: 1. Special review gave y3 1500 points instead of 1000.

    ΣP = 3500, r = 0.7, budget 1000: G_H3 = 571.428… -> 571.43 (the spare fen: remainder
    0.0086 against H2's 0.0014), G_H2 = 428.57. H2: round(428.57 × 0.97, 2) = 415.71 (415.7129).
    """
    spark.createDataFrame(
        [("S1", "H3", 2025, D("0.9500"))],
        "record_id string, hospital_code string, year int, coefficient decimal(6,4)",
    ).write.format("delta").save(lake.table_path(months, "silver", "assessment_scores"))
    spark.createDataFrame(
        [
            (2025, "H3", 3, 100, D("1.0000"), [], "2025.1", "a", "{}"),
            (
                2025,
                "H2",
                2,
                70,
                D("0.9700"),
                [
                    ("cost_level", "cost_index", 1.31, 1.2, 2),
                    ("fraud", "confirmed_fraud_cases", 5.0, 0.0, 25),
                ],
                "2025.1",
                "a",
                "{}",
            ),
        ],
        ASSESSMENT,
    ).write.format("delta").save(lake.table_path(months, "gold", "dip_assessment"))
    spark.createDataFrame(
        [
            (
                2025,
                "y3",
                "H2",
                2,
                "passed",
                D("150.00"),
                D("100.00"),
                D("1000.0000"),
                D("1500.0000"),
                "r",
                "{}",
            )
        ],
        OUTCOMES,
    ).write.format("delta").save(lake.table_path(months, "gold", "special_review_outcomes"))

    # H2 keeps 101.50 + 40.25 of the fund's procurement saving of 2025 (its 2024 one is not
    # this clearing's); it is paid beside the clearing, outside the budget.
    spark.createDataFrame(
        [
            (2025, "H2", "G0001", D("101.50")),
            (2025, "H2", "G0002", D("40.25")),
            (2024, "H2", "G0001", D("7.00")),
        ],
        "contract_year long, hospital_code string, group_id string, retained decimal(18,2)",
    ).write.format("delta").save(lake.table_path(months, "gold", "vbp_surplus_retention"))

    _, result = clearing.run(spark, months, 2025, "1000.00", dry_run=True)
    assert {h.hospital_code: h.assessment_coef for h in result.hospitals}["H2"] == D("1.0000")

    run_id, result = clearing.run(spark, months, 2025, "1000.00", assessment="computed")
    assert result.total_points == D("3500.0000")
    got = {h.hospital_code: h for h in result.hospitals}
    assert (got["H3"].gross_fund, got["H3"].assessment_coef) == (D("571.43"), D("0.9500"))
    assert (got["H2"].gross_fund, got["H2"].assessment_coef) == (D("428.57"), D("0.9700"))
    assert got["H2"].settlement == D("415.71")
    assert sum(h.gross_fund for h in result.hospitals) == D("1000.00")
    rows = lake.read_version(spark, lake.table_path(months, "gold", "dip_clearing_hospital"))
    mine = {r.hospital_code: r for r in rows.filter(F.col("run_id") == run_id).collect()}
    assert {
        h: (r.assessment_source, r.review_cases, r.review_adjustment, r.procurement_retention)
        for h, r in mine.items()
    } == {
        "H3": ("feed", 0, D("0.0000"), D("0.00")),
        "H2": ("computed", 1, D("500.0000"), D("141.75")),
    }
    facts = json.loads((months.reports / run_id / "report.json").read_text(encoding="utf-8"))
    h2 = next(h for h in facts["data"]["hospitals"] if h["hospital_code"] == "H2")
    assert h2["procurement_retention"] == "141.75"
    assert [d["indicator"] for d in h2["assessment_deductions"]] == [
        "cost_index",
        "confirmed_fraud_cases",
    ]
    with pytest.raises(clearing.ClearingRefused, match="unknown assessment"):
        clearing.run(spark, months, 2025, "1000.00", assessment="typed-in")
    # An outcome decided on other points than the case has now (recomputed since) is stale.
    spark.createDataFrame(
        [(2025, "y3", "H2", 2, "passed", D("150.00"), D("100.00"), D("999.0000"),
          D("1500.0000"), "r", "{}")],
        OUTCOMES,
    ).write.format("delta").mode("overwrite").save(
        lake.table_path(months, "gold", "special_review_outcomes")
    )  # fmt: skip
    with pytest.raises(clearing.ClearingRefused, match="review apply --year 2025"):
        clearing.run(spark, months, 2025, "1000.00", dry_run=True)


EXPERTS = (
    "record_id string, expert_id string, field string, institution_code string, title string, "
    "active_from date, active_to date"
)
APPLICATIONS = (
    "record_id string, case_id string, hospital_code string, reason string, applied_at timestamp"
)
DECISIONS = (
    "record_id string, case_id string, expert_id string, decision string, "
    "approved_cost decimal(18,2), decided_at timestamp, source_file string"
)


@pytest.fixture(scope="module")
def round_lake(spark, tmp_path_factory):
    """2025: 396 normal cases at H3 (1000 points each) and four at H2 costing 300 (ratio 3:
    high, 1000 × (3 − 1) = 2000 points): N = 400, at most ⌊0.005 × 400⌋ = 2 candidates.

    Experts of digestive (K35.8's chapter): E1 of H2 (the cases' own hospital), E2 and E4 of
    H3, E3 and E5 of H9, E6 of H3 retired before the draw; E7 a surgeon.
    """

    from jobs import config

    cfg = config.load({"home": str(tmp_path_factory.mktemp("review"))})
    cases = [_case(f"n{i:03d}", "H3", 2025) for i in range(396)]
    cases += [_case(f"h{i}", "H2", 2025, cost="300.00") for i in range(1, 5)]
    experts = [
        ("X1", "E1", "digestive", "H2", "主任医师", date(2020, 1, 1), None),
        ("X2", "E2", "digestive", "H3", "主任医师", date(2020, 1, 1), None),
        ("X3", "E3", "digestive", "H9", "副主任医师", date(2020, 1, 1), None),
        ("X4", "E4", "digestive", "H3", "主任医师", date(2020, 1, 1), None),
        ("X5", "E5", "digestive", "H9", "主任医师", date(2020, 1, 1), None),
        ("X6", "E6", "digestive", "H3", "主任医师", date(2020, 1, 1), date(2025, 2, 1)),
        ("X7", "E7", "surgery", "H9", "主任医师", date(2020, 1, 1), None),
    ]
    at = datetime(2025, 3, 20, 9, 0)
    applications = [
        ("A1", "h2", "H2", "病情危重", at),
        ("A2", "h1", "H2", "多器官衰竭", at.replace(day=21)),
        ("A3", "n001", "H3", "长期住院", at),  # a normal case
        ("A4", "zz9", "H2", "病情危重", at),  # no such case
        ("A5", "h3", "H3", "病情危重", at),  # h3 is H2's
        ("A6", "h2", "H2", "病情危重", at.replace(day=22)),  # applied twice
    ]
    _lake(
        spark,
        cfg,
        cases,
        extra=[
            ("experts", experts, EXPERTS),
            ("special_review_applications", applications, APPLICATIONS),
        ],
    )
    return cfg


def _rows(spark, cfg, table):
    return lake.read_version(spark, lake.table_path(cfg, "gold", table)).collect()


def test_a_review_round_from_draw_to_decision(spark, round_lake):
    drawn = special_review.assign(spark, round_lake, 2025, on=date(2025, 3, 31), seed=7)
    assert (drawn["assigned"], drawn["limit"]) == (2, 2)
    status = {
        (r.case_id, r.status, r.reason)
        for r in _rows(spark, round_lake, "special_review_candidates")
    }
    assert status == {
        ("h2", "assigned", None),  # applied first
        ("h1", "assigned", None),
        ("n001", "refused", "not_high"),
        ("zz9", "refused", "unknown_case"),
        ("h3", "refused", "hospital_mismatch"),
        ("h2", "refused", "already_applied"),
    }
    panels: dict[str, list[str]] = {}
    for r in _rows(spark, round_lake, "special_review_assignments"):
        panels.setdefault(r.case_id, []).append(r.expert_id)
        assert (r.seed, r.field, r.hospital_code) == (7, "digestive", "H2")
    assert sorted(panels) == ["h1", "h2"]
    for experts in panels.values():
        # Not of H2 (E1), not retired (E6), not of another field (E7): from E2–E5.
        assert len(set(experts)) == 3 and set(experts) <= {"E2", "E3", "E4", "E5"}
    # Cap ⌈3 × 2 / 5⌉ + 1 = 3 (five digestive experts active on the day): never exceeded.
    assert max(sum(e in p for p in panels.values()) for e in ("E2", "E3", "E4", "E5")) <= 3
    sheet = special_review.sheet_path(round_lake, 2025, "2025-03-31").read_text()
    assert sheet.count("\n") == 7 and "300.00" in sheet

    again = special_review.assign(spark, round_lake, 2025, on=date(2025, 3, 31), seed=99)
    assert again["already_drawn"] and again["seed"] == 7  # a drawn round is never redrawn

    a, b, c = panels["h1"]
    other = next(e for e in ("E2", "E3", "E4", "E5") if e not in panels["h2"])
    t = datetime(2025, 4, 10, 15, 0)
    decisions = [
        ("d1", "h1", a, "approve", D("280.00"), t, "f"),
        ("d2", "h1", b, "approve", D("260.00"), t, "f"),
        ("d3", "h1", c, "reject", None, t, "f"),
        ("d4", "h2", panels["h2"][0], "approve", D("250.00"), t, "f"),
        ("d5", "h2", panels["h2"][1], "approve", D("400.00"), t, "f"),  # above the billed 300
        ("d6", "h2", other, "approve", D("200.00"), t, "f"),  # not on h2's panel
        ("d7", "h1", a, "reject", None, t, "f"),  # a second decision by the same expert
        ("d8", "n005", a, "approve", D("90.00"), t, "f"),  # not in review
    ]
    spark.createDataFrame(decisions, DECISIONS).write.format("delta").save(
        lake.table_path(round_lake, "silver", "special_review_decisions")
    )
    applied = special_review.apply(spark, round_lake, 2025)
    outcomes = {r.case_id: r for r in _rows(spark, round_lake, "special_review_outcomes")}
    # h1: approvals 280 and 260, median 270: round(1000 × 1 × 270 / 100, 4) = 2700.
    assert (outcomes["h1"].passed, outcomes["h1"].approvals) == ("passed", 2)
    assert (outcomes["h1"].median_approved_cost, outcomes["h1"].review_points) == (
        D("270.00"),
        D("2700.0000"),
    )
    # h2: one usable approval (400 is above the bill, the third is not its expert's): points.
    assert (outcomes["h2"].passed, outcomes["h2"].review_points) == ("not_passed", D("2000.0000"))
    assert applied["refused"] == {
        "approved_above_billed": 1,
        "case_not_in_review": 1,
        "duplicate_decision": 1,
        "expert_not_assigned": 1,
    }
    quarantined = lake.read_version(
        spark, lake.table_path(round_lake, "quarantine", "special_review_decisions")
    ).collect()
    assert {(q.record_id, q.reasons[0]) for q in quarantined} == {
        ("d5", "approved_above_billed"),
        ("d6", "expert_not_assigned"),
        ("d7", "duplicate_decision"),
        ("d8", "case_not_in_review"),
    }
    special_review.apply(spark, round_lake, 2025)  # a rerun: the same rows, no second copy
    assert (
        len(
            lake.read_version(
                spark, lake.table_path(round_lake, "quarantine", "special_review_decisions")
            ).collect()
        )
        == 4
    )

    # The clearing counts h1's 2700 review points: 396 × 1000 + 2700 + 3 × 2000.
    _, result = clearing.run(spark, round_lake, 2025, "100000.00", dry_run=True)
    assert result.total_points == D("404700.0000")
    assert sum(h.gross_fund for h in result.hospitals) == D("100000.00")


def test_the_review_field_of_a_diagnosis():
    assert special_review.field_of("K35.8") == "digestive"
    assert special_review.field_of("C34.1") == "oncology"
    assert special_review.field_of("O80") == "obstetrics_gynaecology"
    assert special_review.field_of("") is None
