"""The procurement wing's report facts: the month's supervision, the year's retention,
the evaluation against the generator's truth.

Each function reads the gold rows its job just wrote (at the version it wrote),
draws the plots and writes ``reports/<id>/report.json``; ``diplake reports build``
renders the pages (jobs/procurement/pages.py).

* ``procurement-<Y>-<MM>``: completion against schedule by hospital (plot), the
  lights by drug group and institution (heat map), the red lights first with their
  evidence rows (table, key, Delta version), overdue payments by distributor and by
  paying hospital;
* ``retention-<Y>``: each hospital's retained amount and its contracts;
* ``procurement-evaluation``: every anomaly class's recall and precision.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lake, site
from jobs.config import Config
from jobs.procurement.lights import LIGHTS
from jobs.procurement.run import in_month

LIGHT_LEVEL = {light: i for i, light in enumerate(LIGHTS)}  # green < yellow < red
EVIDENCE = 5  # record ids shown per red light; the rest are a query away (table, version)
HEAT = 40  # groups and institutions in the heat map: those with the most non-green lights


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_completion(out: Path, hospitals: list[dict], schedule: float) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    colours = {"green": "#44aa77", "yellow": "#ddaa33", "red": "#cc3311"}
    xs = range(len(hospitals))
    ax.bar(
        xs,
        [h["completion"] for h in hospitals],
        color=[colours[h["light"]] for h in hospitals],
        width=0.8,
    )
    ax.axhline(schedule, color="black", lw=1, label=f"schedule {schedule:.2f}")
    ax.axhline(0.8 * schedule, color="#ddaa33", lw=1, ls="--", label="0.8 × schedule")
    ax.axhline(0.5 * schedule, color="#cc3311", lw=1, ls="--", label="0.5 × schedule")
    ax.set(
        title="Winning products received against the agreed volume, by hospital",
        xlabel="hospitals, by completion",
        ylabel="completion",
        xticks=[],
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "completion.png", dpi=110)
    plt.close(fig)


def _plot_heat(out: Path, cells: list[tuple[str, str, int]]) -> None:
    import numpy as np
    from matplotlib.colors import ListedColormap

    plt = _plt()
    groups = sorted({g for g, _, _ in cells})
    places = sorted({i for _, i, _ in cells})
    grid = np.full((len(groups), len(places)), np.nan)
    for g, i, level in cells:
        grid[groups.index(g), places.index(i)] = level
    fig, ax = plt.subplots(figsize=(min(14, 3 + 0.28 * len(places)), 2 + 0.22 * len(groups)))
    ax.imshow(
        grid,
        cmap=ListedColormap(["#44aa77", "#ddaa33", "#cc3311"]),
        vmin=0,
        vmax=2,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_xticks(range(len(places)), places, rotation=90, fontsize=6)
    ax.set_yticks(range(len(groups)), groups, fontsize=6)
    ax.set(title="Worst light of the month by drug group and institution (blank: none)")
    fig.tight_layout()
    fig.savefig(out / "lights.png", dpi=110)
    plt.close(fig)


def _evidence(spark: SparkSession, cfg: Config, versions: dict, red: list) -> None:
    """Each red light's evidence: the order or sale rows behind it, by record id, in the
    silver table and at the Delta version the job read."""
    if not red:
        return
    month = red[0]["month"]
    for table, who, when, product in (
        ("procurement_orders", "hospital_code", "ordered_at", "product_code"),
        ("outpatient_pharmacy", "institution_code", "txn_time", "item_code"),
    ):
        key = f"silver/{table}"
        if key not in versions:
            continue
        rows = (
            lake.read_version(spark, lake.table_path(cfg, "silver", table), versions[key])
            .filter(in_month(when, month))
            .join(
                spark.createDataFrame(
                    [(r["institution_code"], r["product_code"]) for r in red],
                    f"{who} string, {product} string",
                ),
                [who, product],
            )
            .select(who, product, "record_id")
            .collect()
        )
        by_light: dict[tuple[str, str], list[str]] = {}
        for x in rows:
            by_light.setdefault((x[who], x[product]), []).append(x.record_id)
        for r in red:
            ids = sorted(by_light.get((r["institution_code"], r["product_code"]), []))
            if ids:
                r["evidence"] = {
                    "table": key,
                    "version": versions[key],
                    "records": len(ids),
                    "record_ids": ids[:EVIDENCE],
                }


def month(spark: SparkSession, cfg: Config, summary: dict) -> dict:
    """``reports/procurement-<Y>-<MM>/`` from the rows the monthly run just wrote; returns
    its page and the month's headlines (red lights, hospitals behind schedule)."""
    year, mon, as_of = summary["year"], summary["month"], date.fromisoformat(summary["as_of"])
    label = f"{year}-{mon:02d}"
    rid = summary["run_id"]

    def gold(table: str):
        return lake.read_version(spark, lake.table_path(cfg, "gold", table)).filter(
            F.col("run_id") == rid
        )

    done = gold("vbp_completion").collect()
    by_hospital: dict[str, dict] = {}
    for r in done:
        h = by_hospital.setdefault(
            r.hospital_code,
            {
                "hospital_code": r.hospital_code,
                "agreed": 0,
                "winners": 0,
                "contracts": 0,
                "yellow": 0,
                "red": 0,
                "light": "green",
            },
        )
        h["agreed"] += r.agreed_qty
        h["winners"] += r.winner_qty
        h["contracts"] += 1
        if r.light != "green":
            h[r.light] += 1
            if LIGHT_LEVEL[r.light] > LIGHT_LEVEL[h["light"]]:
                h["light"] = r.light
    for h in by_hospital.values():
        h["completion"] = round(h["winners"] / h["agreed"], 4) if h["agreed"] else 0.0
    hospitals = sorted(by_hospital.values(), key=lambda h: h["completion"])
    schedule = float(done[0].schedule) if done else 0.0
    behind = [
        {k: _plain(v) for k, v in r.asDict().items() if k not in ("run_id", "input_versions")}
        for r in sorted(done, key=lambda r: (-LIGHT_LEVEL[r.light], r.completion))
        if r.light != "green"
    ]
    lit = gold("drug_price_lights")
    rows = (
        lit.filter(F.col("light") != "green")
        .orderBy(F.desc(F.col("light") == "red"), F.desc("ratio"))
        .collect()
    )
    red = [_light(r) for r in rows if r.light == "red"]
    yellow = [_light(r) for r in rows if r.light == "yellow"]
    _evidence(spark, cfg, summary["input_versions"], red)
    counts = {r.light: r["count"] for r in lit.groupBy("light").count().collect()}
    paid = gold("distributor_settlement")
    overdue = [
        {k: _plain(v) for k, v in r.asDict().items() if k not in ("run_id", "input_versions")}
        for r in paid.filter((F.col("overdue") > 0) | (F.col("paid_late") > 0))
        .orderBy(F.desc("overdue"), F.desc("max_days_overdue"))
        .collect()
    ]
    out = cfg.reports / f"procurement-{label}"
    out.mkdir(parents=True, exist_ok=True)
    if hospitals:
        _plot_completion(out, hospitals, schedule)
    worst: dict[tuple[str, str], int] = {}
    for r in rows:
        k = (r.group_id, r.institution_code)
        worst[k] = max(worst.get(k, 0), LIGHT_LEVEL[r.light])
    top_groups = _top({g for g, _ in worst}, [g for g, _ in worst])
    top_places = _top({i for _, i in worst}, [i for _, i in worst])
    cells = [(g, i, v) for (g, i), v in worst.items() if g in top_groups and i in top_places]
    if cells:
        _plot_heat(out, cells)
    site.write_report(
        out,
        kind="procurement_month",
        title=f"Procurement supervision {label}",
        year=year,
        month=mon,
        run_id=rid,
        status="computed",
        reads=summary["input_versions"],
        data={
            "as_of": as_of.isoformat(),
            "scheme_version": summary["scheme_version"],
            "schedule": str(done[0].schedule) if done else "0",
            "contracts": len(done),
            "hospitals": [{k: _plain(v) for k, v in h.items()} for h in hospitals],
            "behind": behind,
            "has_completion_plot": bool(hospitals),
            "has_heat_map": bool(cells),
            "lights": {k: counts.get(k, 0) for k in LIGHT_LEVEL},
            "red": red,
            "yellow": yellow,
            "overdue": overdue,
        },
    )
    return {
        "report": str(out / "index.html"),
        "red_lights": len(red),
        "red": red[:5],
        "behind_hospitals": sorted({r["hospital_code"] for r in behind}),
        "overdue_parties": len(overdue),
    }


def _top(names: set[str], seen: list[str]) -> set[str]:
    """The :data:`HEAT` names seen most often (ties by name)."""
    counts = Counter(seen)
    return set(sorted(names, key=lambda n: (-counts[n], n))[:HEAT])


def _light(r) -> dict:
    return {
        "month": r.month,
        "institution_code": r.institution_code,
        "product_code": r.product_code,
        "group_id": r.group_id,
        "is_winner": r.is_winner,
        "qty": r.qty,
        "unit_price": str(r.unit_price),
        "reference": str(r.reference),
        "ratio": str(r.ratio),
        "light": r.light,
        "reason": r.reason,
    }


def _plain(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def retention(spark: SparkSession, cfg: Config, summary: dict) -> Path:
    """``reports/retention-<Y>/``: each hospital's retention of the year, with its contracts."""
    year, rid = summary["year"], summary["run_id"]
    rows = (
        lake.read_version(spark, lake.table_path(cfg, "gold", "vbp_surplus_retention"))
        .filter(F.col("run_id") == rid)
        .orderBy("hospital_code", "group_id")
        .collect()
    )
    from decimal import Decimal

    per: dict[str, dict] = {}
    for r in rows:
        h = per.setdefault(
            r.hospital_code,
            {
                "hospital_code": r.hospital_code,
                "retained": Decimal("0.00"),
                "saving": Decimal("0.00"),
                "contracts": 0,
                "gated": 0,
            },
        )
        h["retained"] += r.retained
        h["saving"] += r.saving
        h["contracts"] += 1
        h["gated"] += r.gate < 1
    out = cfg.reports / f"retention-{year}"
    out.mkdir(parents=True, exist_ok=True)
    site.write_report(
        out,
        kind="procurement_retention",
        title=f"Surplus retention {year}",
        year=year,
        run_id=rid,
        status="computed",
        reads=summary["input_versions"],
        data={
            "scheme_version": summary["scheme_version"],
            "retained": summary["retained"],
            "hospitals": [
                {k: _plain(v) for k, v in h.items()}
                for h in sorted(per.values(), key=lambda h: -h["retained"])
            ],
            "contracts": [
                {
                    k: _plain(v)
                    for k, v in r.asDict().items()
                    if k not in ("run_id", "input_versions")
                }
                for r in rows
            ],
        },
    )
    return out / "index.html"


def evaluation(cfg: Config, result: dict, reads: dict) -> Path:
    """``reports/procurement-evaluation/``: recall and precision per anomaly class."""
    out = cfg.reports / "procurement-evaluation"
    out.mkdir(parents=True, exist_ok=True)
    site.write_report(
        out,
        kind="procurement_evaluation",
        title="Procurement checks against the generator's truth",
        year=result["year"],
        run_id=result["run_id"],
        status="computed",
        reads=reads,
        data={k: v for k, v in result.items() if k not in ("year", "run_id")},
    )
    return out / "index.html"
