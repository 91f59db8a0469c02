"""The catalogue's and the case points' reports: ``reports/catalogue-<Y>/``, ``points-<Y>/``.

    diplake catalogue-report --year 2025

The catalogue: counts of core and comprehensive types and their base cases, the
CV distribution, the level coefficients, the largest and the costliest types,
and whether the auxiliary catalogue (SPEC 9.4) is on; when it is, its strata per
dimension and the coefficients that move furthest from 1.
The case points of settlement year Y: matches, case classes, special reviews and
each hospital's cases and points. Written after ``diplake points`` (which calls
it) as facts and plots; ``diplake reports build`` renders the pages
(jobs/dip/pages.py). Reads only gold tables, each at one version, named on the page.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from pyspark.sql import functions as F

from jobs import lake, site
from jobs.config import Config
from jobs.dip.auxiliary import DIMENSIONS

MATCH_KINDS = ("core", "core_partial", "comprehensive", "unmatched")
DEVIATIONS_SHOWN = 15


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def run(spark, cfg: Config, year: int) -> Path:
    """Read the year's catalogue, coefficients and points; write both reports' plots and facts."""
    reads = lake.PinnedReads(spark, cfg)
    cat = reads.table("gold", "dip_catalogue").filter(f"catalogue_version = {year}").toPandas()
    coef = (
        reads.table("gold", "dip_level_coefficients")
        .filter(f"catalogue_version = {year}")
        .toPandas()
    )
    auxiliary = "auxiliary" in coef.columns and bool(coef.auxiliary.fillna(False).any())
    strata = (
        reads.table("gold", "dip_auxiliary_catalogue")
        .filter(f"catalogue_version = {year}")
        .toPandas()
        if auxiliary
        else None
    )
    catalogue_reads = dict(reads.versions)
    pts = reads.table("gold", "dip_case_points").filter(F.col("settlement_year") == year)
    classes = pts.groupBy("case_class", "match_kind").agg(F.count("*").alias("cases")).toPandas()
    hospitals = (
        pts.groupBy("hospital_code")
        .agg(
            F.count("*").alias("cases"),
            F.sum("points").alias("points"),
            F.count_if(F.col("match_kind") == "unmatched").alias("unmatched"),
            F.count_if(F.col("special_review")).alias("special_review"),
        )
        .orderBy(F.col("points").desc(), "hospital_code")
        .toPandas()
    )
    reviews = int(hospitals.special_review.sum()) if len(hospitals) else 0
    cat["avg_cost"] = cat.avg_cost.astype(float)
    out = cfg.reports / f"catalogue-{year}"
    out.mkdir(parents=True, exist_ok=True)
    _plot_distributions(out, cat)
    site.write_report(
        out,
        kind="catalogue",
        title=f"DIP catalogue {year}",
        year=year,
        run_id=f"catalogue-{year}",
        status="final",
        reads=catalogue_reads,
        data={**_catalogue_facts(year, cat, coef), **_auxiliary_facts(cat, strata)},
    )
    points_out = cfg.reports / f"points-{year}"
    points_out.mkdir(parents=True, exist_ok=True)
    n_cases = int(classes.cases.sum())
    shares = classes.groupby("case_class").cases.sum() / max(n_cases, 1)
    _plot_classes_and_levels(points_out, year, shares, coef)
    by_kind = classes.groupby("match_kind").cases.sum().reindex(MATCH_KINDS, fill_value=0)
    site.write_report(
        points_out,
        kind="case_points",
        title=f"DIP case points {year}",
        year=year,
        run_id=f"points-{year}",
        status="final",
        reads=reads.versions,
        data={
            "cases": n_cases,
            "special_review": reviews,
            "matches": [
                {"match": k, "cases": int(v), "share": float(v) / max(n_cases, 1)}
                for k, v in by_kind.items()
            ],
            "classes": [{"class": k, "share": float(v)} for k, v in shares.sort_index().items()],
            "hospitals": _records(hospitals.assign(points=hospitals.points.astype(str))),
        },
    )
    return out


def _catalogue_facts(year: int, cat: pd.DataFrame, coef: pd.DataFrame) -> dict:
    core = cat[cat.type_kind == "core"]
    comp = cat[cat.type_kind == "comprehensive"]
    base = int(cat.case_count.sum())

    def kind(label: str, frame: pd.DataFrame, share: bool = True) -> dict:
        cases = int(frame.case_count.sum())
        return {"kind": label, "types": len(frame), "base_cases": cases,
                "share": cases / base if share and base else None}  # fmt: skip

    first = coef.iloc[0] if len(coef) else None
    columns = ["level", "k", "overall_avg_cost", "base_cases"]
    largest = cat.nlargest(15, "case_count")[["dip_code", "dip_name", "case_count", "rw"]]
    costliest = cat[cat.case_count >= 15].nlargest(15, "avg_cost")[
        ["dip_code", "dip_name", "case_count", "avg_cost", "rw"]
    ]
    return {
        "base_years": f"{year - 3}–{year - 1}",
        "base_cases": base,
        "year_weights": None if first is None else str(first.year_weights),
        "threshold": None if first is None else int(first.threshold),
        "level_method": None if first is None else first.get("level_method"),
        "m": None if first is None else str(first.overall_avg_cost),
        "kinds": [kind("core", core), kind("comprehensive", comp),
                  kind("of which sparse", comp[comp["sparse"]], share=False), kind("all", cat)],
        "levels": _records(coef.sort_values("level")[columns].astype(str)),
        "largest": _records(largest.assign(rw=largest.rw.astype(str))),
        "costliest": _records(
            costliest.assign(rw=costliest.rw.astype(str), avg_cost=costliest.avg_cost.round(2))
        ),
    }  # fmt: skip


def _auxiliary_facts(cat: pd.DataFrame, strata: pd.DataFrame | None) -> dict:
    """Whether the catalogue has the auxiliary catalogue; with it, per dimension the
    strata and those whose coefficient is not 1, and the largest deviations from 1."""
    if strata is None:
        return {"auxiliary": False}
    one = Decimal("1")
    strata = strata.assign(deviation=[abs(c - one) for c in strata.coef])
    moved = strata[strata.deviation > 0]
    dimensions = [
        {
            "dimension": dimension,
            "strata": int((strata.dimension == dimension).sum()),
            "adjusted": int((moved.dimension == dimension).sum()),
            "adjusted_types": int(moved[moved.dimension == dimension].dip_code.nunique()),
            "base_cases_adjusted": int(moved[moved.dimension == dimension].case_count.sum()),
        }
        for dimension in DIMENSIONS
    ]
    names = dict(zip(cat.dip_code, cat.dip_name, strict=True))
    largest = moved.sort_values(
        ["deviation", "dip_code", "dimension", "stratum"], ascending=[False, True, True, True]
    ).head(DEVIATIONS_SHOWN)
    deviations = [
        {"dip_code": r.dip_code, "dip_name": names.get(r.dip_code), "dimension": r.dimension,
         "stratum": r.stratum, "case_count": int(r.case_count), "avg_cost": str(r.avg_cost),
         "coef": str(r.coef)}
        for r in largest.itertuples(index=False)
    ]  # fmt: skip
    return {"auxiliary": True, "aux_dimensions": dimensions, "aux_deviations": deviations}


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
