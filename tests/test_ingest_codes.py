"""Code normalisation and checks, with expected values written by hand."""

import random
import re
from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from jobs.ingest import codes


def _one(spark, expr, value, dtype="string"):
    df = spark.createDataFrame([(value,)], f"v {dtype}")
    return df.select(expr(F.col("v")).alias("out")).first()["out"]


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("K35.8", "K35.8"),
        ("K358", "K35.8"),
        ("k35.800x002", "K35.8"),
        ("I10", "I10"),
        ("i10", "I10"),
        ("I10.x05", "I10"),
        (" J18.9 ", "J18.9"),
        ("Ｋ３５．８", "K35.8"),  # full-width, as a Chinese input method types it
        ("K35\u200b.8", "K35.8"),  # a zero-width space pasted in
        ("K35。8", "K35.8"),  # the ideographic full stop
        ("K35.800", "K35.8"),
        ("K35.8x002", "K35.8"),
        # ICD-10-CM codes are not their WHO parents: rejected, not cut down.
        ("E11.65", None),
        ("I25.10", None),
        ("S72.001A", None),
        ("S72.00", None),
        ("K35.8ABC", None),
        ("", None),
        ("35.8", None),
        (None, None),
    ],
)
def test_icd10_canonical_form(spark, raw, canonical):
    assert _one(spark, codes.icd10, raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("51.23", "51.23"),
        ("5123", "51.23"),
        ("680", "68.0"),
        ("68.0", "68.0"),
        ("99", "99"),
        ("00.66", "00.66"),
        ("51.2300", "51.23"),  # the 医保版 form
        ("51.2300x001", "51.23"),
        ("51.23x001", "51.23"),
        ("512300", "51.23"),
        ("68.0x001", "68.0"),
        ("５１．２３", "51.23"),
        ("5", None),
        ("51.234", None),
        ("51.23001", None),
        ("5.123", None),
        ("ab.cd", None),
    ],
)
def test_icd9_canonical_form(spark, raw, canonical):
    assert _one(spark, codes.icd9, raw) == canonical


# An independent reading of the code rules in plain Python, step by step, for random strings.
_NOISE = re.compile(r"[.\t\n\x0b\f\r ]")
_SPACE = re.compile(r"[\t\n\x0b\f\r ]")
_WIDE = {chr(0xFF01 + i): chr(0x21 + i) for i in range(94)} | {
    "\u3000": " ",
    "\u3002": ".",
    "\u00a0": " ",
}


def _plain(raw):
    return "".join(_WIDE.get(c, c) for c in raw if c not in "\u200b\u200c\u200d\u2060\ufeff")


def _icd10_by_re(raw):
    if raw is None:
        return None
    text = _NOISE.sub("", _plain(raw).upper())
    m = re.match(r"([A-Z][0-9]{2})([0-9]?)", text)
    if m is None:
        return None
    category, sub = m.groups()
    rest = text[m.end() :]
    # After a subcategory digit two more digits may follow; after either, x and 2-3 digits.
    if not re.fullmatch(r"([0-9]{2})?(X[0-9]{2,3})?" if sub else r"(X[0-9]{2,3})?", rest):
        return None
    return category + ("." + sub if sub else "")


def _icd9_by_re(raw):
    if raw is None:
        return None
    text = _SPACE.sub("", _plain(raw).upper())
    if "." in text:
        head, _, tail = text.partition(".")
        if not re.fullmatch(r"[0-9]{2}", head):
            return None
        m = re.fullmatch(r"([0-9]{1,2})(X[0-9]{3})?", tail) or re.fullmatch(
            r"([0-9]{2})[0-9]{2}(X[0-9]{3})?", tail
        )
        return f"{head}.{m.group(1)}" if m else None
    m = re.fullmatch(r"([0-9]{2})([0-9]{0,2})", text)
    if m is None:
        m = re.fullmatch(r"([0-9]{2})([0-9]{2})([0-9]{2})?(X[0-9]{3})?", text)
        if m is None or not (m.group(3) or m.group(4)):
            return None
    return m.group(1) + ("." + m.group(2) if m.group(2) else "")


def test_code_rules_agree_with_a_regex_reading_on_random_strings(spark):
    rng = random.Random(20261123)
    alphabet = "AKZakz0123456789.. xX\t中Ｋ９．-\u200b"
    values = [None, ""] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(3000)
    ]
    # Realistic shapes too, so that valid codes are not left to chance.
    values += [
        f"{rng.choice('AKZkz')}{rng.randint(0, 999):03d}{rng.choice(['', '.x01', ' ', '00x002'])}"
        for _ in range(500)
    ]
    values += [
        f"{rng.randint(0, 99):02d}.{rng.randint(0, 9999):0{rng.randint(1, 4)}d}"
        f"{rng.choice(['', 'x001'])}"
        for _ in range(500)
    ]
    values += [f"{rng.randint(0, 99999):0{rng.randint(1, 5)}d}" for _ in range(500)]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    rows = df.select("v", codes.icd10(F.col("v")).alias("d"), codes.icd9(F.col("v")).alias("p"))
    for r in rows.collect():
        assert (r.d, r.p) == (_icd10_by_re(r.v), _icd9_by_re(r.v)), repr(r.v)


@pytest.mark.parametrize(
    ("id_no", "valid"),
    [
        ("11010519491231002X", True),  # the standard's own example
        ("110105194912310021", False),  # same number, wrong check character
        ("11010519491231002x", False),  # lower-case x is not the standard's X
        ("1101051949123100", False),  # too short
        (None, False),
    ],
)
def test_id_number_checksum(spark, id_no, valid):
    assert _one(spark, codes.id_number_valid, id_no) is valid


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024/03/05", date(2024, 3, 5)),
        ("20240305", date(2024, 3, 5)),
        ("2024-13-05", None),
        ("", None),
    ],
)
def test_dates_in_every_sender_notation(spark, raw, day):
    assert _one(spark, codes.parse_date, raw) == day


def test_money_from_yuan_and_fen(spark):
    df = spark.createDataFrame(
        [("17159.50", "yuan"), ("1715950", "fen"), ("12.3", "yuan"), ("abc", "yuan"), ("7", "fen")],
        "raw string, unit string",
    )
    out = [r["m"] for r in df.select(codes.money(F.col("raw"), F.col("unit")).alias("m")).collect()]
    assert out == [
        Decimal("17159.50"),
        Decimal("17159.50"),
        Decimal("12.30"),
        None,
        Decimal("0.07"),
    ]
