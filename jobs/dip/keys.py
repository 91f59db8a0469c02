"""Per-case DIP keys (SPEC 5.1), as Spark column expressions.

* ``diag4``: the first 5 characters of ``principal_dx`` (``K35.8``); a
  3-character code stays as it is (``I10``). ``diag3``: the first 3.
* Procedures: duplicates dropped keeping the first occurrence; the principal is
  the first.
* ``proc_key``: the distinct codes of class S or T, the principal first when it
  is S/T, then the rest ascending; capped at 3 after ordering; joined with ``+``;
  ``""`` when there is none (conservative treatment).
* ``proc_class``: the highest class among all procedures, S > T > D, else C.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

PROC_KEY_CAP = 3
CLASS_RANK = {"S": 3, "T": 2, "D": 1}


def class_map(procedure_classes: DataFrame) -> Column:
    """A literal map code -> class from silver/procedure_classes (a few thousand codes)."""
    rows = procedure_classes.select("code", "class").collect()
    return F.create_map(*[F.lit(v) for r in rows for v in (r["code"], r["class"])])


def with_keys(cases: DataFrame, classes: Column) -> DataFrame:
    """Add ``diag4``, ``diag3``, ``proc_key`` (string), ``proc_codes`` (array), ``proc_class``."""

    def class_of(code: Column) -> Column:
        return F.try_element_at(classes, code)

    procs = F.array_distinct(F.coalesce(F.col("procedures"), F.array().cast("array<string>")))
    cls = F.transform(procs, class_of)
    principal = F.try_element_at(procs, F.lit(1))
    principal_st = F.coalesce(class_of(principal).isin("S", "T"), F.lit(False))
    st = F.filter(procs, lambda c: class_of(c).isin("S", "T"))
    ordered = F.when(
        principal_st,
        F.concat(F.array(principal), F.array_sort(F.filter(st, lambda c: c != principal))),
    ).otherwise(F.array_sort(st))
    codes = F.slice(ordered, 1, PROC_KEY_CAP)
    highest = (
        F.when(F.array_contains(cls, "S"), "S")
        .when(F.array_contains(cls, "T"), "T")
        .when(F.array_contains(cls, "D"), "D")
        .otherwise("C")
    )
    return cases.withColumns(
        {
            "diag4": F.substring("principal_dx", 1, 5),
            "diag3": F.substring("principal_dx", 1, 3),
            "proc_codes": codes,
            "proc_key": F.array_join(codes, "+"),
            "proc_class": highest,
        }
    )
