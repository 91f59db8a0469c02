"""The monthly pre-settlement (月度预结算, SPEC 9.1), exact: the month's proposal per hospital.

For month m of year Y, from the year-to-date case points (discharges of months
1..m scored with catalogue Y), the year's budget B and deposit rate, and what
finance prepaid in the months before m:

* the year-to-date gross ``G_h`` = round(B × m / 12, 2) × P_h / ΣP, allocated to the
  fen by largest remainder over the hospitals with year-to-date points (the
  clearing's allocation, :func:`jobs.dip.exact.largest_remainder`); B × m / 12 is
  rounded to the fen once first, so the shares add up to an amount that can be paid;
* ``deposit_h`` = G_h − round(G_h × (1 − deposit_rate), 2), held until the clearing;
* ``proposed_h`` = max(0, round(G_h × (1 − deposit_rate), 2) − Σ prepaid_h before m);
* the estimated point value ``pv_est`` = (B × m / 12 / r_ytd) / ΣP, 6 places, with
  r_ytd = Σ fund paid / Σ cost of the year-to-date cases.

A proposal is advice to finance; the clearing uses the prepayments actually made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from jobs import Refused
from jobs.dip.exact import largest_remainder, round_half_up


class PresettlementRefused(Refused):
    """No proposal can be made as asked (no points yet, no budget); the message says why."""


@dataclass(frozen=True)
class Proposal:
    hospital_code: str
    ytd_points: Decimal
    ytd_gross: Decimal
    deposit: Decimal
    prepaid_to_date: Decimal
    proposed: Decimal


@dataclass(frozen=True)
class Month:
    month: int
    pv_est: Decimal
    proposals: tuple[Proposal, ...]


def propose(
    month: int,
    budget: Decimal,
    deposit_rate: Decimal,
    ytd_points: Mapping[str, Decimal],
    prepaid_before: Mapping[str, Decimal],
    fund_paid_ytd: Decimal,
    total_cost_ytd: Decimal,
) -> Month:
    """The proposals of ``month`` for the hospitals with year-to-date points."""
    if not 1 <= month <= 12:
        raise PresettlementRefused(f"month {month} is not 1 to 12")
    points = {h: Fraction(p) for h, p in ytd_points.items() if p > 0}
    total = sum(points.values(), Fraction(0))
    if total <= 0:
        raise PresettlementRefused(f"no case points up to month {month}: nothing to propose")
    if total_cost_ytd <= 0:
        raise PresettlementRefused("the year-to-date cases cost nothing: r is undefined")
    to_date = round_half_up(Fraction(budget) * month / 12, 2)
    gross = largest_remainder(
        {h: Fraction(to_date) * p / total for h, p in points.items()}, to_date
    )
    keep = 1 - Fraction(deposit_rate)
    proposals = []
    for h in sorted(points):
        payable = round_half_up(Fraction(gross[h]) * keep, 2)
        prepaid = Decimal(prepaid_before.get(h, Decimal("0.00"))).quantize(Decimal("0.01"))
        proposals.append(
            Proposal(
                hospital_code=h,
                ytd_points=Decimal(ytd_points[h]),
                ytd_gross=gross[h],
                deposit=gross[h] - payable,
                prepaid_to_date=prepaid,
                proposed=max(Decimal("0.00"), payable - prepaid),
            )
        )
    r = Fraction(fund_paid_ytd) / Fraction(total_cost_ytd)
    pv_est = round_half_up(Fraction(budget) * month / 12 / r / total, 6)
    return Month(month, pv_est, tuple(proposals))
