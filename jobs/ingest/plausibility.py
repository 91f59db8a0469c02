"""Plausibility checks, as a bureau's checker runs them: what no person or stay can be.

The thresholds are data (``plausibility.yaml`` beside this module), the sex-specific
ICD-10 ranges reference data (``jobs/reference/sex_specific_diagnoses.csv``, read
through :func:`jobs.vocab.sex_specific_ranges`). Each check is a column expression
``when(condition, reason_code)`` for :func:`jobs.ingest.codes.reason_array`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs import vocab

RULES = Path(__file__).with_name("plausibility.yaml")


@dataclass(frozen=True)
class Thresholds:
    future_tolerance_days: int
    max_age_years: int
    max_stay_days: int
    min_total_cost: Decimal
    max_total_cost: Decimal
    max_fee_amount: Decimal


@lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    raw = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return Thresholds(
        future_tolerance_days=int(raw["future_tolerance_days"]),
        max_age_years=int(raw["max_age_years"]),
        max_stay_days=int(raw["max_stay_days"]),
        min_total_cost=Decimal(str(raw["min_total_cost"])),
        max_total_cost=Decimal(str(raw["max_total_cost"])),
        max_fee_amount=Decimal(str(raw["max_fee_amount"])),
    )


def after_landing(value: Column, day: str = "day") -> Column:
    """The date or timestamp ``value`` lies after the day its file landed (plus tolerance)."""
    limit = F.date_add(F.to_date(F.col(day)), thresholds().future_tolerance_days)
    return F.to_date(value) > limit


def in_future(*dates: Column, day: str = "day") -> Column:
    """``date_in_future`` when any of ``dates`` is after the landing day."""
    condition = F.lit(False)
    for d in dates:
        condition = condition | F.coalesce(after_landing(d, day), F.lit(False))
    return F.when(condition, F.lit("date_in_future"))


def implausible_age(birth: Column, admission: Column) -> Column:
    years = F.months_between(admission, birth) / 12
    return F.when(years > thresholds().max_age_years, F.lit("implausible_age"))


def implausible_stay(admission: Column, discharge: Column) -> Column:
    days = F.datediff(discharge, admission)
    return F.when(days > thresholds().max_stay_days, F.lit("implausible_stay"))


def cost_out_of_range(total: Column) -> list[Column]:
    t = thresholds()
    return [
        F.when(total < F.lit(t.min_total_cost), F.lit("zero_cost")),
        F.when(total > F.lit(t.max_total_cost), F.lit("absurd_cost")),
    ]


def fee_out_of_range(amount: Column) -> Column:
    return F.when(F.abs(amount) > F.lit(thresholds().max_fee_amount), F.lit("absurd_cost"))


def sex_restricted(code: Column, sex: str) -> Column:
    """The canonical ICD-10 ``code`` is one only ``sex`` (``F``/``M``) can have."""
    hits = F.lit(False)
    for low, high, only in vocab.sex_specific_ranges():
        if only == sex:
            hits = hits | F.substring(code, 1, len(low)).between(low, high)
    return hits


def contradicts_sex(diagnoses: Column, sex: Column) -> Column:
    """``diagnosis_contradicts_sex`` when any of ``diagnoses`` (canonical codes) is one the
    recorded ``sex`` (``F``/``M``) cannot have."""
    wrong = F.exists(
        diagnoses,
        lambda c: (
            c.isNotNull()
            & (((sex == "M") & sex_restricted(c, "F")) | ((sex == "F") & sex_restricted(c, "M")))
        ),
    )
    return F.when(F.coalesce(wrong, F.lit(False)), F.lit("diagnosis_contradicts_sex"))
