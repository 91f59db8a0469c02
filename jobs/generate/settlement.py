"""Settlement-list submissions: monthly files per HIS dialect, with the feeds' mess.

A hospital's HIS (its vendor fixes the dialect) submits the month's discharges
on the 5th of the next month, so files land at
``settlement_lists/<yyyy-mm-05>/<dialect>_<yyyymm>.<ext>``. Corrections come a
month later as a new record (new ``record_id``, same ``case_id``); exact
duplicates are the same record sent twice. Every defect is logged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jobs.generate import dialects, mess
from jobs.generate.mess import DefectLog

SOURCE = "settlement_lists"


def assign_dialects(hospital_codes: np.ndarray, rng: np.random.Generator) -> dict[str, str]:
    picked = rng.choice(dialects.DIALECTS, size=len(hospital_codes), p=dialects.DIALECT_SHARE)
    return dict(zip(hospital_codes, picked, strict=True))


def submission_date(discharge: pd.Series) -> pd.Series:
    month_start = discharge.dt.to_period("M").dt.to_timestamp()
    return month_start + pd.DateOffset(months=1) + pd.Timedelta(days=4)


def _spoil(
    frame: pd.DataFrame,
    kinds: np.ndarray,
    unknown_dx: np.ndarray,
    unknown_px: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Apply value-level defects to the clean rows (formatting defects come later)."""
    out = frame.copy()
    for i in np.flatnonzero(kinds != ""):
        kind = kinds[i]
        if kind == "missing_field":
            out.at[out.index[i], "principal_dx" if rng.random() < 0.5 else "hospital_code"] = ""
        elif kind == "invalid_id_checksum":
            out.at[out.index[i], "id_no"] = mess.spoil_id_checksum(out.id_no.iat[i])
        elif kind == "cost_breakdown_mismatch":
            out.at[out.index[i], "drugs_fen"] = out.drugs_fen.iat[i] + int(
                rng.integers(100, 50_000)
            )
        elif kind == "discharge_before_admission":
            dis = out.discharge_date.iat[i]
            out.at[out.index[i], "admission_date"] = dis + pd.Timedelta(
                days=int(rng.integers(1, 5))
            )
        elif kind == "unknown_diagnosis_code":
            out.at[out.index[i], "principal_dx"] = str(rng.choice(unknown_dx))
        elif kind == "unknown_procedure_code":
            procs = out.procedures.iat[i]
            out.at[out.index[i], "procedures"] = (str(rng.choice(unknown_px)), *procs[1:])
    return out


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
    unknown_dx: np.ndarray,
    unknown_px: np.ndarray,
    log: DefectLog,
    rng: np.random.Generator,
    unregistered: set[str] = frozenset(),
) -> int:
    """Write every discharge as its hospital's vendor would; return the files written.

    ``unregistered``: ID numbers whose registry line was spoiled; their otherwise
    clean claims are logged as ``person_not_enrolled``.
    """
    frame = cases.copy()
    frame["dialect"] = frame.hospital_code.map(dialect_of)
    if frame.dialect.isna().any():
        strays = sorted(frame.hospital_code[frame.dialect.isna()].unique())[:5]
        raise ValueError(f"discharges at institutions that are not hospitals: {strays}")
    frame["submitted"] = submission_date(frame.discharge_date)
    kinds = mess.draw_defects(len(frame), mess_rate, mess.SETTLEMENT_MIX, rng)
    # Value-level defects for variants don't apply to A/C (their variants are by design).
    fmt_kind = np.isin(kinds, ["code_format_variant", "date_format_variant"])
    kinds[fmt_kind & (frame.dialect.to_numpy() != "B")] = ""
    spoiled = _spoil(frame, kinds, unknown_dx, unknown_px, rng)

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
    everything = pd.concat([spoiled, corrections, duplicates], ignore_index=True)
    everything = everything.sort_values(
        ["dialect", "submitted", "discharge_date", "case_id", "kind"],
        kind="stable",
        ignore_index=True,
    )
    # Serial numbers per dialect and submission month; a duplicate copy keeps its original's.
    serial = everything.groupby(["dialect", "submitted"]).cumcount()
    everything["record_id"] = (
        everything.dialect + everything.submitted.dt.strftime("%Y%m") + serial.map("{:07d}".format)
    )
    dup_mask = everything.kind == "duplicate_copy"
    originals = everything[~dup_mask & ~everything.kind.eq("correction")].drop_duplicates("case_id")
    original_id = dict(zip(originals.case_id, originals.record_id, strict=True))
    everything.loc[dup_mask, "record_id"] = everything.loc[dup_mask, "case_id"].map(original_id)

    files = 0
    groups = list(everything.groupby(["dialect", "submitted"], sort=True))
    # About 3% of transfers are cut short, and always at least one, so every landing
    # zone shows the defect (a demo city has only a hundred-odd files).
    cut = set(
        rng.choice(
            len(groups), size=min(len(groups), max(1, round(0.03 * len(groups)))), replace=False
        )
    )
    for g, ((dialect, submitted), group) in enumerate(groups):
        name = f"{dialect}_{submitted:%Y%m}.{dialects.EXTENSION[dialect]}"
        folder = landing / SOURCE / f"{submitted:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        rel = f"{SOURCE}/{submitted:%Y-%m-%d}/{name}"
        group = group.reset_index(drop=True)
        lines = dialects.FORMATTERS[dialect](group, rng)
        offset = dialects.HEADER_LINES[dialect]
        for i, row in enumerate(group.itertuples(index=False)):
            line_no = i + offset + 1
            kind = row.kind
            if kind in ("code_format_variant", "date_format_variant"):
                lines[i + offset] = _format_variant(lines[i + offset], dialect, kind, group.iloc[i])
            would_pass = kind not in mess.DEFECTS or mess.DEFECTS[kind] != "quarantine"
            if would_pass and row.id_no in unregistered:
                # Resends, corrections and variants alike: nobody in the registry to pay for.
                log.add(SOURCE, row.record_id, rel, line_no, "person_not_enrolled")
            elif kind in mess.DEFECTS:
                log.add(SOURCE, row.record_id, rel, line_no, kind)
            elif kind == "duplicate_copy":
                log.add(SOURCE, row.record_id, rel, line_no, "duplicate_submission")
        encoding = dialects.ENCODING[dialect]
        if dialect == "B" and rng.random() < 0.05:
            # Now and then a vendor's export runs in UTF-8 (with BOM) instead of GBK.
            encoding = "utf-8-sig"
            for i, row in enumerate(group.itertuples(index=False)):
                if row.kind == "" and row.id_no not in unregistered:
                    log.add(SOURCE, row.record_id, rel, i + offset + 1, "encoding_variant")
        if g in cut and len(group) > 2:
            # A transfer cut short: the last record ends mid-line.
            last = lines[-1]
            lines[-1] = last[: max(5, len(last) // 2)]
            row = group.iloc[-1]
            # Whatever else was wrong with that line, it is now a truncated record.
            log.rows = [r for r in log.rows if not (r[2] == rel and r[3] == len(lines))]
            log.add(SOURCE, row.record_id, rel, len(lines), "truncated_record")
        (folder / name).write_bytes(("\n".join(lines)).encode(encoding))
        files += 1
    return files
