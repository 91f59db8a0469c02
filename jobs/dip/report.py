"""The catalogue report: ``reports/catalogue-<Y>/index.md`` with its plots beside it.

    diplake catalogue-report --year 2025

Counts of core and comprehensive types, case coverage, the CV distribution, the
largest and the costliest types, the level coefficients, and the share of low,
high and unmatched cases in settlement year Y. Written after ``diplake points``
(which calls it); reads only gold tables.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake
from jobs.config import Config


def _gold(spark: SparkSession, cfg: Config, table: str, where: str) -> pd.DataFrame:
    return lake.read_version(spark, lake.table_path(cfg, "gold", table)).filter(where).toPandas()


def _table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def run(spark: SparkSession, cfg: Config, year: int) -> Path:
    """Read the year's catalogue, coefficients and points; write the plots and the page."""
    out = cfg.reports / f"catalogue-{year}"
    out.mkdir(parents=True, exist_ok=True)
    cat = _gold(spark, cfg, "dip_catalogue", f"catalogue_version = {year}")
    coef = _gold(spark, cfg, "dip_level_coefficients", f"catalogue_version = {year}")
    pts_df = lake.read_version(spark, lake.table_path(cfg, "gold", "dip_case_points")).filter(
        F.col("settlement_year") == year
    )
    classes = pts_df.groupBy("case_class", "match_kind").agg(F.count("*").alias("cases")).toPandas()
    reviews = pts_df.filter("special_review").count()
    cat["avg_cost"] = cat.avg_cost.astype(float)
    _plot_distributions(out, cat)
    shares = classes.groupby("case_class").cases.sum() / max(int(classes.cases.sum()), 1)
    _plot_classes_and_levels(out, year, shares, coef)
    index = out / "index.md"
    index.write_text(_page(year, cat, coef, classes, shares, reviews), encoding="utf-8")
    return index


def _plot_distributions(out: Path, cat: pd.DataFrame) -> None:
    """distributions.png: the CV of cost within a type and the cases per type, by kind."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind in ("core", "comprehensive"):
        frame = cat[cat.type_kind == kind]
        axes[0].hist(frame.cv.dropna(), bins=40, alpha=0.6, label=kind)
        axes[1].hist(frame.case_count, bins=50, alpha=0.6, label=kind, log=True)
    axes[0].set(title="CV of cost within a type", xlabel="CV", ylabel="types")
    axes[1].set(title="Cases per type", xlabel="base cases", ylabel="types (log)")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "distributions.png", dpi=110)
    plt.close(fig)


def _plot_classes_and_levels(out: Path, year: int, shares: pd.Series, coef: pd.DataFrame) -> None:
    """classes_and_levels.png: the settlement year's case classes and the level coefficients."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    shares.sort_values().plot.barh(ax=axes[0], color="#4477aa")
    axes[0].set(title=f"Case classes, {year}", xlabel="share of cases")
    levels = coef.sort_values("level").assign(k=lambda f: f.k.astype(float))
    levels.plot.bar(x="level", y="k", ax=axes[1], legend=False, color="#aa7744")
    axes[1].axhline(1.0, color="grey", lw=0.8)
    axes[1].set(title="Level coefficient K", ylabel="K")
    fig.tight_layout()
    fig.savefig(out / "classes_and_levels.png", dpi=110)
    plt.close(fig)


def _page(
    year: int,
    cat: pd.DataFrame,
    coef: pd.DataFrame,
    classes: pd.DataFrame,
    shares: pd.Series,
    reviews: int,
) -> str:
    """index.md: the catalogue in figures, the year's matches and classes, the notable types."""
    core = cat[cat.type_kind == "core"]
    comp = cat[cat.type_kind == "comprehensive"]
    base = int(cat.case_count.sum())
    n_cases = int(classes.cases.sum())
    largest = cat.nlargest(15, "case_count")[["dip_code", "dip_name", "case_count", "rw"]]
    costliest = cat[cat.case_count >= 15].nlargest(15, "avg_cost")[
        ["dip_code", "dip_name", "case_count", "avg_cost", "rw"]
    ]
    m = coef.overall_avg_cost.iloc[0] if len(coef) else "?"
    by_kind = (
        classes.groupby("match_kind")
        .cases.sum()
        .reindex(["core", "core_partial", "comprehensive", "unmatched"], fill_value=0)
    )
    lines = [
        f"# DIP catalogue {year}",
        "",
        f"Base years {year - 3}–{year - 1} ({base:,} cases), weights "
        f"{coef.year_weights.iloc[0] if len(coef) else '?'}, threshold "
        f"{coef.threshold.iloc[0] if len(coef) else '?'}; M = {m} yuan.",
        "",
        "| | types | base cases | share of base cases |",
        "| --- | ---: | ---: | ---: |",
        f"| core | {len(core):,} | {int(core.case_count.sum()):,} | "
        f"{core.case_count.sum() / base:.1%} |",
        f"| comprehensive | {len(comp):,} | {int(comp.case_count.sum()):,} | "
        f"{comp.case_count.sum() / base:.1%} |",
        f"| of which sparse | {int(comp['sparse'].sum()):,} | "
        f"{int(comp[comp['sparse']].case_count.sum()):,} | |",
        f"| all | {len(cat):,} | {base:,} | 100% |",
        "",
        "![distributions](distributions.png)",
        "",
        "## Level coefficients",
        "",
        _table(coef.sort_values("level")[["level", "k", "overall_avg_cost", "base_cases"]]),
        "",
        f"## Settlement year {year}: {n_cases:,} cases",
        "",
        _table(
            pd.DataFrame(
                {
                    "match": by_kind.index,
                    "cases": [f"{v:,}" for v in by_kind.values],
                    "share": [f"{v / max(n_cases, 1):.2%}" for v in by_kind.values],
                }
            )
        ),
        "",
        _table(pd.DataFrame({"class": shares.index, "share": [f"{v:.2%}" for v in shares.values]})),
        "",
        f"Special review (ratio > 5, capped at 0.5% of cases): {reviews:,} cases.",
        "",
        "![classes and levels](classes_and_levels.png)",
        "",
        "## The 15 largest types",
        "",
        _table(largest),
        "",
        "## The 15 costliest types (15 cases or more)",
        "",
        _table(costliest),
        "",
    ]
    return "\n".join(lines)
