"""Settlement-list submissions: monthly files per HIS dialect, with the feeds' mess.

A hospital's HIS (its vendor fixes the dialect) submits the month's discharges
on the 5th of the next month, so files land at
``settlement_lists/<yyyy-mm-05>/<dialect>_<yyyymm>.<ext>``. Corrections come a
month later as a new record (new ``record_id``, same ``case_id``); exact
duplicates are the same record sent twice. Three kinds of extra record carry a
defect of their own: the duplicate, a stale resubmission (a corrected case's
first version sent again after the correction, with its old submission time;
dialect A only, the one that says when a record was submitted) and a record that
reuses an earlier record's ``record_id`` with other content. Every defect is
logged at the line it is on; each spoiled record is otherwise clean.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.generate import dialects, mess
from jobs.generate.discharges import COST_PARTS, split_cost
from jobs.generate.mess import DefectLog

SOURCE = "settlement_lists"


def assign_dialects(hospital_codes: np.ndarray, rng: np.random.Generator) -> dict[str, str]:
    picked = rng.choice(dialects.DIALECTS, size=len(hospital_codes), p=dialects.DIALECT_SHARE)
    return dict(zip(hospital_codes, picked, strict=True))


def submission_date(discharge: pd.Series) -> pd.Series:
    month_start = discharge.dt.to_period("M").dt.to_timestamp()
    return month_start + pd.DateOffset(months=1) + pd.Timedelta(days=4)


# Extra records and the defect each is logged as.
COPIES = {
    "duplicate_copy": "duplicate_submission",
    "conflict_copy": "record_id_conflict",
    "stale_copy": "stale_resubmission",
}
STATUSES = ("cured", "transferred", "died", "left")
PARTS_FEN = tuple(f"{p}_fen" for p in COST_PARTS)
MONEY_FEN = ("total_fen", *PARTS_FEN, "fund_fen", "self_fen")


def eligible(frame: pd.DataFrame, unregistered: set[str]) -> dict[str, np.ndarray]:
    """Which records can carry each defect that not every record can carry."""
    dialect = frame.dialect.to_numpy()
    two_digit_px = frame.procedures.map(
        lambda px: any(len(c) == 5 and c[2] == "." for c in px)
    ).to_numpy()
    ten_years_earlier = frame.admission_date - pd.DateOffset(years=10)
    return {
        # A and C vary codes and dates by design: a variant is a defect only in B.
        "code_format_variant": dialect == "B",
        "date_format_variant": dialect == "B",
        "fullwidth_code": dialect == "B",
        "procedure_code_extension": np.isin(dialect, ["A", "B"]) & two_digit_px,
        # Only A says when a version was submitted, so only A can tell a stale one.
        "stale_resubmission": dialect == "A",
        # The typo must not also put the admission before the birth.
        "implausible_stay": (ten_years_earlier >= frame.birth_date).to_numpy(),
        # The original must pass, so that the copy is the only record in doubt.
        "record_id_conflict": ~frame.id_no.isin(unregistered).to_numpy(),
    }


def fit_defects(
    frame: pd.DataFrame,
    kinds: np.ndarray,
    unregistered: set[str],
    rng: np.random.Generator,
) -> np.ndarray:
    """Drop drawn defects a record cannot carry; then make sure every kind of the mix shows
    at least once (a tiny city draws too few), on a clean record of a registered person."""
    kinds = kinds.copy()
    can = eligible(frame, unregistered)
    for kind, ok in can.items():
        kinds[(kinds == kind) & ~ok] = ""
    spare = (kinds == "") & ~frame.id_no.isin(unregistered).to_numpy()
    for kind in mess.SETTLEMENT_MIX:
        if (kinds == kind).any():
            continue
        pool = np.flatnonzero(spare & can.get(kind, True))
        if len(pool):
            i = int(rng.choice(pool))
            kinds[i] = kind
            spare[i] = False
    return kinds


def _spoil(
    frame: pd.DataFrame,
    kinds: np.ndarray,
    codes: mess.SpoilerCodes,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Apply value-level defects to the clean rows (formatting defects come later)."""
    out = frame.copy()
    for i in np.flatnonzero(kinds != ""):
        kind = kinds[i]
        at = out.index[i]
        if kind == "missing_field":
            out.at[at, "principal_dx" if rng.random() < 0.5 else "hospital_code"] = ""
        elif kind == "invalid_id_checksum":
            out.at[at, "id_no"] = mess.spoil_id_checksum(out.id_no.iat[i])
        elif kind == "cost_breakdown_mismatch":
            out.at[at, "drugs_fen"] = out.drugs_fen.iat[i] + int(rng.integers(100, 50_000))
        elif kind == "discharge_before_admission":
            dis = out.discharge_date.iat[i]
            out.at[at, "admission_date"] = dis + pd.Timedelta(days=int(rng.integers(1, 5)))
        elif kind == "unknown_diagnosis_code":
            out.at[at, "principal_dx"] = str(rng.choice(codes.unknown_dx))
        elif kind == "unknown_procedure_code":
            procs = out.procedures.iat[i]
            out.at[at, "procedures"] = (str(rng.choice(codes.unknown_px)), *procs[1:])
        elif kind == "diagnosis_contradicts_sex":
            other_sex = "M" if out.sex.iat[i] == "F" else "F"
            code = str(rng.choice(codes.sex_specific[other_sex]))
            others = out.other_dx.iat[i]
            if others and rng.random() < 0.5:
                j = int(rng.integers(len(others)))
                out.at[at, "other_dx"] = (*others[:j], code, *others[j + 1 :])
            else:
                out.at[at, "principal_dx"] = code
        elif kind == "date_in_future":
            # After the day the file lands: the HIS clock, or a date typed a month ahead.
            out.at[at, "discharge_date"] = out.submitted.iat[i] + pd.Timedelta(
                days=int(rng.integers(1, 61))
            )
        elif kind == "implausible_age":
            # A typo in the birth year: 150-200 years before the admission.
            birth, admitted = out.birth_date.iat[i], out.admission_date.iat[i]
            year = admitted.year - int(rng.integers(151, 200))
            out.at[at, "birth_date"] = birth + pd.DateOffset(years=year - birth.year)
        elif kind == "implausible_stay":
            out.at[at, "admission_date"] = out.admission_date.iat[i] - pd.DateOffset(years=10)
        elif kind == "zero_cost":
            for column in MONEY_FEN:
                out.at[at, column] = 0
        elif kind == "absurd_cost":
            _scale_costs(out, at, int(rng.integers(2_000_000_000, 90_000_000_000)))
        elif kind == "fullwidth_code":
            out.at[at, "principal_dx"] = mess.fullwidth(out.principal_dx.iat[i])
        elif kind == "procedure_code_extension":
            suffix = "" if rng.random() < 0.5 else f"x{int(rng.integers(1, 10)):03d}"
            out.at[at, "procedures"] = tuple(
                f"{c}00{suffix}" if len(c) == 5 and c[2] == "." else c
                for c in out.procedures.iat[i]
            )
        elif kind == "icd10_cm_code":
            out.at[at, "principal_dx"] = str(rng.choice(codes.icd10_cm))
    return out


def _scale_costs(frame: pd.DataFrame, at, total_fen: int) -> None:
    """A new total (in fen), its parts and payers in the old proportions, adding up exactly."""
    old = frame.loc[at]
    shares = np.array([[old[p] / old.total_fen for p in PARTS_FEN]])
    parts = split_cost(np.array([total_fen], dtype=np.int64), shares)[0]
    for column, value in zip(PARTS_FEN, parts, strict=True):
        frame.at[at, column] = int(value)
    fund = round(total_fen * old.fund_fen / old.total_fen)
    frame.at[at, "total_fen"] = total_fen
    frame.at[at, "fund_fen"] = fund
    frame.at[at, "self_fen"] = total_fen - fund


def _format_variant(line: str, dialect: str, kind: str, row: pd.Series) -> str:
    """Code or date format variants inside dialect B lines (A and C vary by design)."""
    if dialect != "B":
        return line
    if kind == "code_format_variant" and row.principal_dx:
        variant = dialects.insurance_extension(row.principal_dx, len(row.case_id)).lower()
        return line.replace(f",{row.principal_dx},", f",{variant},", 1)
    if kind == "date_format_variant":
        iso = f"{row.discharge_date:%Y-%m-%d}"
        return line.replace(iso, f"{row.discharge_date:%Y/%m/%d}", 1)
    return line


def write_settlement_lists(
    cases: pd.DataFrame,
    landing: Path,
    dialect_of: dict[str, str],
    mess_rate: float,
    codes: mess.SpoilerCodes,
    log: DefectLog,
    rng: np.random.Generator,
    unregistered: set[str] = frozenset(),
) -> int:
    """Write every discharge as its hospital's vendor would; return the files written.

    ``unregistered``: ID numbers whose registry line was spoiled; their otherwise
    clean claims are logged as ``person_not_enrolled``.
    """
    frame = _with_dialect_and_day(cases, dialect_of)
    kinds = mess.draw_defects(len(frame), mess_rate, mess.SETTLEMENT_MIX, rng)
    kinds = fit_defects(frame, kinds, unregistered, rng)
    records = _records_sent(frame, kinds, codes, rng)
    _number_records(records, rng)
    groups = list(records.groupby(["dialect", "submitted"], sort=True))
    cut = _transfers_cut_short(groups, records, rng)
    for g, ((dialect, submitted), group) in enumerate(groups):
        _write_list(group, dialect, submitted, g in cut, landing, unregistered, log, rng)
    return len(groups)


def _with_dialect_and_day(cases: pd.DataFrame, dialect_of: dict[str, str]) -> pd.DataFrame:
    """The discharges with their hospital's dialect and the day their list is submitted."""
    frame = cases.copy()
    frame["dialect"] = frame.hospital_code.map(dialect_of)
    if frame.dialect.isna().any():
        strays = sorted(frame.hospital_code[frame.dialect.isna()].unique())[:5]
        raise ValueError(f"discharges at institutions that are not hospitals: {strays}")
    frame["submitted"] = submission_date(frame.discharge_date)
    return frame


def _records_sent(
    frame: pd.DataFrame,
    kinds: np.ndarray,
    codes: mess.SpoilerCodes,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The records as the hospitals send them, in their files' order: each first version
    (spoiled as ``kinds`` says) and the corrections and extra copies besides; ``kind`` says
    which is which."""
    kinds = kinds.copy()
    # Extra-record defects: the record itself is sent as it should be, and more besides.
    stale = kinds == "stale_resubmission"
    kinds[stale] = "superseded_by_correction"
    conflicted = kinds == "record_id_conflict"
    kinds[conflicted] = ""
    spoiled = _spoil(frame, kinds, codes, rng)

    # Corrections: the first version (spoiled or not) is superseded by a clean resubmission.
    superseded = kinds == "superseded_by_correction"
    corrections = frame[superseded].copy()
    corrections["submitted"] = corrections.submitted + pd.DateOffset(months=1)
    # What the correction fixes: the first version left out the secondary diagnoses.
    spoiled.loc[superseded, "other_dx"] = pd.Series(
        [()] * int(superseded.sum()), index=spoiled.index[superseded], dtype=object
    )
    spoiled["kind"] = kinds
    corrections["kind"] = "correction"
    duplicates = spoiled[kinds == "duplicate_submission"].copy()
    duplicates["kind"] = "duplicate_copy"
    spoiled.loc[kinds == "duplicate_submission", "kind"] = ""
    # A stale resubmission: the first version again, new serial, in a file that lands one
    # or two months after the correction's.
    stales = spoiled[stale].copy()
    stales["kind"] = "stale_copy"
    stales["submitted"] = [
        day + pd.DateOffset(months=int(m))
        for day, m in zip(stales.submitted, rng.integers(2, 4, len(stales)), strict=True)
    ]
    conflicts = _conflicting_copies(spoiled[conflicted], spoiled, rng)
    records = pd.concat([spoiled, corrections, duplicates, stales, conflicts], ignore_index=True)
    return records.sort_values(
        ["dialect", "submitted", "discharge_date", "case_id", "kind"],
        kind="stable",
        ignore_index=True,
    )


def _number_records(records: pd.DataFrame, rng: np.random.Generator) -> None:
    """Give every record its ``record_id`` and ``submitted_at`` (in place)."""
    # Serial numbers per dialect and submission month; a duplicate copy keeps its original's,
    # and so does a conflicting copy.
    serial = records.groupby(["dialect", "submitted"]).cumcount()
    records["record_id"] = (
        records.dialect + records.submitted.dt.strftime("%Y%m") + serial.map("{:07d}".format)
    )
    # When the sender submitted each record (dialect A writes it): the landing day and an
    # hour of the working day.
    seconds = rng.integers(8 * 3600, 20 * 3600, len(records))
    records["submitted_at"] = (records.submitted + pd.to_timedelta(seconds, unit="s")).dt.strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    firsts = ~records.kind.isin(["correction", *COPIES])
    originals = records[firsts].drop_duplicates("case_id").set_index("case_id")
    same_id = records.kind.isin(["duplicate_copy", "conflict_copy"])
    records.loc[same_id, "record_id"] = records.loc[same_id, "case_id"].map(originals.record_id)
    # The stale copy still says when the first version was submitted.
    is_stale = records.kind == "stale_copy"
    records.loc[is_stale, "submitted_at"] = records.loc[is_stale, "case_id"].map(
        originals.submitted_at
    )


def _transfers_cut_short(
    groups: list[tuple[tuple[str, pd.Timestamp], pd.DataFrame]],
    records: pd.DataFrame,
    rng: np.random.Generator,
) -> set[int]:
    """Which files (by their place in ``groups``) arrive cut short.

    About 3% of transfers are cut short, and always at least one, so every landing
    zone shows the defect (a demo city has only a hundred-odd files). Only a file whose
    last record is plain is cut, so no other defect (nor a correction) is lost to it.
    """
    conflicted_ids = set(records.record_id[records.kind == "conflict_copy"])
    can_cut = [
        g
        for g, (_, group) in enumerate(groups)
        if len(group) > 2
        and group.kind.iat[-1] == ""
        and group.record_id.iat[-1] not in conflicted_ids
    ]
    return set(
        rng.choice(
            can_cut, size=min(len(can_cut), max(1, round(0.03 * len(groups)))), replace=False
        )
    )


def _write_list(
    group: pd.DataFrame,
    dialect: str,
    submitted: pd.Timestamp,
    cut: bool,
    landing: Path,
    unregistered: set[str],
    log: DefectLog,
    rng: np.random.Generator,
    earlier: dict[str, str] | None = None,
) -> None:
    """One dialect's file for one submission day, every defect logged at the line it is on.

    ``earlier``: lines sent in earlier files, by ``record_id``: a ``duplicate_copy`` of one
    of them is that line again, byte for byte (a sender retrying an earlier transfer)."""
    name = f"{dialect}_{submitted:%Y%m}.{dialects.EXTENSION[dialect]}"
    folder = landing / SOURCE / f"{submitted:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    rel = f"{SOURCE}/{submitted:%Y-%m-%d}/{name}"
    group = group.reset_index(drop=True)
    lines = dialects.FORMATTERS[dialect](group, rng)
    offset = dialects.HEADER_LINES[dialect]
    sent: dict[str, str] = dict(earlier or {})
    for i, row in enumerate(group.itertuples(index=False)):
        line_no = i + offset + 1
        kind = row.kind
        if kind == "duplicate_copy":
            lines[i + offset] = sent[row.record_id]  # the very same bytes again
        if kind in ("code_format_variant", "date_format_variant"):
            lines[i + offset] = _format_variant(lines[i + offset], dialect, kind, group.iloc[i])
        sent.setdefault(row.record_id, lines[i + offset])
        defect = COPIES.get(kind, kind)
        would_pass = defect not in mess.DEFECTS or mess.DEFECTS[defect] != "quarantine"
        if would_pass and row.id_no in unregistered:
            # Resends, corrections and variants alike: nobody in the registry to pay for.
            log.add(SOURCE, row.record_id, rel, line_no, "person_not_enrolled")
        elif defect in mess.DEFECTS:
            log.add(SOURCE, row.record_id, rel, line_no, defect)
    encoding = dialects.ENCODING[dialect]
    if dialect == "B" and zlib.crc32(rel.encode()) % 20 == 0:
        # Now and then (one file in twenty, chosen by its name so that a city of any seed
        # has some) a vendor's export runs in UTF-8 (with BOM) instead of GBK.
        encoding = "utf-8-sig"
        for i, row in enumerate(group.itertuples(index=False)):
            if row.kind == "" and row.id_no not in unregistered:
                log.add(SOURCE, row.record_id, rel, i + offset + 1, "encoding_variant")
    if cut:
        # A transfer cut short: the last record ends mid-line.
        last = lines[-1]
        lines[-1] = last[: max(5, len(last) // 2)]
        row = group.iloc[-1]
        # Whatever else was wrong with that line, it is now a truncated record.
        log.rows = [r for r in log.rows if not (r[2] == rel and r[3] == len(lines))]
        log.add(SOURCE, row.record_id, rel, len(lines), "truncated_record")
    (folder / name).write_bytes(("\n".join(lines)).encode(encoding))


def _conflicting_copies(
    originals: pd.DataFrame, sent: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Records that reuse an earlier record's serial with other content (another discharge
    status): right after it, or in the dialect's next month's file when there is one."""
    copies = originals.copy()
    copies["kind"] = "conflict_copy"
    status = copies.discharge_status.to_numpy()
    shift = rng.integers(1, len(STATUSES), len(copies))
    copies["discharge_status"] = [
        STATUSES[(STATUSES.index(s) + k) % len(STATUSES)]
        for s, k in zip(status, shift, strict=True)
    ]
    months = set(zip(sent.dialect, sent.submitted, strict=True))
    later = rng.random(len(copies)) < 0.5
    copies["submitted"] = [
        day + pd.DateOffset(months=1)
        if move and (dialect, day + pd.DateOffset(months=1)) in months
        else day
        for dialect, day, move in zip(copies.dialect, copies.submitted, later, strict=True)
    ]
    return copies
