"""A further day of the daily feeds (jobs/generate/next_day.py) on a demo city.

The city is generated once; a copy of it gets the further day. Files are read and rows
counted here with csv/json/pandas, never with the generator's own helpers."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from jobs.generate import run as generator
from jobs.generate.knobs import preset
from jobs.generate.next_day import LandingMismatch, land_next_day

KNOBS = preset("demo").replace(seed=5)
DAILY = (
    "settlement_lists",
    "fee_details",
    "outpatient_pharmacy",
    "face_checks",
    "procurement_orders",
    "deliveries",
    "distributor_payments",
    "offsite_settlements",
)
CSV_FEEDS = DAILY[1:]
HOME = "350200"
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city") / "landing"
    generator.run(out, KNOBS, progress=False)
    return out


def _copy(city: Path, tmp_path_factory, name: str) -> Path:
    out = tmp_path_factory.mktemp(name) / "landing"
    shutil.copytree(city, out)
    return out


@pytest.fixture(scope="module")
def landed(city: Path, tmp_path_factory) -> tuple[Path, dict]:
    out = _copy(city, tmp_path_factory, "next-day")
    return out, land_next_day(out, KNOBS)


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _defects(landing: Path) -> pd.DataFrame:
    frame = pd.read_csv(landing / "_truth" / "defects.csv", dtype=str, keep_default_na=False)
    return frame.assign(line=frame.line.astype(int))


def _lists(landing: Path) -> pd.DataFrame:
    """Every settlement-list record: where it is, its ids and what the checks need."""
    cut = _defects(landing)
    cut = set(cut.source_file[cut.defect == "truncated_record"] + ":" + cut.line.astype(str))
    rows = []
    for path in sorted((landing / "settlement_lists").glob("*/*")):
        rel, dialect, raw = path.relative_to(landing).as_posix(), path.name[0], path.read_bytes()
        b = dialect == "B" and not raw.startswith(BOM)
        lines = raw.decode("gbk" if b else "utf-8-sig").split("\n")
        first = 0 if dialect == "A" else 1
        for n, line in enumerate(lines[first:], start=first + 1):
            if f"{rel}:{n}" in cut:
                continue
            if dialect == "A":
                r = json.loads(line)
                case, patient = r["case"], r["patient"]
                fields = (
                    r["record_id"],
                    case["case_id"],
                    r["submitted_at"],
                    patient["id_no"],
                    case["hospital_code"],
                    case["attending_doctor"],
                    patient["insured_region"],
                    len(r["diagnoses"]),
                )
            else:
                f = next(csv.reader([line])) if dialect == "B" else line.split("|")
                others = [c for c in f[12].split(";" if dialect == "B" else ",") if c]
                region = f[26] if len(f) > 26 else HOME
                fields = (f[0], f[1], "", f[3], f[2], f[15], region, 1 + len(others))
            rows.append((rel, path.parent.name, n, dialect, *fields, line))
    return pd.DataFrame(
        rows,
        columns=[
            "rel",
            "folder",
            "line",
            "dialect",
            "record_id",
            "case_id",
            "submitted_at",
            "id_no",
            "hospital_code",
            "doctor_id",
            "insured_region",
            "diagnoses",
            "text",
        ],
    )


def _csv(landing: Path, source: str) -> pd.DataFrame:
    """Every readable file of a CSV feed (the files rejected whole are skipped)."""
    defects = _defects(landing)
    broken = set(defects.source_file[defects.expected == "reject_file"])
    frames = []
    for path in sorted((landing / source).glob("*/*.csv")):
        rel = path.relative_to(landing).as_posix()
        if rel not in broken:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frames.append(
                frame.assign(rel=rel, folder=path.parent.name, line=range(2, len(frame) + 2))
            )
    return pd.concat(frames, ignore_index=True)


def _logged(frame: pd.DataFrame, defects: pd.DataFrame, *kinds: str) -> pd.Series:
    """Whether each row's line is logged with one of ``kinds`` (any defect when none)."""
    mine = defects[defects.defect.isin(kinds)] if kinds else defects
    at = set(zip(mine.source_file, mine.line, strict=True))
    return pd.Series(
        [(r, n) in at for r, n in zip(frame.rel, frame.line, strict=True)], index=frame.index
    )


def test_every_daily_feed_lands_on_the_day_after_the_newest_folder(city, landed):
    landing, truth = landed
    newest = max(p.name for s in DAILY for p in (city / s).iterdir())
    day = (pd.Timestamp(newest) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    assert truth["day"] == day
    for source in DAILY:
        assert sorted((landing / source / day).iterdir()), source
    for source in {p.name for p in landing.iterdir()} - set(DAILY) - {"_truth"}:
        assert not (landing / source / day).exists(), source
    assert json.loads((landing / "_truth" / f"next_day_{day}.json").read_text()) == {
        k: v for k, v in truth.items() if k != "seconds"
    }
    # Everything landed before is untouched; the defects only grow at the end.
    before, after = _digest(city), _digest(landing)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"_truth/defects.csv"}
    old = (city / "_truth" / "defects.csv").read_text(encoding="utf-8")
    assert (landing / "_truth" / "defects.csv").read_text(encoding="utf-8").startswith(old)


def test_the_truth_counts_the_rows_of_the_days_files(city, landed):
    landing, truth = landed
    day, feeds = truth["day"], truth["feeds"]
    # Count the records of the day's files from their lines (a cut line is a record too).
    rows = dict.fromkeys(DAILY, 0)
    for path in (landing / "settlement_lists" / day).iterdir():
        lines = path.read_bytes().split(b"\n")
        rows["settlement_lists"] += len(lines) - (path.name[0] != "A")
    for source in CSV_FEEDS:
        (path,) = (landing / source / day).iterdir()
        with path.open(encoding="utf-8", newline="") as f:
            rows[source] = sum(1 for _ in csv.reader(f)) - 1
    assert {s: feeds[s]["rows"] for s in DAILY} == rows
    parts = {
        "settlement_lists": (
            "new",
            "corrections",
            "resends",
            "stale_resubmissions",
            "record_id_conflicts",
        ),
        "fee_details": ("new", "resends"),
        "outpatient_pharmacy": ("new", "resends"),
        "face_checks": ("new",),
        "procurement_orders": ("new", "carried", "resends", "extra"),
        "deliveries": ("new", "carried", "extra"),
        "distributor_payments": ("new", "extra"),
        "offsite_settlements": ("new", "corrections", "resends", "extra"),
    }
    for source, names in parts.items():
        assert sum(feeds[source][n] for n in names) == rows[source], source
    # A day's share of the demo city's year: 3,000 discharges.
    assert feeds["settlement_lists"]["new"] == round(3000 / 365)
    # What the day appended to the defects: its own lines' defects, by source and kind...
    city_rows = len(_defects(city))
    appended = _defects(landing).iloc[city_rows:]
    today = appended.source_file.str.contains(f"/{day}/")
    for source in DAILY:
        mine = appended[today & (appended.source == source)].defect.value_counts()
        assert feeds[source]["defects"] == mine.sort_index().to_dict(), source
    # ...and the landed versions its corrections superseded.
    earlier = appended[~today]
    assert set(earlier.defect) == {"superseded_by_correction"}
    assert earlier.source.value_counts().to_dict() == truth["superseded_earlier_lines"]
    for source in ("settlement_lists", "offsite_settlements"):
        assert truth["superseded_earlier_lines"][source] == feeds[source]["corrections"] > 0


def test_new_ids_meet_nothing_landed_before(city, landed):
    landing, truth = landed
    day = truth["day"]
    defects = _defects(landing)
    lists = _lists(landing)
    before, today = lists[lists.folder < day], lists[lists.folder == day]
    cases_before = set(before.case_id)
    fees = _csv(landing, "fee_details")
    offsite = _csv(landing, "offsite_settlements")
    cases_before |= set(fees.case_id[fees.folder < day])
    cases_before |= set(offsite.case_id[offsite.folder < day])
    new = set(today.case_id) - cases_before
    assert len(new) == truth["feeds"]["settlement_lists"]["new"]
    # The day's fee lines are those of its new stays, every one of them.
    assert set(fees.case_id[fees.folder == day]) == new
    # Serial numbers: only an exact resend or a conflicting copy reuses one.
    reused = _logged(today, defects, "duplicate_submission", "record_id_conflict")
    assert not set(today.record_id[~reused]) & set(before.record_id)
    assert set(today.record_id[reused]) <= set(before.record_id) | set(today.record_id[~reused])
    for source in CSV_FEEDS:
        frame = _csv(landing, source)
        mine = frame[frame.folder == day]
        resent = _logged(mine, defects, "duplicate_submission")
        assert not set(mine.record_id[~resent]) & set(frame.record_id[frame.folder < day]), source
        assert mine.record_id[~resent].is_unique, source
    # Business keys of the procurement flow are new too (what is brought along had not landed).
    for source, key in (
        ("procurement_orders", "order_id"),
        ("deliveries", "delivery_id"),
        ("distributor_payments", "payment_id"),
    ):
        frame = _csv(landing, source)
        assert not set(frame[key][frame.folder == day]) & set(frame[key][frame.folder < day])
    # An off-site settlement id is new but for a correction's.
    mine = offsite[offsite.folder == day]
    old = mine.settlement_id.isin(offsite.settlement_id[offsite.folder < day])
    assert old.sum() == truth["feeds"]["offsite_settlements"]["corrections"]


def test_people_hospitals_doctors_and_drugs_are_the_citys(city, landed):
    landing, truth = landed
    day = truth["day"]
    defects = _defects(landing)
    first = f"{KNOBS.first_year}-01-01"
    registry = pd.read_csv(city / "insured_registry" / first / "insured_persons.csv", dtype=str)
    persons, prefixes = set(registry.id_no), {i[:17] for i in registry.id_no}
    institutions = pd.read_csv(city / "institutions" / first / "institutions.csv", dtype=str)
    hospitals = set(institutions.institution_code[institutions.type == "hospital"])
    shops = set(institutions.institution_code[institutions.type != "hospital"])
    doctors = pd.read_csv(city / "doctors" / first / "doctors.csv", dtype=str)
    active = set(doctors.doctor_id[doctors.status == "active"])
    catalogue = set(_csv(city, "drug_catalogue").product_code)
    quarantined = set(defects.defect[defects.expected == "quarantine"])

    lists = _lists(landing)
    today = lists[(lists.folder == day) & ~_logged(lists, defects, *quarantined)]
    assert set(today.hospital_code) <= hospitals
    new = today[~today.case_id.isin(lists.case_id[lists.folder < day])]
    assert set(new.doctor_id) <= active
    home = new[new.insured_region == HOME]
    assert set(home.id_no) <= persons and len(home) > len(new) / 2
    fees = _csv(landing, "fee_details")
    fees = fees[fees.folder == day]
    assert set(fees.hospital_code) <= hospitals
    assert set(fees.item_code[fees.category == "drugs"]) <= catalogue
    sales = _csv(landing, "outpatient_pharmacy")
    sales = sales[sales.folder == day]
    # A person whose registry line was spoiled buys under the true number (its check digit).
    assert {i[:17] for i in sales.id_no} <= prefixes
    assert set(sales.institution_code) <= shops and set(sales.item_code) <= catalogue
    checks = _csv(landing, "face_checks")
    checks = checks[checks.folder == day]
    people = checks.subject_type == "person"
    # The day's patients (a claim with a spoiled check digit is still theirs).
    patients = {i[:17] for i in lists.id_no[lists.folder == day]}
    assert {i[:17] for i in checks.subject_id[people]} <= patients
    assert set(checks.subject_id[~people]) <= active
    orders = _csv(landing, "procurement_orders")
    orders = orders[(orders.folder == day) & ~_logged(orders, defects, "unknown_product")]
    assert set(orders.hospital_code) <= hospitals and set(orders.product_code) <= catalogue
    offsite = _csv(landing, "offsite_settlements")
    offsite = offsite[(offsite.folder == day) & ~_logged(offsite, defects, *quarantined)]
    outbound = offsite[offsite.direction == "outbound"]
    assert len(outbound) and set(outbound.id_no) <= persons
    assert set(offsite.institution_code[offsite.direction == "inbound"]) <= hospitals | shops


def test_corrections_send_recent_cases_again_later_with_changed_values(landed):
    landing, truth = landed
    day = truth["day"]
    defects = _defects(landing)
    lists = _lists(landing)
    before, today = lists[lists.folder < day], lists[lists.folder == day]
    clean = today[~_logged(today, defects)]
    corrections = clean[clean.case_id.isin(before.case_id)]
    assert len(corrections) == truth["feeds"]["settlement_lists"]["corrections"] >= 2
    superseded = defects[
        (defects.defect == "superseded_by_correction")
        & ~defects.source_file.str.contains(f"/{day}/")
    ]
    at = before.set_index(["rel", "line"])
    newest = pd.Timestamp(max(before.folder))
    for c in corrections.itertuples():
        assert c.record_id not in set(before.record_id)
        # The version it supersedes is logged where it landed, and is of the same case.
        old = [
            at.loc[(f, n)]
            for f, n in zip(superseded.source_file, superseded.line, strict=True)
            if (f, n) in at.index and at.loc[(f, n)].case_id == c.case_id
        ]
        assert len(old) == 1, c.case_id
        (old,) = old
        assert old.folder < day and pd.Timestamp(old.folder) >= newest - pd.Timedelta(days=31)
        assert old.dialect == c.dialect and old.hospital_code == c.hospital_code
        if c.dialect == "A":  # the dialect that says when: later
            assert c.submitted_at > old.submitted_at and c.submitted_at.startswith(day)
        assert c.diagnoses == old.diagnoses + 1
    # A conflicting copy reuses a landed clean record's serial; a resend is a landed line
    # again, byte for byte, or one of the day's own lines again.
    conflicts = today[_logged(today, defects, "record_id_conflict")]
    assert len(conflicts) == truth["feeds"]["settlement_lists"]["record_id_conflicts"] >= 1
    assert set(conflicts.record_id) <= set(before.record_id)
    resent = today[_logged(today, defects, "duplicate_submission")]
    assert len(resent) == truth["feeds"]["settlement_lists"]["resends"] >= 1
    earlier_lines = set(before.text) | set(today.text[~_logged(today, defects)])
    assert set(resent.text) <= earlier_lines


def test_procurement_names_what_landed_before_or_comes_with_it(landed):
    landing, truth = landed
    day = truth["day"]
    defects = _defects(landing)
    orders = _csv(landing, "procurement_orders")
    deliveries = _csv(landing, "deliveries")
    payments = _csv(landing, "distributor_payments")
    mine = deliveries[
        (deliveries.folder == day) & ~_logged(deliveries, defects, "delivery_without_order")
    ]
    assert len(mine) and set(mine.order_id) <= set(orders.order_id[orders.folder <= day])
    paid = payments[payments.folder == day]
    assert len(paid) and set(paid.delivery_id) <= set(
        deliveries.delivery_id[deliveries.folder <= day]
    )
    # Every event of the day happened on the day before it, and nothing after.
    before = (pd.Timestamp(day) - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    fresh = orders[(orders.folder == day)]
    assert (fresh.ordered_at.str[:10] <= before).all()
    assert (fresh.ordered_at.str[:10] == before).sum() >= truth["feeds"]["procurement_orders"][
        "new"
    ]
    assert (paid.paid_at.str[:10] == before).all()
    assert (deliveries.accepted_at[deliveries.folder == day].str[:10] <= before).all()


def test_the_same_day_lands_the_same_bytes_and_the_next_follows(city, landed, tmp_path_factory):
    landing, truth = landed
    again = _copy(city, tmp_path_factory, "again")
    assert {k: v for k, v in land_next_day(again, KNOBS).items() if k != "seconds"} == {
        k: v for k, v in truth.items() if k != "seconds"
    }
    assert _digest(again) == _digest(landing)
    following = land_next_day(again, KNOBS)
    assert following["day"] == (pd.Timestamp(truth["day"]) + pd.Timedelta(days=1)).strftime(
        "%Y-%m-%d"
    )
    # What the first day sent is not sent again: its orders are landed now.
    orders = _csv(again, "procurement_orders")
    assert not set(orders.order_id[orders.folder == following["day"]]) & set(
        orders.order_id[orders.folder == truth["day"]]
    )


def test_a_landing_of_other_knobs_or_a_day_landed_already_is_refused(city):
    before = _digest(city)
    with pytest.raises(LandingMismatch, match=r"other knobs \(.*seed: landed 5"):
        land_next_day(city, KNOBS.replace(seed=KNOBS.seed + 1))
    with pytest.raises(LandingMismatch, match="discharges_per_year"):
        land_next_day(city, KNOBS.replace(discharges_per_year=3001))
    newest = max(p.name for s in DAILY for p in (city / s).iterdir())
    with pytest.raises(LandingMismatch, match="a further day comes after"):
        land_next_day(city, KNOBS, day=newest)
    with pytest.raises(LandingMismatch, match="no generated city"):
        land_next_day(city / "settlement_lists", KNOBS)
    assert _digest(city) == before
