"""``diplake catalogue --year Y``: the DIP catalogue and level coefficients (SPEC 5.1).

    diplake catalogue --year 2025 [--threshold 15] [--weights 1:2:7] [--rw-scale 1000]
        [--auxiliary]

Spark does what scales with the cases (keys, type assignment, sums and counts per
type, year and level); the few thousand aggregates then go through exact
rational arithmetic (jobs/dip/exact.py) so every mean, weight and ratio is
rounded once, where the spec says. Output, both versioned by Y (rows replaced by
``catalogue_version = Y``):

* ``gold/dip_catalogue``: one row per type (contract in SPEC 5.1);
* ``gold/dip_level_coefficients``: K per hospital level with M, the threshold,
  the weights, whether the auxiliary catalogue is on, and the Delta version of
  every input (``input_versions``);
* ``gold/dip_auxiliary_catalogue`` (SPEC 9.4, only with ``auxiliary``): a
  coefficient per core type and severity stratum (jobs/dip/auxiliary.py), from
  the same base cases, years and weights. Built without it, the version has none.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from jobs import Refused, lake, quality
from jobs.config import Config
from jobs.dip import auxiliary, keys
from jobs.dip.exact import WIDE, round_half_up, units
from jobs.terms import LEVEL_METHODS

log = logging.getLogger(__name__)

CLASS_LABEL = {"S": "手术/介入", "T": "治疗性操作", "D": "诊断性操作", "C": "保守治疗"}

CATALOGUE_SCHEMA = StructType(
    [
        StructField("catalogue_version", IntegerType(), False),
        StructField("dip_code", StringType(), False),
        StructField("type_kind", StringType(), False),
        StructField("diag_key", StringType(), False),
        StructField("proc_key", StringType(), True),
        StructField("proc_class", StringType(), True),
        StructField("dip_name", StringType(), True),
        StructField("case_count", LongType(), False),
        StructField("avg_cost", DecimalType(18, 2), False),
        StructField("rw", DecimalType(18, 4), False),
        StructField("cv", DoubleType(), True),
        StructField("sparse", BooleanType(), False),
    ]
)
COEFFICIENT_SCHEMA = StructType(
    [
        StructField("catalogue_version", IntegerType(), False),
        StructField("level", IntegerType(), False),
        StructField("k", DecimalType(10, 4), False),
        StructField("overall_avg_cost", DecimalType(18, 2), False),
        StructField("threshold", IntegerType(), False),
        StructField("year_weights", StringType(), False),
        StructField("rw_scale", IntegerType(), False),
        StructField("base_cases", LongType(), False),
        StructField("input_versions", StringType(), False),
        StructField("created_at", TimestampType(), False),
        StructField("level_method", StringType(), True),  # null on catalogues built before it
        StructField("auxiliary", BooleanType(), True),  # null (off) on catalogues built before it
    ]
)


@dataclass(frozen=True)
class Params:
    year: int
    threshold: int = 15
    weights: tuple[int, int, int] = (1, 2, 7)  # oldest base year first
    rw_scale: int = 1000
    level_method: str = LEVEL_METHODS[0]
    auxiliary: bool = False  # SPEC 9.4: the auxiliary catalogue, off by default

    def __post_init__(self) -> None:
        if self.level_method not in LEVEL_METHODS:
            raise CatalogueError(
                f"unknown level method {self.level_method!r}: one of {', '.join(LEVEL_METHODS)}"
            )

    @property
    def base_years(self) -> tuple[int, int, int]:
        return (self.year - 3, self.year - 2, self.year - 1)

    @property
    def weight_of(self) -> dict[int, int]:
        return dict(zip(self.base_years, self.weights, strict=True))


class CatalogueError(Refused):
    """The catalogue cannot be built as asked (no base cases, broken invariant)."""


def weighted_mean(means: dict[int, Fraction], weight_of: dict[int, int]) -> Fraction:
    """Σ w_y·mean_y / Σ w_y over the years present (weights rescaled when a year is missing)."""
    total = sum(weight_of[y] for y in means)
    return sum((weight_of[y] * m for y, m in means.items()), Fraction(0)) / total


def assign_types(df: DataFrame, threshold: int, count: str | None = None) -> DataFrame:
    """Each row's type: core (diag4, proc_key) with >= threshold cases, else comprehensive.

    ``df`` holds cases, or cells of cases with their number in column ``count``.
    """
    n = F.sum(count) if count else F.count("*")
    core = (
        df.groupBy("diag4", "proc_key")
        .agg(n.alias("_n"))
        .filter(F.col("_n") >= threshold)
        .drop("_n")
        .withColumn("_core", F.lit(True))
    )
    typed = df.join(F.broadcast(core), ["diag4", "proc_key"], "left")
    is_core = F.col("_core").isNotNull()
    return typed.select(
        "*",
        F.when(is_core, "core").otherwise("comprehensive").alias("type_kind"),
        F.when(is_core, F.concat_ws("|", "diag4", "proc_key"))
        .otherwise(F.concat_ws("|", "diag3", F.lit("*"), "proc_class"))
        .alias("dip_code"),
        # The type's own keys: a comprehensive type spans many diag4 and proc_key values.
        F.when(is_core, F.col("diag4")).otherwise(F.col("diag3")).alias("diag_key"),
        F.when(is_core, F.col("proc_key")).alias("type_proc_key"),
        F.when(~is_core, F.col("proc_class")).alias("type_proc_class"),
    ).drop("_core")


def base_cases(
    discharges: DataFrame, classes: DataFrame, institutions: DataFrame, params: Params
) -> DataFrame:
    """The base years' cases with their keys and their hospital's level, and with the
    auxiliary catalogue on, their severity strata (``cci_level``, ``age_band``)."""
    levels = institutions.filter(F.col("type") == "hospital").select(
        F.col("institution_code").alias("hospital_code"), "level"
    )
    columns = [
        "case_id", "hospital_code", "discharge_year", "principal_dx", "procedures", "total_cost"
    ]  # fmt: skip
    if params.auxiliary:
        columns += ["other_dx", "birth_date", "admission_date"]
    cases = keys.with_keys(
        discharges.filter(F.col("discharge_year").isin(*params.base_years)).select(*columns),
        classes,
    )
    if params.auxiliary:
        cases = auxiliary.with_strata(cases)
    return cases.join(F.broadcast(levels), "hospital_code", "left")


def key_cells(base: DataFrame, strata: tuple[str, ...] = ()) -> DataFrame:
    """The cases summed per key, year and level: ``n``, ``cost`` and ``cost_sq``.

    Everything the catalogue needs is a sum over cases (counts, costs, and for the
    CV the squares of the costs in fen, exact integers), so the cases are read once
    and the types are assigned to a few hundred thousand cells instead of a
    million cases. ``strata``: columns that split the cells further (the auxiliary
    catalogue's ``cci_level`` and ``age_band``); every sum per type stays the same.
    """
    fen = units("total_cost", 2)
    cell = ("diag4", "proc_key", "diag3", "proc_class", "discharge_year", "level", *strata)
    return base.groupBy(*cell).agg(
        F.count("*").alias("n"),
        F.sum("total_cost").alias("cost"),
        F.sum((fen * fen).cast(WIDE)).alias("cost_sq"),
    )


def coefficient_of_variation(n: int, cost: Decimal, cost_sq: Decimal) -> float | None:
    """Sample standard deviation (n - 1) over the mean, from exact sums (cost in yuan, squares
    in fen²); None under two cases or at a zero mean."""
    if n < 2 or cost == 0:
        return None
    s1 = int(Decimal(cost) * 100)  # fen, exact
    variance = Fraction(n * int(cost_sq) - s1 * s1, n * (n - 1))  # fen²
    return math.sqrt(variance) / float(Fraction(s1, n))


def _aggregates(typed: DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per type, year and level: n and cost sum; per type: n and cv), small enough to collect."""
    cells = (
        typed.groupBy("dip_code", "discharge_year", "level")
        .agg(F.sum("n").alias("n"), F.sum("cost").alias("cost"))
        .toPandas()
    )
    types = (
        typed.groupBy("dip_code", "type_kind", "diag_key", "type_proc_key", "type_proc_class")
        .agg(F.sum("n").alias("n"), F.sum("cost").alias("cost"), F.sum("cost_sq").alias("sq"))
        .toPandas()
    )
    types["cv"] = [
        coefficient_of_variation(int(n), c, q)
        for n, c, q in zip(types.n, types.cost, types.sq, strict=True)
    ]
    return cells, types.drop(columns=["cost", "sq"])


def compute(
    cells: pd.DataFrame, params: Params
) -> tuple[dict[str, Decimal], Decimal, dict[str, Decimal], dict[int, Decimal]]:
    """Exact SPEC 5.1 figures from the aggregates: (avg_cost, M, rw, K by level)."""
    w = params.weight_of
    sums: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(lambda: [0, Fraction(0)]))
    year_all: dict[int, list] = defaultdict(lambda: [0, Fraction(0)])
    for r in cells.itertuples(index=False):
        cost = Fraction(Decimal(r.cost))
        cell = sums[r.dip_code][int(r.discharge_year)]
        cell[0] += int(r.n)
        cell[1] += cost
        year_all[int(r.discharge_year)][0] += int(r.n)
        year_all[int(r.discharge_year)][1] += cost
    avg_cost = {
        t: round_half_up(weighted_mean({y: c / n for y, (n, c) in years.items()}, w), 2)
        for t, years in sums.items()
    }
    overall = round_half_up(weighted_mean({y: c / n for y, (n, c) in year_all.items()}, w), 2)
    if overall <= 0:
        raise CatalogueError(f"the base cases' mean cost M is {overall}: no catalogue")
    rw = {
        t: round_half_up(Fraction(a) / Fraction(overall) * params.rw_scale, 4)
        for t, a in avg_cost.items()
    }
    return avg_cost, overall, rw, level_coefficients(cells, avg_cost, params)


def level_coefficients(
    cells: pd.DataFrame, avg_cost: dict[str, Decimal], params: Params
) -> dict[int, Decimal]:
    """K per hospital level, each base case weighted by its year's weight (SPEC 5.1).

    ``casemix``: Σ w·cost / Σ w·avg_cost(t) over the level's cases (t the case's type);
    ``raw``: (Σ w·cost / Σ w over the level's cases) / (the same over all base cases).
    """
    w = params.weight_of
    cost: dict[int, Fraction] = defaultdict(Fraction)
    expected: dict[int, Fraction] = defaultdict(Fraction)
    weight: dict[int, Fraction] = defaultdict(Fraction)
    all_cost, all_weight = Fraction(0), Fraction(0)
    for r in cells.itertuples(index=False):
        wy, total = w[int(r.discharge_year)], Fraction(Decimal(r.cost))
        all_cost += wy * total
        all_weight += wy * int(r.n)
        if pd.isna(r.level):
            continue
        level = int(r.level)
        cost[level] += wy * total
        expected[level] += wy * int(r.n) * Fraction(avg_cost[r.dip_code])
        weight[level] += wy * int(r.n)
    if params.level_method == "raw":
        city = all_cost / all_weight
        return {lv: round_half_up(cost[lv] / weight[lv] / city, 4) for lv in cost if weight[lv]}
    return {lv: round_half_up(cost[lv] / expected[lv], 4) for lv in cost if expected[lv]}


def stratum_coefficients(
    strata: pd.DataFrame, avg_cost: dict[str, Decimal], params: Params
) -> list[tuple[str, str, str, int, Decimal, Decimal]]:
    """(dip_code, dimension, stratum, case_count, avg_cost, coef) per core type and
    stratum (SPEC 9.4), from :func:`jobs.dip.auxiliary.stratum_cells`.

    ``avg_cost(t,s)`` is weighted over the base years exactly as the type's
    ``avg_cost(t)`` (weights rescaled over the years the stratum has cases) and
    rounded to 2. ``coef`` = round(avg_cost(t,s) / avg_cost(t), 4), from the two
    rounded averages as rw is from the rounded avg_cost and M (so the stored
    columns give it back), where the stratum has at least ``threshold`` base
    cases; 1 under that.
    """
    sums: dict[tuple, dict[int, list]] = defaultdict(lambda: defaultdict(lambda: [0, Fraction(0)]))
    for r in strata.itertuples(index=False):
        cell = sums[(r.dip_code, r.dimension, r.stratum)][int(r.discharge_year)]
        cell[0] += int(r.n)
        cell[1] += Fraction(Decimal(r.cost))
    one = Decimal(auxiliary.ONE)

    def order(key: tuple) -> tuple:
        t, dimension, stratum = key
        dims = list(auxiliary.DIMENSIONS)
        return (t, dims.index(dimension), auxiliary.STRATA[dimension].index(stratum))

    rows = []
    for key in sorted(sums, key=order):
        t, years = key[0], sums[key]
        n = sum(count for count, _ in years.values())
        mean = weighted_mean({y: c / count for y, (count, c) in years.items()}, params.weight_of)
        avg = round_half_up(mean, 2)
        type_avg = Fraction(avg_cost[t])
        thick = n >= params.threshold and type_avg > 0
        rows.append((*key, n, avg, round_half_up(Fraction(avg) / type_avg, 4) if thick else one))
    return rows


def _names(spark: SparkSession, icd10: DataFrame, classes: DataFrame):
    dx = {r.code: r.name_zh for r in icd10.select("code", "name_zh").collect()}
    px = {r.code: r.name_zh for r in classes.select("code", "name_zh").collect()}

    def name(kind: str, diag_key: str, proc_key: str | None, proc_class: str | None) -> str:
        if kind == "comprehensive":
            return f"{dx.get(diag_key) or diag_key}（{CLASS_LABEL[proc_class]}）"
        head = dx.get(diag_key) or dx.get(diag_key[:3]) or diag_key
        if not proc_key:
            return f"{head}（保守治疗）"
        return head + "：" + "+".join(px.get(c) or c for c in proc_key.split("+"))

    return name


def run(spark: SparkSession, cfg: Config, params: Params) -> dict:
    reads = lake.PinnedReads(spark, cfg)
    discharges = reads.table("silver", "discharges")
    classes = reads.table("silver", "procedure_classes")
    institutions = reads.table("silver", "institutions")
    icd10 = reads.table("silver", "icd10_codes")
    strata = tuple(auxiliary.DIMENSIONS.values()) if params.auxiliary else ()
    by_key = key_cells(base_cases(discharges, classes, institutions, params), strata).cache()
    try:
        typed = assign_types(by_key, params.threshold, count="n")
        cells, types = _aggregates(typed)
        by_stratum = auxiliary.stratum_cells(typed) if params.auxiliary else None
    finally:
        by_key.unpersist()
    n_base = int(types.n.sum())
    if n_base == 0:
        raise CatalogueError(
            f"no silver discharges in {params.base_years[0]}–{params.base_years[-1]}: "
            f"nothing to build catalogue {params.year} from"
        )
    log.info("catalogue %d: %d base cases", params.year, n_base)
    avg_cost, overall, rw, k = compute(cells, params)
    if int(cells.n.sum()) != n_base:
        raise CatalogueError("the types' case counts do not add up to the base cases")
    name = _names(spark, icd10, classes)
    rows = []
    for r in types.sort_values("dip_code").itertuples(index=False):
        core = r.type_kind == "core"
        rows.append(
            (
                params.year,
                r.dip_code,
                r.type_kind,
                r.diag_key,
                r.type_proc_key,
                r.type_proc_class,
                name(r.type_kind, r.diag_key, r.type_proc_key, r.type_proc_class),
                int(r.n),
                avg_cost[r.dip_code],
                rw[r.dip_code],
                None if pd.isna(r.cv) else float(r.cv),
                (not core) and int(r.n) < params.threshold,
            )
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    weights = ":".join(str(x) for x in params.weights)
    coefficient_rows = [
        (
            params.year,
            level,
            k[level],
            overall,
            params.threshold,
            weights,
            params.rw_scale,
            n_base,
            reads.as_json(),
            now,
            params.level_method,
            params.auxiliary,
        )
        for level in sorted(k)
    ]
    outputs = [
        ("dip_catalogue", CATALOGUE_SCHEMA, rows),
        ("dip_level_coefficients", COEFFICIENT_SCHEMA, coefficient_rows),
    ]
    aux_rows = []
    if by_stratum is not None:
        aux_rows = [
            (params.year, *row) for row in stratum_coefficients(by_stratum, avg_cost, params)
        ]
        outputs.append(("dip_auxiliary_catalogue", auxiliary.AUXILIARY_SCHEMA, aux_rows))
    # Gated as pandas frames: the rows are in Python already, and GX checks a few
    # thousand of them without a Spark job per metric. All pass before any is written.
    for table, schema, data in outputs:
        quality.gate(pd.DataFrame(data, columns=schema.names), "gold", table, cfg.quality_root)
    where = f"catalogue_version = {params.year}"
    aux_path = lake.table_path(cfg, "gold", "dip_auxiliary_catalogue")
    if by_stratum is None and lake.is_table(spark, aux_path):
        # Built without it, the version has no auxiliary rows, whatever an earlier run left.
        outputs.append(("dip_auxiliary_catalogue", auxiliary.AUXILIARY_SCHEMA, []))
    for table, schema, data in outputs:
        lake.replace_where(
            spark,
            spark.createDataFrame(data, schema),
            lake.table_path(cfg, "gold", table),
            where,
            ["catalogue_version"],
            merge_schema=True,  # level_method and auxiliary joined the coefficients' contract later
        )
    core = types[types.type_kind == "core"]
    return {
        "year": params.year,
        "base_cases": n_base,
        "types": len(types),
        "core_types": len(core),
        "comprehensive_types": len(types) - len(core),
        "core_coverage": float(core.n.sum() / n_base),
        "M": str(overall),
        "k": {level: str(v) for level, v in sorted(k.items())},
        "level_method": params.level_method,
        "auxiliary": params.auxiliary,
        **(
            {
                "auxiliary_strata": len(aux_rows),
                "auxiliary_adjusted": sum(1 for r in aux_rows if r[-1] != Decimal(auxiliary.ONE)),
            }
            if params.auxiliary
            else {}
        ),
        "input_versions": json.loads(reads.as_json()),
    }
