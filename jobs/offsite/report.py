"""The off-site wing's report facts: the month per counterpart region, and the evaluation.

Each function reads the gold rows its job just wrote (by run id), draws the plot and
writes ``reports/<id>/report.json``; ``diplake reports build`` renders the pages
(jobs/offsite/pages.py).

* ``offsite-<Y>-<MM>``: per counterpart region the flows both ways and the net amount
  owed (statement and ours), the differences to chase first (the most money first),
  the filing-share breaks, the destinations listed; a plot of the flows by region;
* ``offsite-evaluation``: every planted kind's recall, and the false differences.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake, site
from jobs.config import Config

REGIONS = Path(__file__).parents[1] / "reference" / "offsite_regions.csv"
FLOW_BARS = 20  # regions in the plot: those with the largest flows


def region_names(chinese: bool = True) -> dict[str, str]:
    """Region code -> its name (``Quanzhou (泉州市)``; without ``chinese``, for the plot,
    whose fonts have no Chinese glyphs: ``Quanzhou 350500``)."""
    import csv

    with REGIONS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if chinese:
        return {r["region_code"]: f"{r['name_en']} ({r['name_zh']})" for r in rows}
    return {r["region_code"]: f"{r['name_en']} {r['region_code']}" for r in rows}


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(frame) -> list[dict]:
    skip = ("run_id", "input_versions")
    return [{k: _plain(v) for k, v in r.asDict().items() if k not in skip} for r in frame.collect()]


def _plot_flows(out: Path, regions: list[dict], names: dict[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = sorted(
        regions,
        key=lambda r: (
            -(Decimal(r["inbound_statement_fund"]) + Decimal(r["outbound_statement_fund"]))
        ),
    )[:FLOW_BARS]
    labels = [names.get(r["region"], r["region"]) for r in top]
    inbound = [float(r["inbound_statement_fund"]) / 1e4 for r in top]
    outbound = [-float(r["outbound_statement_fund"]) / 1e4 for r in top]
    net = [float(r["net_owed"]) / 1e4 for r in top]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.32 * len(top)))
    ys = range(len(top))
    ax.barh(ys, inbound, color="#4477aa", label="inbound: owed to the city")
    ax.barh(ys, outbound, color="#ee6677", label="outbound: the city owes")
    ax.scatter(net, ys, color="black", zorder=3, s=14, label="net")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(
        title="The month's off-site flows by counterpart region (fund, 10,000 yuan)",
        xlabel="10,000 yuan",
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "flows.png", dpi=110)
    plt.close(fig)


def month(spark: SparkSession, cfg: Config, summary: dict) -> dict:
    """``reports/offsite-<Y>-<MM>/`` and the figures the demo prints."""
    label, rid = summary["label"], summary["run_id"]

    def gold(table: str):
        return lake.read_version(spark, lake.table_path(cfg, "gold", table)).filter(
            F.col("run_id") == rid
        )

    names = region_names()
    regions = _rows(gold("offsite_reconciliation").orderBy(F.desc("net_owed"), "region"))
    for r in regions:
        r["name"] = names.get(r["region"], r["region"])
    differences = _rows(
        gold("offsite_differences").orderBy(F.desc("amount"), "kind", "settlement_id", "case_id")
    )
    breaks = _rows(gold("offsite_policy_breaks").orderBy(F.desc(F.abs("excess")), "settlement_id"))
    places = _rows(gold("offsite_destinations").filter("listed").orderBy(F.desc("cost_ratio")))
    net = sum((Decimal(r["net_owed"]) for r in regions), Decimal("0.00"))
    net_ours = sum((Decimal(r["net_owed_ours"]) for r in regions), Decimal("0.00"))
    by_kind: dict[str, int] = {}
    for d in differences:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + 1
    out = cfg.reports / f"offsite-{label}"
    out.mkdir(parents=True, exist_ok=True)
    if regions:
        _plot_flows(out, regions, region_names(chinese=False))
    site.write_report(
        out,
        kind="offsite_month",
        title=f"Off-site treatment {label}",
        year=summary["year"],
        month=summary["month"],
        run_id=rid,
        status="computed",
        reads=summary["input_versions"],
        data={
            "label": label,
            "scheme_version": summary["scheme_version"],
            "net_owed": str(net),
            "net_owed_ours": str(net_ours),
            "regions": regions,
            "differences": differences,
            "by_kind": by_kind,
            "breaks": breaks,
            "destinations": places,
            "has_plot": bool(regions),
        },
    )
    return {
        "report": str(out / "index.html"),
        "net_owed": str(net),
        "differences": len(differences),
        "policy_breaks": len(breaks),
        "destinations_listed": len(places),
    }


def evaluation(cfg: Config, result: dict, reads: dict) -> Path:
    """``reports/offsite-evaluation/``: recall per planted kind, false differences."""
    out = cfg.reports / "offsite-evaluation"
    out.mkdir(parents=True, exist_ok=True)
    site.write_report(
        out,
        kind="offsite_evaluation",
        title="Off-site checks against the generator's truth",
        year=result["year"],
        run_id=result["run_id"],
        status="computed",
        reads=reads,
        data={k: v for k, v in result.items() if k not in ("year", "run_id", "input_versions")},
    )
    return out / "index.html"
