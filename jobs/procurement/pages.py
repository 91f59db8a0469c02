"""The procurement wing's pages (SPEC 10): the month's supervision, the year's retention,
and the checks against the generator's truth."""

from __future__ import annotations

from jobs import site


@site.pages("procurement_month")
def procurement_month(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "procurement_month.html", dict(report.data))]


@site.pages("procurement_retention")
def procurement_retention(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "procurement_retention.html", dict(report.data))]


@site.pages("procurement_evaluation")
def procurement_evaluation(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "procurement_evaluation.html", dict(report.data))]
