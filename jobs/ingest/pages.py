"""The ingest's page: one run's ledger by source and file, its rejected and held files."""

from __future__ import annotations

from jobs import site


@site.pages("ingest")
def ingest(report: site.Report) -> list[site.Page]:
    sources = [{"source": name} | counts for name, counts in sorted(report.data["sources"].items())]
    return [site.Page("index.html", "ingest.html", dict(report.data) | {"by_source": sources})]
