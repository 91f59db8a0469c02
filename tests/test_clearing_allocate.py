"""SPEC 5.3 arithmetic, by hand: largest remainder, both PV methods, refusals, Σ gross = budget."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.clearing.allocate import (
    ClearingRefused,
    HospitalInput,
    clear,
    largest_remainder,
    parse_budget,
)

D = Decimal


def test_ties_in_the_largest_remainder_go_by_hospital_code():
    third = Fraction(1, 3)
    got = largest_remainder({"H3": third, "H1": third, "H2": third}, D("1.00"))
    assert got == {"H1": D("0.34"), "H2": D("0.33"), "H3": D("0.33")}


def test_the_largest_remainder_wins_before_the_code():
    # 0.333… and 0.666… of a fen left over: the larger remainder takes the one fen.
    got = largest_remainder({"A": Fraction(100, 3), "B": Fraction(200, 3)}, D("100.00"))
    assert got == {"A": D("33.33"), "B": D("66.67")}


def test_ratio_method_by_hand():
    """Budget 1000; A 1 point, B 2 points; Σ fund 70 of Σ cost 100, so r = 0.7.

    PV = (1000 / 0.7) / 3 = 476.190476…; G_A = 333.33…, G_B = 666.66…, the spare fen to B.
    A: assessment 0.9, deductions 10, prepaid 300: settlement = round(333.33·0.9, 2) − 10
       = 300.00 − 10 = 290.00 (299.997 rounds up); payable = −10.00 (A pays back).
    """
    result = clear(
        D("1000.00"),
        "ratio",
        {
            "A": HospitalInput(
                cases=1,
                points=D("1"),
                assessment=D("0.9"),
                deductions=D("10"),
                prepaid=D("300"),
            ),
            "B": HospitalInput(cases=2, points=D("2")),
        },
        fund_paid=D("70"),
        total_cost=D("100"),
    )
    assert (result.r, result.point_value) == (D("0.700000"), D("476.190476"))
    a, b = result.hospitals
    assert (a.gross_fund, a.settlement, a.payable) == (D("333.33"), D("290.00"), D("-10.00"))
    assert (b.gross_fund, b.settlement, b.payable) == (D("666.67"), D("666.67"), D("666.67"))
    assert result.retained == D("1000.00") - D("290.00") - D("666.67")


def test_budget_plus_self_pay_with_a_negative_gross():
    """B = 1000; A 1 point and 300 self paid, B 5 points: S = 300, PV = 1300 / 6 = 216.66…

    G_A = 216.66… − 300 = −83.33… -> floor −83.34 (remainder 2/3 fen);
    G_B = 1083.33… -> 1083.33 (remainder 1/3 fen); one fen left -> A: −83.33. Σ = 1000.00.
    """
    result = clear(
        D("1000.00"),
        "budget_plus_self_pay",
        {
            "A": HospitalInput(cases=1, points=D("1"), self_paid=D("300")),
            "B": HospitalInput(cases=5, points=D("5")),
        },
        fund_paid=D("700"),
        total_cost=D("1000"),
    )
    assert result.point_value == D("216.666667")
    assert [h.gross_fund for h in result.hospitals] == [D("-83.33"), D("1083.33")]
    assert sum(h.gross_fund for h in result.hospitals) == D("1000.00")


def test_a_hospital_with_only_prepayments_clears_at_zero_gross():
    result = clear(
        D("500.00"),
        "ratio",
        {"A": HospitalInput(points=D("10"), cases=3), "Z": HospitalInput(prepaid=D("20"))},
        fund_paid=D("1"),
        total_cost=D("2"),
    )
    z = result.hospitals[1]
    assert (z.gross_fund, z.settlement, z.payable) == (D("0.00"), D("0.00"), D("-20.00"))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (None, "no budget"),
        ("", "no budget"),
        ("abc", "not a number"),
        ("0", "more than 0"),
        ("-5", "more than 0"),
        ("1000.005", "fractions of a fen"),
        ("NaN", "not a finite"),
        ("inf", "not a finite"),
    ],
)
def test_budget_refusals(text, why):
    with pytest.raises(ClearingRefused, match=why):
        parse_budget(text)


def test_budget_accepts_grouped_yuan():
    assert parse_budget("1,850,000,000.5") == D("1850000000.50")


points = st.decimals(min_value=D("0"), max_value=D("100000"), places=4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(points, st.decimals(min_value=0, max_value=10**6, places=2)),
        min_size=1,
        max_size=40,
    ),
    st.decimals(min_value=D("0.01"), max_value=D("10000000000"), places=2),
    st.sampled_from(["ratio", "budget_plus_self_pay"]),
)
def test_gross_always_adds_up_to_the_budget(hospitals, budget, method):
    if sum(p for p, _ in hospitals) == 0:
        hospitals = [(D("1"), hospitals[0][1]), *hospitals[1:]]
    inputs = {
        f"H{i:03d}": HospitalInput(cases=1, points=p, self_paid=s)
        for i, (p, s) in enumerate(hospitals)
    }
    result = clear(budget, method, inputs, fund_paid=D("70"), total_cost=D("100"))
    assert sum(h.gross_fund for h in result.hospitals) == budget
    assert all(h.gross_fund == h.gross_fund.quantize(D("0.01")) for h in result.hospitals)
