"""The procurement scheme (``jobs/procurement/schemes/procurement-<version>.yaml``).

Every limit of SPEC 10 is data: the completion lights' factors, the retention's
shares and gates, the payment term and the price lights. Numbers are read as
exact decimals; a gold row records the version it was computed with.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from jobs import Refused
from jobs.terms import PROCUREMENT_SCHEME

SCHEMES = Path(__file__).with_name("schemes")
DEFAULT_SCHEME = PROCUREMENT_SCHEME


class SchemeError(Refused):
    """A procurement scheme file that cannot be used: the file and the fault are named."""


@dataclass(frozen=True)
class Scheme:
    version: str
    yellow_below: Decimal
    red_below: Decimal
    fund_share: Decimal
    retention_rate: Decimal
    completion_gate: Decimal
    max_non_winner: Decimal
    base_months: int
    pay_days: int
    green_max: Decimal
    yellow_max: Decimal


def load_scheme(version: str = DEFAULT_SCHEME, folder: Path = SCHEMES) -> Scheme:
    path = folder / f"procurement-{version}.yaml"
    if not path.is_file():
        known = sorted(
            p.stem.removeprefix("procurement-") for p in folder.glob("procurement-*.yaml")
        )
        raise SchemeError(f"no procurement scheme {version!r} in {folder}; there are: {known}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        if str(raw["version"]) != version:
            raise SchemeError(f"{path.name} says version {raw['version']!r}")
        scheme = Scheme(
            version=version,
            yellow_below=Decimal(str(raw["completion"]["yellow_below"])),
            red_below=Decimal(str(raw["completion"]["red_below"])),
            fund_share=Decimal(str(raw["retention"]["fund_share"])),
            retention_rate=Decimal(str(raw["retention"]["retention_rate"])),
            completion_gate=Decimal(str(raw["retention"]["completion_gate"])),
            max_non_winner=Decimal(str(raw["retention"]["max_non_winner"])),
            base_months=int(raw["retention"]["base_months"]),
            pay_days=int(raw["settlement"]["pay_days"]),
            green_max=Decimal(str(raw["lights"]["green_max"])),
            yellow_max=Decimal(str(raw["lights"]["yellow_max"])),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as fault:
        raise SchemeError(f"{path.name}: {fault!r}") from fault
    if not (0 < scheme.red_below <= scheme.yellow_below <= 1):
        raise SchemeError(f"{path.name}: completion needs 0 < red_below <= yellow_below <= 1")
    if not (1 <= scheme.green_max <= scheme.yellow_max):
        raise SchemeError(f"{path.name}: lights need 1 <= green_max <= yellow_max")
    for name in ("fund_share", "retention_rate", "completion_gate", "max_non_winner"):
        if not (0 <= getattr(scheme, name) <= 1):
            raise SchemeError(f"{path.name}: retention {name} must lie in [0, 1]")
    return scheme
