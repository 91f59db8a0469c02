"""Catalogue size of generated discharges, by the rules of SPEC 5.1, in pandas.

The generator's own yardstick: it counts the core and comprehensive types a
catalogue built from the base years would have, and the share of cases in core
types, without Spark and without the DIP job (which has its own implementation
and its own tests). Used by the generator's tests and ``diplake generate --calibrate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

CLASS_RANK = {"S": 3, "T": 2, "D": 1}


def chapter_class(code: str) -> str:
    chapter = int(code[:2])
    return "S" if chapter <= 86 else ("D" if chapter <= 91 else "T")


def proc_key(procedures: Sequence[str]) -> str:
    codes = list(dict.fromkeys(procedures))
    st = [c for c in codes if chapter_class(c) in "ST"]
    if not st:
        return ""
    ordered = [codes[0], *sorted(c for c in st if c != codes[0])] if codes[0] in st else sorted(st)
    return "+".join(ordered[:3])


def proc_class(procedures: Iterable[str]) -> str:
    """The principal procedure's class (SPEC 5.1), C without a procedure."""
    principal = next(iter(procedures), None)
    return "C" if principal is None else chapter_class(principal)


@dataclass(frozen=True)
class CatalogueSize:
    cases: int
    core_types: int
    comprehensive_types: int
    core_cases: int

    @property
    def types(self) -> int:
        return self.core_types + self.comprehensive_types

    @property
    def core_coverage(self) -> float:
        return self.core_cases / self.cases if self.cases else 0.0

    def __str__(self) -> str:
        return (
            f"{self.types} types ({self.core_types} core, {self.comprehensive_types} "
            f"comprehensive) from {self.cases} cases; core coverage {self.core_coverage:.1%}"
        )


def catalogue_size(principal_dx: pd.Series, procedures: pd.Series, threshold: int = 15):
    frame = pd.DataFrame(
        {
            "diag4": principal_dx.str[:5].to_numpy(),
            "diag3": principal_dx.str[:3].to_numpy(),
            "proc_key": [proc_key(p) for p in procedures],
            "proc_class": [proc_class(p) for p in procedures],
        }
    )
    counts = frame.groupby(["diag4", "proc_key"]).size()
    core = counts[counts >= threshold]
    in_core = pd.MultiIndex.from_frame(frame[["diag4", "proc_key"]]).isin(core.index)
    rest = frame[~in_core]
    return CatalogueSize(
        cases=len(frame),
        core_types=len(core),
        comprehensive_types=int(rest.groupby(["diag3", "proc_class"]).ngroups),
        core_cases=int(in_core.sum()),
    )
