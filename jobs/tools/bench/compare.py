"""The DuckDB reference against what the Spark jobs wrote, figure by figure.

    python -m jobs.tools.bench.compare --year 2025     (settings from DIPLAKE_*)

Runs :func:`jobs.tools.bench.reference.run` on the lake's silver tables, reads
``gold/dip_catalogue``, ``gold/dip_level_coefficients`` and ``gold/dip_case_points``
of the year with delta-rs, and prints one JSON line: the reference's seconds,
whether the catalogue (every type's kind, case count, avg_cost and RW, plus M and
K) and the points (every case's type, match, class, points and review flag) are
the same, and the counts behind the verdicts.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

import pandas as pd

from jobs import config, lake
from jobs.tools.bench.reference import Reference, run


def _gold(cfg: config.Config, table: str, columns: list[str]) -> pd.DataFrame:
    from deltalake import DeltaTable

    return DeltaTable(lake.table_path(cfg, "gold", table)).to_pandas(columns=columns)


def compare(cfg: config.Config, year: int, ref: Reference) -> dict:
    cat = _gold(
        cfg,
        "dip_catalogue",
        ["catalogue_version", "dip_code", "type_kind", "case_count", "avg_cost", "rw"],
    )
    cat = cat[cat.catalogue_version == year].set_index("dip_code").sort_index()
    mine = ref.catalogue.set_index("dip_code").sort_index()
    same_types = list(cat.index) == list(mine.index)
    type_diffs = 0
    if same_types:
        for column in ("type_kind", "case_count"):
            type_diffs += int((cat[column].astype(str) != mine[column].astype(str)).sum())
        for column in ("avg_cost", "rw"):
            spark = cat[column].map(lambda v: Decimal(str(v)))
            type_diffs += int((spark != mine[column]).sum())
    coef = _gold(
        cfg, "dip_level_coefficients", ["catalogue_version", "level", "k", "overall_avg_cost"]
    )
    coef = coef[coef.catalogue_version == year]
    same_k = {int(r.level): Decimal(str(r.k)) for r in coef.itertuples()} == ref.coefficients
    same_m = {Decimal(str(v)) for v in coef.overall_avg_cost} == {ref.overall}
    pts = _gold(
        cfg,
        "dip_case_points",
        [
            "settlement_year",
            "case_id",
            "dip_code",
            "match_kind",
            "case_class",
            "points",
            "special_review",
        ],
    )
    pts = pts[pts.settlement_year == year]
    pts["points_u"] = pts.points.map(lambda v: int(Decimal(str(v)) * 10_000))
    joined = pts.merge(ref.points, on="case_id", how="outer", suffixes=("_spark", "_duckdb"))
    differ = pd.Series(False, index=joined.index)
    for column in ("dip_code", "match_kind", "case_class", "points_u", "special_review"):
        a, b = joined[f"{column}_spark"], joined[f"{column}_duckdb"]
        differ |= ~((a == b) | (a.isna() & b.isna()))
    return {
        "seconds": {k: round(v, 2) for k, v in ref.seconds.items()},
        "same_catalogue": bool(same_types and type_diffs == 0 and same_k and same_m),
        "same_points": bool(len(pts) == len(ref.points) and not differ.any()),
        "figures": {
            "types_spark": len(cat),
            "types_duckdb": len(mine),
            "catalogue_field_differences": type_diffs,
            "cases_spark": len(pts),
            "cases_duckdb": len(ref.points),
            "cases_that_differ": int(differ.sum()),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config.add_arguments(parser)
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: every core)")
    args = parser.parse_args(argv)
    cfg = config.from_args(args)
    ref = run(cfg, args.year, args.threads)
    print(json.dumps(compare(cfg, args.year, ref)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
