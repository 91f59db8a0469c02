"""Every source other than settlement lists, in the format its sender uses.

All are CSV in UTF-8 with a header line (the bureau's and finance's own
exports), each row with the sender's serial ``record_id``. Files land at
``<source>/<yyyy-mm-dd>/<file>``; docs/sources/ describes each.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from jobs.generate import mess
from jobs.generate.discharges import COST_PARTS
from jobs.generate.drug_use import DrugPlan, fee_drug_items, monthly_use
from jobs.generate.mess import DefectLog
from jobs.generate.world import World

FEE_ITEMS = {  # category -> (item code prefix, names)
    "drugs": ("XA", ["头孢呋辛钠注射液", "奥美拉唑肠溶胶囊", "氯化钠注射液", "阿托伐他汀钙片"]),
    "consumables": ("C", ["一次性使用输液器", "吻合器", "医用缝合线", "引流管"]),
    "exams": ("2503", ["血常规", "肝功能", "CT平扫", "彩色多普勒超声"]),
    "treatment": ("3101", ["静脉输液", "换药", "雾化吸入", "手术费"]),
    "nursing": ("1202", ["一级护理"]),
    "bed": ("1102", ["普通病房床位费"]),
    "other": ("9901", ["诊查费"]),
}


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with a header, UTF-8, no index, strings as-is: fast for millions of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame.astype(str), preserve_index=False)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
    path.write_bytes(sink.getvalue())


def _dates(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%d").fillna("")


def duplicate_some(
    frame: pd.DataFrame,
    source: str,
    rel: str,
    rate: float,
    log: DefectLog,
    rng: np.random.Generator,
    at_least: int = 0,
) -> pd.DataFrame:
    """Resend a few rows verbatim (same record_id) right after themselves, and log them;
    ``at_least`` one when the draw gave none and 1 is asked (a further day's files)."""
    again = rng.random(len(frame)) < rate
    if at_least and not again.any() and len(frame):
        again[rng.integers(len(frame))] = True
    out = frame.loc[frame.index.repeat(np.where(again, 2, 1))].reset_index(drop=True)
    second = out.record_id.eq(out.record_id.shift())
    for line in np.flatnonzero(second.to_numpy()):
        log.add(source, out.record_id.iat[line], rel, int(line) + 2, "duplicate_submission")
    return out


def write_reference(world: World, landing: Path, first_day: str) -> None:
    inst = world.institutions.drop(columns=["size"]).copy()
    inst.insert(0, "record_id", [f"I{i:07d}" for i in range(len(inst))])
    inst["level"] = inst.level.where(inst.level > 0, "").astype(str)
    write_csv(inst, landing / "institutions" / first_day / "institutions.csv")
    doctors = world.doctors.copy()
    doctors.insert(0, "record_id", [f"R{i:08d}" for i in range(len(doctors))])
    doctors["registered_on"] = _dates(doctors.registered_on)
    doctors["deregistered_on"] = _dates(doctors.deregistered_on)
    write_csv(doctors, landing / "doctors" / first_day / "doctors.csv")


def write_registry(
    world: World, landing: Path, day: str, rate: float, log: DefectLog, rng: np.random.Generator
) -> set[str]:
    """Write the registry; return the true ID numbers whose line got a broken checksum."""
    persons = world.persons.copy()
    persons.insert(0, "record_id", [f"P{i:09d}" for i in range(len(persons))])
    for column in ("birth_date", "enrol_start", "enrol_end", "death_date"):
        persons[column] = _dates(persons[column])
    rel = f"insured_registry/{day}/insured_persons.csv"
    bad = np.flatnonzero(rng.random(len(persons)) < rate * 0.25)
    spoiled = set(persons.id_no.iloc[bad])
    for i in bad:
        persons.iat[i, persons.columns.get_loc("id_no")] = mess.spoil_id_checksum(
            persons.id_no.iat[i]
        )
        log.add(
            "insured_registry", persons.record_id.iat[i], rel, int(i) + 2, "invalid_id_checksum"
        )
    write_csv(persons, landing / rel)
    return spoiled


def write_finance(
    cases: pd.DataFrame,
    world: World,
    landing: Path,
    knobs_years: list[int],
    rate: float,
    log: DefectLog,
    rng: np.random.Generator,
) -> None:
    """Prepayments near 90% of what the year's cases will be worth; scores; deductions."""
    hospitals = world.institutions[world.institutions.type == "hospital"].institution_code
    fund_by = cases.groupby(["hospital_code", "year"]).fund_fen.sum()
    rows = []
    for year in knobs_years:
        for h in hospitals:
            expected = int(fund_by.get((h, year), 0))
            monthly = expected * 0.9 / 12 * rng.normal(1.0, 0.03, 12)
            for month in range(1, 13):
                rows.append((h, year, month, max(0, round(monthly[month - 1]))))
    pre = pd.DataFrame(rows, columns=["hospital_code", "year", "month", "amount_fen"])
    pre.insert(0, "record_id", [f"F{i:08d}" for i in range(len(pre))])
    pre["amount"] = yuan_text(pre.amount_fen.to_numpy())
    pre = pre.drop(columns="amount_fen")
    for year in knobs_years:
        part = pre[pre.year == year]
        day = f"{year + 1}-01-10"
        rel = f"prepayments/{day}/prepayments_{year}.csv"
        write_csv(duplicate_some(part, "prepayments", rel, rate * 0.25, log, rng), landing / rel)

    scores = pd.DataFrame(
        [
            (h, y, f"{min(1.0, rng.normal(0.97, 0.025)):.4f}")
            for y in knobs_years
            for h in hospitals
        ],
        columns=["hospital_code", "year", "coefficient"],
    )
    # The settlement year is the bureau's first with an assessment computed from data
    # (SPEC 9.3): the quality department still scores every other hospital by hand, and
    # leaves the rest to the computed assessment. Earlier years: every hospital.
    settlement = max(knobs_years)
    by_hand = scores.hospital_code.isin(hospitals.iloc[::2])
    scores = scores[(scores.year != settlement) | by_hand].reset_index(drop=True)
    scores.insert(0, "record_id", [f"S{i:07d}" for i in range(len(scores))])
    for year in knobs_years:
        write_csv(
            scores[scores.year == year],
            landing / "assessment_scores" / f"{year + 1}-01-20" / f"assessment_{year}.csv",
        )

    n_ded = max(1, len(hospitals) // 4) * len(knobs_years)
    ded = pd.DataFrame(
        {
            "hospital_code": rng.choice(hospitals.to_numpy(), n_ded),
            "year": rng.choice(knobs_years, n_ded),
            "violation": rng.choice(["超标准收费", "重复收费", "分解住院", "串换项目"], n_ded),
            "amount": [f"{v:.2f}" for v in np.round(rng.lognormal(9.5, 1.0, n_ded), 2)],
        }
    ).sort_values(["year", "hospital_code"], ignore_index=True)
    ded.insert(0, "record_id", [f"V{i:07d}" for i in range(len(ded))])
    for year in knobs_years:
        write_csv(
            ded[ded.year == year],
            landing / "audit_deductions" / f"{year + 1}-01-25" / f"deductions_{year}.csv",
        )


def yuan_text(fen: np.ndarray) -> np.ndarray:
    fen = np.asarray(fen, dtype=np.int64)
    return np.char.add(
        np.char.add((fen // 100).astype("U12"), "."), np.char.zfill((fen % 100).astype("U2"), 2)
    )


def write_fee_details(
    cases: pd.DataFrame,
    planted,
    landing: Path,
    rate: float,
    log: DefectLog,
    rng: np.random.Generator,
    plan: DrugPlan,
) -> tuple[int, int, pd.DataFrame]:
    """Fee details go out with the settlement lists: one file per discharge month, sent on
    the 5th of the next month. Built a month at a time to keep memory flat at city scale.

    Each drug line names its product from the ``plan`` (quantity in smallest units); the
    drugs used, per month, hospital and product, are returned with the rows and files."""
    month = cases.discharge_date.dt.to_period("M")
    serial = 0
    files = 0
    used = []
    for period, chunk in cases.groupby(month, sort=True):
        fees = fee_details(chunk, rng)
        fees = _plant_fee_signals(fees, planted)
        drugs = fees.category == "drugs"
        named = fee_drug_items(fees[drugs], plan)
        fees.loc[drugs, ["item_code", "item_name", "quantity"]] = named
        used.append(monthly_use(fees[drugs]))
        fees.insert(
            0,
            "record_id",
            np.char.add(
                "E", np.char.zfill(np.arange(serial, serial + len(fees)).astype("U10"), 10)
            ),
        )
        serial += len(fees)
        fees["unit_price"] = yuan_text(fees.amount_fen.to_numpy() // fees.quantity.to_numpy())
        fees["amount"] = yuan_text(fees.amount_fen.to_numpy())
        fees = fees.drop(columns="amount_fen")
        fees["fee_date"] = fees.fee_date.dt.strftime("%Y-%m-%d")
        day = ((period + 1).to_timestamp() + pd.Timedelta(days=4)).strftime("%Y-%m-%d")
        rel = f"fee_details/{day}/fee_details_{period.strftime('%Y%m')}.csv"
        write_csv(duplicate_some(fees, "fee_details", rel, rate, log, rng), landing / rel)
        files += 1
    return serial, files, pd.concat(used, ignore_index=True)


def _plant_fee_signals(fees: pd.DataFrame, planted) -> pd.DataFrame:
    """Duplicate billing (one item twice on a day, or under a sibling code at the same price),
    its look-alike (two different items on a day, each its own price), and ghost beds (days
    billed with no care: only the bed remains, or a token nursing round every fourth day)."""
    treatment = fees.category == "treatment"
    twice = fees[fees.case_id.isin(planted.duplicate_billing_cases) & treatment]
    twice = twice.drop_duplicates("case_id")
    sibling = twice.case_id.isin(planted.sibling_code_cases)
    twice.loc[sibling, "item_code"] = twice.item_code[sibling].str[:-1] + np.where(
        twice.item_code[sibling].str[-1] == "9", "8", "9"
    )
    pair = fees[fees.case_id.isin(planted.second_item_cases) & treatment].drop_duplicates("case_id")
    part = pair.amount_fen * 2 // 5
    fees.loc[pair.index, "amount_fen"] -= part
    pair = pair.assign(amount_fen=part, item_code="3101000099", item_name="微量泵注射")
    ghost = fees.case_id.isin(planted.ghost_cases) & fees.category.isin(
        ["drugs", "treatment", "nursing", "exams"]
    )
    day = fees.groupby("case_id").fee_date.transform("min")
    token = (
        fees.case_id.isin(planted.token_care_cases)
        & (fees.category == "nursing")
        & ((fees.fee_date - day).dt.days % 4 == 0)
    )
    out = pd.concat([fees[~ghost | token], twice, pair], ignore_index=True)
    return out.sort_values(["case_id", "fee_date", "item_code"], kind="stable", ignore_index=True)


def fee_details(cases: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Itemised charges per case and day that add up to each case's cost breakdown."""
    los = (cases.discharge_date - cases.admission_date).dt.days.clip(lower=1).to_numpy()
    frames = []
    for part in COST_PARTS:
        prefix, names = FEE_ITEMS[part]
        amount = cases[f"{part}_fen"].to_numpy()
        if part in ("bed", "nursing"):
            count = los  # one row a day
        else:
            count = np.minimum(los, rng.integers(1, 6, len(cases)))
        idx = np.repeat(np.arange(len(cases)), count)
        k = np.concatenate([np.arange(c) for c in count]) if len(count) else np.array([], int)
        share = np.floor(amount[idx] / count[idx]).astype(np.int64)
        last = k == count[idx] - 1
        share[last] += amount[idx][last] - share[last] * count[idx][last]
        day_offset = k if part in ("bed", "nursing") else (k * los[idx] // count[idx])
        item = rng.integers(0, len(names), len(idx))
        frames.append(
            pd.DataFrame(
                {
                    "case_id": cases.case_id.to_numpy()[idx],
                    "hospital_code": cases.hospital_code.to_numpy()[idx],
                    "fee_date": cases.admission_date.to_numpy()[idx]
                    + day_offset.astype("timedelta64[D]"),
                    "item_code": np.char.add(prefix, np.char.zfill(item.astype("U3"), 6)),
                    "item_name": np.array(names)[item],
                    "category": part,
                    "quantity": 1,
                    "amount_fen": share,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out = out[(out.amount_fen != 0) | out.category.isin(["bed", "nursing"])]
    out = out.sort_values(["case_id", "fee_date"], kind="stable")
    return out.reset_index(drop=True)
