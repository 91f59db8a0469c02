"""The clearing job on a tiny lake: hand-computed statements, drafts, publishing, refusals."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from jobs import lake, pipeline
from jobs.clearing import monitoring
from jobs.clearing import run as clearing
from jobs.clearing.allocate import ClearingRefused
from jobs.dip import catalogue, points

D = Decimal


def _case(case_id, hospital, year, person="p1", admitted=None, discharged=None):
    admitted = admitted or date(year, 3, 1)
    discharged = discharged or date(year, 3, 5)
    return (case_id, hospital, person, year, admitted, discharged, "K35.8", ["47.09"],
            D("100.00"), D("70.00"), D("30.00"))  # fmt: skip


@pytest.fixture(scope="module")
def tiny(spark, tmp_path_factory):
    """2024: 15 cases of K35.8|47.09 at H3, cost 100 each -> M = 100, rw 1000, K3 = 1.

    2025: two cases at H3 (level 3) and one at H2 (level 2, no base cases: K = 1), all at
    cost 100, fund paid 70: every case is normal with 1000 points. P_H3 = 2000, P_H2 = 1000.
    H9 (level 1) has only prepayments. H3: assessment 0.95, one deduction of 100, twelve
    monthly prepayments of 40.
    """
    from jobs import config

    cfg = config.load({"home": str(tmp_path_factory.mktemp("clearing"))})
    cases = [_case(f"b{i:02d}", "H3", 2024, person=f"q{i}") for i in range(15)]
    cases += [
        _case("y1", "H3", 2025, admitted=date(2025, 1, 1), discharged=date(2025, 1, 10)),
        _case("y2", "H3", 2025, admitted=date(2025, 1, 20), discharged=date(2025, 1, 25)),
        _case("y3", "H2", 2025, person="p2"),
    ]
    spark.createDataFrame(
        cases,
        "case_id string, hospital_code string, person_key string, discharge_year int, "
        "admission_date date, discharge_date date, principal_dx string, "
        "procedures array<string>, total_cost decimal(18,2), fund_paid decimal(18,2), "
        "self_paid decimal(18,2)",
    ).write.format("delta").save(lake.table_path(cfg, "silver", "discharges"))
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
    spark.createDataFrame(
        [("S1", "H3", 2025, D("0.9500"))],
        "record_id string, hospital_code string, year int, coefficient decimal(6,4)",
    ).write.format("delta").save(lake.table_path(cfg, "silver", "assessment_scores"))
    spark.createDataFrame(
        [("V1", "H3", 2025, "重复收费", D("100.00"))],
        "record_id string, hospital_code string, year int, violation string, amount decimal(18,2)",
    ).write.format("delta").save(lake.table_path(cfg, "silver", "audit_deductions"))
    spark.createDataFrame(
        [(f"F{m}", "H3", 2025, m, D("40.00")) for m in range(1, 13)]
        + [("F99", "H9", 2025, 1, D("50.00"))],
        "record_id string, hospital_code string, year int, month int, amount decimal(18,2)",
    ).write.format("delta").save(lake.table_path(cfg, "silver", "prepayments"))
    catalogue.run(spark, cfg, catalogue.Params(2025))
    points.run(spark, cfg, 2025)
    return cfg


def _hospitals(spark, cfg, run_id):
    rows = lake.read_version(spark, lake.table_path(cfg, "gold", "dip_clearing_hospital"))
    return {r.hospital_code: r for r in rows.filter(F.col("run_id") == run_id).collect()}


def test_a_draft_by_hand(spark, tiny):
    """ΣP = 3000, r = 0.7: PV = (1000 / 0.7) / 3000 = 0.476190476… -> 0.476190.

    G_H3 = 666.66… and G_H2 = 333.33…; the spare fen goes to H3 (remainder 2/3): 666.67.
    H3: round(666.67 · 0.95, 2) = 633.34 (633.3365), − 100 = 533.34; − 480 prepaid = 53.34.
    H9: gross 0, prepaid 50: payable −50.00.
    """
    run_id, result = clearing.run(spark, tiny, 2025, "1000.00")
    assert (result.r, result.point_value) == (D("0.700000"), D("0.476190"))
    got = _hospitals(spark, tiny, run_id)
    assert {
        h: (r.cases, r.points, r.gross_fund, r.settlement, r.payable) for h, r in got.items()
    } == {
        "H3": (2, D("2000.0000"), D("666.67"), D("533.34"), D("53.34")),
        "H2": (1, D("1000.0000"), D("333.33"), D("333.33"), D("333.33")),
        "H9": (0, D("0.0000"), D("0.00"), D("0.00"), D("-50.00")),
    }
    runs = lake.read_version(spark, lake.table_path(tiny, "gold", "dip_clearing_runs"))
    row = runs.filter(F.col("run_id") == run_id).first()
    assert (row.status, row.budget, row.retained) == ("draft", D("1000.00"), D("133.33"))
    for table in ("gold/dip_case_points", "silver/prepayments", "silver/discharges"):
        assert table in row.input_versions
    facts = json.loads((tiny.reports / run_id / "report.json").read_text(encoding="utf-8"))
    assert facts["status"] == "draft" and facts["reads"] == json.loads(row.input_versions)
    assert pipeline.reports_build(tiny)["broken_links"] == []
    index = (tiny.reports / run_id / "index.html").read_text(encoding="utf-8")
    assert "0.476190" in index and "hospitals/H3.html" in index
    page = (tiny.reports / run_id / "hospitals" / "H3.html").read_text(encoding="utf-8")
    assert "53.34" in page and "../index.html" in page
    statement = (tiny.reports / run_id / "hospitals" / "H3.csv").read_text()
    assert "53.34" in statement


def test_a_dry_run_writes_nothing(spark, tiny):
    path = lake.table_path(tiny, "gold", "dip_clearing_runs")
    before = lake.latest_version(spark, path) if lake.is_table(spark, path) else None
    run_id, result = clearing.run(spark, tiny, 2025, "999.99", "budget_plus_self_pay", True)
    assert run_id is None and sum(h.gross_fund for h in result.hospitals) == D("999.99")
    after = lake.latest_version(spark, path) if lake.is_table(spark, path) else None
    assert before == after


def test_publishing_is_final_and_a_second_publication_needs_a_reason(spark, tiny):
    first, _ = clearing.run(spark, tiny, 2025, "1000.00")
    second, _ = clearing.run(spark, tiny, 2025, "1200.00", "budget_plus_self_pay")
    clearing.publish(spark, tiny, first)
    runs_path = lake.table_path(tiny, "gold", "dip_clearing_runs")
    frozen = lake.read_version(spark, runs_path).filter(F.col("run_id") == first).first()
    with pytest.raises(ClearingRefused, match="already published"):
        clearing.publish(spark, tiny, first)
    with pytest.raises(ClearingRefused, match="needs --reason"):
        clearing.publish(spark, tiny, second)
    message = clearing.publish(spark, tiny, second, reason="budget revised by finance")
    assert f"superseding {first}" in message
    status = {
        run: json.loads((tiny.reports / run / "report.json").read_text())["status"]
        for run in (first, second)
    }
    assert status == {first: "superseded", second: "published"}
    assert lake.read_version(spark, runs_path).filter(F.col("run_id") == first).first() == frozen
    pubs = lake.read_version(
        spark, lake.table_path(tiny, "gold", "dip_clearing_publications")
    ).collect()
    latest = next(p for p in pubs if p.run_id == second)
    assert (latest.supersedes, latest.reason) == (first, "budget revised by finance")
    assert "budget_plus_self_pay" in clearing.show(spark, tiny, 2025)


@pytest.mark.parametrize(
    ("year", "budget", "why"),
    [
        (2025, "0", "more than 0"),
        (2025, "12.345", "fractions of a fen"),
        (2025, "lots", "not a number"),
        (2026, "1000", "no catalogue version 2026"),
    ],
)
def test_refusals_write_nothing(spark, tiny, year, budget, why):
    path = lake.table_path(tiny, "gold", "dip_clearing_runs")
    before = lake.latest_version(spark, path) if lake.is_table(spark, path) else None
    with pytest.raises(ClearingRefused, match=why):
        clearing.run(spark, tiny, year, budget)
    after = lake.latest_version(spark, path) if lake.is_table(spark, path) else None
    assert before == after


def test_an_unknown_run_cannot_be_published(spark, tiny):
    with pytest.raises(ClearingRefused, match="no clearing run"):
        clearing.publish(spark, tiny, "clearing-2025-nope")


def test_inputs_failing_their_suite_are_refused(spark, tiny):
    path = lake.table_path(tiny, "silver", "assessment_scores")
    good = lake.latest_version(spark, path)
    spark.createDataFrame(
        [("S1", "H3", 2025, D("2.5000"))],
        "record_id string, hospital_code string, year int, coefficient decimal(6,4)",
    ).write.format("delta").mode("overwrite").save(path)
    try:
        with pytest.raises(ClearingRefused, match="assessment_scores for 2025 fails its suite"):
            clearing.run(spark, tiny, 2025, "1000")
    finally:
        lake.read_version(spark, path, good).write.format("delta").mode("overwrite").save(path)


def test_points_without_their_discharge_are_refused(spark, tiny):
    path = lake.table_path(tiny, "silver", "discharges")
    good = lake.latest_version(spark, path)
    lake.read_version(spark, path).filter(F.col("case_id") != "y3").write.format("delta").mode(
        "overwrite"
    ).save(path)
    try:
        with pytest.raises(ClearingRefused, match="1 case\\(s\\) with points are not in silver"):
            clearing.run(spark, tiny, 2025, "1000")
    finally:
        lake.read_version(spark, path, good).write.format("delta").mode("overwrite").save(path)


def test_hospital_monitoring(spark, tiny):
    rows = {r.hospital_code: r for r in monitoring.run(spark, tiny, 2025).collect()}
    h3 = rows["H3"]
    # y1 discharged 10 January, y2 admitted 20 January: one readmission in two discharges.
    assert (h3.cases, h3.readmission_rate_15d, h3.case_mix_index) == (2, 0.5, 1000.0)
    assert h3.cost_growth == 0.0  # 100 per case in 2024 and in 2025
    assert rows["H2"].cost_growth is None  # no cases the year before
