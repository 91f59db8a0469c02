"""Canonical codes and checks, as Spark column expressions (no Python UDFs).

Codes are first made plain: full-width forms (``Ｋ３５．８``, typed with a Chinese
input method) become their ASCII characters, the ideographic full stop a dot,
and zero-width characters go (:func:`plain`). Then:

* ICD-10: upper case, the dot removed; a WHO code (category, letter + 2 digits,
  and at most one subcategory digit) optionally followed by the 医保版 (national
  insurance edition) extension, which is dropped: two digits and/or ``x`` and
  two or three digits: ``k35.800x002`` -> ``K35.8``, ``K358`` -> ``K35.8``,
  ``I10.x05`` -> ``I10``. Anything else is not a code this lake knows: a
  US ICD-10-CM code such as ``E11.65`` or ``S72.001A`` is **not** cut down to its
  WHO parent ``E11.6``; it is rejected (``unknown_diagnosis_code``).
* ICD-9-CM-3: two digits, a dot, one or two digits: ``5123`` -> ``51.23``,
  ``680`` -> ``68.0``; a bare two-digit code stays as it is. The 医保版 form's
  extension is dropped the same way: ``51.2300`` and ``51.2300x001`` -> ``51.23``.
* ID numbers: GB 11643-1999, ISO 7064 mod 11-2 check character.

A code in the right shape must still be in the vocabulary (checked against the
reference tables at ingest, :func:`jobs.ingest.discharges.check_references`).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def blank_to_null(column: Column) -> Column:
    trimmed = F.trim(column)
    return F.when(trimmed == "", F.lit(None)).otherwise(trimmed)


# Full-width ASCII (U+FF01..U+FF5E), the ideographic space and full stop, and the
# no-break space, each to its plain character (translate maps them one to one).
_WIDE = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000\u3002\u00a0"
_NARROW = "".join(chr(c) for c in range(0x21, 0x7F)) + " . "
_INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff]"


def plain(raw: Column) -> Column:
    """The same characters in their plain form: full-width to ASCII, invisible ones removed."""
    return F.trim(F.translate(F.regexp_replace(raw, _INVISIBLE, ""), _WIDE, _NARROW))


# Category, optional subcategory digit, then the optional 医保版 extension.
ICD10_SHAPE = r"^([A-Z][0-9]{2})(?:([0-9])(?:[0-9]{2})?)?(?:X[0-9]{2,3})?$"


def icd10(raw: Column) -> Column:
    compact = F.regexp_replace(F.upper(plain(raw)), r"[.\s]", "")
    fits = compact.rlike(ICD10_SHAPE)
    category = F.regexp_extract(compact, ICD10_SHAPE, 1)
    sub = F.regexp_extract(compact, ICD10_SHAPE, 2)
    canonical = F.when(sub == "", category).otherwise(F.concat(category, F.lit("."), sub))
    return F.when(fits, canonical)


# The 医保版 extension of a procedure: two digits after a two-digit subcode, and/or
# ``x`` and three digits (51.2300, 51.2300x001, 68.0x001 -> 51.23, 51.23, 68.0).
ICD9_DOTTED = r"^([0-9]{2})\.([0-9]{1,2})(?:X[0-9]{3})?$"
ICD9_DOTTED_EXTENDED = r"^([0-9]{2})\.([0-9]{2})[0-9]{2}(?:X[0-9]{3})?$"
ICD9_BARE = r"^([0-9]{2})([0-9]{0,2})$"
ICD9_BARE_EXTENDED = r"^([0-9]{2})([0-9]{2})(?:[0-9]{2}(?:X[0-9]{3})?|X[0-9]{3})$"
ICD9_SHAPES = (ICD9_DOTTED, ICD9_DOTTED_EXTENDED, ICD9_BARE, ICD9_BARE_EXTENDED)


def icd9(raw: Column) -> Column:
    text = F.regexp_replace(F.upper(plain(raw)), r"\s", "")
    head, tail = F.lit(None).cast("string"), F.lit(None).cast("string")
    for shape in ICD9_SHAPES:  # mutually exclusive: at most one fits
        fits = text.rlike(shape)
        head = F.when(fits, F.regexp_extract(text, shape, 1)).otherwise(head)
        tail = F.when(fits, F.regexp_extract(text, shape, 2)).otherwise(tail)
    return F.when(tail == "", head).otherwise(F.concat(head, F.lit("."), tail))


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
