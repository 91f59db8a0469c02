"""Special-case review (SPEC 9.5): the expert draw and the decisions, by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from jobs.dip import review

ON = date(2025, 6, 30)


def expert(eid: str, at: str, field: str = "surgery", until: date | None = None):
    return review.Expert(eid, field, at, date(2020, 1, 1), until)


def test_the_draw_skips_the_cases_hospital_and_stops_at_the_load_cap():
    """Six surgeons, three of them at H1; four cases of H1. Only E4, E5, E6 may review
    them; the cap is ⌈3·4 / 6⌉ + 1 = 3, so they take the first three cases and the fourth
    is left unassigned, with the reason. E7 (H5) left the library before the round."""
    experts = [expert("E1", "H1"), expert("E2", "H1"), expert("E3", "H1"),
               expert("E4", "H2"), expert("E5", "H3"), expert("E6", "H4"),
               expert("E7", "H5", until=date(2025, 3, 31))]  # fmt: skip
    cases = [review.Candidate(f"c{i}", "H1", "surgery") for i in range(1, 5)]
    got = review.draw(cases, experts, ON, seed=20250630)
    assert got.caps == {"surgery": 3}
    assert got.assignments == {c: ("E4", "E5", "E6") for c in ("c1", "c2", "c3")}
    assert list(got.unassigned) == ["c4"]
    assert "0 eligible experts of field surgery" in got.unassigned["c4"]
    assert "under the load cap 3" in got.unassigned["c4"]


def test_the_draw_spreads_the_load_and_replays_from_its_seed():
    """Six surgeons elsewhere, two cases: cap ⌈6/6⌉ + 1 = 2, but the least loaded are
    taken first, so the second case gets the three the first did not: every expert once."""
    experts = [expert(f"E{i}", f"H{i}") for i in range(1, 7)]
    cases = [review.Candidate("a", "H9", "surgery"), review.Candidate("b", "H9", "surgery")]
    got = review.draw(cases, experts, ON, seed=7)
    assert sorted(got.assignments["a"] + got.assignments["b"]) == [f"E{i}" for i in range(1, 7)]
    assert review.draw(cases, experts, ON, seed=7) == got
    others = {review.draw(cases, experts, ON, seed=s).assignments["a"] for s in range(20)}
    assert len(others) > 1, "the seed decides who is drawn"


def test_two_approvals_pass_with_the_median_and_one_does_not():
    """A: approvals of 9,000 and 11,000 (median 10,000) and one rejection; rw 1500, k 1.1,
    standard cost 2,000.00 × 1.1 = 2,200: review points 1500 · 1.1 · 10,000 / 2,200 =
    7,500.0000. B: one approval only: it keeps its points."""
    assignments = {"A": ("E1", "E2", "E3"), "B": ("E4", "E5", "E6")}
    cases = {
        "A": (D("1500.0000"), D("1.1000"), D("2200.000000"), D("3000.0000")),
        "B": (D("1200.0000"), D("1.0000"), D("2000.00"), D("4321.1234")),
    }
    decisions = [
        review.Decision("A", "E1", True, D("9000.00")),
        review.Decision("A", "E2", True, D("11000.00")),
        review.Decision("A", "E3", False, None),
        review.Decision("A", "E2", True, D("99999.00")),  # E2 again
        review.Decision("A", "E9", True, D("10000.00")),  # not on A's panel
        review.Decision("B", "E4", True, D("5000.00")),
        review.Decision("B", "E5", False, None),
        review.Decision("Z", "E1", True, D("1.00")),  # not a case under review
    ]
    outcomes, refused = review.decide(decisions, assignments, cases)
    assert [(o.case_id, o.approvals, o.passed, o.review_points) for o in outcomes] == [
        ("A", 2, True, D("7500.0000")),
        ("B", 1, False, D("4321.1234")),
    ]
    assert [(d.case_id, d.expert_id, why) for d, why in refused] == [
        ("A", "E2", "duplicate_decision"),
        ("A", "E9", "expert_not_assigned"),
        ("Z", "E1", "case_not_in_review"),
    ]
