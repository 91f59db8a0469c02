"""The inspection budget is a share: the counts it gives at two scales, worked by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from jobs.fraud import budget


def test_the_shipped_budget_is_a_share_of_institutions_and_of_cases():
    shipped = budget.load()
    assert 0 < shipped.institutions <= 1 and 0 < shipped.cases <= 1
    assert shipped.share("provider") == shipped.institutions
    assert shipped.share("case") == shipped.cases


@pytest.mark.parametrize(
    ("scored", "expected"),
    [
        (25, 3),  # the demo city's hospitals: 10% of 25 is 2.5, rounded up
        (67, 7),  # the small city: 6.7 -> 7
        (297, 30),  # the city: 29.7 -> 30
        (5, 1),  # 0.5 -> 1
        (0, 0),  # nothing scored, nothing to inspect
    ],
)
def test_institutions_at_ten_per_cent(scored, expected):
    assert budget.count_at(Decimal("0.10"), scored) == expected


@pytest.mark.parametrize(
    ("scored", "expected"),
    [
        (1000, 3),  # exactly 3: no float's 3.0000000000000004 rounding up to 4
        (35_508, 107),  # the small city's cases: 106.524 -> 107
        (300_000, 900),
        (10, 1),  # 0.03 -> at least the minimum
    ],
)
def test_cases_at_three_per_mille(scored, expected):
    assert budget.count_at(Decimal("0.003"), scored) == expected


def test_a_minimum_above_the_share_and_never_more_than_scored():
    assert budget.count_at(Decimal("0.01"), 50, minimum=5) == 5
    assert budget.count_at(Decimal("0.01"), 3, minimum=5) == 3


def test_the_same_share_at_two_scales_through_the_file(tmp_path: Path):
    path = tmp_path / "inspection-budget-9.yaml"
    path.write_text("version: '9'\ninstitutions: 0.2\ncases: 0.01\n")
    shares = budget.load(path)
    assert (shares.count("provider", 25), shares.count("provider", 300)) == (5, 60)
    assert (shares.count("case", 4_000), shares.count("case", 400_000)) == (40, 4_000)


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.1", "true", "ten", "null"])
def test_a_share_outside_zero_to_one_is_refused_with_the_field(tmp_path: Path, bad):
    path = tmp_path / "inspection-budget-x.yaml"
    path.write_text(f"institutions: {bad}\ncases: 0.01\n")
    with pytest.raises(budget.BudgetError, match="institutions"):
        budget.load(path)
