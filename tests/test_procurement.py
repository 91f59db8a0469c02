"""The procurement wing's arithmetic by hand (SPEC 10): completion against schedule,
surplus retention at the gate's boundaries, payments on day 30 and day 31, price lights."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from jobs.procurement import completion, lights, retention, scheme, settlement
from jobs.procurement.scheme import SchemeError, load_scheme

D = Decimal
SCHEME = load_scheme()

AGREEMENTS = (
    "hospital_code string, group_id string, contract_year int, agreed_qty long, "
    "contract_start date, contract_end date"
)
RECEIPTS = "hospital_code string, group_id string, is_winner boolean, qty long, accepted_on date"


def test_the_default_scheme_holds_the_specs_parameters():
    assert (SCHEME.yellow_below, SCHEME.red_below) == (D("0.8"), D("0.5"))
    assert (SCHEME.fund_share, SCHEME.retention_rate) == (D("0.70"), D("0.50"))
    assert (SCHEME.completion_gate, SCHEME.max_non_winner) == (D("0.8"), D("0.5"))
    assert (SCHEME.pay_days, SCHEME.green_max, SCHEME.yellow_max) == (30, D("1.10"), D("1.30"))


def test_an_unknown_or_inconsistent_scheme_is_refused(tmp_path):
    with pytest.raises(SchemeError, match=r"no procurement scheme '1999\.1'"):
        load_scheme("1999.1")
    bad = (scheme.SCHEMES / "procurement-2025.1.yaml").read_text()
    (tmp_path / "procurement-9.1.yaml").write_text(
        bad.replace('version: "2025.1"', 'version: "9.1"').replace(
            'green_max: "1.10"', 'green_max: "1.50"'
        )
    )
    with pytest.raises(SchemeError, match="green_max <= yellow_max"):
        load_scheme("9.1", tmp_path)


def _completion(spark, agreements, receipts, as_of):
    rows = completion.completion(
        spark.createDataFrame(agreements, AGREEMENTS),
        spark.createDataFrame(receipts, RECEIPTS),
        as_of,
        SCHEME,
    ).collect()
    return {(r.hospital_code, r.group_id): r for r in rows}


def test_completion_and_schedule_by_hand(spark):
    year = (date(2025, 1, 1), date(2025, 12, 31))
    agreements = [
        ("H1", "G1", 2025, 36_500, *year),
        ("H2", "G1", 2025, 1_000, *year),
        ("H3", "G1", 2026, 1_000, date(2026, 1, 1), date(2026, 12, 31)),
    ]
    receipts = [
        # H1: 500 boxes of 28 tablets of the winner (14,000 tablets), 2,000 of another maker
        ("H1", "G1", True, 14_000, date(2025, 3, 2)),
        ("H1", "G1", False, 2_000, date(2025, 5, 20)),
        ("H1", "G1", True, 5_000, date(2025, 7, 2)),  # after the run date
        ("H1", "G1", True, 9_000, date(2024, 12, 31)),  # before the contract
        ("H1", "G2", True, 7_000, date(2025, 3, 2)),  # another group
        ("H2", "G1", True, 100, date(2025, 6, 30)),
    ]
    got = _completion(spark, agreements, receipts, date(2025, 7, 1))
    h1 = got["H1", "G1"]
    # 1 Jan .. 1 Jul: 31+28+31+30+31+30+1 = 182 of 365 days
    assert h1.schedule == D("0.498630")  # 0.4986301...
    assert (h1.winner_qty, h1.other_qty) == (14_000, 2_000)
    assert h1.completion == D("0.383562")  # 14000/36500 = 0.3835616...
    assert h1.non_winner_share == D("0.125000")
    assert h1.light == "yellow"  # 0.3836 < 0.8 × 0.4986 = 0.3989, not < 0.2493
    h2 = got["H2", "G1"]
    assert (h2.completion, h2.light) == (D("0.100000"), "red")  # 0.1 < 0.5 × 0.4986
    h3 = got["H3", "G1"]  # not started: nothing is due yet
    assert (h3.schedule, h3.completion, h3.non_winner_share, h3.light) == (
        D("0.000000"),
        D("0.000000"),
        None,
        "green",
    )
    assert h1.as_of == date(2025, 7, 1) and h1.scheme_version == "2025.1"


@pytest.mark.parametrize(
    ("winner_qty", "light"), [(400, "green"), (399, "yellow"), (250, "yellow"), (249, "red")]
)
def test_the_completion_light_compares_exactly_at_its_boundary(spark, winner_qty, light):
    # 100 days (1 Jan .. 10 Apr), 50 elapsed: schedule 0.5, so yellow below 0.4, red below 0.25
    agreements = [("H1", "G1", 2025, 1_000, date(2025, 1, 1), date(2025, 4, 10))]
    receipts = [("H1", "G1", True, winner_qty, date(2025, 1, 15))]
    row = _completion(spark, agreements, receipts, date(2025, 2, 19))["H1", "G1"]
    assert row.schedule == D("0.500000")
    assert row.light == light


def _contract(completion_, share="0.100000"):
    return {
        "contract_year": 2025,
        "hospital_code": "H1",
        "group_id": "G1",
        "completion": D(completion_),
        "non_winner_share": None if share is None else D(share),
    }


# Base: 1,000 tablets for 500.0000 yuan (0.5 each); the year's winners: 2,000 at 0.2.
# Saving = 0.70 × (0.5 × 2000 − 400) = 420.00; retained = 420 × 0.50 × gate.
BASE = retention.Purchases(1_000, D("500.0000"))
WINNERS = retention.Purchases(2_000, D("400.0000"))


@pytest.mark.parametrize(
    ("completion_", "share", "gate", "retained"),
    [
        ("0.790000", "0.100000", "0.000000", "0.00"),
        ("0.800000", "0.100000", "0.800000", "168.00"),
        ("0.950000", "0.100000", "0.950000", "199.50"),
        ("1.000000", "0.100000", "1.000000", "210.00"),
        ("1.200000", "0.100000", "1.000000", "210.00"),
        ("1.000000", "0.500000", "1.000000", "210.00"),  # at the limit: allowed
        ("1.000000", "0.500001", "0.000000", "0.00"),  # too many non-winners
    ],
)
def test_retention_at_the_completion_gate(completion_, share, gate, retained):
    row = retention.retain(_contract(completion_, share), BASE, None, WINNERS, SCHEME)
    assert row["base_price"] == D("0.500000") and row["base_source"] == "own"
    assert row["saving"] == D("420.00")
    assert row["gate"] == D(gate)
    assert row["retained"] == D(retained)


def test_retention_keeps_the_base_price_exact_and_falls_back_to_the_city():
    # Own base: 3 tablets for 1.0000 yuan, a third each; winners: 7 at 0.1000.
    # saving = 0.7 × (7/3 − 0.7) = 1.143333...; retained = 0.5 × that = 0.5716... -> 0.57
    row = retention.retain(
        _contract("1.000000"),
        retention.Purchases(3, D("1.0000")),
        None,
        retention.Purchases(7, D("0.7000")),
        SCHEME,
    )
    assert (row["base_price"], row["saving"], row["retained"]) == (
        D("0.333333"),
        D("1.14"),
        D("0.57"),
    )
    # The hospital bought none of the group before: the city's mean price is its base.
    row = retention.retain(
        _contract("1.000000"),
        retention.Purchases(0, D("0")),
        retention.Purchases(4_000, D("1000.0000")),
        WINNERS,
        SCHEME,
    )
    # 0.7 × (0.25 × 2000 − 400) = 70.00; retained 35.00
    assert (row["base_source"], row["base_price"], row["saving"], row["retained"]) == (
        "city",
        D("0.250000"),
        D("70.00"),
        D("35.00"),
    )
    # Winners dearer than the base price: no saving, never a negative one.
    row = retention.retain(
        _contract("1.000000"), BASE, None, retention.Purchases(100, D("60.0000")), SCHEME
    )
    assert (row["saving"], row["retained"]) == (D("0.00"), D("0.00"))
    # No base anywhere: nothing to measure a saving against.
    row = retention.retain(_contract("1.000000"), None, None, WINNERS, SCHEME)
    assert (row["base_price"], row["base_source"], row["retained"]) == (None, None, D("0.00"))


DELIVERIES = (
    "delivery_id string, distributor_code string, hospital_code string, "
    "accepted_on date, due decimal(18,2)"
)
PAYMENTS = "delivery_id string, amount decimal(18,2), paid_on date, payer string"


def test_a_payment_on_day_30_is_on_time_and_on_day_31_late(spark):
    deliveries = [
        ("D1", "PS01", "H1", date(2025, 3, 1), D("100.00")),  # paid on day 30
        ("D2", "PS01", "H1", date(2025, 3, 1), D("200.00")),  # paid on day 31
        ("D3", "PS01", "H2", date(2025, 3, 10), D("50.00")),  # 30.00 paid, the rest waits
        ("D4", "PS02", "H2", date(2025, 4, 20), D("80.00")),  # not due yet
        ("D5", "PS02", "H2", date(2025, 5, 2), D("10.00")),  # accepted after the run date
    ]
    payments = [
        ("D1", D("100.00"), date(2025, 3, 31), "fund"),
        ("D2", D("200.00"), date(2025, 4, 1), "fund"),
        ("D3", D("30.00"), date(2025, 4, 1), "hospital"),
        ("D4", D("80.00"), date(2025, 5, 2), "hospital"),  # after the run date: not yet
    ]
    as_of = date(2025, 5, 1)
    status = settlement.delivery_status(
        spark.createDataFrame(deliveries, DELIVERIES),
        spark.createDataFrame(payments, PAYMENTS),
        as_of,
        SCHEME,
    )
    per = {r.delivery_id: r for r in status.collect()}
    assert set(per) == {"D1", "D2", "D3", "D4"}
    assert (per["D1"].paid_on_time, per["D1"].paid_late, per["D1"].days_overdue) == (
        D("100.00"),
        D("0.00"),
        0,
    )
    assert (per["D2"].paid_on_time, per["D2"].paid_late, per["D2"].days_overdue) == (
        D("0.00"),
        D("200.00"),
        1,
    )
    # D3: due by 9 Apr, 30.00 paid on 1 Apr, 20.00 still unpaid on 1 May: 22 days overdue
    assert (
        per["D3"].paid_on_time,
        per["D3"].unpaid,
        per["D3"].overdue,
        per["D3"].days_overdue,
    ) == (
        D("30.00"),
        D("20.00"),
        D("20.00"),
        22,
    )
    # D4: due by 20 May, its payment comes after the run date; H2 usually pays itself
    assert (per["D4"].unpaid, per["D4"].overdue, per["D4"].days_overdue, per["D4"].payer) == (
        D("80.00"),
        D("0.00"),
        0,
        "hospital",
    )
    rows = {
        (r.level, r.party_code, r.month): r
        for r in settlement.settlement(status, as_of, SCHEME).collect()
    }
    ps01 = rows["distributor", "PS01", "2025-03"]
    assert (ps01.deliveries, ps01.due, ps01.paid_on_time, ps01.paid_late, ps01.unpaid) == (
        3,
        D("350.00"),
        D("130.00"),
        D("200.00"),
        D("20.00"),
    )
    assert (ps01.overdue, ps01.late_deliveries, ps01.max_days_overdue) == (D("20.00"), 2, 22)
    assert rows["distributor", "PS02", "2025-04"].unpaid == D("80.00")
    # Hospital rows: only what H2 pays itself; H1's deliveries are the fund's
    assert {k for k in rows if k[0] == "hospital"} == {
        ("hospital", "H2", "2025-03"),
        ("hospital", "H2", "2025-04"),
    }
    assert rows["hospital", "H2", "2025-03"].max_days_overdue == 22


def test_paid_twice_is_overpaid_not_a_negative_debt(spark):
    deliveries = [("D1", "PS01", "H1", date(2025, 3, 1), D("56.00"))]
    payments = [
        ("D1", D("56.00"), date(2025, 3, 10), "fund"),
        ("D1", D("56.00"), date(2025, 3, 12), "hospital"),  # sent twice, by another payer
    ]
    status = settlement.delivery_status(
        spark.createDataFrame(deliveries, DELIVERIES),
        spark.createDataFrame(payments, PAYMENTS),
        date(2025, 5, 1),
        SCHEME,
    )
    row = status.first()
    assert (row.paid_on_time, row.unpaid, row.overdue, row.overpaid) == (
        D("112.00"),
        D("0.00"),
        D("0.00"),
        D("56.00"),
    )
    assert row.payer == "hospital"  # equal payments: the payer's name breaks the tie
    got = settlement.settlement(status, date(2025, 5, 1), SCHEME).collect()
    assert {(r.level, r.overpaid) for r in got} == {
        ("distributor", D("56.00")),
        ("hospital", D("56.00")),
    }


CATALOGUE = (
    "product_code string, group_id string, is_winner boolean, winning_price decimal(18,4), "
    "reference_price decimal(18,4), valid_from date, valid_to date"
)
PURCHASES = (
    "month string, institution_code string, product_code string, qty long, amount decimal(18,4)"
)


def test_price_lights_by_hand(spark):
    year = (date(2025, 1, 1), date(2025, 12, 31))
    catalogue = [
        ("W", "G1", True, D("0.2000"), D("0.3000"), *year),
        ("N", "G1", False, None, D("0.5000"), *year),
    ]
    purchases = [
        ("2025-03", "H1", "W", 1_000, D("210.0000")),  # winner at 1.05 × its price: red
        ("2025-03", "H2", "W", 1_000, D("200.0000")),  # at its winning price
        ("2025-03", "H1", "N", 100, D("55.0000")),  # ratio 1.10 exactly: green
        ("2025-03", "H2", "N", 100, D("55.0100")),  # 1.1002: yellow
        ("2025-03", "P1", "N", 3, D("1.9500")),  # 0.65 = 1.30 exactly: yellow
        ("2025-03", "P2", "N", 3, D("1.9600")),  # 0.653333: red
        ("2025-03", "H3", "N", 50, D("20.0000")),  # two orders of a month: 60/100
        ("2025-03", "H3", "N", 50, D("40.0000")),
        ("2025-03", "H1", "X", 10, D("9.0000")),  # not in the catalogue: no light
        ("2026-01", "H1", "N", 10, D("9.0000")),  # the catalogue of 2025 has ended
    ]
    rows = lights.price_lights(
        spark.createDataFrame(purchases, PURCHASES),
        spark.createDataFrame(catalogue, CATALOGUE),
        SCHEME,
    ).collect()
    got = {(r.institution_code, r.product_code): r for r in rows}
    assert set(got) == {
        ("H1", "W"),
        ("H2", "W"),
        ("H1", "N"),
        ("H2", "N"),
        ("P1", "N"),
        ("P2", "N"),
        ("H3", "N"),
    }
    w = got["H1", "W"]
    assert (w.unit_price, w.reference, w.ratio, w.light, w.reason) == (
        D("0.210000"),
        D("0.2000"),
        D("1.050000"),
        "red",
        "above_winning_price",
    )
    assert (got["H2", "W"].ratio, got["H2", "W"].light, got["H2", "W"].reason) == (
        D("1.000000"),
        "green",
        None,
    )
    assert (got["H1", "N"].ratio, got["H1", "N"].light) == (D("1.100000"), "green")
    assert (got["H2", "N"].ratio, got["H2", "N"].light, got["H2", "N"].reason) == (
        D("1.100200"),
        "yellow",
        "above_green_max",
    )
    assert (got["P1", "N"].unit_price, got["P1", "N"].ratio, got["P1", "N"].light) == (
        D("0.650000"),
        D("1.300000"),
        "yellow",
    )
    assert (
        got["P2", "N"].unit_price,
        got["P2", "N"].ratio,
        got["P2", "N"].light,
        got["P2", "N"].reason,
    ) == (
        D("0.653333"),
        D("1.306667"),
        "red",
        "above_yellow_max",
    )
    h3 = got["H3", "N"]
    assert (h3.qty, h3.unit_price, h3.ratio, h3.light) == (
        100,
        D("0.600000"),
        D("1.200000"),
        "yellow",
    )


def test_the_catalogue_in_force_in_a_month_is_its_newest_version(spark):
    catalogue = [
        # open-ended 2025 listing, and a 2026 price beside it: January 2026 meets both
        ("N", "G1", False, None, D("0.5000"), date(2025, 1, 1), None),
        ("N", "G1", False, None, D("0.4000"), date(2026, 1, 1), date(2026, 12, 31)),
        # listed on 15 March: lit in March
        ("L", "G2", False, None, D("1.0000"), date(2025, 3, 15), None),
    ]
    purchases = [
        ("2026-01", "H1", "N", 100, D("50.0000")),  # 0.50 against the 2026 0.40: 1.25 yellow
        ("2025-03", "H1", "L", 10, D("10.0000")),
        ("2025-03", "P1", "N", 5, D("-2.5000")),  # a month of returns: no price to light
    ]
    rows = lights.price_lights(
        spark.createDataFrame(purchases, PURCHASES),
        spark.createDataFrame(catalogue, CATALOGUE),
        SCHEME,
    ).collect()
    got = {(r.month, r.product_code): r for r in rows}
    assert len(rows) == 2
    assert (got["2026-01", "N"].reference, got["2026-01", "N"].light) == (D("0.4000"), "yellow")
    assert got["2025-03", "L"].ratio == D("1.000000")


def _shape(schema) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema]


def test_each_computation_writes_the_columns_its_contract_declares(spark):
    """The StructTypes beside each function are the gold tables' documented schemas."""
    year = (date(2025, 1, 1), date(2025, 12, 31))
    done = completion.completion(
        spark.createDataFrame([("H1", "G1", 2025, 10, *year)], AGREEMENTS),
        spark.createDataFrame([("H1", "G1", True, 5, date(2025, 3, 1))], RECEIPTS),
        date(2025, 6, 30),
        SCHEME,
    )
    assert _shape(done.schema) == _shape(completion.COMPLETION_SCHEMA)
    status = settlement.delivery_status(
        spark.createDataFrame([("D1", "PS01", "H1", date(2025, 3, 1), D("1.00"))], DELIVERIES),
        spark.createDataFrame([("D1", D("1.00"), date(2025, 3, 2), "fund")], PAYMENTS),
        date(2025, 6, 30),
        SCHEME,
    )
    paid = settlement.settlement(status, date(2025, 6, 30), SCHEME)
    assert _shape(paid.schema) == _shape(settlement.SETTLEMENT_SCHEMA)
    lit = lights.price_lights(
        spark.createDataFrame([("2025-03", "H1", "W", 10, D("2.0000"))], PURCHASES),
        spark.createDataFrame([("W", "G1", True, D("0.2000"), D("0.3000"), *year)], CATALOGUE),
        SCHEME,
    )
    assert _shape(lit.schema) == _shape(lights.LIGHTS_SCHEMA)
