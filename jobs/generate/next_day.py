"""``diplake generate --next-day``: one further day of every daily feed, for a city landed before.

Production ingests one day of new files into a lake that already holds the city's
years. :func:`land_next_day` lands such a day under ``<source>/<day>/`` of a landing
zone that ``diplake generate`` wrote with the same knobs: the events of the day
before ``day``, in the feeds that arrive continuously (:data:`DAILY`; registries,
catalogues, agreements, finance, audits and the platform's monthly statements are
not re-sent). What a day holds, feed by feed, is in docs/sources/next_day.md.

Route: nothing of the city's years is rebuilt (``build_discharges`` alone draws every
stay of every year). The registries are read back from the landed files; what the
city drew first in a stream of its own is replayed from the seed (the institutions'
sizes, the clinical model, each hospital's HIS dialect, the drug plan) and checked
against the landing; the recent records a day corrects or resends are read back from
the newest landed files and ``_truth/defects.csv``. The day's own draws come from
generators seeded by the seed and the day: the same landing, knobs and day give the
same bytes. New ids carry the landing day and are longer than the city's, so they
meet no id landed before. A small-scale day takes under two seconds, most of it
reading the registries back and replaying the clinical model; the city's registry is
ten times larger (about two seconds more to read).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from tqdm import tqdm

from jobs import Refused, vocab
from jobs.generate import activity, clinical, dialects, discharges, drug_use, feeds, mess
from jobs.generate import offsite as platform
from jobs.generate import procurement as flows
from jobs.generate.knobs import Knobs
from jobs.generate.mess import DefectLog
from jobs.generate.offsite_files import SETTLEMENTS, _write_settlements
from jobs.generate.run import _spoiler_codes, _streams
from jobs.generate.settlement import (
    SOURCE,
    STATUSES,
    _spoil,
    _write_list,
    assign_dialects,
    eligible,
)
from jobs.generate.world import World, build_institutions, id_check_char
from jobs.terms import FEE_CATEGORIES, HOME_REGION

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
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
RECENT_DAYS = 31  # the landed folders a day corrects and resends from: the newest month's
DAY_STREAMS = ("cases", "lists", "fees", "pharmacy", "checks", "procurement", "offsite")
SHARE = {k: v / sum(mess.SETTLEMENT_MIX.values()) for k, v in mess.SETTLEMENT_MIX.items()}
# Settlement-list extras made of landed records: at least this many a day.
LEAST = {"superseded_by_correction": 2, "stale_resubmission": 1, "record_id_conflict": 1}
QUARANTINED = ("missing_field", "invalid_id_checksum", "cost_breakdown_mismatch")
CUT_SHARE = 0.03  # of transfers cut short (settlement.py: about 3% of files)
ORDER_CYCLE = 30  # a hospital orders each of its products once in this many days
FLOW_DAYS = 40  # order to payment: delivery in 1-6 days, acceptance 0-2, payment 5-28
FLOW_TAG = 7  # the procurement flow's generators: [seed, day, FLOW_TAG]
CODES_TAG = 11  # the wrong codes a further day's spoiled records carry: [seed, CODES_TAG]
BOM = b"\xef\xbb\xbf"
WHO_KEY = re.compile(r"([A-Z]\d{2})\.?(\d)?")


class LandingMismatch(Refused):
    """The landing zone is not a city these knobs generated, or the day is not a further one."""


@dataclass(frozen=True)
class City:
    """What a further day needs of the landed city."""

    knobs: Knobs
    world: World  # institutions (replayed, with size), active doctors, living persons
    unregistered: set[str]  # true ID numbers whose registry line was spoiled
    model: clinical.ClinicalModel
    plan: drug_use.DrugPlan
    dialect_of: dict[str, str]
    codes: mess.SpoilerCodes
    logged: dict[tuple[str, int], str]  # (source_file, line) -> defect, from _truth/defects.csv


def land_next_day(
    landing: Path, knobs: Knobs, day: str | None = None, progress: bool = False
) -> dict:
    """Land one further day of every daily feed into ``landing`` (which ``knobs`` generated);
    ``day`` (``YYYY-MM-DD``) defaults to the day after the newest folder of those feeds.
    Writes ``_truth/next_day_<day>.json`` (returned) and appends to ``_truth/defects.csv``."""
    started = time.perf_counter()
    summary = _check_landing(landing, knobs)
    when = _the_day(landing, day)
    steps = tqdm(total=7, desc=f"next day {when:%Y-%m-%d}", unit="step", disable=not progress)
    city = _read_city(landing, knobs, summary["persons"], when)
    steps.update(1)
    rngs = _day_streams(knobs.seed, when)
    log = DefectLog()
    cases = _new_cases(city, when, rngs["cases"])
    feeds_out = {SOURCE: _land_settlement_lists(city, cases, when, landing, log, rngs["lists"])}
    steps.update(1)
    feeds_out["fee_details"] = _land_fee_details(city, cases, when, landing, log, rngs["fees"])
    steps.update(1)
    feeds_out["outpatient_pharmacy"] = _land_pharmacy(city, when, landing, log, rngs["pharmacy"])
    feeds_out["face_checks"] = _land_face_checks(city, cases, when, landing, rngs["checks"])
    steps.update(1)
    feeds_out.update(_land_procurement(city, when, landing, log, rngs["procurement"]))
    steps.update(1)
    feeds_out[SETTLEMENTS] = _land_offsite(city, cases, when, landing, log, rngs["offsite"])
    steps.update(1)
    truth = _write_truth(landing, knobs, when, feeds_out, log)
    steps.update(1)
    steps.close()
    return {**truth, "seconds": round(time.perf_counter() - started, 1)}


# --- The landed city ---------------------------------------------------------------------


def _check_landing(landing: Path, knobs: Knobs) -> dict:
    path = landing / "_truth" / "summary.json"
    if not path.is_file():
        raise LandingMismatch(
            f"{landing} holds no generated city (no _truth/summary.json): "
            "run `diplake generate` first"
        )
    summary = json.loads(path.read_text(encoding="utf-8"))
    landed, asked = summary.get("knobs", {}), dataclasses.asdict(knobs)
    differ = sorted(k for k in landed.keys() | asked.keys() if landed.get(k) != asked.get(k))
    if differ:
        raise LandingMismatch(
            f"{landing} holds a city of other knobs ("
            + "; ".join(f"{k}: landed {landed.get(k)!r}, asked {asked.get(k)!r}" for k in differ)
            + "): give the --scale, --seed and knobs it was generated with"
        )
    return summary


def _daily_folders(landing: Path, source: str) -> list[str]:
    root = landing / source
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and DATE.fullmatch(p.name))


def _the_day(landing: Path, day: str | None) -> pd.Timestamp:
    """The day to land: after every landed folder of the daily feeds."""
    latest = max((d for s in DAILY for d in _daily_folders(landing, s)), default=None)
    if latest is None:
        raise LandingMismatch(f"{landing} holds no daily feed: run `diplake generate` first")
    if day is None:
        return pd.Timestamp(latest) + pd.Timedelta(days=1)
    if not DATE.fullmatch(day):
        raise LandingMismatch(f"--day {day!r}: give a day as YYYY-MM-DD")
    when = pd.Timestamp(day)
    if when <= pd.Timestamp(latest):
        raise LandingMismatch(
            f"--day {day}: the daily feeds have landed up to {latest} already; a further day "
            "comes after every landed one"
        )
    return when


def _read_city(landing: Path, knobs: Knobs, n_persons: int, day: pd.Timestamp) -> City:
    streams = _streams(knobs.seed)
    first_day = f"{knobs.first_year}-01-01"
    institutions = build_institutions(knobs, streams["world"])
    landed = pd.read_csv(landing / "institutions" / first_day / "institutions.csv", dtype=str)
    if landed.institution_code.tolist() != institutions.institution_code.tolist():
        raise LandingMismatch("the landed institutions are not the ones the seed draws")
    doctors = pd.read_csv(
        landing / "doctors" / first_day / "doctors.csv", dtype=str, keep_default_na=False
    )
    # New stays name doctors still registered (one struck off is a planted fraud signal).
    active = doctors.status == "active"
    doctors = doctors[active | ~doctors.institution_code.isin(doctors.institution_code[active])]
    defects = pd.read_csv(landing / "_truth" / "defects.csv", dtype=str, keep_default_na=False)
    logged = {
        (f, int(i)): d
        for f, i, d in zip(defects.source_file, defects.line, defects.defect, strict=True)
    }
    spoiled = defects[
        (defects.source == "insured_registry") & (defects.defect == "invalid_id_checksum")
    ]
    persons, unregistered = _read_registry(
        landing / "insured_registry" / first_day / "insured_persons.csv",
        spoiled.line.astype(int).to_numpy() - 2,
        day,
    )
    world = World(institutions=institutions, doctors=doctors, persons=persons)
    vocabularies = vocab.load()
    # The mess stream drew the registry's spoiled lines, then each hospital's dialect.
    streams["mess"].random(n_persons)
    hospitals = institutions.institution_code[institutions.type == "hospital"].to_numpy()
    plan = drug_use.build_plan(world, knobs, *drug_use.load_reference(), streams["procurement"])
    return City(
        knobs=knobs,
        world=world,
        unregistered=unregistered,
        model=clinical.build_model(vocabularies, streams["clinical"]),
        plan=plan,
        dialect_of=assign_dialects(hospitals, streams["mess"]),
        codes=_spoiler_codes(vocabularies, np.random.default_rng([knobs.seed, CODES_TAG])),
        logged=logged,
    )


def _read_registry(
    path: Path, spoiled_rows: np.ndarray, day: pd.Timestamp
) -> tuple[pd.DataFrame, set[str]]:
    """The persons alive on the day before ``day``, their true ID numbers (a spoiled line's
    check character recomputed), and those numbers of the spoiled lines."""
    columns = ["id_no", "name", "sex", "birth_date", "insurance_type", "district", "death_date"]
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=columns, column_types=dict.fromkeys(columns, pa.string())
        ),
    )
    ids = table["id_no"].to_numpy(zero_copy_only=False)
    true = ids[spoiled_rows]
    true = np.char.add(
        np.array([s[:17] for s in true], dtype="U17"),
        id_check_char(np.array([int(s[:17]) for s in true], dtype=np.int64)),
    ).astype(object)
    ids[spoiled_rows] = true

    def dates(column: str) -> np.ndarray:
        text = table[column]
        parsed = pc.strptime(pc.if_else(pc.equal(text, ""), None, text), "%Y-%m-%d", "s")
        return parsed.to_numpy(zero_copy_only=False).astype("datetime64[ns]")

    # Arrow-backed text: millions of Python strings would cost more than the read.
    text = {c: table[c].to_pandas(types_mapper=pd.ArrowDtype) for c in columns[1:]}
    persons = pd.DataFrame(
        {**text, "id_no": ids, "birth_date": dates("birth_date"), "death_date": dates("death_date")}
    )[columns]
    alive = persons.death_date.isna() | (persons.death_date >= day - pd.Timedelta(days=1))
    return persons[alive.to_numpy()].reset_index(drop=True), set(true)


def _day_streams(seed: int, day: pd.Timestamp) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence([seed, int(f"{day:%Y%m%d}")]).spawn(len(DAY_STREAMS))
    return dict(zip(DAY_STREAMS, map(np.random.default_rng, children), strict=True))


def _ids(prefix: str, day: pd.Timestamp, n: int, width: int, start: int = 0) -> np.ndarray:
    """Serials of a further day: the prefix, the day and a number (longer than the city's)."""
    return np.char.add(f"{prefix}{day:%Y%m%d}", flows._digits(np.arange(start, start + n), width))


# --- Settlement lists, fee details, pharmacy, face checks --------------------------------


def _new_cases(city: City, day: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """The stays discharged the day before ``day``, a day's share of the year; some of them
    of people insured elsewhere (offsite.make_inbound)."""
    knobs, before = city.knobs, day - pd.Timedelta(days=1)
    n = max(1, round(knobs.discharges_per_year / 365))

    def yesterday(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return np.full(n, before.month - 1), np.full(n, before.to_datetime64())

    cases = discharges.draw_stays(
        city.model, city.world, n, before.year, before.year - knobs.first_year, yesterday, rng
    )
    cases = cases.sort_values("hospital_code", kind="stable", ignore_index=True)
    cases.insert(0, "case_id", _ids("ZY", day, n, 5))
    cases["doctor_id"] = discharges._pick_doctors(cases.hospital_code.to_numpy(), city.world, rng)
    cases = platform.make_inbound(cases, set(), set(), before.year, rng)
    if "eligible_fen" not in cases:  # nobody insured elsewhere today
        cases["eligible_fen"] = cases.total_fen
    return cases


def _land_settlement_lists(
    city: City,
    cases: pd.DataFrame,
    day: pd.Timestamp,
    landing: Path,
    log: DefectLog,
    rng: np.random.Generator,
) -> dict:
    """The day's discharges in each hospital's dialect, with the mess of settlement.py: value
    defects and in-file resends on new records; corrections, stale resubmissions, record id
    conflicts and exact resends made of recently landed records."""
    frame = cases.assign(dialect=cases.hospital_code.map(city.dialect_of), submitted=day)
    rate = city.knobs.mess_rate
    kinds = mess.draw_defects(len(frame), rate, mess.SETTLEMENT_MIX, rng)
    kinds[np.isin(kinds, list(LEAST))] = ""  # records pointing at earlier ones: below
    for kind, ok in eligible(frame, city.unregistered).items():
        kinds[(kinds == kind) & ~ok] = ""
    spare = np.flatnonzero((kinds == "") & ~frame.id_no.isin(city.unregistered).to_numpy())
    if not any(mess.DEFECTS.get(k) == "quarantine" for k in kinds) and len(spare):
        kinds[rng.choice(spare)] = rng.choice(QUARANTINED)  # a few defective records a day
    spoiled = _spoil(frame, kinds, city.codes, rng).assign(kind=kinds)
    resent = kinds == "duplicate_submission"
    copies = spoiled[resent].assign(kind="duplicate_copy")
    spoiled.loc[resent, "kind"] = ""
    wanted = {k: max(n, round(len(frame) * rate * SHARE[k])) for k, n in LEAST.items()}
    wanted["duplicate_submission"] = max(
        1, round(len(frame) * rate * SHARE["duplicate_submission"])
    )
    extras, earlier = _landed_extras(city, landing, day, wanted, log, rng)
    records = pd.concat([spoiled, copies, extras], ignore_index=True)
    records = records.sort_values(
        ["dialect", "discharge_date", "case_id", "kind"], kind="stable", ignore_index=True
    )
    _number(records, day, rng)
    conflicted = set(records.record_id[records.kind == "conflict_copy"])
    for dialect, group in records.groupby("dialect", sort=True):
        cut = (
            rng.random() < CUT_SHARE
            and group.kind.iat[-1] == ""
            and group.record_id.iat[-1] not in conflicted
        )
        _write_list(group, dialect, day, cut, landing, city.unregistered, log, rng, earlier=earlier)
    kind = records.kind
    return {
        "files": records.dialect.nunique(),
        "rows": len(records),
        "new": len(frame),
        "corrections": int((kind == "correction").sum()),
        "resends": int(kind.eq("duplicate_copy").sum()),
        "stale_resubmissions": int((kind == "stale_copy").sum()),
        "record_id_conflicts": int((kind == "conflict_copy").sum()),
        "inbound": int((frame.insured_region != HOME_REGION).sum()),
    }


def _number(records: pd.DataFrame, day: pd.Timestamp, rng: np.random.Generator) -> None:
    """Each new record's ``record_id`` (dialect, day, serial) and ``submitted_at`` (in place);
    an in-file resend takes its original's id, a landed record's copy keeps the landed id,
    a stale resubmission the time its first version was submitted."""
    fresh = records.record_id.isna() & (records.kind != "duplicate_copy")
    serial = records[fresh].groupby("dialect").cumcount().to_numpy()
    prefix = np.char.add(records.dialect[fresh].to_numpy(str), f"{day:%Y%m%d}")
    records.loc[fresh, "record_id"] = np.char.add(prefix, flows._digits(serial, 6))
    again = records.record_id.isna()
    first = records[fresh].drop_duplicates("case_id").set_index("case_id").record_id
    records.loc[again, "record_id"] = records.case_id[again].map(first)
    seconds = pd.to_timedelta(rng.integers(8 * 3600, 20 * 3600, len(records)), unit="s")
    now = (day + seconds).strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    records["submitted_at"] = records.submitted_at.where(records.kind == "stale_copy", now)


def _landed_extras(
    city: City,
    landing: Path,
    day: pd.Timestamp,
    wanted: dict[str, int],
    log: DefectLog,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Records made of the newest landed settlement lists: corrections (one more secondary
    diagnosis, a new record id; the landed version is logged superseded), stale
    resubmissions of corrected first versions (dialect A), copies with the landed record id
    and another discharge status, and exact resends. Return them, and the resent lines."""
    landed = _recent_lists(city, landing, day, sum(wanted.values()))
    clean = landed[landed.logged == ""]
    clean = clean[~clean.case_id.duplicated(keep=False)]
    order = rng.permutation(len(clean))
    take = {}
    at = 0
    for kind in ("superseded_by_correction", "record_id_conflict", "duplicate_submission"):
        take[kind] = clean.iloc[np.sort(order[at : at + wanted[kind]])]
        at += wanted[kind]
    stale = landed[(landed.logged == "superseded_by_correction") & (landed.dialect == "A")]
    take["stale_resubmission"] = stale.iloc[
        np.sort(rng.permutation(len(stale))[: wanted["stale_resubmission"]])
    ]
    picked = _canonical(pd.concat(take.values(), ignore_index=True))
    kind = np.repeat(
        ["correction", "conflict_copy", "duplicate_copy", "stale_copy"],
        [len(t) for t in take.values()],
    )
    picked["kind"] = kind
    for row in picked[kind == "correction"].itertuples():
        log.add(SOURCE, row.record_id, row.rel, row.line, "superseded_by_correction")
    corrected = kind == "correction"
    picked.loc[corrected, "other_dx"] = pd.Series(
        [
            (*r.other_dx, _one_more_diagnosis(city.model, r, rng))
            for r in picked[corrected].itertuples()
        ],
        index=picked.index[corrected],
        dtype=object,
    )
    conflict = kind == "conflict_copy"
    shift = rng.integers(1, len(STATUSES), int(conflict.sum()))
    picked.loc[conflict, "discharge_status"] = [
        STATUSES[(STATUSES.index(s) + k) % len(STATUSES)]
        for s, k in zip(picked.discharge_status[conflict], shift, strict=True)
    ]
    # A correction and a stale copy are new records; the others keep the landed id.
    picked.loc[kind == "correction", "record_id"] = None
    picked.loc[kind == "stale_copy", "record_id"] = None
    picked["submitted_at"] = picked.submitted_at.where(kind == "stale_copy", None)
    resent = picked[kind == "duplicate_copy"]
    earlier = dict(zip(resent.record_id, resent.raw, strict=True))
    return picked.drop(columns=["rel", "line", "raw", "logged"]), earlier


def _one_more_diagnosis(model: clinical.ClinicalModel, record, rng: np.random.Generator) -> str:
    """A secondary diagnosis the coder added late: one the patient's sex can have, not
    coded yet (whatever the dialect's spelling of the codes already there)."""
    have = {_who_key(c) for c in (record.principal_dx, *record.other_dx)}
    codes = model.profiles.principal_dx.to_numpy()
    weight = model.profiles.weight.to_numpy()
    for code in rng.choice(codes, size=50, p=weight):
        if vocab.sex_of_diagnosis(code) in (None, record.sex) and _who_key(code) not in have:
            return str(code)
    return "R69"  # 原因不明的疾病: never reached in a real draw


def _who_key(code: str) -> str:
    """The WHO code under a dialect's spelling: ``K35.800x002``, ``k358``, ``K35.8`` -> K358."""
    found = WHO_KEY.match(code.upper())
    return "".join(found.groups("")) if found else code


def _recent_lists(city: City, landing: Path, day: pd.Timestamp, need: int) -> pd.DataFrame:
    """Every line of the settlement lists landed in the newest month before ``day``, with
    its file, line, raw text and what _truth/defects.csv logged it as ('' when clean).

    The month is counted back from the newest folder that holds a file, and older
    folders are added while fewer than ``need`` clean lines were found: a city's last
    folders may hold only a few late resubmissions (or, once, nothing at all)."""
    folders = [
        f
        for f in _daily_folders(landing, SOURCE)
        if f < f"{day:%Y-%m-%d}" and any((landing / SOURCE / f).iterdir())
    ]
    if not folders:
        raise LandingMismatch(f"{landing} holds no settlement list before {day:%Y-%m-%d}")
    newest = pd.Timestamp(folders[-1])
    rows = []
    for folder in reversed(folders):
        recent = pd.Timestamp(folder) >= newest - pd.Timedelta(days=RECENT_DAYS)
        if not recent and sum(r["logged"] == "" for r in rows) >= need:
            break
        for path in sorted((landing / SOURCE / folder).iterdir()):
            dialect = path.name[0]
            raw = path.read_bytes()
            encoding = "gbk" if dialect == "B" and not raw.startswith(BOM) else "utf-8-sig"
            rel = f"{SOURCE}/{folder}/{path.name}"
            skip = dialects.HEADER_LINES[dialect]
            for i, line in enumerate(raw.decode(encoding).split("\n")[skip:], start=skip + 1):
                logged = city.logged.get((rel, i), "")
                if logged in ("", "superseded_by_correction"):
                    where = {"rel": rel, "line": i, "raw": line, "logged": logged}
                    rows.append({**_fields(dialect, line), **where, "dialect": dialect})
    landed = pd.DataFrame(rows).sort_values(["rel", "line"], ignore_index=True)
    wrong = landed[landed.hospital_code.map(city.dialect_of) != landed.dialect]
    if len(wrong):
        raise LandingMismatch(
            f"{wrong.rel.iat[0]}: hospital {wrong.hospital_code.iat[0]} sends in another "
            "dialect than the seed gives it; was the landing written by another generator?"
        )
    return landed


def _fields(dialect: str, line: str) -> dict:
    """A landed settlement-list line as the formatters' fields (codes as the dialect wrote
    them, dates as text, money in fen)."""
    if dialect == "A":
        r = json.loads(line)
        case, patient, costs = r["case"], r["patient"], r["costs"]
        dx = r["diagnoses"]
        return {
            "record_id": r["record_id"],
            "submitted_at": r["submitted_at"],
            "case_id": case["case_id"],
            "hospital_code": case["hospital_code"],
            "admission_date": case["admission_date"],
            "discharge_date": case["discharge_date"],
            "admission_type": case["admission_type"],
            "discharge_status": case["discharge_status"],
            "doctor_id": case["attending_doctor"],
            "id_no": patient["id_no"],
            "name": patient["name"],
            "sex": patient["sex"],
            "birth_date": patient["birth_date"],
            "insured_region": patient.get("insured_region", HOME_REGION),
            "principal_dx": next(d["code"] for d in dx if d["principal"]),
            "other_dx": tuple(d["code"] for d in dx if not d["principal"]),
            "procedures": tuple(p["code"] for p in r["procedures"]),
            "total_fen": _fen(costs["total"]),
            **{f"{p}_fen": _fen(costs[p]) for p in FEE_CATEGORIES},
            "fund_fen": _fen(costs["fund_paid"]),
            "self_fen": _fen(costs["self_paid"]),
        }
    b = dialect == "B"
    f = next(csv.reader([line])) if b else line.split("|")
    sex, way, status = (
        (dialects.B_SEX, dialects.B_ADMISSION, dialects.B_STATUS)
        if b
        else (dialects.C_SEX, dialects.C_ADMISSION, dialects.C_STATUS)
    )
    money = _fen if b else int
    joined = ";" if b else ","
    return {
        "record_id": f[0],
        "submitted_at": None,
        "case_id": f[1],
        "hospital_code": f[2],
        "id_no": f[3],
        "name": f[4],
        "sex": _key(sex, f[5]),
        "birth_date": f[6],
        "admission_date": f[7],
        "discharge_date": f[8],
        "admission_type": _key(way, f[9]),
        "discharge_status": _key(status, f[10]),
        "principal_dx": f[11],
        "other_dx": tuple(c for c in f[12].split(joined) if c),
        "procedures": tuple(c for c in [f[13], *f[14].split(joined)] if c),
        "doctor_id": f[15],
        "total_fen": money(f[16]),
        **{f"{p}_fen": money(v) for p, v in zip(FEE_CATEGORIES, f[17:24], strict=True)},
        "fund_fen": money(f[24]),
        "self_fen": money(f[25]),
        "insured_region": f[26] if len(f) > 26 else HOME_REGION,
    }


def _key(mapping: dict[str, str], value: str) -> str:
    return next(k for k, v in mapping.items() if v == value)


def _fen(yuan: str) -> int:
    """``123.45`` (always two decimals, as the senders write yuan) -> 12345."""
    return int(yuan.replace(".", ""))


def _canonical(landed: pd.DataFrame) -> pd.DataFrame:
    out = landed.reset_index(drop=True)
    for column in ("birth_date", "admission_date", "discharge_date"):
        out[column] = pd.to_datetime(out[column].str.replace("-", ""), format="%Y%m%d")
    return out


def _land_fee_details(
    city: City,
    cases: pd.DataFrame,
    day: pd.Timestamp,
    landing: Path,
    log: DefectLog,
    rng: np.random.Generator,
) -> dict:
    """The itemised charges of the day's discharges, drugs named by the city's drug plan."""
    fees = feeds.fee_details(cases, rng)
    drugs = fees.category == "drugs"
    fees.loc[drugs, ["item_code", "item_name", "quantity"]] = drug_use.fee_drug_items(
        fees[drugs], city.plan
    )
    fees.insert(0, "record_id", _ids("E", day, len(fees), 7))
    fees["unit_price"] = feeds.yuan_text(fees.amount_fen.to_numpy() // fees.quantity.to_numpy())
    fees["amount"] = feeds.yuan_text(fees.amount_fen.to_numpy())
    fees = fees.drop(columns="amount_fen")
    fees["fee_date"] = fees.fee_date.dt.strftime("%Y-%m-%d")
    rel = f"fee_details/{day:%Y-%m-%d}/fee_details_{day:%Y%m%d}.csv"
    sent = feeds.duplicate_some(
        fees, "fee_details", rel, city.knobs.mess_rate * 0.1, log, rng, at_least=1
    )
    feeds.write_csv(sent, landing / rel)
    return {"files": 1, "rows": len(sent), "new": len(fees), "resends": len(sent) - len(fees)}


def _land_pharmacy(
    city: City, day: pd.Timestamp, landing: Path, log: DefectLog, rng: np.random.Generator
) -> dict:
    """The day's sales at clinics and pharmacies: a day's share of the year's, the buyers
    living persons of the registry, mostly in their own district."""
    inst, persons = city.world.institutions, city.world.persons
    shop = inst.type.isin(["pharmacy", "clinic"]).to_numpy()
    n = max(1, round(len(persons) * city.knobs.pharmacy_per_insured / 365))
    who = persons.iloc[rng.integers(0, len(persons), n)]
    before = np.datetime64(day - pd.Timedelta(days=1), "s")
    sales = pd.DataFrame(
        {
            "id_no": who.id_no.to_numpy(),
            "institution_code": activity._shops_near(
                who.district.to_numpy(dtype=object),
                inst.institution_code[shop].to_numpy(),
                inst.district[shop].to_numpy(),
                rng,
            ),
            "txn_time": before + activity._open_seconds(rng, n).astype("timedelta64[s]"),
            "days_supply": rng.choice([7, 14, 30], n, p=[0.5, 0.3, 0.2]),
        }
    )
    drugs = drug_use.pharmacy_items(sales, city.plan)
    sales.insert(3, "item_code", drugs.product_code)
    sales.insert(4, "quantity", drugs.quantity)
    sales["trace_code"] = activity._trace_codes(rng, n)
    sales["amount"] = feeds.yuan_text(drugs.amount_fen.to_numpy())
    sales = sales.sort_values(["txn_time", "id_no"], kind="stable", ignore_index=True)
    sales.insert(0, "record_id", _ids("T", day, n, 7))
    sales["txn_time"] = sales.txn_time.dt.strftime("%Y-%m-%d %H:%M:%S")
    rel = f"outpatient_pharmacy/{day:%Y-%m-%d}/sales_{day:%Y%m%d}.csv"
    rate = city.knobs.mess_rate * 0.1
    sent = feeds.duplicate_some(sales, "outpatient_pharmacy", rel, rate, log, rng, at_least=1)
    feeds.write_csv(sent, landing / rel)
    return {"files": 1, "rows": len(sent), "new": n, "resends": len(sent) - n}


def _land_face_checks(
    city: City, cases: pd.DataFrame, day: pd.Timestamp, landing: Path, rng: np.random.Generator
) -> dict:
    """The identity checks at the admission of the day's discharges (patient and doctor),
    sent with them; clean, as the city's are."""
    stays = SimpleNamespace(cases=cases, ghost_cases=set(), checked_in_ghosts=set())
    checks = activity.face_checks(city.world, stays, city.knobs, rng)
    checks.insert(0, "record_id", _ids("K", day, len(checks), 6))
    checks["check_time"] = checks.check_time.dt.strftime("%Y-%m-%d %H:%M:%S")
    rel = f"face_checks/{day:%Y-%m-%d}/face_checks_{day:%Y%m%d}.csv"
    feeds.write_csv(checks, landing / rel)
    return {"files": 1, "rows": len(checks), "new": len(checks)}


# --- Procurement: orders, deliveries, payments --------------------------------------------


def _land_procurement(
    city: City, day: pd.Timestamp, landing: Path, log: DefectLog, rng: np.random.Generator
) -> dict:
    """The platform's files of the day before ``day``: the orders placed, the deliveries
    accepted and the payments made on it.

    Each order is a pure function of the day it was placed (and the order book, below):
    its deliveries and payment follow from it. A delivery or payment of the day whose
    order or delivery has not landed yet (it fell on a day before the first further day)
    brings it along in the day's file; ids landed before are not sent again."""
    before = day - pd.Timedelta(days=1)
    book = _order_book(city, landing)
    placed = [
        _placed(o, book, city) for o in pd.date_range(before - pd.Timedelta(days=FLOW_DAYS), before)
    ]
    orders = pd.concat([p[0] for p in placed], ignore_index=True)
    flow = pd.concat([p[1] for p in placed], ignore_index=True)
    landed_orders = _landed_ids(landing, "procurement_orders", "order_id", day)
    landed_deliveries = _landed_ids(landing, "deliveries", "delivery_id", day)
    on = before.to_datetime64()
    accepted = flow[flow.accepted_at.dt.normalize() == on]
    paid = flow[flow.paid_at.dt.normalize() == on]
    carried = flow[
        flow.delivery_id.isin(paid.delivery_id)
        & ~flow.delivery_id.isin(landed_deliveries)
        & ~flow.delivery_id.isin(accepted.delivery_id)
    ]
    delivered = pd.concat([accepted.assign(carried=False), carried.assign(carried=True)])
    today = orders[orders.ordered_at.dt.normalize() == on]
    late = orders[
        orders.order_id.isin(delivered.order_id)
        & ~orders.order_id.isin(landed_orders)
        & ~orders.order_id.isin(today.order_id)
    ]
    n_placed = len(today)
    rate = city.knobs.mess_rate
    counts = {}

    def extras(kind: str, n: int) -> int:
        return max(1, round(flows.MESS[kind] * rate * n)) if rate > 0 else 0

    # Orders: the day's and those brought along, a few resent, and lines to quarantine.
    out = pd.concat([today.assign(carried=False), late.assign(carried=True)], ignore_index=True)
    clean = out[~out.carried & (out.mess == "")]
    bad = []
    for kind in ("non_positive_quantity", "unknown_product"):
        rows = clean.iloc[np.sort(rng.permutation(len(clean))[: extras(kind, n_placed)])].copy()
        if kind == "unknown_product":
            rows["product_code"] = _unknown_products(city.plan, len(rows), rng)
        else:
            rows["qty"] = np.where(rng.random(len(rows)) < 0.5, 0, -rows.qty)
        bad.append(rows.assign(mess=kind, carried=False))
    bad = pd.concat(bad, ignore_index=True)
    bad["order_id"] = _ids("PO", before, len(bad), 5, start=n_placed)
    out = pd.concat([out, bad], ignore_index=True).sort_values(
        ["ordered_at", "hospital_code", "product_code", "order_id"],
        kind="stable",
        ignore_index=True,
    )
    out["record_id"] = _ids("O", day, len(out), 6)
    twice = np.zeros(len(out), bool)
    pool = np.flatnonzero(((out.mess == "") & ~out.carried).to_numpy())
    twice[rng.permutation(pool)[: extras("duplicate_submission", n_placed)]] = True
    sent = out.loc[out.index.repeat(np.where(twice, 2, 1))].reset_index(drop=True)
    sent.loc[sent.record_id.eq(sent.record_id.shift()), "mess"] = "duplicate_submission"
    sent["unit_price"] = flows._money(sent.unit_price_e4.to_numpy())
    counts["procurement_orders"] = _land_flow(
        "procurement_orders", day, flows._stamp(sent, ["ordered_at"]), landing, log
    )
    counts["procurement_orders"].update(
        new=n_placed, carried=len(late), resends=int(twice.sum()), extra=len(bad)
    )

    # Deliveries: those accepted on the day and those brought along for a payment.
    clean = delivered[~delivered.carried & (delivered.mess == "")]
    bad = []
    for kind in ("delivery_without_order", "non_positive_quantity"):
        rows = clean.iloc[np.sort(rng.permutation(len(clean))[: extras(kind, len(accepted))])]
        rows = rows.copy()
        if kind == "delivery_without_order":
            rows["order_id"] = np.char.add(
                "PO9", flows._digits(rng.integers(0, 10**9, len(rows)), 9)
            )
        else:
            rows["qty"] = np.where(rng.random(len(rows)) < 0.5, 0, -rows.qty)
        bad.append(rows.assign(mess=kind, carried=False))
    bad = pd.concat(bad, ignore_index=True)
    bad["delivery_id"] = np.char.add(_ids("DL", before, len(bad), 5, start=n_placed), "0")
    out = pd.concat([delivered, bad], ignore_index=True).sort_values(
        ["accepted_at", "order_id", "delivery_id"], kind="stable", ignore_index=True
    )
    out["record_id"] = _ids("D", day, len(out), 6)
    counts["deliveries"] = _land_flow(
        "deliveries", day, flows._stamp(out, ["delivered_at", "accepted_at"]), landing, log
    )
    counts["deliveries"].update(new=len(accepted), carried=len(carried), extra=len(bad))

    # Payments of the day, one of them preceded by a payment above its delivery's amount.
    pay = paid.assign(mess="")
    wrong = pay.iloc[
        np.sort(rng.permutation(len(pay))[: extras("payment_exceeds_delivery", len(pay))])
    ]
    wrong = wrong.assign(
        amount_fen=wrong.amount_fen
        + np.maximum(1, np.round(wrong.amount_fen * rng.uniform(0.2, 1.0, len(wrong)))),
        paid_at=wrong.paid_at - pd.to_timedelta(rng.integers(60, 3600, len(wrong)), unit="s"),
        mess="payment_exceeds_delivery",
        payment_id=np.char.add(_ids("PY", before, len(wrong), 5, start=n_placed), "0"),
    )
    out = pd.concat([pay, wrong], ignore_index=True).sort_values(
        ["paid_at", "delivery_id", "payment_id"], kind="stable", ignore_index=True
    )
    out["record_id"] = _ids("P", day, len(out), 6)
    out["amount"] = flows._money(out.amount_fen.to_numpy(), 2)
    counts["distributor_payments"] = _land_flow(
        "distributor_payments", day, flows._stamp(out, ["paid_at"]), landing, log
    )
    counts["distributor_payments"].update(new=len(pay), extra=len(wrong))
    return counts


def _land_flow(source: str, day: pd.Timestamp, frame: pd.DataFrame, landing: Path, log) -> dict:
    rel = f"{source}/{day:%Y-%m-%d}/{source}_{day:%Y%m%d}.csv"
    for line in np.flatnonzero((frame.mess != "").to_numpy()):
        log.add(source, frame.record_id.iat[line], rel, int(line) + 2, frame.mess.iat[line])
    feeds.write_csv(frame[flows.COLUMNS[source].split()], landing / rel)
    return {"files": 1, "rows": len(frame)}


def _order_book(city: City, landing: Path) -> pd.DataFrame:
    """What each hospital orders in a month, by product and distributor: the clean lines of
    the city's last monthly orders file, at the drug plan's clean prices."""
    name = re.compile(r"procurement_orders_\d{6}\.csv")
    files = sorted(p for p in landing.glob("procurement_orders/*/*.csv") if name.fullmatch(p.name))
    path = files[-1]
    rel = path.relative_to(landing).as_posix()
    lines = pd.read_csv(path, dtype=str, keep_default_na=False)
    logged = np.array([(rel, i + 2) in city.logged for i in range(len(lines))])
    lines = lines[~logged & (lines.unit != flows.BOX)]
    lines = lines.assign(qty=lines.qty.astype(np.int64))
    book = lines.groupby(["hospital_code", "product_code"], as_index=False).agg(
        qty=("qty", "sum"), distributor_code=("distributor_code", "first")
    )
    mix = city.plan.mix.drop_duplicates(["hospital_code", "product_code"])
    book = book.merge(mix[["hospital_code", "product_code", "price_e4"]], how="left")
    if book.price_e4.isna().any():
        raise LandingMismatch(f"{rel}: orders of drugs the seed's drug plan does not give")
    products = city.plan.products.reindex(book.product_code)
    book["pack_size"] = products.pack_size.to_numpy()
    book["smallest_unit"] = products.smallest_unit_zh.to_numpy()
    book["slot"] = drug_use.line_hash(
        [book.hospital_code, book.product_code], city.plan.salt
    ) % np.uint64(ORDER_CYCLE)
    return book.astype({"price_e4": np.int64})


def _placed(day: pd.Timestamp, book: pd.DataFrame, city: City) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The orders placed on ``day`` and their deliveries (each with its payment): a pure
    function of the day, drawn from a generator of its own."""
    rng = np.random.default_rng([city.knobs.seed, int(f"{day:%Y%m%d}"), FLOW_TAG])
    b = book[book.slot == day.toordinal() % ORDER_CYCLE].reset_index(drop=True)
    n = len(b)
    units = np.maximum(1, np.round(b.qty * rng.uniform(*flows.STOCK, n))).astype(np.int64)
    box_rate = flows.MESS["box_quantity"] * city.knobs.mess_rate
    box = (units >= flows.BOX_MIN_PACKS * b.pack_size) & (rng.random(n) < box_rate)
    qty = np.where(box, -(-units // b.pack_size), units)
    start = np.datetime64(day.date(), "D")
    orders = pd.DataFrame(
        {
            "order_id": _ids("PO", day, n, 5),
            "hospital_code": b.hospital_code,
            "product_code": b.product_code,
            "distributor_code": b.distributor_code,
            "qty": qty,
            "unit": np.where(box, flows.BOX, b.smallest_unit),
            "unit_price_e4": b.price_e4 * np.where(box, b.pack_size, 1),
            "ordered_at": _office(np.full(n, start), rng),
            "mess": np.where(box, "box_quantity", ""),
        }
    )
    split = (rng.random(n) < flows.SPLIT_DELIVERY) & (qty >= 2)
    lag = np.where(split, rng.integers(1, 5, n), rng.integers(1, 6, n))
    first = np.where(split, np.maximum(1, np.floor(qty * rng.uniform(0.4, 0.8, n))), qty)
    d = orders.loc[orders.index.repeat(1 + split)].reset_index(drop=True)
    second = d.order_id.eq(d.order_id.shift()).to_numpy()
    first, lag = np.repeat(first, 1 + split).astype(np.int64), np.repeat(lag, 1 + split)
    d["qty"] = np.where(second, d.qty - first, first)
    d["delivered_at"] = _office(start + (lag + second).astype("timedelta64[D]"), rng)
    after = rng.integers(0, 3, len(d)) * 86400 + rng.integers(600, 7200, len(d))
    d["accepted_at"] = d.delivered_at + pd.to_timedelta(after, unit="s")
    suffix = np.where(second, "1", "0")
    d["delivery_id"] = np.char.add(np.char.replace(d.order_id.to_numpy(str), "PO", "DL"), suffix)
    days = rng.integers(flows.PAY_DAYS[0], flows.PAY_DAYS[1] + 1, len(d))
    accepted_on = d.accepted_at.to_numpy().astype("datetime64[D]")
    d["paid_at"] = _office(accepted_on + days.astype("timedelta64[D]"), rng)
    d["payer"] = np.where(rng.random(len(d)) < flows.FUND_PAYS, "fund", "hospital")
    d["amount_fen"] = (d.qty.to_numpy() * d.unit_price_e4.to_numpy() + 50) // 100
    d["payment_id"] = np.char.add(np.char.replace(d.order_id.to_numpy(str), "PO", "PY"), suffix)
    return orders, d


def _office(days: np.ndarray, rng: np.random.Generator) -> pd.Series:
    seconds = rng.integers(*flows.OFFICE, len(days))
    return pd.Series(days.astype("datetime64[s]") + seconds.astype("timedelta64[s]")).astype(
        "datetime64[ns]"
    )


def _landed_ids(landing: Path, source: str, column: str, day: pd.Timestamp) -> set[str]:
    """The ids a further day's files of ``source`` sent in the last FLOW_DAYS days."""
    name = re.compile(rf"{source}_\d{{8}}\.csv")
    since = f"{day - pd.Timedelta(days=FLOW_DAYS + 10):%Y-%m-%d}"
    ids: set[str] = set()
    for folder in _daily_folders(landing, source):
        if folder >= since:
            for path in (landing / source / folder).iterdir():
                if name.fullmatch(path.name):
                    ids |= set(pd.read_csv(path, dtype=str, usecols=[column])[column])
    return ids


def _unknown_products(plan: drug_use.DrugPlan, n: int, rng: np.random.Generator) -> np.ndarray:
    """Well-formed product codes no catalogue holds (a known code, its last digits changed)."""
    known = set(plan.products.product_code)
    out = []
    while len(out) < n:
        code = str(rng.choice(plan.products.product_code.to_numpy()))
        code = code[:-4] + f"{int(rng.integers(10_000)):04d}"
        if code not in known:
            out.append(code)
    return np.array(out, dtype=object)


# --- Off-site settlements ------------------------------------------------------------------


def _land_offsite(
    city: City,
    cases: pd.DataFrame,
    day: pd.Timestamp,
    landing: Path,
    log: DefectLog,
    rng: np.random.Generator,
) -> dict:
    """The national platform's settlements of the day before ``day``: the day's inbound
    stays (in the settlement lists too) and visits, the city's insured treated elsewhere,
    a correction or two of recently landed settlements, and the feed's mess."""
    before = day - pd.Timedelta(days=1)
    scheme, regions = platform.Policy(), platform.load_regions()
    places = platform._destinations(regions, rng)
    local = cases[cases.insured_region == HOME_REGION]
    frame = pd.concat(
        [
            _inbound(cases, city, before, rng),
            _outbound(city, local, before, regions, places, scheme, rng),
        ],
        ignore_index=True,
    )
    frame["settlement_id"] = _ids("YD", day, len(frame), 6)
    frame["self_fen"] = frame.total_fen - frame.fund_fen - frame.account_fen
    frame["mess"] = ""
    rate = city.knobs.mess_rate
    k = max(1, round(len(frame) * rate * 0.5 / 6)) if rate > 0 else 0
    corrections = _offsite_corrections(city, landing, day, k, log, rng)
    bad = _offsite_mess(frame, k, rng)
    out = pd.concat([frame, corrections, bad], ignore_index=True)
    fresh = out.mess != "duplicate_submission"
    out.loc[fresh, "record_id"] = _ids("R", day, int(fresh.sum()), 6)
    ids = out[fresh].set_index("settlement_id").record_id
    out.loc[~fresh, "record_id"] = out.settlement_id[~fresh].map(ids)
    rel = f"{SETTLEMENTS}/{day:%Y-%m-%d}/{SETTLEMENTS}_{day:%Y%m%d}.csv"
    _write_settlements(out, rel, landing, log)
    return {
        "files": 1,
        "rows": len(out),
        "new": len(frame),
        "inbound": int((frame.direction == "inbound").sum()),
        "outbound": int((frame.direction == "outbound").sum()),
        "corrections": len(corrections),
        "resends": int((~fresh).sum()),
        "extra": int((bad.mess != "duplicate_submission").sum()),
    }


def _inbound(
    cases: pd.DataFrame, city: City, before: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    """The day's stays of people insured elsewhere, and their outpatient visits here: as the
    city's (offsite._inbound), the visits on the day itself."""
    frame = platform._inbound(cases, before.year, city.world, rng)
    visits = (frame.visit_type != "inpatient").to_numpy()
    frame.loc[visits, ["admission_date", "discharge_date"]] = before
    frame.loc[visits, "case_id"] = _ids("MZ", before, int(visits.sum()), 5)
    frame.loc[visits, "settled_at"] = platform._settled_at(
        pd.Series(frame.discharge_date[visits]), rng
    )
    return frame


def _outbound(city, local, before, regions, places, scheme, rng) -> pd.DataFrame:
    """The city's insured treated elsewhere, settled on the day: a day's share of the city's
    outbound stays (offsite.OUTBOUND_STAYS per local discharge) and visits; none on a day
    of one of the day's local stays."""
    persons = city.world.persons
    n_stays = max(1, round(len(local) * platform.OUTBOUND_STAYS))
    counts = {"inpatient": n_stays} | {
        v: round(n_stays * k) for v, k in platform.VISITS_PER_STAY.items()
    }
    frames = []
    for visit, n in counts.items():
        mix = platform.FILING_MIX[visit]
        filing = rng.choice(list(mix), n, p=np.array(list(mix.values())))
        who = persons.iloc[rng.integers(0, len(persons), n)]
        codes = regions.region_code.to_numpy()
        region = np.where(
            filing == "resident",
            rng.choice(codes, n, p=platform._weights(regions, "resident_weight")),
            rng.choice(codes, n, p=platform._weights(regions, "outbound_weight")),
        )
        los = np.clip(np.round(rng.gamma(2.2, 4.5, n)), 1, 60).astype(int)
        if visit != "inpatient":
            los[:] = 0
        frames.append(
            pd.DataFrame(
                {
                    "visit_type": visit,
                    "filing": filing,
                    "id_no": who.id_no.to_numpy(),
                    "name": who.name.to_numpy(dtype=object),
                    "treating_region": region,
                    "admission_date": before - pd.to_timedelta(los, unit="D"),
                    "discharge_date": before,
                    "principal_dx": rng.choice(city.model.profiles.principal_dx.to_numpy(), n),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out = out[~out.id_no.isin(city.unregistered)]
    out = platform._away_from_local_stays(out, local)
    out["institution_code"] = platform._pick_places(out.treating_region.to_numpy(), places, rng)
    factor = places.set_index("institution_code").cost_factor.loc[out.institution_code].to_numpy()
    median = out.visit_type.map(platform.MEDIAN_COST).to_numpy(dtype=float)
    total = np.round(rng.lognormal(np.log(median), 0.5) * factor * 100).astype(np.int64)
    eligible_fen = total * rng.integers(80, 97, len(out)) // 100
    deductible = out.visit_type.map(platform.DEDUCTIBLE).to_numpy(dtype=np.int64) * 100
    deductible = np.minimum(deductible, eligible_fen)
    share = np.array(
        [float(scheme.share(v, f)) for v, f in zip(out.visit_type, out.filing, strict=True)]
    )
    fund = platform._fund_fen(np.maximum(eligible_fen - deductible, 0), share)
    out = out.assign(
        direction="outbound",
        insured_region=HOME_REGION,
        case_id=_ids("WD", before, len(out), 5),
        total_fen=total,
        eligible_fen=eligible_fen,
        deductible_fen=deductible,
        fund_fen=fund,
        account_fen=np.minimum(total - fund, rng.integers(0, 20_000, len(out))),
    )
    out["settled_at"] = platform._settled_at(pd.Series(pd.to_datetime(out.discharge_date)), rng)
    return out


def _offsite_corrections(
    city: City, landing: Path, day: pd.Timestamp, k: int, log: DefectLog, rng: np.random.Generator
) -> pd.DataFrame:
    """Recently landed settlements sent again under their settlement id with the patient's
    part split otherwise between account and cash (the fund's part, which the statements
    clear, stays); the landed line is logged superseded."""
    folders = [f for f in _daily_folders(landing, SETTLEMENTS) if f < f"{day:%Y-%m-%d}"]
    newest = pd.Timestamp(folders[-1])
    planted = set(
        pd.read_csv(landing / "_truth" / "offsite_planted.csv", dtype=str).settlement_id.dropna()
    )
    landed = []
    for folder in folders:
        if pd.Timestamp(folder) >= newest - pd.Timedelta(days=RECENT_DAYS):
            for path in sorted((landing / SETTLEMENTS / folder).glob("*.csv")):
                lines = pd.read_csv(path, dtype=str, keep_default_na=False)
                rel = path.relative_to(landing).as_posix()
                landed.append(lines.assign(rel=rel, line=np.arange(len(lines)) + 2))
    landed = pd.concat(landed, ignore_index=True)
    logged = [(r, i) in city.logged for r, i in zip(landed.rel, landed.line, strict=True)]
    clean = landed[
        ~np.array(logged, dtype=bool)
        & ~landed.settlement_id.isin(planted)
        & (landed.settled_at != "")
        & (landed.self_paid.map(_fen) + landed.account_paid.map(_fen) > 0)
    ]
    clean = clean[~clean.settlement_id.duplicated(keep=False)]
    picked = clean.iloc[np.sort(rng.permutation(len(clean))[:k])].reset_index(drop=True)
    for r in picked.itertuples():
        log.add(SETTLEMENTS, r.record_id, r.rel, r.line, "superseded_by_correction")
    money = {
        c: picked[c].map(_fen).to_numpy(np.int64)
        for c in ("total_cost", "eligible_cost", "deductible", "fund_paid", "account_paid")
    }
    patient = money["total_cost"] - money["fund_paid"]
    moved = np.minimum(patient, rng.integers(100, 5_000, len(picked)))
    # Some of the patient's part moves from the account to cash, or the other way round.
    account = np.where(
        money["account_paid"] >= moved, money["account_paid"] - moved, money["account_paid"] + moved
    )
    return pd.DataFrame(
        {
            **{c: picked[c] for c in ("settlement_id", "direction", "insured_region")},
            **{c: picked[c] for c in ("treating_region", "institution_code", "case_id")},
            **{c: picked[c] for c in ("id_no", "name", "filing", "visit_type", "principal_dx")},
            "admission_date": pd.to_datetime(picked.admission_date),
            "discharge_date": pd.to_datetime(picked.discharge_date),
            "total_fen": money["total_cost"],
            "eligible_fen": money["eligible_cost"],
            "deductible_fen": money["deductible"],
            "fund_fen": money["fund_paid"],
            "account_fen": account,
            "self_fen": patient - account,
            "settled_at": pd.to_datetime(picked.settled_at),
            "mess": "",
        }
    )


def _offsite_mess(frame: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """Extra lines, ``k`` of each kind (offsite_files._with_mess): an exact resend, and lines
    ingest must refuse, each under its settlement id with an ``X``."""
    kinds = (
        "duplicate_submission",
        "invalid_id_checksum",
        "unknown_region",
        "amounts_do_not_add_up",
        "missing_field",
    )
    pick = rng.choice(len(frame), min(len(frame), k * len(kinds)), replace=False)
    rows = frame.iloc[np.sort(pick)].copy()
    rows["mess"] = np.resize(kinds, len(rows))
    out = []
    for kind, r in zip(rows.mess, rows.to_dict("records"), strict=True):
        if kind != "duplicate_submission":
            r["settlement_id"] = f"{r['settlement_id']}X"
        if kind == "invalid_id_checksum":
            r["id_no"] = mess.spoil_id_checksum(r["id_no"])
        elif kind == "unknown_region":
            r["treating_region" if r["direction"] == "outbound" else "insured_region"] = "990100"
        elif kind == "amounts_do_not_add_up":
            r["self_fen"] = r["self_fen"] + 100
        elif kind == "missing_field":
            r["settled_at"] = pd.NaT
        out.append(r)
    return pd.DataFrame(out, columns=frame.columns)


# --- Truth ------------------------------------------------------------------------------


def _write_truth(
    landing: Path, knobs: Knobs, day: pd.Timestamp, landed: dict, log: DefectLog
) -> dict:
    """``_truth/next_day_<day>.json``: per feed the records landed, by what they are, and
    the defects logged on them; and the earlier lines the day superseded. The defects go
    to ``_truth/defects.csv`` as well, where ingest-score reads them."""
    today = f"/{day:%Y-%m-%d}/"
    for source, counts in landed.items():
        mine = [r[4] for r in log.rows if r[0] == source and today in r[2]]
        counts["defects"] = dict(sorted(Counter(mine).items()))
    superseded = Counter(r[0] for r in log.rows if today not in r[2])
    truth = {
        "day": f"{day:%Y-%m-%d}",
        "events_of": f"{day - pd.Timedelta(days=1):%Y-%m-%d}",
        "seed": knobs.seed,
        "feeds": landed,
        "superseded_earlier_lines": dict(sorted(superseded.items())),
    }
    body = log.to_csv().split("\n", 1)[1]
    with (landing / "_truth" / "defects.csv").open("a", encoding="utf-8") as f:
        f.write(body)
    path = landing / "_truth" / f"next_day_{day:%Y-%m-%d}.json"
    path.write_text(json.dumps(truth, indent=2, sort_keys=True, default=int) + "\n")
    return truth
