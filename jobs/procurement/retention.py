"""Surplus retention (结余留用, SPEC 10.2): the share of the fund's saving a hospital keeps.

Per hospital h and group g at the end of a contract year:

* ``base_price``: h's quantity-weighted mean unit price of g's products (all of
  them) over the ``base_months`` before the contract starts; where h bought none,
  the same over all hospitals (``base_source`` says which); an exact fraction.
* ``saving`` = fund_share × Σ over accepted winning deliveries (base_price −
  unit_price) × qty, never below 0.
* ``gate`` = 1 when completion >= 1; completion when completion_gate <= completion
  < 1; 0 below; 0 also when non_winner_share > max_non_winner.
* ``retained`` = round(saving × retention_rate × gate, 2), from the exact saving.

Everything is a :class:`~fractions.Fraction` until the one rounding; ``saving`` and
``base_price`` are shown rounded (2 and 6 places), ``retained`` is computed from
the exact values, so no displayed rounding moves a fen of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from pyspark.sql.types import (
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from jobs.dip.exact import round_half_up
from jobs.procurement.scheme import Scheme

RETENTION_SCHEMA = StructType(
    [
        StructField("contract_year", LongType(), False),
        StructField("hospital_code", StringType(), False),
        StructField("group_id", StringType(), False),
        StructField("base_price", DecimalType(18, 6), True),
        StructField("base_source", StringType(), True),
        StructField("winner_qty", LongType(), False),
        StructField("saving", DecimalType(18, 2), False),
        StructField("completion", DecimalType(12, 6), False),
        StructField("non_winner_share", DecimalType(12, 6), True),
        StructField("gate", DecimalType(12, 6), False),
        StructField("retained", DecimalType(18, 2), False),
        StructField("scheme_version", StringType(), False),
    ]
)


@dataclass(frozen=True)
class Purchases:
    """Quantity (smallest units) and exact amount (yuan) of some deliveries."""

    qty: int
    amount: Decimal

    @property
    def mean_price(self) -> Fraction | None:
        return Fraction(self.amount) / self.qty if self.qty > 0 else None


def gate(completion: Decimal, non_winner_share: Decimal | None, scheme: Scheme) -> Decimal:
    """The completion gate of SPEC 10.2 (``completion`` as published, 6 places)."""
    if non_winner_share is not None and non_winner_share > scheme.max_non_winner:
        return Decimal("0.000000")
    if completion >= 1:
        return Decimal("1.000000")
    if completion >= scheme.completion_gate:
        return completion
    return Decimal("0.000000")


def retain(
    contract: Mapping,
    own_base: Purchases | None,
    city_base: Purchases | None,
    winners: Purchases,
    scheme: Scheme,
) -> dict:
    """One row of gold/vbp_surplus_retention.

    ``contract``: the contract's row of gold/vbp_completion at the contract's end
    (``contract_year, hospital_code, group_id, completion, non_winner_share``);
    ``own_base``/``city_base``: the group's purchases in the base months by this
    hospital / by all hospitals; ``winners``: its accepted winning deliveries of
    the contract year. With no base purchases anywhere there is no saving.
    """
    base, source = None, None
    if own_base is not None and own_base.mean_price is not None:
        base, source = own_base.mean_price, "own"
    elif city_base is not None and city_base.mean_price is not None:
        base, source = city_base.mean_price, "city"
    saving = Fraction(0)
    if base is not None:
        saving = max(
            Fraction(0),
            Fraction(scheme.fund_share) * (base * winners.qty - Fraction(winners.amount)),
        )
    g = gate(contract["completion"], contract["non_winner_share"], scheme)
    retained = saving * Fraction(scheme.retention_rate) * Fraction(g)
    return {
        "contract_year": int(contract["contract_year"]),
        "hospital_code": contract["hospital_code"],
        "group_id": contract["group_id"],
        "base_price": None if base is None else round_half_up(base, 6),
        "base_source": source,
        "winner_qty": winners.qty,
        "saving": round_half_up(saving, 2),
        "completion": contract["completion"],
        "non_winner_share": contract["non_winner_share"],
        "gate": g.quantize(Decimal("0.000001")),
        "retained": round_half_up(retained, 2),
        "scheme_version": scheme.version,
    }
