"""The DIP wing's pages: the catalogue, the case points, and the year between (SPEC 9):
the month's pre-settlement proposal, the assessment and the special-case review."""

from __future__ import annotations

from jobs import site


@site.pages("catalogue")
def catalogue(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "catalogue.html", dict(report.data))]


@site.pages("case_points")
def case_points(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "case_points.html", dict(report.data))]


@site.pages("prepayment_proposal")
def prepayment_proposal(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "prepayment_proposal.html", dict(report.data))]


@site.pages("assessment")
def assessment(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "assessment.html", dict(report.data))]


@site.pages("special_review")
def special_review(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "special_review.html", dict(report.data))]
