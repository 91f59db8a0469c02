"""The off-site scheme (``jobs/offsite/schemes/offsite-<version>.yaml``).

The fund's share for each visit type and filing status (SPEC 12.2) and the watch's
limits are data; numbers are read as exact decimals, and a scheme whose cut for a
filing status goes past the national limit is refused at load, with the file named.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from jobs import Refused
from jobs.terms import OFFSITE_FILINGS, OFFSITE_SCHEME, OFFSITE_VISITS

SCHEMES = Path(__file__).with_name("schemes")
DEFAULT_SCHEME = OFFSITE_SCHEME
HUNDRED = Decimal(100)


class SchemeError(Refused):
    """An off-site scheme file that cannot be used: the file and the fault are named."""


@dataclass(frozen=True)
class Scheme:
    version: str
    resident_share: dict[str, Decimal]  # visit type -> share
    cut_points: dict[str, Decimal]  # filing -> percentage points below the resident share
    cut_limit_points: dict[str, Decimal]
    destination_ratio: Decimal
    destination_min_cases: int
    destination_min_peers: int

    def share(self, visit_type: str, filing: str) -> Decimal:
        """The fund's share for a visit of this type under this filing status."""
        return self.resident_share[visit_type] - self.cut_points[filing] / HUNDRED

    def shares(self) -> list[tuple[str, str, Decimal]]:
        """(visit type, filing, share) for every pair, in the vocabularies' order."""
        return [(v, f, self.share(v, f)) for v in OFFSITE_VISITS for f in OFFSITE_FILINGS]


def _decimals(raw: dict, names: tuple[str, ...], what: str, path: Path) -> dict[str, Decimal]:
    missing = [n for n in names if n not in raw]
    if missing:
        raise SchemeError(f"{path.name}: {what} lacks {', '.join(missing)}")
    return {n: Decimal(str(raw[n])) for n in names}


def load_scheme(version: str = DEFAULT_SCHEME, folder: Path = SCHEMES) -> Scheme:
    path = folder / f"offsite-{version}.yaml"
    if not path.is_file():
        known = sorted(p.stem.removeprefix("offsite-") for p in folder.glob("offsite-*.yaml"))
        raise SchemeError(f"no off-site scheme {version!r} in {folder}; there are: {known}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        if str(raw["version"]) != version:
            raise SchemeError(f"{path.name} says version {raw['version']!r}")
        scheme = Scheme(
            version=version,
            resident_share=_decimals(raw["resident_share"], OFFSITE_VISITS, "resident_share", path),
            cut_points=_decimals(raw["cut_points"], OFFSITE_FILINGS, "cut_points", path),
            cut_limit_points=_decimals(
                raw["cut_limit_points"], OFFSITE_FILINGS, "cut_limit_points", path
            ),
            destination_ratio=Decimal(str(raw["watch"]["destination_ratio"])),
            destination_min_cases=int(raw["watch"]["destination_min_cases"]),
            destination_min_peers=int(raw["watch"]["destination_min_peers"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as fault:
        raise SchemeError(f"{path.name}: {fault!r}") from fault
    for visit, share in scheme.resident_share.items():
        if not (0 < share <= 1):
            raise SchemeError(f"{path.name}: resident_share {visit} must lie in (0, 1]")
    for filing in OFFSITE_FILINGS:
        cut, limit = scheme.cut_points[filing], scheme.cut_limit_points[filing]
        if cut < 0:
            raise SchemeError(f"{path.name}: cut_points {filing} is negative")
        if cut > limit:
            raise SchemeError(
                f"{path.name}: cut_points {filing} = {cut} goes past the policy's limit of "
                f"{limit} percentage points below the resident share"
            )
    low = min(share for _, _, share in scheme.shares())
    if low < 0:
        raise SchemeError(f"{path.name}: a cut leaves a negative share ({low})")
    if (
        scheme.destination_ratio <= 1
        or min(scheme.destination_min_cases, scheme.destination_min_peers) < 1
    ):
        raise SchemeError(
            f"{path.name}: watch needs destination_ratio > 1, min cases and min peers >= 1"
        )
    return scheme
