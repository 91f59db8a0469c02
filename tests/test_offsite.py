"""The off-site wing's checks by hand (SPEC 12): a statement that matches to the fen, one
settlement missing on each side, one fen of difference, a settlement in the wrong month
or cleared twice, the last second of a month, each filing status at and past its limit,
and the destinations' cost against their peers."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from jobs.offsite import destinations, policy, reconcile, scheme
from jobs.offsite.scheme import SchemeError, load_scheme

D = Decimal
SCHEME = load_scheme()

SETTLEMENTS = (
    "settlement_id string, direction string, insured_region string, treating_region string, "
    "institution_code string, case_id string, visit_type string, filing string, "
    "principal_dx string, total_cost decimal(14,2), eligible_cost decimal(14,2), "
    "deductible decimal(14,2), fund_paid decimal(14,2), settled_at string"
)
KEYS = "month string, region string, direction string"
LINES = f"{KEYS}, settlement_id string, fund_amount decimal(14,2)"
STATEMENTS = f"{KEYS}, settlements long, fund_amount decimal(18,2)"


def _settlements(spark, rows):
    frame = spark.createDataFrame(rows, SETTLEMENTS)
    # Read in the session's zone (Asia/Shanghai), as ingest reads the platform's local times.
    return frame.withColumn("settled_at", F.col("settled_at").cast("timestamp")).withColumn(
        "person_key", F.concat(F.lit("p-"), "settlement_id")
    )


def _ours(spark, rows):
    return reconcile.our_settlements(_settlements(spark, rows))


def _out(
    sid,
    region,
    fund,
    at,
    inst="X",
    visit="inpatient",
    filing="resident",
    dx="I21.0",
    total="1000.00",
    eligible="1000.00",
    deductible="0.00",
):
    return (
        sid,
        "outbound",
        "350200",
        region,
        inst,
        f"c{sid}",
        visit,
        filing,
        dx,
        D(total),
        D(eligible),
        D(deductible),
        D(fund),
        at,
    )


def _in(sid, region, fund, at, inst="H1", case=None, visit="inpatient"):
    return (
        sid,
        "inbound",
        region,
        "350200",
        inst,
        case or f"c{sid}",
        visit,
        "resident",
        "J18.9",
        D("1000.00"),
        D("1000.00"),
        D("0.00"),
        D(fund),
        at,
    )


# ---- the scheme -------------------------------------------------------------------------


def test_the_default_scheme_holds_the_specs_limits():
    assert SCHEME.share("inpatient", "resident") == D("0.85")
    assert SCHEME.share("inpatient", "referral") == D("0.85")
    assert SCHEME.share("inpatient", "temporary") == D("0.75")  # 10 points below resident
    assert SCHEME.share("inpatient", "unfiled") == D("0.65")  # 20 points below
    assert SCHEME.share("outpatient", "unfiled") == D("0.50")


@pytest.mark.parametrize(
    ("filing", "at_limit", "past_limit"),
    [("resident", 0, 1), ("referral", 0, 1), ("temporary", 10, 11), ("unfiled", 20, 21)],
)
def test_a_cut_at_its_limit_loads_and_past_it_is_refused(tmp_path, filing, at_limit, past_limit):
    text = (scheme.SCHEMES / "offsite-2025.1.yaml").read_text()
    start = text.index("cut_points:")
    end = text.index("# The national policy")

    def write(version: str, cut: int) -> None:
        block = text[start:end]
        lines = [
            f"  {filing}: {cut}" if line.strip().startswith(f"{filing}:") else line
            for line in block.splitlines()
        ]
        body = text[:start] + "\n".join(lines) + "\n" + text[end:]
        body = body.replace('version: "2025.1"', f'version: "{version}"')
        (tmp_path / f"offsite-{version}.yaml").write_text(body)

    write("9.1", at_limit)
    assert load_scheme("9.1", tmp_path).cut_points[filing] == at_limit
    write("9.2", past_limit)
    with pytest.raises(SchemeError, match=f"cut_points {filing} = {past_limit} goes past"):
        load_scheme("9.2", tmp_path)


def test_an_unknown_scheme_is_refused():
    with pytest.raises(SchemeError, match=r"no off-site scheme '1999\.1'"):
        load_scheme("1999.1")


# ---- 12.2 policy ------------------------------------------------------------------------


def _breaks(spark, rows):
    frame = reconcile.our_settlements(_settlements(spark, rows))
    found = policy.policy_breaks(frame, policy.shares_frame(spark, SCHEME), SCHEME.version)
    return {r.settlement_id: r for r in found.collect()}


def test_each_filing_paid_at_its_share_passes_and_one_fen_either_way_breaks(spark):
    # eligible 10,000.00 less the deductible 800.00: 9,200.00 at the filing's share.
    common = dict(eligible="10000.00", deductible="800.00", total="12000.00")
    rows = [
        _out("r", "310000", "7820.00", "2025-03-01 10:00:00", filing="resident", **common),
        _out("f", "310000", "7820.00", "2025-03-01 10:00:00", filing="referral", **common),
        _out("t", "310000", "6900.00", "2025-03-01 10:00:00", filing="temporary", **common),
        _out("u", "310000", "5980.00", "2025-03-01 10:00:00", filing="unfiled", **common),
        # past the limits: a temporary visit paid as a resident's, one cut 11 points...
        _out("t_up", "310000", "7820.00", "2025-03-01 10:00:00", filing="temporary", **common),
        _out("t_11", "310000", "6808.00", "2025-03-01 10:00:00", filing="temporary", **common),
        # ...an unfiled one a fen above its share, and one 21 points below resident.
        _out("u_fen", "310000", "5980.01", "2025-03-01 10:00:00", filing="unfiled", **common),
        _out("u_21", "310000", "5888.00", "2025-03-01 10:00:00", filing="unfiled", **common),
        _out("r_fen", "310000", "7819.99", "2025-03-01 10:00:00", filing="resident", **common),
        # an inbound visit is the other region's policy, not checked here
        _in("in", "350500", "1.00", "2025-03-01 10:00:00"),
    ]
    found = _breaks(spark, rows)
    assert set(found) == {"t_up", "t_11", "u_fen", "u_21", "r_fen"}
    assert (found["t_up"].kind, found["t_up"].excess) == ("above_filing_share", D("920.00"))
    assert (found["t_11"].kind, found["t_11"].excess) == ("below_filing_share", D("-92.00"))
    assert (found["u_fen"].kind, found["u_fen"].excess) == ("above_filing_share", D("0.01"))
    assert (found["u_21"].kind, found["u_21"].excess) == ("below_filing_share", D("-92.00"))
    assert (found["r_fen"].kind, found["r_fen"].excess) == ("below_filing_share", D("-0.01"))
    assert found["t_11"].base == D("9200.00")
    assert found["t_11"].filing_share == D("0.75") and found["t_11"].share_paid == D("0.74")
    assert found["t_up"].expected_fund == D("6900.00") and found["t_up"].month == "2025-03"


def test_the_expected_fund_is_rounded_half_up_once(spark):
    # 100.10 × 0.85 = 85.085: half-up 85.09 (half-even would say 85.08);
    # 1,234.57 × 0.75 = 925.9275 -> 925.93; a deductible above the eligible cost: base 0.
    rows = [
        _out("a", "310000", "85.09", "2025-03-01 10:00:00", eligible="100.10"),
        _out("b", "310000", "85.08", "2025-03-01 10:00:00", eligible="100.10"),
        _out(
            "c", "310000", "925.93", "2025-03-01 10:00:00", eligible="1234.57", filing="temporary"
        ),
        _out("d", "310000", "0.00", "2025-03-01 10:00:00", eligible="500.00", deductible="800.00"),
        _out("e", "310000", "0.01", "2025-03-01 10:00:00", eligible="500.00", deductible="800.00"),
    ]
    found = _breaks(spark, rows)
    assert set(found) == {"b", "e"}
    assert found["b"].expected_fund == D("85.09")
    assert found["e"].base == D("0.00") and found["e"].share_paid is None


# ---- 12.1 reconciliation ----------------------------------------------------------------


def test_a_settlement_belongs_to_the_month_of_its_local_time(spark):
    rows = [
        _out("last", "310000", "1.00", "2025-03-31 23:59:59"),
        _out("next", "310000", "1.00", "2025-04-01 00:00:00"),
        # The same two instants written in UTC: the city's clock is 8 hours ahead.
        _out("last_utc", "310000", "1.00", "2025-03-31T15:59:59Z"),
        _out("next_utc", "310000", "1.00", "2025-03-31T16:00:00Z"),
    ]
    ours = reconcile.our_settlements(_settlements(spark, rows)).collect()
    months = {r.settlement_id: r.month for r in ours}
    assert months == {
        "last": "2025-03",
        "next": "2025-04",
        "last_utc": "2025-03",
        "next_utc": "2025-04",
    }


def _march(spark, lines_extra=()):
    ours = reconcile.our_settlements(
        _settlements(
            spark,
            [
                _out("S1", "310000", "1000.00", "2025-03-05 10:00:00"),
                _out("S2", "310000", "250.50", "2025-03-31 23:59:59"),
                _out("S3", "310000", "99.99", "2025-03-10 09:00:00"),
                _in("S4", "350500", "500.00", "2025-03-12 11:00:00"),
                _in("S5", "350500", "300.00", "2025-02-28 23:00:00"),
                _out("S6", "310000", "40.00", "2025-04-01 00:00:00"),
            ],
        )
    )
    lines = spark.createDataFrame(
        [
            ("2025-03", "310000", "outbound", "S1", D("1000.00")),
            ("2025-03", "310000", "outbound", "S2", D("250.50")),
            ("2025-03", "350500", "inbound", "S4", D("500.01")),
            ("2025-03", "350500", "inbound", "S5", D("300.00")),
            ("2025-03", "310000", "outbound", "S7", D("77.70")),
            ("2025-04", "310000", "outbound", "S6", D("40.00")),
            *lines_extra,
        ],
        LINES,
    )
    statements = spark.createDataFrame(
        [
            ("2025-03", "310000", "outbound", 3, D("1328.20")),
            ("2025-03", "350500", "inbound", 2, D("800.01")),
            ("2025-04", "310000", "outbound", 1, D("40.00")),
        ],
        STATEMENTS,
    )
    return ours, lines, statements


def test_a_statement_that_matches_to_the_fen_has_no_difference(spark):
    ours = reconcile.our_settlements(
        _settlements(
            spark,
            [
                _out("A", "310000", "1000.00", "2025-05-02 10:00:00"),
                _in("B", "350500", "20.05", "2025-05-31 23:59:59"),
            ],
        )
    )
    lines = spark.createDataFrame(
        [
            ("2025-05", "310000", "outbound", "A", D("1000.00")),
            ("2025-05", "350500", "inbound", "B", D("20.05")),
        ],
        LINES,
    )
    statements = spark.createDataFrame(
        [
            ("2025-05", "310000", "outbound", 1, D("1000.00")),
            ("2025-05", "350500", "inbound", 1, D("20.05")),
        ],
        STATEMENTS,
    )
    found = reconcile.statement_differences(ours, lines, "2025-05")
    assert found.count() == 0
    rows = reconcile.reconciliation(ours, statements, lines, found, "2025-05").collect()
    rows = {r.region: r for r in rows}
    assert rows["310000"].outbound_difference == D("0.00")
    assert rows["310000"].net_owed == D("-1000.00") and rows["350500"].net_owed == D("20.05")
    assert rows["350500"].inbound_settlements == rows["350500"].inbound_statement_settlements == 1
    assert rows["310000"].differences == rows["350500"].differences == 0


def test_each_kind_of_difference_by_hand(spark):
    ours, lines, _ = _march(spark)
    found = reconcile.statement_differences(ours, lines, "2025-03")
    found = reconcile.largest_first(found).collect()
    got = [(r.settlement_id, r.kind, r.difference, r.amount) for r in found]
    assert got == [
        ("S5", "wrong_month", D("300.00"), D("300.00")),
        ("S3", "missing_in_statement", D("-99.99"), D("99.99")),
        ("S7", "missing_in_ours", D("77.70"), D("77.70")),
        ("S4", "amount_differs", D("0.01"), D("0.01")),
    ]
    s5 = found[0]
    assert (s5.our_month, s5.statement_month, s5.region, s5.direction) == (
        "2025-02",
        "2025-03",
        "350500",
        "inbound",
    )
    # February sees the same settlement from its side: settled then, absent from its statement.
    february = reconcile.statement_differences(ours, lines, "2025-02").collect()
    assert [(r.settlement_id, r.kind, r.difference) for r in february] == [
        ("S5", "wrong_month", D("-300.00"))
    ]
    # April's settlement at midnight matches April's line.
    assert reconcile.statement_differences(ours, lines, "2025-04").count() == 0


def test_the_months_row_per_region_adds_up_to_its_differences(spark):
    ours, lines, statements = _march(spark)
    found = reconcile.statement_differences(ours, lines, "2025-03")
    rows = reconcile.reconciliation(ours, statements, lines, found, "2025-03").collect()
    rows = {r.region: r for r in rows}
    shanghai, quanzhou = rows["310000"], rows["350500"]
    # ours: S1 + S2 + S3 = 1,350.49; the statement: S1 + S2 + S7 = 1,328.20
    assert (shanghai.outbound_settlements, shanghai.outbound_fund) == (3, D("1350.49"))
    assert shanghai.outbound_statement_settlements == 3
    assert shanghai.outbound_statement_fund == D("1328.20")
    assert shanghai.outbound_statement_lines_fund == D("1328.20")
    assert shanghai.outbound_difference == D("-22.29")  # -99.99 + 77.70
    assert (shanghai.inbound_settlements, shanghai.inbound_fund) == (0, D("0.00"))
    assert (shanghai.net_owed, shanghai.net_owed_ours) == (D("-1328.20"), D("-1350.49"))
    # ours: S4 only (S5 was settled in February); the statement: S4 + S5 = 800.01
    assert (quanzhou.inbound_settlements, quanzhou.inbound_fund) == (1, D("500.00"))
    assert quanzhou.inbound_difference == D("300.01")  # 300.00 + 0.01
    assert (quanzhou.net_owed, quanzhou.net_owed_ours) == (D("800.01"), D("500.00"))
    assert (shanghai.differences, quanzhou.differences) == (2, 2)


def test_a_settlement_cleared_twice(spark):
    ours, lines, _ = _march(spark, [("2025-04", "310000", "outbound", "S1", D("1000.00"))])
    april = reconcile.statement_differences(ours, lines, "2025-04").collect()
    april = {r.settlement_id: r for r in april}
    assert (april["S1"].kind, april["S1"].difference) == ("cleared_twice", D("1000.00"))
    march = reconcile.statement_differences(ours, lines, "2025-03").collect()
    march = {r.settlement_id: r for r in march}
    assert (march["S1"].kind, march["S1"].difference) == ("cleared_twice", D("0.00"))


def test_inbound_stays_are_matched_to_the_settlement_lists_by_case(spark):
    ours = reconcile.our_settlements(
        _settlements(
            spark,
            [
                _in("S4", "350500", "500.00", "2025-03-12 11:00:00", inst="H1", case="C4"),
                _in("S9", "360700", "800.00", "2025-03-20 11:00:00", inst="H1", case="C9"),
                # an outpatient visit has no settlement list
                _in(
                    "S10",
                    "360700",
                    "80.00",
                    "2025-03-20 11:00:00",
                    inst="H2",
                    case="C10",
                    visit="outpatient",
                ),
            ],
        )
    )
    lists = spark.createDataFrame(
        [
            ("H1", "C4", "350500", "2025-03-12", D("500.00")),
            ("H2", "C11", "360700", "2025-03-30", D("650.00")),  # never settled on the platform
            ("H2", "C12", "350200", "2025-03-30", D("90.00")),  # our own insured
            ("H2", "C13", None, "2025-03-30", D("90.00")),  # a list from before the column
            ("H2", "C14", "360700", "2025-04-02", D("70.00")),  # April's
        ],
        "hospital_code string, case_id string, insured_region string, discharge_date string, "
        "fund_paid decimal(14,2)",
    ).withColumn("discharge_date", F.col("discharge_date").cast("date"))
    found = reconcile.case_differences(ours, lists, "350200", "2025-03").collect()
    got = sorted((r.kind, r.institution_code, r.case_id, r.region, r.amount) for r in found)
    assert got == [
        ("inbound_not_in_lists", "H1", "C9", "360700", D("800.00")),
        ("list_without_settlement", "H2", "C11", "360700", D("650.00")),
    ]


# ---- 12.3 destinations ------------------------------------------------------------------


def test_destination_cost_against_the_other_destinations_by_hand(spark):
    rows = [
        _out("1", "310000", "0.00", "2025-03-01 10:00:00", inst="X", dx="I21.0", total="30000.00"),
        _out("2", "310000", "0.00", "2025-03-01 10:00:00", inst="Y", dx="I21.1", total="20000.00"),
        _out("3", "110000", "0.00", "2025-03-01 10:00:00", inst="Z", dx="I21.9", total="10000.00"),
        _out("4", "310000", "0.00", "2025-04-01 10:00:00", inst="X", dx="J18.0", total="5000.00"),
        _out("5", "310000", "0.00", "2025-04-01 10:00:00", inst="Y", dx="J18.9", total="4000.00"),
        # another year, and an outpatient visit: not counted
        _out("6", "310000", "0.00", "2024-04-01 10:00:00", inst="X", dx="J18.9", total="99999.00"),
        _out("7", "310000", "0.00", "2025-04-01 10:00:00", inst="X", dx="J18.9", total="99999.00",
             visit="outpatient"),
    ]  # fmt: skip
    loose = dataclasses.replace(
        SCHEME, destination_ratio=D("1.4"), destination_min_cases=1, destination_min_peers=2
    )
    found = {
        r.institution_code: r
        for r in destinations.destination_costs(
            _ours(spark, rows), 2025, "2025-12", loose
        ).collect()
    }
    # Two peers needed. X's I21 stay against Y's and Z's (20,000, 10,000): 15,000; its J18
    # stay has one peer (Y's 4,000), its chapter J the same one, so all of the others' stays
    # (20,000, 10,000, 4,000): 10,000. X: 35,000 / 25,000.
    x = found["X"]
    assert (x.stays, x.total_cost, x.peer_cost) == (2, D("35000.00"), 25000.0)
    assert x.cost_ratio == 1.4 and x.listed
    # Y: I21 against X's and Z's, 20,000; J18 against all of X's and Z's (30,000, 10,000,
    # 5,000), 10,000. Z: I21 against X's and Y's, 25,000.
    assert (found["Y"].peer_cost, found["Y"].cost_ratio, found["Y"].listed) == (30000.0, 0.8, False)
    assert (found["Z"].peer_cost, found["Z"].cost_ratio, found["Z"].listed) == (25000.0, 0.4, False)
    # The default scheme wants 5 peers: no destination has 5 other stays, so no ratio.
    strict = destinations.destination_costs(_ours(spark, rows), 2025, "2025-12", SCHEME)
    assert {
        (r.institution_code, r.peer_cost, r.cost_ratio, r.listed) for r in strict.collect()
    } == {
        ("X", None, None, False),
        ("Y", None, None, False),
        ("Z", None, None, False),
    }


def _shape(schema) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema]


def test_each_computation_writes_the_columns_its_contract_declares(spark):
    """The StructTypes beside each function are the gold tables' documented schemas."""
    ours, lines, statements = _march(spark)
    differences = reconcile.statement_differences(ours, lines, "2025-03")
    assert _shape(differences.schema) == _shape(reconcile.DIFFERENCES_SCHEMA)
    lists = spark.createDataFrame(
        [("H1", "S4", "350500", None, D("500.00"))],
        "hospital_code string, case_id string, insured_region string, discharge_date date, "
        "fund_paid decimal(14,2)",
    )
    by_case = reconcile.case_differences(ours, lists, "350200", "2025-03")
    assert _shape(by_case.schema) == _shape(reconcile.DIFFERENCES_SCHEMA)
    regions = reconcile.reconciliation(ours, statements, lines, differences, "2025-03")
    assert _shape(regions.schema) == _shape(reconcile.RECONCILIATION_SCHEMA)
    breaks = policy.policy_breaks(ours, policy.shares_frame(spark, SCHEME), SCHEME.version)
    assert _shape(breaks.schema) == _shape(policy.BREAKS_SCHEMA)
    places = destinations.destination_costs(ours, 2025, "2025-12", SCHEME)
    assert _shape(places.schema) == _shape(destinations.DESTINATIONS_SCHEMA)
