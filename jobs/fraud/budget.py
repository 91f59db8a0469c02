"""The inspection budget (``schemes/inspection-budget-*.yaml``): shares, not counts.

One setting, read by training (precision at the budget on the later period), scoring
(how many of the top-scored cases and hospitals become alerts) and evaluation (the
headline precision, and the precision-against-budget plot). A share is turned into a
count of what was scored: ``ceil(share x n)``, at least ``minimum``, at most ``n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from jobs.fraud.rules import SEVERITIES

SCHEMES = Path(__file__).with_name("schemes")
LEVEL_SHARE = {"case": "cases", "provider": "institutions"}


class BudgetError(ValueError):
    """A budget file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class InspectionBudget:
    version: str
    institutions: Decimal
    cases: Decimal
    minimum: int = 1
    rule_alerts_from: str = "medium"

    def share(self, level: str) -> Decimal:
        """The share of ``level`` ("case" or "provider") an inspection can look at."""
        return getattr(self, LEVEL_SHARE[level])

    def count(self, level: str, scored: int) -> int:
        """How many of ``scored`` entities of ``level`` the budget affords."""
        return count_at(self.share(level), scored, self.minimum)


def count_at(share: Decimal | float, scored: int, minimum: int = 1) -> int:
    """``ceil(share x scored)``, at least ``minimum`` and at most ``scored`` (exact for a
    decimal share: 0.003 x 1000 is 3, not 4 through a float's 3.0000000000000004)."""
    if scored <= 0:
        return 0
    wanted = math.ceil(Decimal(str(share)) * scored)
    return min(scored, max(minimum, wanted))


def load(path: Path | None = None) -> InspectionBudget:
    """The newest budget in ``schemes/`` (or ``path``), checked."""
    if path is None:
        found = sorted(SCHEMES.glob("inspection-budget-*.yaml"))
        if not found:
            raise BudgetError(f"no inspection-budget-*.yaml in {SCHEMES}")
        path = found[-1]
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    shares = {}
    for field in ("institutions", "cases"):
        value = raw.get(field)
        try:
            share = Decimal(str(value))
        except ArithmeticError:
            share = Decimal("NaN")
        if value is None or isinstance(value, bool) or not share.is_finite() or not 0 < share <= 1:
            raise BudgetError(f"{path.name}: {field} must be a share in (0, 1], not {value!r}")
        shares[field] = share
    minimum = raw.get("minimum", 1)
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        raise BudgetError(f"{path.name}: minimum must be a whole number of at least 1")
    floor = raw.get("rule_alerts_from", "medium")
    if floor not in SEVERITIES:
        raise BudgetError(f"{path.name}: rule_alerts_from must be one of {', '.join(SEVERITIES)}")
    return InspectionBudget(
        str(raw.get("version", path.stem)), minimum=minimum, rule_alerts_from=floor, **shares
    )
