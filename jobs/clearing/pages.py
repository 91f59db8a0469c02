"""The clearing's pages: the run's summary, linked to every hospital's statement and back."""

from __future__ import annotations

from decimal import Decimal

from jobs import site

TOTALLED = ("cases", "points", "gross_fund", "deductions", "settlement", "payable")


@site.pages("clearing")
def clearing(report: site.Report) -> list[site.Page]:
    hospitals = report.data["hospitals"]
    by_level: dict[str, list[dict]] = {}
    for h in hospitals:
        by_level.setdefault(str(h["level"] or "—"), []).append(h)
    levels = [
        {"level": level, "hospitals": len(hs)}
        | {f: sum((Decimal(str(h[f])) for h in hs), Decimal(0)) for f in TOTALLED}
        for level, hs in sorted(by_level.items(), reverse=True)
    ]
    fields = report.data["fields"]
    index = site.Page(
        "index.html",
        "clearing.html",
        {
            "summary": report.data["summary"],
            "fields": fields,
            "hospitals": hospitals,
            "levels": levels,
            "totalled": TOTALLED,
        },
    )
    statements = [
        site.Page(
            f"hospitals/{h['hospital_code']}.html",
            "clearing_statement.html",
            {"h": h, "fields": fields, "summary": report.data["summary"]},
            title=f"{h['hospital_code']} · DIP 年度清算结算单 {report.year}",
        )
        for h in hospitals
    ]
    return [index, *statements]
