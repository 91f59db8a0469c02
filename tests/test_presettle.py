"""The monthly pre-settlement (SPEC 9.1): three hospitals over two months, by hand.

B = 1,200,000.00 yuan, deposit rate 0.05.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from jobs.dip import presettle

B, RATE = D("1200000.00"), D("0.05")


def test_month_one_allocates_to_the_fen_and_holds_the_deposit():
    """B·1/12 = 100,000.00 over H1 100 and H2 200 points (H3 none yet):
    H1 33,333.333… and H2 66,666.666…: floors 33,333.33 + 66,666.66 leave one fen, which
    goes to the larger remainder (H2: .67 fen against .33). H1 payable round(33,333.33 ·
    0.95) = 31,666.66 (31,666.6635), deposit 1,666.67; H2 round(66,666.67 · 0.95) =
    63,333.34 (63,333.3365), deposit 3,333.33. r = 900 / 1000: pv_est = 100,000 / 0.9 /
    300 = 370.370370."""
    got = presettle.propose(1, B, RATE, {"H1": D("100"), "H2": D("200"), "H3": D("0")}, {},
                            D("900"), D("1000"))  # fmt: skip
    rows = {p.hospital_code: p for p in got.proposals}
    assert set(rows) == {"H1", "H2"}
    assert (rows["H1"].ytd_gross, rows["H1"].deposit, rows["H1"].proposed) == (
        D("33333.33"),
        D("1666.67"),
        D("31666.66"),
    )
    assert (rows["H2"].ytd_gross, rows["H2"].deposit, rows["H2"].proposed) == (
        D("66666.67"),
        D("3333.33"),
        D("63333.34"),
    )
    assert sum(p.ytd_gross for p in got.proposals) == D("100000.00")
    assert got.pv_est == D("370.370370")


def test_month_two_subtracts_what_finance_prepaid():
    """B·2/12 = 200,000.00 over 300, 300 and 400 points: 60,000, 60,000 and 80,000 exactly.
    Finance paid H1 the proposal (31,666.66) and H2 less than it would have had (60,000.00
    against 57,000 now due): H1 57,000.00 − 31,666.66 = 25,333.34; H2 57,000 − 60,000 < 0:
    0.00; H3 76,000.00, deposit 4,000.00. r = 0.8: pv_est = 200,000 / 0.8 / 1000 = 250."""
    got = presettle.propose(
        2, B, RATE, {"H1": D("300"), "H2": D("300"), "H3": D("400")},
        {"H1": D("31666.66"), "H2": D("60000.00")}, D("800"), D("1000"),
    )  # fmt: skip
    rows = {p.hospital_code: (p.ytd_gross, p.deposit, p.prepaid_to_date, p.proposed)
            for p in got.proposals}  # fmt: skip
    assert rows == {
        "H1": (D("60000.00"), D("3000.00"), D("31666.66"), D("25333.34")),
        "H2": (D("60000.00"), D("3000.00"), D("60000.00"), D("0.00")),
        "H3": (D("80000.00"), D("4000.00"), D("0.00"), D("76000.00")),
    }
    assert got.pv_est == D("250.000000")


def test_a_month_without_points_or_out_of_range_is_refused():
    with pytest.raises(presettle.PresettlementRefused, match="no case points"):
        presettle.propose(1, B, RATE, {"H1": D("0")}, {}, D("1"), D("1"))
    with pytest.raises(presettle.PresettlementRefused, match="month 13"):
        presettle.propose(13, B, RATE, {"H1": D("1")}, {}, D("1"), D("1"))
