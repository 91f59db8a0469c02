"""The DIP wing's pages: the catalogue of a year and the case points of a settlement year."""

from __future__ import annotations

from jobs import site


@site.pages("catalogue")
def catalogue(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "catalogue.html", dict(report.data))]


@site.pages("case_points")
def case_points(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "case_points.html", dict(report.data))]
