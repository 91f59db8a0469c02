"""Clearing statements: one CSV and one printable HTML page per hospital, and a summary page.

Written to ``reports/clearing-<run_id>/``: ``index.html`` (PV, r, totals,
per-level tables, a chart of payable by hospital), ``hospitals.csv`` (every
hospital's line), and ``hospitals/<code>.csv`` / ``.html``.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from jobs.clearing.allocate import Clearing, HospitalResult
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
STYLE = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #999; padding: 4px 10px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.neg { color: #b00; }
@media print { a { color: inherit; text-decoration: none; } }
"""


def _fmt(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,}"
    return str(value)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _hospital_page(run_id: str, year: int, result: Clearing, h: HospitalResult) -> str:
    rows = "".join(
        f"<tr><th>{label}</th><td class='n{' neg' if str(getattr(h, f)).startswith('-') else ''}'>"
        f"{_fmt(getattr(h, f))}</td></tr>"
        for f, label in FIELDS
    )
    return _page(
        f"{h.hospital_code} {year}",
        f"<h1>DIP 年度清算结算单 {year}</h1><p>医疗机构 <b>{h.hospital_code}</b><br>"
        f"清算批次 run {run_id} · 点值 point value {result.point_value} · "
        f"方法 {result.pv_method}</p><table>{rows}</table>"
        "<p>settlement = round(gross × assessment, 2) − deductions; payable = settlement − "
        "prepaid (negative: the hospital pays back).</p>",
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


def write(cfg: Config, run_id: str, year: int, result: Clearing, levels: Mapping[str, int]) -> Path:
    out = folder(cfg, run_id)
    (out / "hospitals").mkdir(parents=True, exist_ok=True)
    header = ["hospital_code", "level", *[f for f, _ in FIELDS]]
    with (out / "hospitals.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for h in result.hospitals:
            writer.writerow([h.hospital_code, levels.get(h.hospital_code, "")] + [
                getattr(h, c) for c, _ in FIELDS
            ])  # fmt: skip
    for h in result.hospitals:
        with (out / "hospitals" / f"{h.hospital_code}.csv").open(
            "w", newline="", encoding="utf-8"
        ) as f:
            writer = csv.writer(f)
            writer.writerow(["run_id", "settlement_year", *header])
            writer.writerow([run_id, year, h.hospital_code, levels.get(h.hospital_code, "")] + [
                getattr(h, c) for c, _ in FIELDS
            ])  # fmt: skip
        (out / "hospitals" / f"{h.hospital_code}.html").write_text(
            _hospital_page(run_id, year, result, h), encoding="utf-8"
        )
    _chart(result, out / "payable.png")
    by_level: dict[object, list[HospitalResult]] = {}
    for h in result.hospitals:
        by_level.setdefault(levels.get(h.hospital_code, "—"), []).append(h)
    level_rows = "".join(
        f"<tr><td>{lvl}</td><td class='n'>{len(hs)}</td>"
        + "".join(
            f"<td class='n'>{_fmt(sum((getattr(h, f) for h in hs), Decimal(0)))}</td>"
            for f in ("cases", "points", "gross_fund", "deductions", "settlement", "payable")
        )
        + "</tr>"
        for lvl, hs in sorted(by_level.items(), key=lambda kv: str(kv[0]), reverse=True)
    )
    hospital_rows = "".join(
        f"<tr><td><a href='hospitals/{h.hospital_code}.html'>{h.hospital_code}</a></td>"
        f"<td>{levels.get(h.hospital_code, '')}</td>"
        + "".join(f"<td class='n'>{_fmt(getattr(h, f))}</td>" for f, _ in FIELDS)
        + "</tr>"
        for h in result.hospitals
    )
    summary = (
        f"<h1>DIP 年度清算 {year}</h1><p>run <b>{run_id}</b> (draft until published)</p>"
        "<table>"
        f"<tr><th>budget 预算</th><td class='n'>{_fmt(result.budget)}</td></tr>"
        f"<tr><th>pv method</th><td>{result.pv_method}</td></tr>"
        f"<tr><th>total points</th><td class='n'>{_fmt(result.total_points)}</td></tr>"
        f"<tr><th>r = Σ fund paid / Σ cost</th><td class='n'>{result.r}</td></tr>"
        f"<tr><th>point value 点值</th><td class='n'>{result.point_value}</td></tr>"
        f"<tr><th>Σ settlement</th><td class='n'>{_fmt(result.total_settlement)}</td></tr>"
        f"<tr><th>retained</th><td class='n'>{_fmt(result.retained)}</td></tr>"
        f"<tr><th>Σ payable</th><td class='n'>{_fmt(result.total_payable)}</td></tr>"
        "</table><h2>By hospital level</h2><table><tr><th>level</th><th>hospitals</th>"
        "<th>cases</th><th>points</th><th>gross</th><th>deductions</th><th>settlement</th>"
        f"<th>payable</th></tr>{level_rows}</table>"
        "<img src='payable.png' alt='payable by hospital' style='max-width:100%'>"
        "<h2>Hospitals</h2><table><tr><th>hospital</th><th>level</th>"
        + "".join(f"<th>{label}</th>" for _, label in FIELDS)
        + f"</tr>{hospital_rows}</table>"
    )
    index = out / "index.html"
    index.write_text(_page(f"DIP clearing {year}", summary), encoding="utf-8")
    return index
