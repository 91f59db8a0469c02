"""The auxiliary catalogue's dimensions (辅助目录, SPEC 9.4): a case's severity strata.

Two dimensions split a core type's cases:

* ``cci``: the Charlson comorbidity index of the secondary diagnoses ``other_dx``,
  coded as Quan (2005) maps ICD-10 to Charlson's 17 conditions, with Charlson's
  weights (1, 2, 3, 6), in the form of the ``comorbidipy`` package: a code counts
  for a condition when it starts with one of the condition's prefixes, written
  without the dot (``E11.2`` → ``E112``). Where a case has both forms of a
  condition only the severe one counts (severe liver disease over mild, diabetes
  with complications over without, metastatic over other cancer). No age points:
  age is its own dimension. ``cci_level``: 0 → ``0``, 1–2 → ``1``, 3–4 → ``2``,
  ≥5 → ``3``.
* ``age``: the age band at admission in the national text's bands (DIP 3.0 draft,
  ch. 5 §2): ``0-28d`` (at most 28 days of life), ``29d-1y`` (before the first
  birthday), then whole years ``1-6``, ``7-17``, ``18-64``, ``65+``.

The mapping, the weights and the hierarchy are read from comorbidipy once; the
prefixes go into a frame of a few hundred rows, and the index is a join and one
aggregate per case in Spark, never a Python function per case. The catalogue job
(jobs/dip/catalogue.py) turns the strata into coefficients; the points job
(jobs/dip/points.py) picks at most one per case with :func:`select_coefficient`.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

CHARLSON = "charlson_icd10_quan"  # comorbidipy's score_icd_variant: Charlson, ICD-10, Quan 2005
WEIGHTING = "charlson"  # Charlson's own weights, not comorbidipy's default Quan 2011 reweighting
CCI_LEVELS = ("0", "1", "2", "3")
AGE_BANDS = ("0-28d", "29d-1y", "1-6", "7-17", "18-64", "65+")
# The bands whose age coefficient a case can take (under 18, or 65 and over).
AGE_ADJUSTED = ("0-28d", "29d-1y", "1-6", "7-17", "65+")
# dimension -> the case column holding its stratum; the order is the order of precedence.
DIMENSIONS = {"cci": "cci_level", "age": "age_band"}
STRATA = {"cci": CCI_LEVELS, "age": AGE_BANDS}
ONE = "1.0000"

AUXILIARY_SCHEMA = StructType(
    [
        StructField("catalogue_version", IntegerType(), False),
        StructField("dip_code", StringType(), False),
        StructField("dimension", StringType(), False),
        StructField("stratum", StringType(), False),
        StructField("case_count", LongType(), False),
        StructField("avg_cost", DecimalType(18, 2), False),
        StructField("coef", DecimalType(10, 4), False),
    ]
)


def load_comorbidipy():
    """The comorbidipy package, importable on pandas 2.

    0.5.0, the last release for Python < 3.13, imports ``SettingWithCopyWarning``
    from ``pandas.core.common``, which pandas 1.5 moved to ``pandas.errors``; the
    name is put back where it looks before it is imported. Nothing else changes.
    """
    import pandas.core.common
    import pandas.errors

    if not hasattr(pandas.core.common, "SettingWithCopyWarning"):
        pandas.core.common.SettingWithCopyWarning = pandas.errors.SettingWithCopyWarning
    import comorbidipy

    return comorbidipy


@cache
def charlson_prefixes() -> tuple[tuple[str, str, int], ...]:
    """(condition, ICD-10 prefix without the dot, Charlson weight), from comorbidipy."""
    load_comorbidipy()
    from comorbidipy.mapping import mapping
    from comorbidipy.weights import weights

    weight = weights[CHARLSON][WEIGHTING]
    return tuple(
        (condition, prefix, int(weight[condition]))
        for condition, prefixes in mapping[CHARLSON].items()
        for prefix in prefixes
    )


@cache
def charlson_hierarchy() -> dict[str, str]:
    """milder condition -> the severer one that voids it, as comorbidipy scores them.

    Read from comorbidipy's own ``assignzero`` rather than written again: one probe
    row per ordered pair of conditions, both present; where the rule zeroes the
    first, the second is its severer form.
    """
    load_comorbidipy()
    from comorbidipy.assignzero import assignzero

    conditions = list(dict.fromkeys(c for c, _, _ in charlson_prefixes()))
    pairs = [(m, s) for m in conditions for s in conditions if m != s]
    probe = pd.DataFrame([{c: int(c in pair) for c in conditions} for pair in pairs])
    zeroed = assignzero(probe.copy(), CHARLSON)
    return {m: s for i, (m, s) in enumerate(pairs) if zeroed.at[i, m] == 0}


def with_cci(cases: DataFrame) -> DataFrame:
    """Add ``cci`` (int, 0 when no secondary diagnosis scores) from ``other_dx``.

    ``cases`` has one row per ``case_id``. Each code, dot removed and upper case,
    is cut to every prefix length of the mapping (3 and 4) and joined to the
    prefixes: equal to a prefix of length L exactly when the code starts with it.
    One aggregate per case then says which conditions are present, as
    comorbidipy's pivot does, and the index is the sum of their weights, a
    condition counting once and not at all beside its severer form.
    """
    rows = charlson_prefixes()
    hierarchy = charlson_hierarchy()
    weight = {condition: w for condition, _, w in rows}
    prefixes = cases.sparkSession.createDataFrame(
        [(condition, prefix) for condition, prefix, _ in rows], "condition string, prefix string"
    )
    lengths = sorted({len(p) for _, p, _ in rows})
    codes = cases.select(
        "case_id",
        F.explode(F.coalesce("other_dx", F.array().cast("array<string>"))).alias("code"),
    ).select("case_id", F.regexp_replace(F.upper(F.trim("code")), r"\.", "").alias("code"))
    heads = codes.select(
        "case_id", F.explode(F.array(*[F.substring("code", 1, n) for n in lengths])).alias("prefix")
    )
    present = (
        heads.join(F.broadcast(prefixes), "prefix")
        .groupBy("case_id")
        .agg(*[F.max(F.col("condition") == c).alias(f"_has_{c}") for c in weight])
    )

    def counted(condition: str) -> Column:
        has = F.col(f"_has_{condition}")
        severer = hierarchy.get(condition)
        return has & ~F.col(f"_has_{severer}") if severer else has

    total = sum((F.when(counted(c), w).otherwise(0) for c, w in weight.items()), F.lit(0))
    scores = present.select("case_id", total.cast("int").alias("cci"))
    return cases.join(scores, "case_id", "left").withColumn(
        "cci", F.coalesce(F.col("cci"), F.lit(0))
    )


def cci_level(cci: Column) -> Column:
    """0 → ``0``, 1–2 → ``1``, 3–4 → ``2``, 5 and more → ``3``."""
    return (
        F.when(cci.isNull(), None)
        .when(cci <= 0, "0")
        .when(cci <= 2, "1")
        .when(cci <= 4, "2")
        .otherwise("3")
    )


def age_band(birth: Column, admission: Column) -> Column:
    """The age band at admission; null without both dates or with admission before birth.

    Days of life = admission − birth (born the day of admission: 0): at most 28 is
    ``0-28d``. Whole years count birthdays passed by the admission date (a person
    born on 29 February is a year older on 1 March of a common year).
    """
    days = F.datediff(admission, birth)
    before_birthday = (F.month(admission) < F.month(birth)) | (
        (F.month(admission) == F.month(birth)) & (F.dayofmonth(admission) < F.dayofmonth(birth))
    )
    years = F.year(admission) - F.year(birth) - F.when(before_birthday, 1).otherwise(0)
    return (
        F.when(days.isNull() | (days < 0), None)
        .when(days <= 28, "0-28d")
        .when(years < 1, "29d-1y")
        .when(years <= 6, "1-6")
        .when(years <= 17, "7-17")
        .when(years <= 64, "18-64")
        .otherwise("65+")
    )


def with_strata(cases: DataFrame) -> DataFrame:
    """Add ``cci``, ``cci_level`` and ``age_band`` (needs ``case_id``, ``other_dx``,
    ``birth_date``, ``admission_date``)."""
    return with_cci(cases).select(
        "*",
        cci_level(F.col("cci")).alias("cci_level"),
        age_band(F.col("birth_date"), F.col("admission_date")).alias("age_band"),
    )


def stratum_cells(typed: DataFrame) -> pd.DataFrame:
    """Core types' cells summed per stratum and year: (dip_code, dimension, stratum,
    discharge_year, n, cost), small enough to collect.

    ``typed``: the catalogue's cells with their type (``type_kind``, ``dip_code``),
    ``n`` cases and ``cost`` each, and one column per dimension (:data:`DIMENSIONS`).
    A case without a stratum (no birth date) is in no stratum of that dimension.
    """
    core = typed.filter(F.col("type_kind") == "core")
    parts = [
        core.filter(F.col(column).isNotNull())
        .groupBy("dip_code", "discharge_year", F.col(column).alias("stratum"))
        .agg(F.sum("n").alias("n"), F.sum("cost").alias("cost"))
        .select(
            "dip_code",
            F.lit(dimension).alias("dimension"),
            "stratum",
            "discharge_year",
            "n",
            "cost",
        )
        for dimension, column in DIMENSIONS.items()
    ]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    return union.toPandas()


def select_coefficient(cases: DataFrame, auxiliary: DataFrame) -> DataFrame:
    """Add ``aux_dimension``, ``aux_stratum`` and ``aux_coef`` (1 where none) to matched cases.

    ``cases``: with ``dip_code``, ``cci_level`` and ``age_band``; ``auxiliary``: the
    catalogue version's rows of gold/dip_auxiliary_catalogue. A case takes the CCI
    coefficient of its stratum where its type has one other than 1; else the age
    coefficient where its band is under 18 or 65+ and that coefficient is not 1; at
    most one (SPEC 9.4). Only core types have rows, so a case matched to a core type
    (``core`` or ``core_partial``) can take one and a comprehensive case cannot.
    """

    def lookup(dimension: str, tag: str) -> DataFrame:
        return F.broadcast(
            auxiliary.filter(F.col("dimension") == dimension).select(
                F.col("dip_code").alias(f"_{tag}_dip_code"),
                F.col("stratum").alias(f"_{tag}_stratum"),
                F.col("coef").alias(f"_{tag}_coef"),
            )
        )

    one = F.lit(ONE).cast("decimal(10,4)")
    df = cases.join(
        lookup("cci", "c"),
        (F.col("dip_code") == F.col("_c_dip_code")) & (F.col("cci_level") == F.col("_c_stratum")),
        "left",
    ).join(
        lookup("age", "a"),
        (F.col("dip_code") == F.col("_a_dip_code")) & (F.col("age_band") == F.col("_a_stratum")),
        "left",
    )
    by_cci = F.coalesce(F.col("_c_coef") != one, F.lit(False))
    by_age = (
        ~by_cci
        & F.col("age_band").isin(*AGE_ADJUSTED)
        & F.coalesce(F.col("_a_coef") != one, F.lit(False))
    )
    return df.select(
        *cases.columns,
        F.when(by_cci, "cci").when(by_age, "age").alias("aux_dimension"),
        F.when(by_cci, F.col("cci_level")).when(by_age, F.col("age_band")).alias("aux_stratum"),
        F.when(by_cci, F.col("_c_coef"))
        .when(by_age, F.col("_a_coef"))
        .otherwise(one)
        .cast("decimal(10,4)")
        .alias("aux_coef"),
    )


def no_coefficient() -> list[Column]:
    """The auxiliary columns of a case scored on a catalogue built without them."""
    return [
        F.lit(None).cast("string").alias("aux_dimension"),
        F.lit(None).cast("string").alias("aux_stratum"),
        F.lit(ONE).cast("decimal(10,4)").alias("aux_coef"),
    ]
