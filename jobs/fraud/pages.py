"""The fraud wing's pages: the alert list linked to each alert's evidence, and the evaluation."""

from __future__ import annotations

from jobs import site


def evidence(reasons: str) -> list[list[str]]:
    """An alert's reasons as blocks (one per source: rules, model) of lines (one per finding)."""
    return [
        [line.strip() for line in block.split("; ") if line.strip()]
        for block in reasons.split(" | ")
        if block.strip()
    ]


@site.pages("fraud_alerts")
def fraud_alerts(report: site.Report) -> list[site.Page]:
    alerts = sorted(report.data["alerts"], key=lambda a: (-a["score"], a["entity_id"]))
    patterns: dict[str, int] = {}
    for a in alerts:
        patterns[a["pattern"]] = patterns.get(a["pattern"], 0) + 1
    index = site.Page(
        "index.html",
        "fraud_alerts.html",
        {"alerts": alerts, "patterns": sorted(patterns.items(), key=lambda kv: (-kv[1], kv[0]))},
    )
    rules = report.data["rules"]
    pages = []
    for a in alerts:
        blocks = evidence(a["reasons"])
        lines = [line for block in blocks for line in block]
        cited = {r: rules[r] for r in rules if any(x.startswith(f"{r} ") for x in lines)}
        pages.append(
            site.Page(
                f"alerts/{a['alert_id']}.html",
                "fraud_evidence.html",
                {"a": a, "blocks": blocks, "cited": cited},
                title=f"Alert {a['pattern']} · {a['entity_type']} {a['entity_id']}",
            )
        )
    return [index, *pages]


@site.pages("fraud_evaluation")
def fraud_evaluation(report: site.Report) -> list[site.Page]:
    return [site.Page("index.html", "fraud_evaluation.html", dict(report.data))]
