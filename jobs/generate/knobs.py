"""The size and shape of the synthetic city: scale presets and explicit knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SCALES = ("demo", "small", "city")


@dataclass(frozen=True)
class Knobs:
    """Everything that sizes the city. ``city`` is the full-scale default (SPEC 8)."""

    seed: int = 20260101
    institutions: int = 706
    insured: int = 5_000_000
    discharges_per_year: int = 350_000
    first_year: int = 2022
    years: int = 4  # three base years + the settlement year
    mess_rate: float = 0.02  # share of landed records carrying an injected defect
    fee_detail_years: int = 2  # itemised fee details for the last N years only
    pharmacy_per_insured: float = 0.6  # outpatient pharmacy transactions per person-year

    @property
    def year_list(self) -> list[int]:
        return list(range(self.first_year, self.first_year + self.years))

    @property
    def settlement_year(self) -> int:
        return self.first_year + self.years - 1

    def replace(self, **changes: object) -> Knobs:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


PRESETS: dict[str, Knobs] = {
    "city": Knobs(),
    "small": Knobs(institutions=160, insured=500_000, discharges_per_year=35_000),
    "demo": Knobs(institutions=60, insured=30_000, discharges_per_year=3_000),
}


def preset(scale: str) -> Knobs:
    if scale not in PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return PRESETS[scale]
