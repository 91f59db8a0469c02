"""Exact money arithmetic: rationals in Python, integers in Spark, rounded half-up once.

SPEC 5: money is decimal, never float; ``round`` is round-half-up at the stated
places. Means and ratios are kept as exact fractions until the one rounding the
spec asks for, so no intermediate rounding can move a fen or a point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from pyspark.sql import Column
from pyspark.sql import functions as F

WIDE = "decimal(38,0)"
FEN = Fraction(1, 100)


def round_half_up(value: Fraction | int | Decimal, places: int) -> Decimal:
    """``value`` rounded half away from zero to ``places`` decimals, as a Decimal."""
    scaled = Fraction(value) * 10**places
    magnitude = (abs(scaled.numerator) * 2 + scaled.denominator) // (2 * scaled.denominator)
    units = magnitude if scaled >= 0 else -magnitude
    return Decimal(units).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def units(column: str | Column, places: int) -> Column:
    """A decimal column as an integer count of 10^-places (exact: ``12.34`` at 2 -> 1234)."""
    col = F.col(column) if isinstance(column, str) else column
    return (col * F.lit(10**places)).cast(WIDE)


def divide_half_up(numerator: Column, denominator: Column) -> Column:
    """round-half-up(numerator / denominator) for integer columns, numerator >= 0, denominator > 0.

    floor((2n + d) / 2d), the floor taken by subtracting the remainder first, so
    the one division left is exact and nothing is rounded on the way.
    """
    two = F.lit(2).cast(WIDE)
    top = (two * numerator.cast(WIDE) + denominator.cast(WIDE)).cast(WIDE)
    bottom = (two * denominator.cast(WIDE)).cast(WIDE)
    return ((top - F.pmod(top, bottom)).cast(WIDE) / bottom).cast(WIDE)


def largest_remainder(shares: Mapping[str, Fraction], total: Decimal) -> dict[str, Decimal]:
    """Each share floored to the fen (toward −∞); the fens left over go one each to the
    largest remainders, ties by key ascending. Σ result = total exactly.

    ``shares`` must add up to ``total`` exactly.
    """
    if sum(shares.values(), Fraction(0)) != Fraction(total):
        raise ValueError("the shares do not add up to the total")
    fens = {k: math.floor(v / FEN) for k, v in shares.items()}
    remainders = {k: v / FEN - fens[k] for k, v in shares.items()}
    left = int(Fraction(total) / FEN) - sum(fens.values())
    order = sorted(shares, key=lambda k: (-remainders[k], k))
    for k in order[:left]:
        fens[k] += 1
    return {k: Decimal(n).scaleb(-2).quantize(Decimal("0.01")) for k, n in fens.items()}
