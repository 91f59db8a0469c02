"""Code normalisation and checks, with expected values written by hand."""

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
        ("S72.00", "S72.0"),
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
        ("5", None),
        ("51.234", None),
        ("ab.cd", None),
    ],
)
def test_icd9_canonical_form(spark, raw, canonical):
    assert _one(spark, codes.icd9, raw) == canonical


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
