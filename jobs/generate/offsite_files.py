"""The national platform's files (docs/sources/offsite.md) from the generated settlements.

A month's settlements (with the feed's mess: resends, a first version corrected in
the next month's file, lines ingest must refuse, each logged in ``_truth/defects.csv``)
land on the 2nd of the next month; its clearing statement and the statement's lines
on the 15th. The statement clears every settlement but the planted differences
(``truth`` of :func:`jobs.generate.offsite.write_offsite`'s frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jobs.generate import feeds, mess
from jobs.generate.mess import DefectLog

SETTLEMENTS, STATEMENTS, LINES = (
    "offsite_settlements",
    "offsite_clearing_statements",
    "offsite_statement_lines",
)
COLUMNS = {
    SETTLEMENTS: "record_id settlement_id direction insured_region treating_region "
    "institution_code case_id id_no name filing visit_type admission_date discharge_date "
    "principal_dx total_cost eligible_cost deductible fund_paid account_paid self_paid "
    "settled_at",
    STATEMENTS: "record_id month region direction settlements fund_amount",
    LINES: "record_id month region direction settlement_id fund_amount",
}
MESS_SHARE = 0.5  # of the mess rate: the extra records of the settlements feed


def _yuan(fen: np.ndarray) -> np.ndarray:
    fen = np.asarray(fen, dtype=np.int64)
    sign = np.where(fen < 0, "-", "")
    a = np.abs(fen)
    return np.char.add(
        np.char.add(np.char.add(sign, (a // 100).astype(str)), "."),
        np.char.zfill((a % 100).astype(str), 2),
    )


def land(frame, landing: Path, log: DefectLog, rate: float, rng) -> dict:
    """The monthly settlement files (with their mess), statements and lines."""
    frame = frame.copy()
    frame["self_fen"] = frame.total_fen - frame.fund_fen - frame.account_fen
    frame["month"] = frame.settled_at.dt.strftime("%Y-%m")
    frame["region"] = np.where(
        frame.direction == "outbound", frame.treating_region, frame.insured_region
    )
    # The statement's lines: every settlement, but the planted differences.
    lines = frame[frame.truth != "missing_in_statement"][
        ["month", "region", "direction", "settlement_id", "fund_fen"]
    ].copy()
    moved = frame.loc[frame.truth == "wrong_month", "settlement_id"]
    nxt = (pd.PeriodIndex(lines.month, freq="M") + 1).strftime("%Y-%m")
    lines.loc[lines.settlement_id.isin(moved), "month"] = nxt[
        lines.settlement_id.isin(moved).to_numpy()
    ]
    off = lines.settlement_id.isin(
        frame.loc[frame.truth == "amount_differs", "settlement_id"]
    ).to_numpy()
    k = int(off.sum())  # a few fen, or a few yuan; down only where the amount allows it
    delta = np.where(rng.random(k) < 0.5, rng.integers(1, 10, k), rng.integers(1, 51, k) * 100)
    fund = lines.loc[off, "fund_fen"].to_numpy()
    sign = np.where((rng.random(k) < 0.5) & (fund > delta), -1, 1)
    lines.loc[off, "fund_fen"] = fund + delta * sign
    ours = frame[frame.truth != "missing_in_ours"].copy()
    ours = _with_mess(ours, rate * MESS_SHARE, rng)
    n_files = 0
    for month, part in ours.groupby("month", sort=True):
        landed = (pd.Period(month, "M") + 1).strftime("%Y-%m-02")
        rel = f"{SETTLEMENTS}/{landed}/{SETTLEMENTS}_{month.replace('-', '')}.csv"
        _write_settlements(part, rel, landing, log)
        n_files += 1
    lines = lines.sort_values(["month", "region", "direction", "settlement_id"], ignore_index=True)
    lines["record_id"] = [f"L{i:09d}" for i in range(len(lines))]
    for month, part in lines.groupby("month", sort=True):
        landed = (pd.Period(month, "M") + 1).strftime("%Y-%m-15")
        stem = month.replace("-", "")
        out = part.assign(fund_amount=_yuan(part.fund_fen))
        feeds.write_csv(
            out[COLUMNS[LINES].split()], landing / f"{LINES}/{landed}/{LINES}_{stem}.csv"
        )
        summary = part.groupby(["month", "region", "direction"], as_index=False).agg(
            settlements=("settlement_id", "size"), fund_fen=("fund_fen", "sum")
        )
        summary["fund_amount"] = _yuan(summary.fund_fen)
        summary["record_id"] = [f"C{stem}{i:05d}" for i in range(len(summary))]
        feeds.write_csv(
            summary[COLUMNS[STATEMENTS].split()],
            landing / f"{STATEMENTS}/{landed}/{STATEMENTS}_{stem}.csv",
        )
        n_files += 2
    return {"files": n_files, "statement_lines": len(lines)}


def _with_mess(ours: pd.DataFrame, rate: float, rng) -> pd.DataFrame:
    """Extra records as the feed gets them, each with its defect in ``mess``: an exact
    resend, a first version corrected a month later, and records ingest must refuse."""
    ours = ours.reset_index(drop=True)
    ours["record_id"] = [f"R{i:09d}" for i in range(len(ours))]
    ours["mess"] = ""
    clean = np.flatnonzero((ours.truth == "").to_numpy())
    k = max(1, round(len(ours) * rate / 6))
    extras = []
    pick = rng.choice(clean, min(6 * k, len(clean)), replace=False)
    for j, i in enumerate(pick):
        kind = (
            "duplicate_submission",
            "superseded_by_correction",
            "invalid_id_checksum",
            "unknown_region",
            "amounts_do_not_add_up",
            "missing_field",
        )[j % 6]
        r = ours.loc[i].copy()
        r["record_id"] = f"X{j:08d}"
        r["mess"] = kind
        if kind == "duplicate_submission":
            r["record_id"] = ours.record_id.iat[i]
        elif kind == "superseded_by_correction":
            # The first version, with the fund wrong by some yuan, sent in the same month;
            # the right one (the original row) follows in the next month's file.
            r["fund_fen"] = r.fund_fen + int(rng.integers(1, 50)) * 100
            r["self_fen"] = r.total_fen - r.fund_fen - r.account_fen
            ours.loc[i, "month"] = (pd.Period(r.month, "M") + 1).strftime("%Y-%m")
        else:
            r["settlement_id"] = f"{r.settlement_id}X"
            if kind == "invalid_id_checksum":
                r["id_no"] = mess.spoil_id_checksum(r.id_no)
            elif kind == "unknown_region":
                r["treating_region" if r.direction == "outbound" else "insured_region"] = "990100"
            elif kind == "amounts_do_not_add_up":
                r["self_fen"] = r.self_fen + 100
            else:
                r["settled_at"] = pd.NaT
        extras.append(r)
    return pd.concat([ours, pd.DataFrame(extras)], ignore_index=True)


def _write_settlements(part: pd.DataFrame, rel: str, landing: Path, log: DefectLog) -> None:
    part = part.sort_values(["settled_at", "record_id"], na_position="last", ignore_index=True)
    out = pd.DataFrame(
        {
            "record_id": part.record_id,
            "settlement_id": part.settlement_id,
            "direction": part.direction,
            "insured_region": part.insured_region,
            "treating_region": part.treating_region,
            "institution_code": part.institution_code,
            "case_id": part.case_id,
            "id_no": part.id_no,
            "name": part.name,
            "filing": part.filing,
            "visit_type": part.visit_type,
            "admission_date": pd.to_datetime(part.admission_date).dt.strftime("%Y-%m-%d"),
            "discharge_date": pd.to_datetime(part.discharge_date).dt.strftime("%Y-%m-%d"),
            "principal_dx": part.principal_dx,
            "total_cost": _yuan(part.total_fen),
            "eligible_cost": _yuan(part.eligible_fen),
            "deductible": _yuan(part.deductible_fen),
            "fund_paid": _yuan(part.fund_fen),
            "account_paid": _yuan(part.account_fen),
            "self_paid": _yuan(part.self_fen),
            "settled_at": pd.to_datetime(part.settled_at)
            .dt.strftime("%Y-%m-%d %H:%M:%S")
            .fillna(""),
        }
    )
    for line in np.flatnonzero((part.mess != "").to_numpy()):
        log.add(SETTLEMENTS, out.record_id.iat[line], rel, int(line) + 2, part.mess.iat[line])
    feeds.write_csv(out, landing / rel)
