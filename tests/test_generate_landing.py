"""The generator's landing zone at demo scale: formats, determinism, defects, truth."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

import pytest

from jobs.generate import mess
from jobs.generate import run as generator
from jobs.generate.fraud import VARIANTS
from jobs.generate.knobs import preset
from jobs.terms import PATTERNS

SEED = 11
SOURCES = {
    "settlement_lists",
    "fee_details",
    "outpatient_pharmacy",
    "insured_registry",
    "external_enrolments",
    "institutions",
    "doctors",
    "face_checks",
    "prepayments",
    "assessment_scores",
    "audit_deductions",
    "audit_outcomes",
    "fund_budgets",
    "experts",
    "special_review_applications",
    "drug_catalogue",
    "vbp_agreements",
    "procurement_orders",
    "deliveries",
    "distributor_payments",
    "offsite_settlements",
    "offsite_clearing_statements",
    "offsite_statement_lines",
}
# GB 11643 written out here, independently of jobs.generate.world.
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def valid_id(id_no: str) -> bool:
    if len(id_no) != 18 or not id_no[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(id_no[:17], WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == id_no[17]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generator.run(out, preset("demo").replace(seed=SEED), progress=False)
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _truth(landing: Path, name: str) -> list[dict]:
    with (landing / "_truth" / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_source_lands_in_dated_folders(landing: Path):
    assert {p.name for p in landing.iterdir()} == SOURCES | {"_truth"}
    for source in SOURCES:
        days = [d.name for d in (landing / source).iterdir()]
        assert days and all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in days), source


def test_same_seed_same_bytes_other_seed_other_data(landing: Path, tmp_path: Path):
    again = tmp_path / "again"
    generator.run(again, preset("demo").replace(seed=SEED), progress=False)
    assert _digest(again) == _digest(landing)
    other = tmp_path / "other"
    generator.run(other, preset("demo").replace(seed=SEED + 1), progress=False)
    first = sorted((landing / "settlement_lists").rglob("A_*.jsonl"))[0]
    assert (other / first.relative_to(landing)).read_bytes() != first.read_bytes()


def test_three_dialects_parse_as_documented(landing: Path):
    truncated = {
        (r["source_file"], int(r["line"]))
        for r in _truth(landing, "defects.csv")
        if r["defect"] == "truncated_record"
    }
    a_file = sorted((landing / "settlement_lists").rglob("A_*.jsonl"))[1]
    rel = str(a_file.relative_to(landing))
    for n, line in enumerate(a_file.read_text(encoding="utf-8").splitlines(), start=1):
        if (rel, n) in truncated:
            continue
        record = json.loads(line)
        assert set(record) == {
            "record_id",
            "submitted_at",
            "case",
            "patient",
            "diagnoses",
            "procedures",
            "costs",
        }
        assert sum(d["principal"] for d in record["diagnoses"]) == 1

    b_file = sorted((landing / "settlement_lists").rglob("B_*.csv"))[1]
    raw = b_file.read_bytes()
    text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("gbk")
    header = text.splitlines()[0].split(",")
    assert header[:3] == ["流水号", "病案号", "定点机构编码"] and "主要诊断编码" in header

    c_file = sorted((landing / "settlement_lists").rglob("C_*.txt"))[1]
    rows = c_file.read_text(encoding="utf-8").splitlines()
    assert rows[0].split("|")[:3] == ["record_id", "case_no", "org_code"]
    first = rows[1].split("|")
    assert len(first[7]) == 8 and first[7].isdigit()  # in_date as YYYYMMDD
    assert "." not in first[11]  # main_diag without the dot
    assert first[16].isdigit()  # money in fen


def test_every_defect_kind_is_injected_and_logged(landing: Path):
    defects = _truth(landing, "defects.csv")
    assert {d["defect"] for d in defects} == set(mess.DEFECTS)
    for d in defects:
        assert d["expected"] == mess.DEFECTS[d["defect"]]


def test_logged_defects_point_at_their_record(landing: Path):
    defects = [
        d
        for d in _truth(landing, "defects.csv")
        if d["source"] == "settlement_lists" and d["defect"] != "truncated_record"
    ]
    cache: dict[str, list[str]] = {}
    for d in defects:
        if d["source_file"] not in cache:
            raw = (landing / d["source_file"]).read_bytes()
            enc = (
                "utf-8-sig"
                if raw.startswith(b"\xef\xbb\xbf")
                else ("gbk" if d["source_file"].endswith(".csv") else "utf-8")
            )
            cache[d["source_file"]] = raw.decode(enc).splitlines()
        assert d["record_id"] in cache[d["source_file"]][int(d["line"]) - 1], d


def test_invalid_id_numbers_are_exactly_the_logged_ones(landing: Path):
    registry = next((landing / "insured_registry").rglob("*.csv"))
    with registry.open(encoding="utf-8") as f:
        bad = {r["record_id"] for r in csv.DictReader(f) if not valid_id(r["id_no"])}
    logged = {
        d["record_id"]
        for d in _truth(landing, "defects.csv")
        if d["source"] == "insured_registry" and d["defect"] == "invalid_id_checksum"
    }
    assert bad == logged and bad


def test_every_pattern_is_planted_with_look_alikes(landing: Path):
    labels = _truth(landing, "fraud_labels.csv")
    looks = _truth(landing, "lookalikes.csv")
    assert {r["pattern"] for r in labels} == set(PATTERNS)
    assert {r["pattern"] for r in looks} == set(PATTERNS)
    assert {r["entity_type"] for r in labels} == {"case", "provider", "doctor", "person"}
    labelled = {(r["entity_type"], r["entity_id"]) for r in labels}
    assert not labelled & {(r["entity_type"], r["entity_id"]) for r in looks}


# Where an entity of each type shows in the landed feeds (raw ID numbers: the landing zone).
SHOWN_IN = {
    "case": ("settlement_lists",),
    "provider": ("settlement_lists",),
    "doctor": ("settlement_lists",),
    "person": ("settlement_lists", "outpatient_pharmacy", "external_enrolments"),
}


def test_every_variant_and_every_look_alike_family_has_its_records_in_the_landing(landing):
    labels = _truth(landing, "fraud_labels.csv")
    looks = _truth(landing, "lookalikes.csv")
    for pattern, variants in VARIANTS.items():
        planted = {r["variant"] for r in labels if r["pattern"] == pattern}
        assert planted >= set(variants), pattern
    families = {(r["pattern"], r["family"]) for r in looks}
    assert {p for p, _ in families} == set(PATTERNS) and all(f for _, f in families)
    for entity_type, feeds in SHOWN_IN.items():
        wanted = {r["entity_id"] for r in [*labels, *looks] if r["entity_type"] == entity_type}
        found: set[str] = set()
        pattern = re.compile("|".join(map(re.escape, sorted(wanted, key=len, reverse=True))))
        for feed in feeds:
            for path in (landing / feed).rglob("*"):
                if path.is_file():
                    text = path.read_bytes().decode("utf-8", errors="ignore")
                    found.update(pattern.findall(text))
        for r in looks:
            if r["entity_type"] == entity_type:
                assert r["entity_id"] in found, (r["pattern"], r["family"], r["entity_id"])
        missing = {
            (r["pattern"], r["variant"])
            for r in labels
            if r["entity_type"] == entity_type and r["entity_id"] not in found
        }
        assert not missing, missing


def test_audit_outcomes_are_a_noisy_sample_of_the_truth(landing: Path):
    outcomes = list(
        csv.DictReader(
            io.StringIO(
                next((landing / "audit_outcomes").rglob("*.csv")).read_text(encoding="utf-8")
            )
        )
    )
    truth = {(r["entity_type"], r["entity_id"]) for r in _truth(landing, "fraud_labels.csv")}
    confirmed = [
        (o["entity_type"], o["entity_id"]) for o in outcomes if o["outcome"] == "confirmed"
    ]
    assert confirmed and len(truth) > len([c for c in confirmed if c in truth])  # a sample only
    assert any(c not in truth for c in confirmed)  # label noise: some confirmations are wrong
    cleared_true = [
        o
        for o in outcomes
        if o["outcome"] == "cleared" and (o["entity_type"], o["entity_id"]) in truth
    ]
    assert cleared_true  # and some real fraud was cleared


DOCUMENTED_COLUMNS = {  # docs/sources/*.md
    "fee_details": "record_id,case_id,hospital_code,fee_date,item_code,item_name,category,"
    "quantity,unit_price,amount",
    "outpatient_pharmacy": "record_id,id_no,institution_code,txn_time,item_code,quantity,"
    "days_supply,trace_code,amount",
    "insured_registry": "record_id,id_no,name,sex,birth_date,insurance_type,district,village,"
    "enrol_start,enrol_end,death_date",
    "external_enrolments": "record_id,id_no,name,region_code,insurance_type,enrol_start,enrol_end",
    "institutions": "record_id,institution_code,name,type,level,district",
    "doctors": "record_id,doctor_id,name,institution_code,second_site,status,registered_on,"
    "deregistered_on",
    "face_checks": "record_id,subject_type,subject_id,institution_code,check_time,matched",
    "prepayments": "record_id,hospital_code,year,month,amount",
    "assessment_scores": "record_id,hospital_code,year,coefficient",
    "audit_deductions": "record_id,hospital_code,year,violation,amount",
    "audit_outcomes": "record_id,entity_type,entity_id,pattern,outcome,investigated_on",
}


@pytest.mark.parametrize("source", sorted(DOCUMENTED_COLUMNS))
def test_csv_sources_have_their_documented_columns(landing: Path, source: str):
    rejected = {
        d["source_file"] for d in _truth(landing, "defects.csv") if d["expected"] == "reject_file"
    }
    files = [
        p
        for p in sorted((landing / source).rglob("*.csv"))
        if str(p.relative_to(landing)) not in rejected
    ]
    assert files
    for path in files[:3]:
        with path.open(encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert set(header) == set(DOCUMENTED_COLUMNS[source].split(",")), path
