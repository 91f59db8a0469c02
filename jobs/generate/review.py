"""The DIP year's sources (SPEC 9.1, 9.5): budgets, the expert library, special-case review.

* :func:`write_fund_budgets`: finance's approved fund budget of each year, and the
  settlement year's mid-year adjustment.
* :func:`write_experts`: the bureau's expert library (专家库), several hundred
  experts of the city's hospitals in the eleven review fields.
* :func:`plant_special_cases`: the review's truth. A few cases of the settlement
  year become truly severe (``complex``: costlier, more diagnoses, longer stay) and
  as many are padded (``padded``: only drugs and consumables grow); the same high
  cost, one deserving and one not.
* :func:`write_applications`: hospitals apply for most of those, and for some
  ordinary cases that the review will refuse as not high.
* :func:`answer`: the experts' decisions on the bureau's assignment sheet. Not
  written by ``run()``: the sheet comes from the lake's draw, so the lake calls this
  after it, as the experts would answer.

Money stays integer fen until a file is written; every cost breakdown keeps adding
up. Each source's mess is logged in ``_truth/defects.csv`` or in the review's own
truth files (docs/sources/dip_year.md).
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.generate import feeds, fraud, mess
from jobs.generate.discharges import COST_PARTS
from jobs.generate.mess import DefectLog
from jobs.generate.world import chinese_names
from jobs.terms import REVIEW_FIELDS
from jobs.vocab import sex_of_diagnosis

CHAPTER_FIELDS = Path(__file__).parents[1] / "reference" / "icd10_chapter_fields.csv"

SPECIAL_SHARE = 0.0015  # of the settlement year's cases, for each of complex and padded
MIN_SPECIAL = 4
APPLY_SHARE = 0.8  # of the planted cases, hospitals apply for
ORDINARY_SHARE = 0.25  # ordinary applications, per planted application
# Chapters a severe case's extra secondary diagnoses come from: diseases, not
# pregnancy, the perinatal period, injuries, external causes or contact reasons.
COMORBID_CHAPTERS = tuple("ABCDEFGHIJKLMNR")
REASONS = {
    "complex": ("病情危重", "多器官衰竭", "合并多种严重并发症", "抢救治疗", "长期住院"),
    "padded": ("使用特殊耗材", "使用高值药品", "病情危重", "长期住院"),
    "ordinary": ("病情复杂", "使用特殊耗材", "长期住院", "病情危重"),
}

MIN_PER_FIELD = 12
FIELD_WEIGHTS = np.array([0.16, 0.10, 0.08, 0.08, 0.08, 0.14, 0.10, 0.07, 0.06, 0.10, 0.03])
UNKNOWN_FIELDS = ("cardiology", "骨科", "general_surgery", "ICU")
TITLES = ("主任医师", "副主任医师")

# An expert's behaviour by the case's nature: P(approve), approved share of the billed cost.
BEHAVIOUR = {
    "complex": (0.85, 0.90, 1.00),
    "padded": (0.15, 0.40, 0.70),
    "ordinary": (0.60, 0.80, 1.00),
}
SILENT_SHARE = 0.04
OFFICE_HOURS = (8 * 3600 + 1800, 17 * 3600 + 1800)  # seconds after midnight


def load_chapter_fields() -> pd.DataFrame:
    """``chapter, first, last, title, field``: the 22 ICD-10 chapters and their review field."""
    return pd.read_csv(CHAPTER_FIELDS, dtype=str, keep_default_na=False)


def field_of(principal_dx: pd.Series, table: pd.DataFrame) -> pd.Series:
    """The review field of each diagnosis: the chapter whose ``first``..``last`` holds its
    three-character category (``C34.1`` -> ``C34`` -> C00–D48 -> oncology); None outside."""
    chapters = table.sort_values("first", ignore_index=True)
    first = chapters["first"].to_numpy(dtype=str)
    last = chapters["last"].to_numpy(dtype=str)
    code = principal_dx.fillna("").astype(str).str.strip().str.upper().str[:3].to_numpy(dtype=str)
    at = np.searchsorted(first, code, side="right") - 1
    inside = (at >= 0) & (code <= last[np.clip(at, 0, None)])
    out = np.where(inside, chapters.field.to_numpy(dtype=object)[np.clip(at, 0, None)], None)
    return pd.Series(out, index=principal_dx.index, dtype=object, name="field")


# --- Planted truth -----------------------------------------------------------------


def spared_cases(planted: fraud.Planted) -> set[str]:
    """Cases the fraud planting shaped or whose case, hospital, doctor or person it labelled
    (or made a look-alike of): the review's truth stays off them, so each signal keeps one
    meaning."""
    c = planted.cases
    entities = {(t, e) for t, e, _ in [*planted.labels, *planted.lookalikes]}
    mask = c.case_id.isin(planted.touched)
    for kind, column in (
        ("case", "case_id"),
        ("provider", "hospital_code"),
        ("doctor", "doctor_id"),
        ("person", "id_no"),
    ):
        mask |= c[column].isin({e for t, e in entities if t == kind})
    return set(c.case_id[mask])


def plant_special_cases(
    cases: pd.DataFrame,
    spared: set[str],
    year: int,
    rng: np.random.Generator,
    persons: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Make ~0.15% of year ``year``'s cases complex and as many padded (at least
    :data:`MIN_SPECIAL` each), none in ``spared``; return the cases and the truth
    ``case_id, hospital_code, nature, billed_cost`` (yuan text).

    ``persons`` (``id_no``, ``enrol_start``), when given, keeps a longer stay inside
    the person's enrolment."""
    out = cases.copy()
    in_year = (out.year == year).to_numpy()
    pool = out.index[in_year & ~out.case_id.isin(spared).to_numpy()].to_numpy()
    n = min(max(MIN_SPECIAL, round(SPECIAL_SHARE * int(in_year.sum()))), len(pool) // 2)
    picked = rng.choice(pool, size=2 * n, replace=False)
    complex_rows, padded_rows = np.sort(picked[:n]), np.sort(picked[n:])
    _make_complex(out, complex_rows, rng, persons)
    _pad(out, padded_rows, rng)
    truth = pd.concat(
        [
            out.loc[complex_rows, ["case_id", "hospital_code", "total_fen"]].assign(
                nature="complex"
            ),
            out.loc[padded_rows, ["case_id", "hospital_code", "total_fen"]].assign(nature="padded"),
        ],
        ignore_index=True,
    )
    truth["billed_cost"] = feeds.yuan_text(truth.pop("total_fen").to_numpy())
    return out, truth.sort_values("case_id", ignore_index=True)


def _rescale_payers(out: pd.DataFrame, rows: np.ndarray, old_total: np.ndarray) -> None:
    """The fund keeps its share of the new total; self pay is the rest, to the fen."""
    new_total = out.loc[rows, "total_fen"].to_numpy()
    fund = np.round(new_total * out.loc[rows, "fund_fen"].to_numpy() / old_total).astype(np.int64)
    out.loc[rows, "fund_fen"] = fund
    out.loc[rows, "self_fen"] = new_total - fund


def _make_complex(
    out: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator, persons: pd.DataFrame | None
) -> None:
    """Truly severe: every part × 2.5–4, 2–4 more secondary diagnoses, a longer stay."""
    parts = [f"{p}_fen" for p in COST_PARTS]
    old_total = out.loc[rows, "total_fen"].to_numpy()
    factor = rng.uniform(2.5, 4.0, len(rows))
    scaled = np.round(out.loc[rows, parts].to_numpy() * factor[:, None]).astype(np.int64)
    out.loc[rows, parts] = scaled
    out.loc[rows, "total_fen"] = scaled.sum(axis=1)
    _rescale_payers(out, rows, old_total)

    codes = set(out.principal_dx) | {c for dx in out.other_dx for c in dx}
    pool = sorted(c for c in codes if c[:1] in COMORBID_CHAPTERS)
    only = {c: sex_of_diagnosis(c) for c in pool}
    fits = {sex: np.array([c for c in pool if only[c] in (None, sex)]) for sex in ("F", "M")}
    count = rng.integers(2, 5, len(rows))
    added = []
    for i, row in enumerate(rows):
        have = {out.principal_dx.at[row], *out.other_dx.at[row]}
        fit = fits[out.sex.at[row]]
        drawn = rng.choice(fit, size=min(len(fit), count[i] + len(have)), replace=False)
        new = [c for c in drawn if c not in have][: count[i]]
        added.append(tuple([*out.other_dx.at[row], *new]))
    out.loc[rows, "other_dx"] = pd.Series(added, index=rows, dtype=object)

    extra = pd.to_timedelta(rng.integers(3, 15, len(rows)), unit="D")
    admitted = out.loc[rows, "admission_date"] - extra
    ok = (admitted >= out.loc[rows, "birth_date"]).to_numpy()
    if persons is not None:
        enrolled = out.loc[rows, "id_no"].map(persons.set_index("id_no").enrol_start)
        ok &= (enrolled.isna() | (admitted >= enrolled)).to_numpy()
    # The earlier admission must not overlap another stay of the same person.
    same = out[out.id_no.isin(out.loc[rows, "id_no"])]
    for i, row in enumerate(rows):
        if not ok[i]:
            continue
        theirs = same[(same.id_no == out.id_no.at[row]) & (same.index != row)]
        ok[i] = not (
            (theirs.discharge_date >= admitted.iat[i])
            & (theirs.admission_date <= out.discharge_date.at[row])
        ).any()
    longer = rows[ok]
    out.loc[longer, "admission_date"] = admitted[ok].to_numpy()


def _pad(out: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator) -> None:
    """Billed 2.5–4 times the stay's cost, all of the extra in drugs and consumables
    (shared as they were); nothing clinical changes."""
    old_total = out.loc[rows, "total_fen"].to_numpy()
    extra = np.round(old_total * (rng.uniform(2.5, 4.0, len(rows)) - 1)).astype(np.int64)
    drugs = out.loc[rows, "drugs_fen"].to_numpy()
    base = drugs + out.loc[rows, "consumables_fen"].to_numpy()
    share = np.where(base > 0, drugs / np.maximum(base, 1), 0.5)
    to_drugs = np.round(extra * share).astype(np.int64)
    out.loc[rows, "drugs_fen"] = drugs + to_drugs
    out.loc[rows, "consumables_fen"] = out.loc[rows, "consumables_fen"].to_numpy() + (
        extra - to_drugs
    )
    out.loc[rows, "total_fen"] = old_total + extra
    _rescale_payers(out, rows, old_total)


# --- Landed sources ----------------------------------------------------------------


def _resend(frame: pd.DataFrame, at: list[int], source: str, rel: str, log: DefectLog):
    """Rows ``at`` sent again verbatim right after themselves (as feeds.duplicate_some),
    logged at the copy's line."""
    repeat = np.ones(len(frame), dtype=int)
    repeat[at] = 2
    out = frame.loc[frame.index.repeat(repeat)].reset_index(drop=True)
    second = out.record_id.eq(out.record_id.shift()).to_numpy()
    for line in np.flatnonzero(second):
        log.add(source, out.record_id.iat[line], rel, int(line) + 2, "duplicate_submission")
    return out


def _log(log: DefectLog, source: str, record_id: str, rel: str, line: int, defect: str) -> None:
    """A quarantine defect under the ingest's own reason code (``invalid_field``,
    ``unknown_hospital``): logged as quarantine until mess.DEFECTS names it."""
    expected = mess.DEFECTS.get(defect, "quarantine")
    log.rows.append((source, record_id, rel, line, defect, expected))


def _office_time(days: pd.Series | pd.DatetimeIndex, rng: np.random.Generator) -> pd.Series:
    """A time in office hours on each of ``days``."""
    seconds = rng.integers(*OFFICE_HOURS, len(days))
    return pd.Series(pd.DatetimeIndex(days).normalize() + pd.to_timedelta(seconds, unit="s"))


def write_fund_budgets(
    cases: pd.DataFrame,
    years: list[int],
    settlement_year: int,
    landing: Path,
    log: DefectLog,
    rng: np.random.Generator,
) -> int:
    """One budget per year near the year's fund payments, approved in late December, and
    the settlement year's adjustment in June; one file sent twice. Return the budget lines."""
    fund = cases.groupby("year").fund_fen.sum()
    low = rng.random(len(years)) < 0.25
    if len(years) > 1 and not low.any():
        low[0] = True  # the rate was lowered in some year: every city shows one
    rows = []
    for k, year in enumerate(years):
        budget = round(int(fund.get(year, 0)) * rng.uniform(0.98, 1.03))
        rate = "0.0300" if low[k] else "0.0500"
        approved = f"{year - 1}-12-{int(rng.integers(15, 32)):02d}"
        rows.append((year, budget, rate, approved, f"fund_budgets/{year}-01-05/fund_budget_{year}"))
        if year == settlement_year:
            adjusted = (year, round(budget * rng.uniform(1.01, 1.03)), rate)
    y, budget, rate = adjusted
    approved = f"{y}-06-{int(rng.integers(10, 29)):02d}"
    rows.append((y, budget, rate, approved, f"fund_budgets/{y}-07-01/fund_budget_{y}_adjusted"))
    frame = pd.DataFrame(rows, columns=["year", "budget", "deposit_rate", "approved_on", "rel"])
    frame.insert(0, "record_id", [f"B{i:07d}" for i in range(len(frame))])
    frame["budget"] = feeds.yuan_text(frame.budget.to_numpy())
    resent = int(rng.integers(0, len(years)))
    for k, part in frame.groupby("rel", sort=False):
        rel = f"{k}.csv"
        part = part.drop(columns="rel").reset_index(drop=True)
        if part.year.iat[0] == settlement_year and not k.endswith("_adjusted"):
            # The June adjustment supersedes it: the lake keeps the newest line per year.
            log.add("fund_budgets", part.record_id.iat[0], rel, 2, "superseded_by_correction")
        if part.year.iat[0] == years[resent] and not k.endswith("_adjusted"):
            part = _resend(part, [0], "fund_budgets", rel, log)
        feeds.write_csv(part, landing / rel)
    return len(frame)


def write_experts(
    institutions: pd.DataFrame,
    first_year: int,
    settlement_year: int,
    landing: Path,
    log: DefectLog,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The expert library, sent once before the first year; return its clean experts.

    n = clip(12 × hospitals, 240, 900), at least :data:`MIN_PER_FIELD` per field,
    mostly at the bigger hospitals. Active-from and active-to are the appointment's
    term, known when the library is sent: some join in the settlement year, ~8% retire
    in it. Three lines carry an unknown field, three an institution not in the
    registry, two are sent twice."""
    hospitals = institutions[institutions.type == "hospital"]
    n = int(np.clip(12 * len(hospitals), 240, 900))
    n_bad = 3
    total = n + 2 * n_bad
    bad = rng.choice(total, size=2 * n_bad, replace=False)
    bad_field, bad_site = np.sort(bad[:n_bad]), np.sort(bad[n_bad:])
    clean = np.setdiff1d(np.arange(total), bad)
    fields = np.empty(total, dtype=object)
    base = np.repeat(np.array(REVIEW_FIELDS), MIN_PER_FIELD)
    more = rng.choice(np.array(REVIEW_FIELDS), size=n - len(base), p=FIELD_WEIGHTS)
    fields[clean] = rng.permutation(np.concatenate([base, more]))
    fields[bad_site] = rng.choice(np.array(REVIEW_FIELDS), size=n_bad, p=FIELD_WEIGHTS)
    fields[bad_field] = rng.choice(np.array(UNKNOWN_FIELDS), size=n_bad)
    weight = hospitals["size"].to_numpy() / hospitals["size"].sum()
    site = rng.choice(hospitals.institution_code.to_numpy(), size=total, p=weight).astype(object)
    # 350200 is the city's own code, never a district's: no registered code starts so.
    site[bad_site] = [f"H350200{k:05d}" for k in rng.integers(90_000, 100_000, n_bad)]

    start = pd.Timestamp(f"{first_year - 8}-01-01")
    span = (pd.Timestamp(f"{first_year - 1}-12-31") - start).days
    active_from = pd.Series(start + pd.to_timedelta(rng.integers(0, span + 1, total), unit="D"))
    joins = rng.random(total) < 0.06
    active_from[joins] = pd.Timestamp(f"{settlement_year}-03-01") + pd.to_timedelta(
        rng.integers(0, 184, int(joins.sum())), unit="D"
    )
    retires = ~joins & (rng.random(total) < 0.08)
    active_to = pd.Series(pd.NaT, index=range(total), dtype="datetime64[ns]")
    active_to[retires] = pd.Timestamp(f"{settlement_year}-01-15") + pd.to_timedelta(
        rng.integers(0, 320, int(retires.sum())), unit="D"
    )
    experts = pd.DataFrame(
        {
            "record_id": [f"L{i:07d}" for i in range(total)],
            "expert_id": [f"EX{i + 1:06d}" for i in range(total)],
            "name": chinese_names(rng, total),
            "field": fields,
            "institution_code": site,
            "title": rng.choice(np.array(TITLES), size=total, p=[0.45, 0.55]),
            "active_from": active_from.dt.strftime("%Y-%m-%d"),
            "active_to": active_to.dt.strftime("%Y-%m-%d").fillna(""),
        }
    )
    rel = f"experts/{first_year}-01-01/experts.csv"
    twice = sorted(rng.choice(clean, size=2, replace=False).tolist())
    out = _resend(experts, twice, "experts", rel, log)
    line = {rid: i + 2 for i, rid in reversed(list(enumerate(out.record_id)))}  # first line
    for rows, defect in ((bad_field, "invalid_field"), (bad_site, "unknown_hospital")):
        for i in rows:
            rid = experts.record_id.iat[i]
            _log(log, "experts", rid, rel, line[rid], defect)
    feeds.write_csv(out, landing / rel)
    return experts.iloc[clean].drop(columns=["record_id", "name"]).reset_index(drop=True)


def write_applications(
    cases: pd.DataFrame,
    special: pd.DataFrame,
    spared: set[str],
    year: int,
    landing: Path,
    log: DefectLog,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Hospitals' applications for special review, one file per discharge month sent on the
    10th of the next; return the truth ``record_id, case_id, expected``.

    About 80% of the planted cases (at least one of each nature), ordinary cases of
    normal cost about a quarter as many again; then an unknown case, a case under
    another hospital's code and one line sent twice."""
    c = cases[cases.year == year].set_index("case_id", drop=False)
    applied = special[rng.random(len(special)) < APPLY_SHARE]
    for nature in ("complex", "padded"):
        if not (applied.nature == nature).any() and (special.nature == nature).any():
            applied = pd.concat([applied, special[special.nature == nature].head(1)])
    applied = applied.sort_values("case_id")

    # Ordinary: at most the median cost of its diagnosis, far below a high case.
    median = c.groupby("principal_dx").total_fen.transform("median")
    size = c.groupby("principal_dx").total_fen.transform("size")
    normal = c[
        (c.total_fen <= median)
        & (size >= 5)
        & ~c.case_id.isin(spared)
        & ~c.case_id.isin(special.case_id)
    ]
    n_ordinary = max(1, round(ORDINARY_SHARE * len(applied)))
    if len(normal) <= n_ordinary:  # a city too small for its diagnoses' medians: the year's
        free = ~c.case_id.isin(spared) & ~c.case_id.isin(special.case_id)
        normal = c[free & (c.total_fen <= c.total_fen.median())]
    picked = rng.choice(normal.case_id.to_numpy(), size=n_ordinary + 1, replace=False)
    ordinary, mismatched = np.sort(picked[:n_ordinary]), picked[n_ordinary]

    apps = pd.DataFrame(
        {
            "case_id": [*applied.case_id, *ordinary, mismatched],
            "nature": [*applied.nature, *["ordinary"] * (n_ordinary + 1)],
            "expected": ["candidate"] * len(applied)
            + ["not_high"] * n_ordinary
            + ["hospital_mismatch"],
        }
    )
    apps["hospital_code"] = apps.case_id.map(c.hospital_code)
    apps["discharged"] = apps.case_id.map(c.discharge_date)
    hospitals = np.sort(cases.hospital_code.unique())
    own = apps.hospital_code.iat[-1]
    apps.iat[-1, apps.columns.get_loc("hospital_code")] = rng.choice(hospitals[hospitals != own])
    known = set(cases.case_id)
    unknown = next(
        f"ZY{year}Q{k:06d}" for k in rng.integers(0, 10**6, 100) if f"ZY{year}Q{k:06d}" not in known
    )
    template = c.iloc[int(rng.integers(len(c)))]
    apps.loc[len(apps)] = {
        "case_id": unknown,
        "nature": "ordinary",
        "expected": "unknown_case",
        "hospital_code": template.hospital_code,
        "discharged": template.discharge_date,
    }
    apps["reason"] = [REASONS[k][int(rng.integers(len(REASONS[k])))] for k in apps.nature]
    month = apps.discharged.dt.to_period("M")
    sent = (month + 1).dt.to_timestamp() + pd.Timedelta(days=9)
    applied_at = _office_time(
        apps.discharged + pd.to_timedelta(rng.integers(1, 6, len(apps)), "D"), rng
    )
    cap = sent - pd.Timedelta(hours=7)  # the day before the file is sent, at 17:00
    apps["applied_at"] = applied_at.where(applied_at <= cap, cap)
    apps["month"] = month
    apps = apps.sort_values(["month", "applied_at", "case_id"], ignore_index=True)
    apps.insert(0, "record_id", [f"A{i:07d}" for i in range(len(apps))])
    twice = int(rng.choice(np.flatnonzero(apps.expected == "candidate")))

    truth = []
    for period, part in apps.groupby("month", sort=True):
        day = ((period + 1).to_timestamp() + pd.Timedelta(days=9)).strftime("%Y-%m-%d")
        rel = f"special_review_applications/{day}/applications_{period.strftime('%Y%m')}.csv"
        at = [i for i, k in enumerate(part.index) if k == twice]
        lines = part.reset_index(drop=True)
        lines = _resend(lines, at, "special_review_applications", rel, log)
        second = lines.record_id.eq(lines.record_id.shift()).to_numpy()
        truth.append(
            lines[["record_id", "case_id"]].assign(
                expected=np.where(second, "duplicate_submission", lines.expected)
            )
        )
        lines["applied_at"] = lines.applied_at.dt.strftime("%Y-%m-%d %H:%M:%S")
        feeds.write_csv(
            lines[["record_id", "case_id", "hospital_code", "reason", "applied_at"]], landing / rel
        )
    return pd.concat(truth, ignore_index=True)


def write_truth(truth_dir: Path, special: pd.DataFrame, applications: pd.DataFrame) -> None:
    """``special_review_cases.csv`` and ``special_review_applications.csv`` beside the rest."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    special[["case_id", "hospital_code", "nature", "billed_cost"]].to_csv(
        truth_dir / "special_review_cases.csv", index=False, lineterminator="\n"
    )
    applications.to_csv(
        truth_dir / "special_review_applications.csv", index=False, lineterminator="\n"
    )


# --- The experts' answers ----------------------------------------------------------

DECISION_COLUMNS = ["record_id", "case_id", "expert_id", "decision", "approved_cost", "decided_at"]


def answer(
    sheet: pd.DataFrame,
    landing: Path,
    day: str,
    seed: int,
    truth_dir: Path,
    year: int | None = None,
) -> dict:
    """The assigned experts' decisions on ``sheet`` (``round, case_id, hospital_code,
    expert_id, total_cost``, other columns ignored: one row per case and assigned expert),
    sent on ``day``: ``special_review_decisions/<day>/decisions_<year>_r<round>.csv``, one
    file per round, and their truth in ``truth_dir/special_review_decisions.csv`` (the rows
    of the rounds written are replaced). A round is a number or the day it was drawn
    (``2025-12-31``: the decisions fall after it). ``year`` defaults to the one in the case
    ids (``ZY<yyyy>…``).

    An expert answers by the case's nature in ``truth_dir/special_review_cases.csv``
    (ordinary when not listed, :data:`BEHAVIOUR`); ~4% do not answer. A round of five
    cases or more also carries one of each mess kind. The same sheet and seed write the
    same bytes. Return counts: files, lines, silent, approve, reject and each expected."""
    natures = _natures(truth_dir)
    if year is None:
        year = int(sheet.case_id.str[2:6].value_counts().sort_index().idxmax())
    when = pd.Timestamp(day)
    counts: Counter[str] = Counter()
    truths = []
    labels = sheet["round"].astype(str).str.strip()
    tags = {r: _round_tag(r) for r in labels.unique()}
    for label in sorted(tags, key=tags.get):
        panel = sheet[labels == label]
        panel = panel.sort_values(["case_id", "expert_id"]).drop_duplicates(
            ["case_id", "expert_id"], ignore_index=True
        )
        rng = np.random.default_rng([seed, *tags[label].encode()])
        span = _answer_days(label, when)
        prefix = f"R{year}-{tags[label]}-"
        lines, truth, silent = _round_answers(panel, natures, when, prefix, rng, span)
        rel = f"special_review_decisions/{day}/decisions_{year}_r{label}.csv"
        feeds.write_csv(lines, landing / rel)
        truths.append(truth)
        counts.update(files=1, lines=len(lines), silent=silent)
        counts.update(lines.decision.tolist())
        counts.update(truth.expected.tolist())
    path = truth_dir / "special_review_decisions.csv"
    prefixes = tuple(f"R{year}-{tag}-" for tag in tags.values())
    if path.exists():
        kept = pd.read_csv(path, dtype=str, keep_default_na=False)
        truths.insert(0, kept[~kept.record_id.str.startswith(prefixes)])
    truth_dir.mkdir(parents=True, exist_ok=True)
    pd.concat(truths, ignore_index=True).sort_values("record_id", kind="stable").to_csv(
        path, index=False, lineterminator="\n"
    )
    return dict(counts)


def _round_tag(label: str) -> str:
    """A round number as two digits (``1`` -> ``01``); a round named by its day, the day's
    digits (``2025-12-31`` -> ``20251231``): the record ids' middle part."""
    return f"{int(label):02d}" if label.isdigit() else re.sub(r"[^0-9A-Za-z]", "", label)


def _answer_days(label: str, when: pd.Timestamp) -> int:
    """How many days before ``when`` the experts answer: up to 15, and after the round
    was drawn when the round is named by its day."""
    span = 15
    if not label.isdigit():
        try:
            drawn = pd.Timestamp(label)
        except ValueError:
            return span
        span = min(span, (when.normalize() - drawn.normalize()).days - 1)
    return max(1, span)


def _natures(truth_dir: Path) -> dict[str, str]:
    path = truth_dir / "special_review_cases.csv"
    if not path.exists():
        return {}
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return dict(zip(table.case_id, table.nature, strict=True))


def _fen(yuan: pd.Series) -> np.ndarray:
    return np.array([int(Decimal(str(v).strip()) * 100) for v in yuan], dtype=np.int64)


def _round_answers(
    panel: pd.DataFrame,
    natures: dict[str, str],
    when: pd.Timestamp,
    prefix: str,
    rng: np.random.Generator,
    span: int = 15,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """One round's decision lines (in file order), their truth and the silent experts."""
    n = len(panel)
    billed = _fen(panel.total_cost)
    nature = panel.case_id.map(natures).fillna("ordinary").to_numpy()
    p, low, high = (np.array([BEHAVIOUR[k][j] for k in nature]) for j in range(3))
    silent = rng.random(n) < SILENT_SHARE
    approve = rng.random(n) < p
    approved = np.floor(billed * rng.uniform(low, high)).astype(np.int64)
    ago = pd.to_timedelta(rng.integers(1, span + 1, n), unit="D")
    rows = pd.DataFrame(
        {
            "case_id": panel.case_id.to_numpy(),
            "expert_id": panel.expert_id.to_numpy(),
            "approve": approve,
            "approved": approved,
            "decided_at": _office_time(when - ago, rng).to_numpy(),
            "expected": "accepted",
        }
    )
    answering = np.flatnonzero(~silent)
    twice = None
    if panel.case_id.nunique() >= 5 and len(answering) >= 3:
        above, again, resend = rng.choice(answering, size=3, replace=False)
        rows.loc[above, ["approve", "expected"]] = [True, "approved_above_billed"]
        rows.loc[above, "approved"] = int(billed[above] * rng.uniform(1.05, 1.3)) + 1
        last = when - pd.Timedelta(minutes=1)
        extra = [_second_decision(rows.loc[again], billed[again], last, rng)]
        extra.append(_not_assigned(panel, rows, billed, rng))
        extra.append(_not_in_review(panel, rows, billed, rng))
        rows = pd.concat([rows.loc[answering], pd.DataFrame(extra)], ignore_index=True)
        twice = int(np.flatnonzero(answering == resend)[0])
    else:
        rows = rows.loc[answering].reset_index(drop=True)
    rows["resend"] = False
    if twice is not None:
        rows.loc[twice, "resend"] = True
    rows = rows.sort_values(["decided_at", "case_id", "expert_id"], ignore_index=True)
    rows.insert(0, "record_id", [f"{prefix}{i:06d}" for i in range(len(rows))])
    rows["decision"] = np.where(rows.approve, "approve", "reject")
    rows["approved_cost"] = np.where(rows.approve, feeds.yuan_text(rows.approved.to_numpy()), "")
    rows["decided_at"] = rows.decided_at.dt.strftime("%Y-%m-%d %H:%M:%S")
    repeat = np.where(rows.resend, 2, 1)
    out = rows.loc[rows.index.repeat(repeat)].reset_index(drop=True)
    second = out.record_id.eq(out.record_id.shift()).to_numpy()
    out.loc[second, "expected"] = "duplicate_submission"
    truth = out[["record_id", "case_id", "expert_id", "expected"]]
    return out[DECISION_COLUMNS], truth, int(silent.sum())


def _second_decision(
    first: pd.Series, billed: int, last: pd.Timestamp, rng: np.random.Generator
) -> dict:
    """The same expert on the same case again a day later (at the latest at ``last``),
    deciding otherwise."""
    approve = not first.approve
    return {
        "case_id": first.case_id,
        "expert_id": first.expert_id,
        "approve": approve,
        "approved": int(billed * rng.uniform(0.8, 1.0)) if approve else 0,
        "decided_at": min(first.decided_at + pd.Timedelta(days=1), last),
        "expected": "duplicate_decision",
    }


def _not_assigned(
    panel: pd.DataFrame, rows: pd.DataFrame, billed: np.ndarray, rng: np.random.Generator
) -> dict:
    """An expert of the round deciding a case of the round they were not assigned to."""
    experts = np.sort(panel.expert_id.unique())
    for i in rng.permutation(len(panel)):
        case = panel.case_id.iat[i]
        others = np.setdiff1d(experts, panel.expert_id[panel.case_id == case])
        if len(others):
            break
    else:  # every expert of the round sits on every panel: one from outside the round
        others = np.array([f"EX{int(experts.max()[2:]) + 1:06d}"])
    return {
        "case_id": case,
        "expert_id": rng.choice(others),
        "approve": True,
        "approved": int(billed[i] * rng.uniform(0.8, 1.0)),
        "decided_at": rows.decided_at.iat[i] + pd.Timedelta(hours=2),
        "expected": "expert_not_assigned",
    }


def _not_in_review(
    panel: pd.DataFrame, rows: pd.DataFrame, billed: np.ndarray, rng: np.random.Generator
) -> dict:
    """A decision by an assigned expert for a case id that is not in the review at all."""
    i = int(rng.integers(len(panel)))
    cases = set(panel.case_id)
    year = panel.case_id.iat[i][2:6]
    case = next(
        f"ZY{year}Q{k:06d}" for k in rng.integers(0, 10**6, 100) if f"ZY{year}Q{k:06d}" not in cases
    )
    return {
        "case_id": case,
        "expert_id": panel.expert_id.iat[i],
        "approve": True,
        "approved": int(billed[i] * rng.uniform(0.8, 1.0)),
        "decided_at": rows.decided_at.iat[i] + pd.Timedelta(hours=1),
        "expected": "case_not_in_review",
    }
