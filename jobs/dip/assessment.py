"""The assessment computed from data (SPEC 9.3): indicators to a score and a coefficient.

The scheme is data (``jobs/dip/schemes/assessment-<version>.yaml``): which
indicator deducts how many points above which threshold (a number, or
``level_p90``: the 90th percentile of the indicator among the hospitals of the
same level), the points per confirmed fraud case and their cap, and how the score
becomes the coefficient ``A`` = floor + span × max(S, 0) / base, rounded once.
Every deduction is kept with the value and the threshold that caused it, so a
hospital can be shown why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml

from jobs import Refused
from jobs.dip.exact import round_half_up
from jobs.terms import ASSESSMENT_SCHEME

SCHEMES = Path(__file__).with_name("schemes")
DEFAULT_SCHEME = ASSESSMENT_SCHEME
LEVEL_P90 = "level_p90"


class SchemeError(Refused):
    """An assessment scheme file that cannot be used: the file and the fault are named."""


@dataclass(frozen=True)
class Deduction:
    id: str
    indicator: str
    above: str | float
    points: int


@dataclass(frozen=True)
class Scheme:
    version: str
    base_score: int
    floor: Decimal
    span: Decimal
    places: int
    indicators: Mapping[str, int]
    deductions: tuple[Deduction, ...]
    fraud_points: int
    fraud_at_most: int


def load_scheme(version: str = DEFAULT_SCHEME, folder: Path = SCHEMES) -> Scheme:
    path = folder / f"assessment-{version}.yaml"
    if not path.is_file():
        known = sorted(p.stem.removeprefix("assessment-") for p in folder.glob("assessment-*.yaml"))
        raise SchemeError(f"no assessment scheme {version!r} in {folder}; there are: {known}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        if str(raw["version"]) != version:
            raise SchemeError(f"{path.name} says version {raw['version']!r}")
        deductions = tuple(
            Deduction(
                str(d["id"]),
                str(d["indicator"]),
                d["above"] if d["above"] == LEVEL_P90 else float(d["above"]),
                int(d["points"]),
            )
            for d in raw["deductions"]
        )
        return Scheme(
            version=version,
            base_score=int(raw["base_score"]),
            floor=Decimal(str(raw["coefficient"]["floor"])),
            span=Decimal(str(raw["coefficient"]["span"])),
            places=int(raw["coefficient"]["places"]),
            indicators={k: int(v) for k, v in raw["indicators"].items()},
            deductions=deductions,
            fraud_points=int(raw["fraud"]["points"]),
            fraud_at_most=int(raw["fraud"]["at_most"]),
        )
    except (KeyError, TypeError, ValueError) as fault:
        raise SchemeError(f"{path.name}: {fault!r}") from fault


@dataclass(frozen=True)
class Assessment:
    hospital_code: str
    score: int
    coefficient: Decimal
    deductions: tuple[dict, ...]  # {id, indicator, value, threshold, points}


def level_p90(rows: Sequence[Mapping], indicator: str) -> dict[int, float]:
    """level -> the 90th percentile of ``indicator`` among its hospitals (linear)."""
    by_level: dict[int, list[float]] = {}
    for r in rows:
        by_level.setdefault(r["level"], []).append(float(r[indicator]))
    return {level: float(np.percentile(v, 90)) for level, v in by_level.items()}


def assess(
    indicators: Sequence[Mapping], fraud_cases: Mapping[str, int], scheme: Scheme
) -> list[Assessment]:
    """Score each hospital of ``indicators`` (rows of gold/dip_hospital_indicators)."""
    p90 = {
        d.indicator: level_p90(indicators, d.indicator)
        for d in scheme.deductions
        if d.above == LEVEL_P90
    }
    out = []
    for r in sorted(indicators, key=lambda r: r["hospital_code"]):
        hit = []
        for d in scheme.deductions:
            value = float(r[d.indicator])
            threshold = p90[d.indicator][r["level"]] if d.above == LEVEL_P90 else d.above
            if value > threshold:
                hit.append({"id": d.id, "indicator": d.indicator, "value": value,
                            "threshold": threshold, "points": d.points})  # fmt: skip
        confirmed = int(fraud_cases.get(r["hospital_code"], 0))
        if confirmed:
            points = min(confirmed * scheme.fraud_points, scheme.fraud_at_most)
            hit.append({"id": "fraud", "indicator": "confirmed_fraud_cases",
                        "value": confirmed, "threshold": 0, "points": points})  # fmt: skip
        score = scheme.base_score - sum(h["points"] for h in hit)
        share = Fraction(max(score, 0), scheme.base_score)
        coefficient = round_half_up(
            Fraction(scheme.floor) + Fraction(scheme.span) * share, scheme.places
        )
        out.append(Assessment(r["hospital_code"], score, coefficient, tuple(hit)))
    return out
