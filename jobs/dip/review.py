"""Special-case review by the expert library (特例单议, SPEC 9.5): the draw and the decisions.

Pure Python over the year's candidates (at most 0.5% of a city's cases) and its
expert library, so every assignment can be replayed from its seed and checked by
hand.

* :func:`draw`: each candidate gets 3 experts of its field, active on the day the
  round is drawn, none from the case's own hospital, no expert above the load cap
  ⌈3n / experts of the field⌉ + 1 (n: the field's candidates). Candidates are taken
  in the order given (applications first, then by ratio); for each, the eligible
  experts are shuffled by a generator seeded with the round's seed and the case id,
  then the least loaded are taken, so the draw spreads the load and is the same
  whenever it is replayed. A case with fewer than 3 eligible experts is listed as
  unassigned, with the reason.
* :func:`decide`: a case passes with at least 2 approvals from its assigned
  experts; its review points = round(rw × k × median(approved costs) /
  standard_cost, 4); otherwise it keeps its points. A decision from an expert not
  assigned to the case is refused with a reason (the ingest quarantines it).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from jobs.dip.exact import round_half_up

PANEL = 3
APPROVALS_NEEDED = 2


@dataclass(frozen=True)
class Candidate:
    case_id: str
    hospital_code: str
    field: str


@dataclass(frozen=True)
class Expert:
    expert_id: str
    field: str
    institution_code: str
    active_from: date
    active_to: date | None


@dataclass(frozen=True)
class Draw:
    assignments: dict[str, tuple[str, ...]]  # case_id -> expert ids
    unassigned: dict[str, str]  # case_id -> why
    caps: dict[str, int]  # field -> load cap


def draw(candidates: Sequence[Candidate], experts: Sequence[Expert], on: date, seed: int) -> Draw:
    active = [
        e for e in experts if e.active_from <= on and (e.active_to is None or on <= e.active_to)
    ]
    by_field: dict[str, list[Expert]] = {}
    for e in sorted(active, key=lambda e: e.expert_id):
        by_field.setdefault(e.field, []).append(e)
    wanted = Counter(c.field for c in candidates)
    caps = {
        field: math.ceil(PANEL * n / len(by_field[field])) + 1
        for field, n in wanted.items()
        if by_field.get(field)
    }
    load: Counter[str] = Counter()
    assignments, unassigned = {}, {}
    for c in candidates:
        pool = [
            e
            for e in by_field.get(c.field, [])
            if e.institution_code != c.hospital_code and load[e.expert_id] < caps[c.field]
        ]
        if len(pool) < PANEL:
            unassigned[c.case_id] = (
                f"{len(pool)} eligible experts of field {c.field} (active on {on}, not of "
                f"{c.hospital_code}, under the load cap {caps.get(c.field, 0)}): {PANEL} needed"
            )
            continue
        random.Random(f"{seed}:{c.case_id}").shuffle(pool)
        chosen = sorted(pool, key=lambda e: load[e.expert_id])[:PANEL]  # stable: shuffled ties
        for e in chosen:
            load[e.expert_id] += 1
        assignments[c.case_id] = tuple(sorted(e.expert_id for e in chosen))
    return Draw(assignments, unassigned, caps)


@dataclass(frozen=True)
class Decision:
    case_id: str
    expert_id: str
    approve: bool
    approved_cost: Decimal | None


@dataclass(frozen=True)
class Outcome:
    case_id: str
    approvals: int
    passed: bool
    review_points: Decimal
    median_cost: Decimal | None = None  # of the approvals, where the case passed


def decide(
    decisions: Sequence[Decision],
    assignments: Mapping[str, Sequence[str]],
    cases: Mapping[str, tuple[Decimal, Decimal, Decimal, Decimal]],
) -> tuple[list[Outcome], list[tuple[Decision, str]]]:
    """Outcomes of the assigned cases and the refused decisions with their reason.

    ``cases``: case_id -> (rw, k, standard cost (avg_cost × k, exact), points).
    """
    refused: list[tuple[Decision, str]] = []
    decided: dict[str, dict[str, Decision]] = {case: {} for case in assignments}
    for d in decisions:
        if d.case_id not in assignments:
            refused.append((d, "case_not_in_review"))
        elif d.expert_id not in assignments[d.case_id]:
            refused.append((d, "expert_not_assigned"))
        elif d.expert_id in decided[d.case_id]:
            refused.append((d, "duplicate_decision"))  # an expert decides a case once
        else:
            decided[d.case_id][d.expert_id] = d
    outcomes = []
    for case in sorted(assignments):
        rw, k, standard_cost, points = cases[case]
        costs = [Decimal(d.approved_cost) for d in decided[case].values() if d.approve]
        passed = len(costs) >= APPROVALS_NEEDED
        median = statistics.median(costs) if passed else None
        review_points = (
            round_half_up(
                Fraction(rw) * Fraction(k) * Fraction(median) / Fraction(standard_cost), 4
            )
            if passed
            else points
        )
        outcomes.append(Outcome(case, len(costs), passed, review_points, median))
    return outcomes, refused
