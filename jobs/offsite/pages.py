"""The off-site wing's pages (SPEC 12): the month per counterpart region, and the checks
against the generator's truth."""

from __future__ import annotations

from jobs import site


@site.pages("offsite_month")
def offsite_month(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "offsite_month.html", dict(report.data))]


@site.pages("offsite_evaluation")
def offsite_evaluation(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "offsite_evaluation.html", dict(report.data))]
