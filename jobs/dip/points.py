"""``diplake points --year Y``: the points of every case of settlement year Y (SPEC 5.2).

    diplake points --year 2025

Cases of year Y meet catalogue version Y. Matching, first that applies: core
(diag4, proc_key) → core_partial (diag4, the first code of a 2–3 code key) →
comprehensive (diag3, proc_class) → unmatched. Points are computed on exact
integers (jobs/dip/exact.py) and rounded half-up to 4 places once:

* low (ratio < 0.5): rw·K·ratio = rw·cost/avg_cost (K cancels);
* high (ratio > 2): rw·K·(ratio − 1) = rw·cost/avg_cost − rw·K;
* normal: rw·K; unmatched: rw = round(cost / M × 1000, 4), K = 1, points = rw.

The ratio is compared without dividing (cost < avg·K/2, cost > 2·avg·K). The
stored standard cost is rounded to 2 places and the ratio to 6. Of the cases
with ratio > 5, the floor(0.005·N) with the highest ratio (ties: case_id
ascending) get ``special_review``.

When the catalogue version was built with the auxiliary catalogue (SPEC 9.4,
recorded in gold/dip_level_coefficients), a case matched to a core type takes at
most one severity coefficient c (jobs/dip/auxiliary.py, ``aux_coef``; 1 where
none). Its standard cost is avg·K·c, and the ratio is taken on it, so the class
too is judged against the stratum's cost; then

* normal: rw·K·c; high: rw·K·c·(ratio − 1) = rw·cost/avg_cost − rw·K·c;
* low: 5.2's rule on the adjusted standard cost, rw·K·c·ratio = rw·cost/avg_cost:
  c cancels, a low case is paid on its cost as in 5.2.

With c = 1 every figure is 5.2's.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import Refused, lake, quality
from jobs.config import Config
from jobs.dip import auxiliary, keys
from jobs.dip.exact import WIDE, divide_half_up, units

log = logging.getLogger(__name__)

REVIEW_SHARE = (5, 1000)  # floor(0.005 · N)
REVIEW_RATIO = 5


class PointsError(Refused):
    """Points cannot be computed as asked (no catalogue for the year, no cases)."""


def match(cases: DataFrame, catalogue: DataFrame) -> DataFrame:
    """Add ``dip_code``, ``match_kind``, ``avg_cost`` and ``rw`` of the matched type (or nulls)."""
    core = catalogue.filter(F.col("type_kind") == "core")

    def lookup(rows: DataFrame, on: dict[str, str], tag: str) -> DataFrame:
        cols = [F.col(src).alias(f"_{tag}_{dst}") for dst, src in on.items()]
        picked = [F.col(c).alias(f"_{tag}_{c}") for c in ("dip_code", "avg_cost", "rw")]
        return F.broadcast(rows.select(*cols, *picked))

    full = lookup(core, {"diag4": "diag_key", "proc_key": "proc_key"}, "c")
    partial = lookup(core, {"diag4": "diag_key", "proc_key": "proc_key"}, "p")
    comp = lookup(
        catalogue.filter(F.col("type_kind") == "comprehensive"),
        {"diag3": "diag_key", "proc_class": "proc_class"},
        "m",
    )
    first_code = F.when(F.size("proc_codes") >= 2, F.col("proc_codes")[0])
    df = (
        cases.join(
            full,
            (F.col("diag4") == F.col("_c_diag4")) & (F.col("proc_key") == F.col("_c_proc_key")),
            "left",
        )
        .join(
            partial,
            (F.col("diag4") == F.col("_p_diag4")) & (first_code == F.col("_p_proc_key")),
            "left",
        )
        .join(
            comp,
            (F.col("diag3") == F.col("_m_diag3")) & (F.col("proc_class") == F.col("_m_proc_class")),
            "left",
        )
    )
    kind = (
        F.when(F.col("_c_dip_code").isNotNull(), "core")
        .when(F.col("_p_dip_code").isNotNull(), "core_partial")
        .when(F.col("_m_dip_code").isNotNull(), "comprehensive")
        .otherwise("unmatched")
    )
    df = df.withColumn("match_kind", kind)

    def pick(column: str):
        return (
            F.when(F.col("match_kind") == "core", F.col(f"_c_{column}"))
            .when(F.col("match_kind") == "core_partial", F.col(f"_p_{column}"))
            .when(F.col("match_kind") == "comprehensive", F.col(f"_m_{column}"))
        )

    return df.select(
        *cases.columns,
        "match_kind",
        pick("dip_code").alias("dip_code"),
        pick("avg_cost").alias("avg_cost"),
        pick("rw").alias("type_rw"),
    )


def score(matched: DataFrame, k_by_level: DataFrame, overall: object, rw_scale: int) -> DataFrame:
    """Classes, points and the stored figures for matched and unmatched cases (SPEC 5.2).

    With an ``aux_coef`` column (SPEC 9.4) the standard cost is avg·K·aux_coef and
    normal and high points carry the coefficient (module docstring); without it,
    the coefficient is 1.
    """
    df = matched.join(F.broadcast(k_by_level), "level", "left").withColumn(
        "k", F.coalesce(F.col("k"), F.lit(1).cast("decimal(10,4)"))
    )
    matched_case = F.col("match_kind") != "unmatched"
    cost_u = units("total_cost", 2)  # fen
    avg_u = units("avg_cost", 2)
    rw_u = units("type_rw", 4)
    k_u = units("k", 4)
    std_exact = F.col("avg_cost") * F.col("k")  # decimal, scale 6, exact
    c_u = F.lit(10_000).cast(WIDE)
    if "aux_coef" in matched.columns:
        c_u = units("aux_coef", 4)
        # decimal(24,6) holds avg·K exactly, so the product stays within 38 digits, scale 10
        std_exact = std_exact.cast("decimal(24,6)") * F.col("aux_coef")
    # The comparisons on integers of 10^-10 yuan: a decimal of scale 10 times a literal
    # would be cut to scale 6 by Spark.
    std_u = (avg_u * k_u * c_u).cast(WIDE)
    cost_x = (cost_u * F.lit(10**8)).cast(WIDE)
    low = (cost_x * F.lit(2)).cast(WIDE) < std_u
    high = cost_x > (std_u * F.lit(2)).cast(WIDE)
    case_class = (
        F.when(~matched_case, "unmatched").when(low, "low").when(high, "high").otherwise("normal")
    )
    # points × 10^4 as exact fractions num/den, then one half-up division
    low_pts = divide_half_up(rw_u * cost_u, avg_u)
    high_pts = divide_half_up(
        (rw_u * cost_u * F.lit(10**8)).cast(WIDE) - (rw_u * k_u * c_u * avg_u).cast(WIDE),
        (avg_u * F.lit(10**8)).cast(WIDE),
    )
    normal_pts = divide_half_up((rw_u * k_u * c_u).cast(WIDE), F.lit(10**8).cast(WIDE))
    m_u = units(F.lit(overall).cast("decimal(18,2)"), 2)
    unmatched_rw = divide_half_up(cost_u * F.lit(rw_scale * 10_000), m_u)
    points_u = (
        F.when(~matched_case, unmatched_rw)
        .when(low, low_pts)
        .when(high, high_pts)
        .otherwise(normal_pts)
    )
    candidate = matched_case & (cost_x > (std_u * F.lit(REVIEW_RATIO)).cast(WIDE))
    # The exact ratio orders the review candidates only; a decimal division on every
    # case cost about a second per 350k cases.
    ratio = F.when(candidate, F.col("total_cost") / std_exact)
    return df.select(
        *[c for c in matched.columns if c not in ("type_rw", "avg_cost")],
        F.when(matched_case, F.col("type_rw"))
        .otherwise((unmatched_rw / F.lit(10_000)).cast("decimal(18,4)"))
        .alias("rw"),
        F.when(matched_case, F.col("k")).otherwise(F.lit(1).cast("decimal(10,4)")).alias("k"),
        F.when(matched_case, F.round(std_exact, 2).cast("decimal(18,2)")).alias("standard_cost"),
        F.when(
            matched_case,
            (divide_half_up((cost_x * F.lit(10**6)).cast(WIDE), std_u) / F.lit(10**6)).cast(
                "decimal(18,6)"
            ),
        ).alias("ratio"),
        ratio.alias("_ratio_exact"),
        case_class.alias("case_class"),
        (points_u / F.lit(10_000)).cast("decimal(18,4)").alias("points"),
        candidate.alias("_candidate"),
    )


def flag_reviews(scored: DataFrame, n_cases: int) -> DataFrame:
    """``special_review`` for the floor(0.005·N) candidates with the highest ratio."""
    quota = n_cases * REVIEW_SHARE[0] // REVIEW_SHARE[1]
    # A top-k (each partition keeps its best ``quota``), not a window over one partition;
    # case_id is unique, so the order is total and the cut is exact.
    candidates = (
        scored.filter("_candidate")
        .select("case_id", "_ratio_exact")
        .orderBy(F.col("_ratio_exact").desc(), F.col("case_id").asc())
        .limit(quota)
        .select("case_id", F.lit(True).alias("_review"))
    )
    return (
        scored.join(candidates, "case_id", "left")
        .withColumn("special_review", F.coalesce("_review", F.lit(False)))
        .drop("_review", "_candidate", "_ratio_exact")
    )


def run(spark: SparkSession, cfg: Config, year: int) -> dict:
    reads = lake.PinnedReads(spark, cfg)
    catalogue_path = lake.table_path(cfg, "gold", "dip_catalogue")
    if not lake.is_table(spark, catalogue_path):
        raise PointsError(f"no catalogue at all: run `diplake catalogue --year {year}` first")
    catalogue = reads.table("gold", "dip_catalogue").filter(F.col("catalogue_version") == year)
    coefficients = reads.table("gold", "dip_level_coefficients").filter(
        F.col("catalogue_version") == year
    )
    # Catalogues built before the auxiliary catalogue have no such column: off.
    on = F.col("auxiliary") if "auxiliary" in coefficients.columns else F.lit(False)
    meta = coefficients.select(
        "overall_avg_cost", "rw_scale", F.coalesce(on, F.lit(False)).alias("auxiliary")
    ).first()
    if meta is None or catalogue.limit(1).count() == 0:
        raise PointsError(f"no catalogue version {year}: run `diplake catalogue --year {year}`")
    discharges = reads.table("silver", "discharges").filter(F.col("discharge_year") == year)
    classes = reads.table("silver", "procedure_classes")
    institutions = reads.table("silver", "institutions")
    levels = institutions.filter(F.col("type") == "hospital").select(
        F.col("institution_code").alias("hospital_code"), "level"
    )
    columns = ["case_id", "hospital_code", "principal_dx", "procedures", "total_cost"]
    if meta.auxiliary:
        columns += ["other_dx", "birth_date", "admission_date"]
    cases = keys.with_keys(discharges.select(*columns), classes).join(
        F.broadcast(levels), "hospital_code", "left"
    )
    matched = match(cases, catalogue)
    if meta.auxiliary:
        strata = reads.table("gold", "dip_auxiliary_catalogue").filter(
            F.col("catalogue_version") == year
        )
        matched = auxiliary.select_coefficient(auxiliary.with_strata(matched), strata)
    scored = score(
        matched,
        coefficients.select("level", "k"),
        meta.overall_avg_cost,
        int(meta.rw_scale),
    ).cache()
    points = None
    try:
        n_cases = scored.count()
        if n_cases == 0:
            raise PointsError(f"no silver discharges in {year}")
        points = flag_reviews(scored, n_cases).select(
            F.lit(year).alias("settlement_year"),
            "case_id",
            "hospital_code",
            "level",
            "dip_code",
            "match_kind",
            "rw",
            "k",
            "standard_cost",
            "ratio",
            "case_class",
            "points",
            "special_review",
            "total_cost",
            *(
                ["aux_dimension", "aux_stratum", "aux_coef"]
                if meta.auxiliary
                else auxiliary.no_coefficient()
            ),
            F.lit(reads.as_json()).alias("input_versions"),
        )
        points = points.cache()
        quality.gate(points, "gold", "dip_case_points", cfg.quality_root)
        lake.replace_where(
            spark,
            points,
            lake.table_path(cfg, "gold", "dip_case_points"),
            f"settlement_year = {year}",
            ["settlement_year"],
            merge_schema=True,  # the aux_* columns joined the contract later (SPEC 9.4)
        )
        by_class = (
            points.groupBy("case_class")
            .agg(
                F.count("*").alias("n"),
                F.sum("points").alias("points"),
                F.sum(F.col("special_review").cast("int")).alias("reviews"),
            )
            .collect()
        )
    finally:
        if points is not None:
            points.unpersist()
        scored.unpersist()
    summary = {r.case_class: r.n for r in by_class}
    reviews = sum(r.reviews for r in by_class)
    total = sum((r.points for r in by_class), Decimal(0))
    return {
        "year": year,
        "cases": n_cases,
        "classes": summary,
        "special_review": reviews,
        "total_points": str(total),
        "auxiliary": bool(meta.auxiliary),
        "input_versions": json.loads(reads.as_json()),
    }
