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

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

PROC_KEY_CAP = 3
CLASS_RANK = {"S": 3, "T": 2, "D": 1}


PX_TYPE = "array<struct<_pos:int,code:string,_class:string>>"


def with_keys(cases: DataFrame, classes: DataFrame) -> DataFrame:
    """Add ``diag4``, ``diag3``, ``proc_key`` (string), ``proc_codes`` (array), ``proc_class``.

    ``cases`` needs ``case_id``, ``principal_dx`` and ``procedures``; ``classes`` is
    silver/procedure_classes (``code``, ``class``). Classes are joined (broadcast) to
    the exploded procedures rather than looked up in a literal map, whose lookups
    scan every key.
    """
    procs = F.array_distinct(F.coalesce(F.col("procedures"), F.array().cast("array<string>")))
    others = [c for c in cases.columns if c != "case_id"]
    # One shuffle: explode (keeping cases without procedures), join the classes, and
    # gather each case back together with its other columns.
    exploded = cases.select(
        "case_id", *others, F.posexplode_outer(procs).alias("_pos", "_code")
    ).join(
        F.broadcast(classes.select(F.col("code").alias("_code"), F.col("class").alias("_class"))),
        "_code",
        "left",
    )
    item = F.when(
        F.col("_code").isNotNull(), F.struct("_pos", F.col("_code").alias("code"), "_class")
    )
    df = exploded.groupBy("case_id").agg(
        *[F.first(c).alias(c) for c in others],
        F.array_sort(F.collect_list(item)).alias("_px"),
    )
    px = F.coalesce(F.col("_px"), F.array().cast(PX_TYPE))
    principal = F.try_element_at(px, F.lit(1))
    principal_st = F.coalesce(principal["_class"].isin("S", "T"), F.lit(False))
    st_codes = F.transform(F.filter(px, lambda x: x["_class"].isin("S", "T")), lambda x: x["code"])
    ordered = F.when(
        principal_st,
        F.concat(
            F.array(principal["code"]),
            F.array_sort(F.filter(st_codes, lambda c: c != principal["code"])),
        ),
    ).otherwise(F.array_sort(st_codes))
    codes = F.slice(ordered, 1, PROC_KEY_CAP)
    cls = F.transform(px, lambda x: x["_class"])
    highest = (
        F.when(F.array_contains(cls, "S"), "S")
        .when(F.array_contains(cls, "T"), "T")
        .when(F.array_contains(cls, "D"), "D")
        .otherwise("C")
    )
    return df.withColumns(
        {
            "diag4": F.substring("principal_dx", 1, 5),
            "diag3": F.substring("principal_dx", 1, 3),
            "proc_codes": codes,
            "proc_key": F.array_join(codes, "+"),
            "proc_class": highest,
        }
    ).drop("_px")
