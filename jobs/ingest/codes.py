"""Canonical codes and checks, as Spark column expressions (no Python UDFs).

* ICD-10: upper case, the dot and any 医保版 extension removed, then category
  (letter + 2 digits) and, when the next character is a digit, one subcategory
  digit: ``k35.800x002`` -> ``K35.8``, ``K358`` -> ``K35.8``, ``I10.x05`` -> ``I10``.
* ICD-9-CM-3: two digits, a dot, one or two digits: ``5123`` -> ``51.23``,
  ``680`` -> ``68.0``; a bare two-digit code stays as it is.
* ID numbers: GB 11643-1999, ISO 7064 mod 11-2 check character.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def blank_to_null(column: Column) -> Column:
    trimmed = F.trim(column)
    return F.when(trimmed == "", F.lit(None)).otherwise(trimmed)


def icd10(raw: Column) -> Column:
    compact = F.regexp_replace(F.upper(F.trim(raw)), r"[.\s]", "")
    category = F.regexp_extract(compact, r"^([A-Z][0-9]{2})", 1)
    sub = F.regexp_extract(compact, r"^[A-Z][0-9]{2}([0-9])", 1)
    canonical = F.when(sub == "", category).otherwise(F.concat(category, F.lit("."), sub))
    return F.when(category == "", F.lit(None)).otherwise(canonical)


def icd9(raw: Column) -> Column:
    compact = F.regexp_replace(F.trim(raw), r"[.\s]", "")
    head = F.regexp_extract(compact, r"^([0-9]{2})([0-9]{0,2})$", 1)
    tail = F.regexp_extract(compact, r"^([0-9]{2})([0-9]{0,2})$", 2)
    return (
        F.when(head == "", F.lit(None))
        .when(tail == "", head)
        .otherwise(F.concat(head, F.lit("."), tail))
    )


def id_number_valid(id_no: Column) -> Column:
    """True when ``id_no`` is 17 digits and the right check character (X upper case)."""
    digits = [F.substring(id_no, i + 1, 1).try_cast("int") for i in range(17)]
    total = sum(d * w for d, w in zip(digits, ID_WEIGHTS, strict=True))
    expected = F.substring(F.lit(ID_CHECK), (total % 11) + 1, 1)
    return (
        id_no.isNotNull()
        & id_no.rlike(r"^[0-9]{17}[0-9X]$")
        & (F.substring(id_no, 18, 1) == expected)
    )


DATE_NOTATIONS = (
    (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "yyyy-MM-dd"),
    (r"^[0-9]{4}/[0-9]{2}/[0-9]{2}$", "yyyy/MM/dd"),
    (r"^[0-9]{8}$", "yyyyMMdd"),
)


def parse_date(raw: Column) -> Column:
    """The date notations the senders use: ISO, YYYY/MM/DD, YYYYMMDD.

    The notation is recognised by its shape first, so each value meets only the
    pattern it can match (a failed parse costs an exception inside Spark, and blank
    end and death dates are the common case); anything of another shape gets every
    pattern, as before.
    """
    text = F.trim(raw)
    every = F.coalesce(*[F.try_to_date(text, fmt) for _, fmt in DATE_NOTATIONS])
    parsed = F.when(text == "", F.lit(None).cast("date"))
    for shape, fmt in DATE_NOTATIONS:
        parsed = parsed.when(text.rlike(shape), F.try_to_date(text, fmt))
    return parsed.otherwise(every)


def money(raw: Column, unit: Column) -> Column:
    """Yuan as decimal(18,2) from yuan text or integer fen text; null when not a number."""
    value = F.try_to_number(F.trim(raw), F.lit("9999999999999999.99"))
    fen = F.try_to_number(F.trim(raw), F.lit("999999999999999999"))
    return F.when(unit == "fen", (fen / 100).cast("decimal(18,2)")).otherwise(
        value.cast("decimal(18,2)")
    )


def reason_array(*flags: Column) -> Column:
    """The non-null reason codes among ``flags`` (each ``when(condition, code)``), as an array.

    Built from one comma-joined string rather than by filtering an array: Spark
    generates code for ``concat_ws`` and ``split`` but interprets higher-order
    functions row by row, and this runs for every record of every feed.
    """
    joined = F.concat_ws(",", *flags)
    return F.when(joined == "", F.array().cast("array<string>")).otherwise(F.split(joined, ","))
