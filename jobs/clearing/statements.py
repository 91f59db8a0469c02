"""Clearing statements: one CSV per hospital, the run's facts and its chart.

Written to ``reports/clearing-<run_id>/``: ``hospitals.csv`` (every hospital's
line), ``hospitals/<code>.csv``, ``payable.png`` (payable by hospital) and
``report.json`` (the run, every hospital's line, the Delta versions read), from
which ``diplake reports build`` renders the summary page and one printable
statement per hospital (jobs/clearing/pages.py).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from jobs import site
from jobs.clearing.allocate import Clearing
from jobs.config import Config

FIELDS = (
    ("cases", "病例数 cases"),
    ("points", "总点数 points"),
    ("gross_fund", "统筹基金 gross fund"),
    ("assessment_coef", "考核系数 assessment"),
    ("deductions", "扣减 deductions"),
    ("settlement", "清算额 settlement"),
    ("prepaid", "已预付 prepaid"),
    ("payable", "应付 payable"),
)
SUMMARY = (
    "budget",
    "pv_method",
    "total_points",
    "r",
    "point_value",
    "total_settlement",
    "retained",
    "total_payable",
)


def _chart(result: Clearing, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(result.hospitals, key=lambda h: h.payable)
    values = [float(h.payable) / 1e4 for h in ordered]  # 万元 (10,000 yuan)
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.bar(range(len(values)), values, color=["#b04040" if v < 0 else "#4477aa" for v in values])
    ax.set(
        # Latin labels only: the plotting font has no CJK glyphs on a bare server.
        title="Payable by hospital (10,000 yuan; negative: paid back)",
        xlabel="hospitals, by payable",
        ylabel="10,000 yuan",
    )
    ax.axhline(0, color="grey", lw=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def folder(cfg: Config, run_id: str) -> Path:
    """Where a run's statements go: ``reports/<run_id>`` (run ids begin ``clearing-``)."""
    return cfg.reports / run_id


def write(
    cfg: Config,
    run_id: str,
    year: int,
    result: Clearing,
    levels: Mapping[str, int],
    reads: Mapping[str, int],
    details: Mapping[str, Mapping] | None = None,
) -> Path:
    """Write the run's CSVs, chart and facts; returns the report folder.

    ``details``: per hospital, where its assessment coefficient came from (feed,
    computed, default), the computed assessment's deductions, and the cases special
    review decided with the points they gained or lost (jobs/clearing/run.py).
    """
    details = details or {}
    out = folder(cfg, run_id)
    (out / "hospitals").mkdir(parents=True, exist_ok=True)
    header = ["hospital_code", "level", *[f for f, _ in FIELDS]]
    with (out / "hospitals.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for h in result.hospitals:
            writer.writerow(
                [h.hospital_code, levels.get(h.hospital_code, "")]
                + [getattr(h, c) for c, _ in FIELDS]
            )
    for h in result.hospitals:
        with (out / "hospitals" / f"{h.hospital_code}.csv").open(
            "w", newline="", encoding="utf-8"
        ) as f:
            writer = csv.writer(f)
            writer.writerow(["run_id", "settlement_year", *header])
            writer.writerow(
                [run_id, year, h.hospital_code, levels.get(h.hospital_code, "")]
                + [getattr(h, c) for c, _ in FIELDS]
            )
    _chart(result, out / "payable.png")
    site.write_report(
        out,
        kind="clearing",
        title=f"DIP clearing {year}",
        year=year,
        run_id=run_id,
        status="draft",
        reads=reads,
        data={
            "summary": {name: getattr(result, name) for name in SUMMARY},
            "fields": [list(f) for f in FIELDS],
            "hospitals": [
                {"hospital_code": h.hospital_code, "level": levels.get(h.hospital_code)}
                | {name: getattr(h, name) for name, _ in FIELDS}
                | {
                    "assessment_source": "default",
                    "assessment_deductions": [],
                    "review_cases": 0,
                    "review_adjustment": "0.0000",
                    "procurement_retention": "0.00",
                }
                | dict(details.get(h.hospital_code, {}))
                for h in result.hospitals
            ],
        },
    )
    return out
