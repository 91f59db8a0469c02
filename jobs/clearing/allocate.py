"""The clearing arithmetic of SPEC 5.3, exact: fractions in, fens out.

Pure Python over per-hospital aggregates (a city has a few hundred hospitals),
so every figure can be checked by hand. The gross amounts are allocated to the
fen by largest remainder (``dip.exact.largest_remainder``, which the monthly
pre-settlement uses too), which makes Σ gross = budget exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from jobs import Refused
from jobs.dip.exact import largest_remainder, round_half_up
from jobs.terms import PV_METHODS


class ClearingRefused(Refused, ValueError):
    """The clearing will not run as asked; the message says why. Nothing is written."""


def parse_budget(text: str | Decimal | None) -> Decimal:
    """The budget as yuan with at most 2 decimals, strictly positive.

    Text (the form's, the command line's) or a Decimal; never a float, which has
    already lost the fen it was given with.
    """
    if isinstance(text, float):
        raise TypeError(f"a budget is text or Decimal, never a float ({text!r})")
    if text is None or str(text).strip() == "":
        raise ClearingRefused("no budget given: pass --budget in yuan, e.g. --budget 1850000000")
    raw = str(text).strip().replace(",", "").replace("_", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ClearingRefused(f"the budget {text!r} is not a number") from None
    if not value.is_finite():
        raise ClearingRefused(f"the budget {text!r} is not a finite number")
    if value <= 0:
        raise ClearingRefused(f"the budget must be more than 0 yuan, not {value}")
    if value != value.quantize(Decimal("0.01")):
        raise ClearingRefused(f"the budget {value} has fractions of a fen (at most 2 decimals)")
    return value.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class HospitalInput:
    cases: int = 0
    points: Decimal = Decimal(0)
    self_paid: Decimal = Decimal(0)
    assessment: Decimal = Decimal(1)
    deductions: Decimal = Decimal(0)
    prepaid: Decimal = Decimal(0)


@dataclass(frozen=True)
class HospitalResult:
    hospital_code: str
    cases: int
    points: Decimal
    gross_fund: Decimal
    assessment_coef: Decimal
    deductions: Decimal
    settlement: Decimal
    prepaid: Decimal
    payable: Decimal


@dataclass(frozen=True)
class Clearing:
    budget: Decimal
    pv_method: str
    total_points: Decimal
    r: Decimal  # stored to 6 places
    point_value: Decimal  # stored to 6 places
    hospitals: tuple[HospitalResult, ...]

    @property
    def total_settlement(self) -> Decimal:
        return sum((h.settlement for h in self.hospitals), Decimal(0))

    @property
    def retained(self) -> Decimal:
        return self.budget - self.total_settlement

    @property
    def total_payable(self) -> Decimal:
        return sum((h.payable for h in self.hospitals), Decimal(0))


def clear(
    budget: Decimal,
    pv_method: str,
    hospitals: Mapping[str, HospitalInput],
    fund_paid: Decimal,
    total_cost: Decimal,
) -> Clearing:
    """SPEC 5.3 for one year; ``fund_paid`` and ``total_cost``: sums over the year's cases."""
    if pv_method not in PV_METHODS:
        raise ClearingRefused(f"unknown pv method {pv_method!r}: one of {', '.join(PV_METHODS)}")
    points = {h: Fraction(x.points) for h, x in hospitals.items()}
    total_points = sum(points.values(), Fraction(0))
    if total_points <= 0:
        raise ClearingRefused("the year's case points add up to 0: nothing to clear")
    if total_cost <= 0:
        raise ClearingRefused("the year's cases cost nothing: r is undefined")
    r = Fraction(fund_paid) / Fraction(total_cost)
    b = Fraction(budget)
    if pv_method == "ratio":
        pv = (b / r) / total_points
        shares = {h: b * p / total_points for h, p in points.items()}
    else:
        s_total = sum((Fraction(x.self_paid) for x in hospitals.values()), Fraction(0))
        pv = (b + s_total) / total_points
        shares = {h: points[h] * pv - Fraction(x.self_paid) for h, x in hospitals.items()}
    gross = largest_remainder(shares, budget)
    results = []
    for code in sorted(hospitals):
        x = hospitals[code]
        settlement = round_half_up(Fraction(gross[code]) * Fraction(x.assessment), 2) - x.deductions
        results.append(
            HospitalResult(
                hospital_code=code,
                cases=x.cases,
                points=x.points,
                gross_fund=gross[code],
                assessment_coef=x.assessment,
                deductions=x.deductions,
                settlement=settlement,
                prepaid=x.prepaid,
                payable=settlement - x.prepaid,
            )
        )
    return Clearing(
        budget=budget,
        pv_method=pv_method,
        total_points=Decimal(sum((x.points for x in hospitals.values()), Decimal(0))),
        r=round_half_up(r, 6),
        point_value=round_half_up(pv, 6),
        hospitals=tuple(results),
    )
