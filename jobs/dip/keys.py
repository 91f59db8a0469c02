"""Per-case DIP keys (SPEC 5.1), as Spark column expressions.

* ``diag4``: the first 5 characters of ``principal_dx`` (``K35.8``); a
  3-character code stays as it is (``I10``). ``diag3``: the first 3.
* Procedures: duplicates dropped keeping the first occurrence; the principal is
  the first.
* ``proc_key``: the distinct codes of class S or T, the principal first when it
  is S/T, then the rest ascending; capped at 3 after ordering; joined with ``+``;
  ``""`` when there is none (conservative treatment).
* ``proc_class``: the class of the principal procedure (S, T or D), else C (no
  procedure, or a principal without a class). The national text groups a
  comprehensive case by its principal procedure's attribute (DIP 3.0 draft, ch. 3
  §3), not by the highest class anywhere in the record.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.vocab import CHAPTER_CLASSES, procedure_class

PROC_KEY_CAP = 3
CLASSES = ("S", "T", "D")


def class_overrides(classes: DataFrame) -> dict[str, list[str]]:
    """The codes of silver/procedure_classes whose class is not their chapter's default.

    SPEC 4 classes a procedure by its ICD-9-CM-3 chapter (00-86 S, 87-91 D, 92-99
    T) unless the table says otherwise; only those exceptions need a lookup.
    """
    overrides: dict[str, list[str]] = {cls: [] for cls in CLASSES}
    for row in classes.select("code", "class").collect():
        code, cls = row["code"], row["class"]
        if cls in overrides and code is not None and _chapter_default(code) != cls:
            overrides[cls].append(code)
    return {cls: sorted(codes) for cls, codes in overrides.items()}


def _chapter_default(code: str) -> str | None:
    """As :func:`class_sql` reads a chapter: two digits, else no class."""
    return procedure_class(code) if code[:2].isdigit() else None


def _sql_in(codes: list[str]) -> str:
    """``c IN ('a', 'b', …)``, or false when there is no code."""
    if not codes:
        return "false"
    quoted = ", ".join("'" + c.replace("\\", "\\\\").replace("'", "\\'") + "'" for c in codes)
    return f"c IN ({quoted})"


def class_sql(overrides: dict[str, list[str]]) -> str:
    """SQL for the class of the procedure code ``c``: the table's override, else its chapter's.

    Kept as a rule with exceptions rather than a literal list of every code: a
    plan holding the 3,900 codes three times took seconds to analyse and optimise
    at every action, and the exploded join it replaced shuffled every case.
    """
    chapter = "try_cast(substring(c, 1, 2) AS int)"
    table = [f"WHEN {_sql_in(overrides[cls])} THEN '{cls}'" for cls in CLASSES]
    rule = [f"WHEN {chapter} BETWEEN {a} AND {b} THEN '{cls}'" for a, b, cls in CHAPTER_CLASSES]
    return f"CASE {' '.join(table + rule)} END"


def with_keys(cases: DataFrame, classes: DataFrame) -> DataFrame:
    """Add ``diag4``, ``diag3``, ``proc_key`` (string), ``proc_codes`` (array), ``proc_class``.

    ``cases`` needs ``principal_dx`` and ``procedures``; ``classes`` is
    silver/procedure_classes (``code``, ``class``). The class of each code is
    worked out inside the array functions (:func:`class_sql`), so the keys are a
    projection of each case: no explode, no join, no shuffle (the explode, join and
    regroup by case took 2.3 times as long on the city's 1.4M cases). Ingest
    quarantines a code missing from the table; one that got here anyway would be
    classed by its chapter.
    """
    cls = class_sql(class_overrides(classes))
    # Staged: each stage is computed once per row, not once per use in the next.
    procs = (
        cases.withColumn(
            "_procs",
            F.expr("array_distinct(coalesce(procedures, cast(array() as array<string>)))"),
        )
        .withColumn("_cls", F.expr(f"transform(_procs, c -> {cls})"))
        .withColumn("_st", F.expr("filter(_procs, (c, i) -> _cls[i] IN ('S', 'T'))"))
    )
    # filter keeps the order, so the principal is S/T exactly when it heads _st.
    principal_st = "coalesce(try_element_at(_st, 1) = try_element_at(_procs, 1), false)"
    ordered = (
        f"CASE WHEN {principal_st} THEN concat(slice(_st, 1, 1), "
        "array_sort(slice(_st, 2, size(_st) - 1))) ELSE array_sort(_st) END"
    )
    keyed = procs.withColumns(
        {
            "diag4": F.substring("principal_dx", 1, 5),
            "diag3": F.substring("principal_dx", 1, 3),
            "proc_codes": F.expr(f"slice({ordered}, 1, {PROC_KEY_CAP})"),
            "proc_class": F.expr("coalesce(try_element_at(_cls, 1), 'C')"),
        }
    )
    return keyed.withColumn("proc_key", F.array_join("proc_codes", "+")).drop(
        "_procs", "_cls", "_st"
    )
