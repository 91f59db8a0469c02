"""Supervision indicators (SPEC 9.2) on a handful of cases, every figure worked by hand.

Year 2025. H1 and H2 are of level 3, H3 of level 2. Matched cases:

|case|hosp|type|rw|class|person|stay|los|dx|cost|self|procedures|
|c1|H1|T1|1000|normal|p1|01-01 .. 01-05|4|K35.8|1000|100|47.09 (S)|
|c2|H1|T1|1000|low|p2|02-01 .. 02-02|1|I10|200|50|none|
|c3|H2|T2|2000|high|p1|01-10 .. 01-20|10|K35.1|3000|300|88.01 (D)|
|c4|H2|T1|1000|normal|p3|03-01 .. 05-15|75|I10|1800|0|51.23 (S)|
|c5|H3|T2|2000|normal|p4|04-01 .. 04-03|2|J18.9|1000|100|88.01 (D)|

u1 (H3, unmatched: not counted) is p4 again, 04-10 .. 04-12 with J18.0. So c1 is
readmitted at another hospital (c3: 5 days later, K35), c5 by an unmatched stay
(7 days, J18). Type means: T1 los (4 + 1 + 75) / 3 = 80/3, cost 3000 / 3 = 1000;
T2 los (10 + 2) / 2 = 6, cost 4000 / 2 = 2000.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from jobs.dip import indicators

CASES = [
    # case, hospital, level, type, rw, class, match, person, admitted, discharged, dx, cost,
    # self-paid, procedures
    ("c1", "H1", 3, "T1", "1000", "normal", "core", "p1", "01-01", "01-05", "K35.8", "1000",
     "100", ["47.09"]),
    ("c2", "H1", 3, "T1", "1000", "low", "core", "p2", "02-01", "02-02", "I10", "200", "50", []),
    ("c3", "H2", 3, "T2", "2000", "high", "comprehensive", "p1", "01-10", "01-20", "K35.1",
     "3000", "300", ["88.01"]),
    ("c4", "H2", 3, "T1", "1000", "normal", "core", "p3", "03-01", "05-15", "I10", "1800", "0",
     ["51.23"]),
    ("c5", "H3", 2, "T2", "2000", "normal", "comprehensive", "p4", "04-01", "04-03", "J18.9",
     "1000", "100", ["88.01"]),
    ("u1", "H3", 2, None, "5", "unmatched", "unmatched", "p4", "04-10", "04-12", "J18.0", "500",
     "0", []),
]  # fmt: skip


@pytest.fixture(scope="module")
def got(spark):
    points = spark.createDataFrame(
        [(2025, c, h, lv, t, Decimal(rw), cl, m) for c, h, lv, t, rw, cl, m, *_ in CASES],
        "settlement_year int, case_id string, hospital_code string, level int, dip_code string, "
        "rw decimal(18,4), case_class string, match_kind string",
    )
    day = lambda md: date(2025, int(md[:2]), int(md[3:]))  # noqa: E731
    discharges = spark.createDataFrame(
        [
            (c, h, p, day(a), day(d), dx, Decimal(cost), Decimal(paid), px)
            for c, h, _, _, _, _, _, p, a, d, dx, cost, paid, px in CASES
        ],
        "case_id string, hospital_code string, person_key string, admission_date date, "
        "discharge_date date, principal_dx string, total_cost decimal(18,2), "
        "self_paid decimal(18,2), procedures array<string>",
    )
    classes = spark.createDataFrame(
        [("47.09", "S"), ("51.23", "S"), ("88.01", "D")], "code string, class string"
    )
    quarantine = spark.createDataFrame(
        [("H1", 1, 10), ("H3", 0, 5)], "hospital_code string, quarantined long, received long"
    )
    rows = indicators.compute(points, discharges, classes, quarantine, 2025).collect()
    return {r.hospital_code: r.asDict() for r in rows}


EXPECTED = {
    # cmi, time_index, cost_index, readmit, low, high, long_stay, self_pay, quarantine, short
    # H1: time (4 + 1) / (80/3) / 2 = 0.09375; cost (1 + 0.2) / 2; self 150 / 1200
    "H1": (1.0, 0.09375, 0.6, 0.5, 0.5, 0.0, 0.0, 0.125, 0.1, 0.5),
    # H2: time (10/6 + 75·3/80) / 2 = 215/96; cost (1.5 + 1.8) / 2; self 300 / 4800
    "H2": (1.5, 215 / 96, 1.65, 0.0, 0.0, 0.5, 0.5, 0.0625, 0.0, 0.0),
    # H3: time 2/6; cost 0.5; los 2 with a diagnostic procedure only: a short admission
    "H3": (2.0, 1 / 3, 0.5, 1.0, 0.0, 0.0, 0.0, 0.1, 0.0, 1.0),
}


@pytest.mark.parametrize("hospital", sorted(EXPECTED))
def test_each_indicator_by_hand(got, hospital):
    row = got[hospital]
    assert row["year"] == 2025
    assert row["cases"] == {"H1": 2, "H2": 2, "H3": 1}[hospital]  # u1 is not matched
    assert row["inbound_cases"] == 0  # lists without the column: the city's own insured
    for name, expected in zip(indicators.INDICATORS, EXPECTED[hospital], strict=True):
        assert row[name] == pytest.approx(expected, abs=1e-12), name


def test_percentiles_rank_within_the_level(got):
    h1, h2, h3 = got["H1"], got["H2"], got["H3"]
    # Level 3 holds H1 and H2: the higher value ranks 1, the lower 0, a tie both 0.
    assert (h1["cmi_pct"], h2["cmi_pct"]) == (0.0, 1.0)
    assert (h1["readmit_rate_pct"], h2["readmit_rate_pct"]) == (1.0, 0.0)
    assert (h1["quarantine_rate_pct"], h2["quarantine_rate_pct"]) == (1.0, 0.0)
    assert (h1["low_rate_pct"], h2["high_rate_pct"]) == (1.0, 1.0)
    # H3 is alone in level 2.
    assert all(h3[f"{name}_pct"] == 0.0 for name in indicators.INDICATORS)


def test_a_readmission_needs_the_same_diag3_and_the_window(spark):
    """p1 comes back after 16 days (outside 15) and p2 within 15 days with another diag3."""
    points = spark.createDataFrame(
        [(2025, "a", "H1", 3, "T", Decimal(1000), "normal", "core"),
         (2025, "b", "H1", 3, "T", Decimal(1000), "normal", "core")],
        "settlement_year int, case_id string, hospital_code string, level int, dip_code string, "
        "rw decimal(18,4), case_class string, match_kind string",
    )  # fmt: skip
    stays = [
        ("a", "H1", "p1", date(2025, 1, 1), date(2025, 1, 3), "K35.8"),
        ("a2", "H2", "p1", date(2025, 1, 19), date(2025, 1, 20), "K35.8"),  # 16 days later
        ("b", "H1", "p2", date(2025, 1, 1), date(2025, 1, 3), "K35.8"),
        ("b2", "H2", "p2", date(2025, 1, 10), date(2025, 1, 12), "K80.1"),  # another diag3
    ]
    discharges = spark.createDataFrame(
        [(*s, Decimal(100), Decimal(0), []) for s in stays],
        "case_id string, hospital_code string, person_key string, admission_date date, "
        "discharge_date date, principal_dx string, total_cost decimal(18,2), "
        "self_paid decimal(18,2), procedures array<string>",
    )
    classes = spark.createDataFrame([("47.09", "S")], "code string, class string")
    quarantine = spark.createDataFrame([], "hospital_code string, quarantined long, received long")
    (row,) = indicators.compute(points, discharges, classes, quarantine, 2025).collect()
    assert row.readmit_rate == 0.0
    again = indicators.compute(
        points, discharges, classes, quarantine, 2025, indicators.IndicatorParams(readmit_days=16)
    ).collect()
    assert again[0].readmit_rate == 0.5  # a's return on day 16 counts with a 16-day window


def test_inbound_cases_are_their_own_column(spark):
    """SPEC 12.3: c2 and c3 are of people insured elsewhere (Quanzhou, Ganzhou); c1's list
    says the city's own code, c4's says none (a list from before the column)."""
    points = spark.createDataFrame(
        [(2025, c, h, 3, "T1", Decimal("1000"), "normal", "core") for c, h in
         (("c1", "H1"), ("c2", "H1"), ("c3", "H2"), ("c4", "H2"))],
        "settlement_year int, case_id string, hospital_code string, level int, dip_code string, "
        "rw decimal(18,4), case_class string, match_kind string",
    )  # fmt: skip
    discharges = spark.createDataFrame(
        [
            (c, h, c, date(2025, 3, 1), date(2025, 3, 5), "K35.8", Decimal("100"),
             Decimal("10"), [], region)
            for c, h, region in (
                ("c1", "H1", "350200"), ("c2", "H1", "350500"), ("c3", "H2", "360700"),
                ("c4", "H2", None),
            )
        ],
        "case_id string, hospital_code string, person_key string, admission_date date, "
        "discharge_date date, principal_dx string, total_cost decimal(18,2), "
        "self_paid decimal(18,2), procedures array<string>, insured_region string",
    )  # fmt: skip
    classes = spark.createDataFrame([], "code string, class string")
    quarantine = spark.createDataFrame([], "hospital_code string, quarantined long, received long")
    rows = indicators.compute(points, discharges, classes, quarantine, 2025).collect()
    assert {r.hospital_code: (r.cases, r.inbound_cases) for r in rows} == {
        "H1": (2, 1),
        "H2": (2, 1),
    }
