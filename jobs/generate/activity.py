"""Outpatient pharmacy sales, face checks and enrolments elsewhere, fraud signals included."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from jobs.generate.fraud import Planted
from jobs.generate.knobs import Knobs
from jobs.generate.world import World

DRUGS = np.array(
    [
        "XC10AAA001",
        "XA02BCA001",
        "XC09AAA002",
        "XA10BAA001",
        "XR03ACA002",
        "XN02BEA001",
        "XJ01DCA002",
        "XB01ACA001",
    ]
)
DAILY_NEED_DAYS = 30
HOME_SHARE = 0.85  # most purchases are made in the buyer's own district
OPEN_HOURS = (8, 21)  # pharmacies sell from 8:00 to 21:00


def _open_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight within opening hours."""
    return rng.integers(OPEN_HOURS[0] * 3600, OPEN_HOURS[1] * 3600, n)


def _shops_near(
    home: np.ndarray, shops: np.ndarray, shop_district: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A shop per buyer: in the buyer's district with :data:`HOME_SHARE`, else anywhere."""
    out = rng.choice(shops, len(home))
    near = rng.random(len(home)) < HOME_SHARE
    for district in np.unique(home[near]):
        pool = shops[shop_district == district]
        mine = near & (home == district)
        if len(pool):
            out[mine] = rng.choice(pool, int(mine.sum()))
    return out


def pharmacy_months(
    world: World, planted: Planted, knobs: Knobs, rng: np.random.Generator
) -> Iterator[tuple[pd.Period, pd.DataFrame]]:
    """Transactions of the fee-detail years, a month at a time (memory stays flat).

    In honest trade a traceability code is sold once; the planted signals are built
    first (they are few) and merged into their months.
    """
    inst = world.institutions
    shops = inst.institution_code[inst.type.isin(["pharmacy", "clinic"])].to_numpy()
    years = knobs.year_list[-knobs.fee_detail_years :]
    shop_district = inst.district[inst.type.isin(["pharmacy", "clinic"])].to_numpy()
    alive = world.persons[world.persons.death_date.isna()]
    ids, home = alive.id_no.to_numpy(), alive.district.to_numpy()
    signals = _pharmacy_signals(world, planted, shops, years, rng)
    per_month = int(len(alive) * knobs.pharmacy_per_insured / 12)
    for period in pd.period_range(f"{years[0]}-01", f"{years[-1]}-12", freq="M"):
        start = period.to_timestamp().to_datetime64().astype("datetime64[s]")
        n = per_month
        who = rng.integers(0, len(ids), n)
        day = rng.integers(0, period.days_in_month, n)
        base = pd.DataFrame(
            {
                "id_no": ids[who],
                "institution_code": _shops_near(home[who], shops, shop_district, rng),
                "txn_time": start + (day * 86400 + _open_seconds(rng, n)).astype("timedelta64[s]"),
                "item_code": rng.choice(DRUGS, n),
                "quantity": rng.integers(1, 4, n),
                "days_supply": rng.choice([7, 14, 30], n, p=[0.5, 0.3, 0.2]),
            }
        )
        base["amount_fen"] = base.quantity * rng.integers(1500, 9000, n)
        base["trace_code"] = _trace_codes(rng, n)
        extra = signals[signals.txn_time.dt.to_period("M") == period]
        frame = pd.concat([base, extra], ignore_index=True)
        yield period, frame.sort_values(["txn_time", "id_no"], kind="stable", ignore_index=True)


def _trace_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.char.add("8", rng.integers(10**15, 10**16, n).astype("U16"))


def _pharmacy_signals(
    world: World, planted: Planted, shops: np.ndarray, years: list[int], rng: np.random.Generator
) -> pd.DataFrame:
    inst = world.institutions
    start = np.datetime64(f"{years[0]}-01-01T00:00:00")
    extra = []
    # Drug resale: several pharmacies, supply far above need, traceability codes sold twice.
    for id_no in planted.resale_persons:
        k = int(rng.integers(10, 18))
        codes = _trace_codes(rng, k)
        codes[1::2] = codes[0::2][: len(codes[1::2])]
        extra.append(
            pd.DataFrame(
                {
                    "id_no": id_no,
                    "institution_code": rng.choice(shops, k),
                    # one pharmacy a day: the supply piles up, the card never doubles
                    "txn_time": start
                    + (rng.choice(60, k, replace=False) * 86400 + _open_seconds(rng, k)).astype(
                        "timedelta64[s]"
                    ),
                    "item_code": DRUGS[0],
                    "quantity": 4,
                    "days_supply": 90,
                    "amount_fen": rng.integers(20_000, 40_000, k),
                    "trace_code": codes,
                }
            )
        )
    # Drug resale with fresh codes: 90 days of supply every few days at many pharmacies,
    # never a code sold twice (the evasion of FR03; FR11 reads the supply against need).
    for id_no in planted.hoarding_persons:
        k = int(rng.integers(10, 16))
        extra.append(
            pd.DataFrame(
                {
                    "id_no": id_no,
                    "institution_code": rng.choice(shops, k),
                    "txn_time": start
                    + (
                        np.sort(rng.choice(120, k, replace=False)) * 86400 + _open_seconds(rng, k)
                    ).astype("timedelta64[s]"),
                    "item_code": DRUGS[0],
                    "quantity": 4,
                    "days_supply": 90,
                    "amount_fen": rng.integers(20_000, 40_000, k),
                    "trace_code": _trace_codes(rng, k),
                }
            )
        )
    # Look-alike: chronic patients with long supplies from one pharmacy, at the pace of need.
    for id_no in planted.chronic_persons:
        k = 8
        extra.append(
            pd.DataFrame(
                {
                    "id_no": id_no,
                    "institution_code": rng.choice(shops),
                    "txn_time": start + (np.arange(k) * 90 * 86400).astype("timedelta64[s]"),
                    "item_code": DRUGS[2],
                    "quantity": 3,
                    "days_supply": 90,
                    "amount_fen": rng.integers(20_000, 30_000, k),
                    "trace_code": _trace_codes(rng, k),
                }
            )
        )
    # Identity fraud: one card at two distant sites the same day.
    far = {
        d: inst.institution_code[(inst.type == "pharmacy") & (inst.district == d)].to_numpy()
        for d in ("350203", "350213")
    }
    # (25 km apart; half an hour between the sales, or about an hour: its variant)
    near = {
        d: inst.institution_code[(inst.type == "pharmacy") & (inst.district == d)].to_numpy()
        for d in ("350203", "350206")
    }
    visits = [
        (id_no, day, (("350203", 0), ("350213", planted.distant_gap_minutes.get(id_no, 60))), far)
        for id_no, day in planted.distant_same_day
    ]
    # Look-alike: two pharmacies of neighbouring districts (about 8 km) in one morning.
    visits += [
        (id_no, day, (("350203", 0), ("350206", int(rng.integers(40, 150)))), near)
        for id_no, day in planted.nearby_two_shops
    ]
    for id_no, day, stops, sites in visits:
        for district, minutes in stops:
            if len(sites[district]):
                extra.append(
                    pd.DataFrame(
                        {
                            "id_no": [id_no],
                            "institution_code": [rng.choice(sites[district])],
                            "txn_time": [
                                np.datetime64(day) + np.timedelta64(9 * 3600 + minutes * 60, "s")
                            ],
                            "item_code": [DRUGS[1]],
                            "quantity": [1],
                            "days_supply": [7],
                            "amount_fen": [int(rng.integers(2000, 6000))],
                            "trace_code": _trace_codes(rng, 1),
                        }
                    )
                )
    # Ghost beds: the inpatient is seen buying drugs elsewhere during the stay.
    ghosts = planted.cases[planted.cases.case_id.isin(planted.ghost_cases)]
    if len(ghosts):
        mid = ghosts.admission_date + (ghosts.discharge_date - ghosts.admission_date) / 2
        extra.append(
            pd.DataFrame(
                {
                    "id_no": ghosts.id_no.to_numpy(),
                    "institution_code": rng.choice(shops, len(ghosts)),
                    "txn_time": mid.dt.normalize().to_numpy() + np.timedelta64(11 * 3600, "s"),
                    "item_code": DRUGS[3],
                    "quantity": 1,
                    "days_supply": 7,
                    "amount_fen": rng.integers(2000, 6000, len(ghosts)),
                    "trace_code": _trace_codes(rng, len(ghosts)),
                }
            )
        )
    out = pd.concat(extra, ignore_index=True)
    out["txn_time"] = pd.to_datetime(out.txn_time).astype("datetime64[s]")
    return out


def face_checks(
    world: World, planted: Planted, knobs: Knobs, rng: np.random.Generator
) -> pd.DataFrame:
    """Identity checks at admission (and for the doctor on duty); ghost stays have none,
    except those whose patient was checked in and then left (``checked_in``)."""
    c = planted.cases
    recent = c[
        (c.year >= knobs.settlement_year - knobs.fee_detail_years + 1)
        & (~c.case_id.isin(planted.ghost_cases) | c.case_id.isin(planted.checked_in_ghosts))
    ]
    n = len(recent)
    persons = pd.DataFrame(
        {
            "subject_type": "person",
            "subject_id": recent.id_no.to_numpy(),
            "institution_code": recent.hospital_code.to_numpy(),
            "check_time": recent.admission_date.to_numpy()
            + rng.integers(8 * 3600, 18 * 3600, n).astype("timedelta64[s]"),
            "matched": np.where(rng.random(n) < 0.985, "Y", "N"),
        }
    )
    doctors = pd.DataFrame(
        {
            "subject_type": "doctor",
            "subject_id": recent.doctor_id.to_numpy(),
            "institution_code": recent.hospital_code.to_numpy(),
            "check_time": recent.admission_date.to_numpy() + np.timedelta64(8 * 3600, "s"),
            "matched": "Y",
        }
    ).drop_duplicates(["subject_id", "institution_code", "check_time"])
    out = pd.concat([persons, doctors], ignore_index=True)
    return out.sort_values(["check_time", "subject_id"], kind="stable", ignore_index=True)


def external_enrolments(world: World, planted: Planted, knobs: Knobs, rng: np.random.Generator):
    """Enrolments reported by other pooling regions: active duplicates, and people who moved."""
    persons = world.persons.set_index("id_no")
    rows = []
    for id_no in planted.duplicate_enrolments:
        p = persons.loc[id_no]
        start = pd.Timestamp(f"{knobs.settlement_year - 1}-01-01")
        # still open, or a short overlap that ends (its variant)
        days = planted.overlap_days.get(id_no)
        if days is not None:
            start = max(p.enrol_start, start) + pd.Timedelta(days=int(rng.integers(0, 200)))
        end = pd.NaT if days is None else start + pd.Timedelta(days=days - 1)
        rows.append(
            (
                id_no,
                p["name"],
                str(rng.choice(["350502", "440106", "310104"])),
                p.insurance_type,
                start,
                end,
            )
        )
    for id_no in planted.moved_persons:
        p = persons.loc[id_no]
        # the old enrolment ended the day before this one began, or a few weeks after
        # (the old region's paperwork lagging: the look-alike of a short overlap)
        end = (
            p.enrol_start
            - pd.Timedelta(days=1)
            + pd.Timedelta(days=planted.overlap_days.get(id_no, 0))
        )
        rows.append(
            (
                id_no,
                p["name"],
                str(rng.choice(["350102", "330106"])),
                p.insurance_type,
                end - pd.Timedelta(days=int(rng.integers(400, 2000))),
                end,
            )
        )
    frame = pd.DataFrame(
        rows, columns=["id_no", "name", "region_code", "insurance_type", "enrol_start", "enrol_end"]
    )
    return frame.sort_values("id_no", ignore_index=True)


def audit_outcomes(planted: Planted, knobs: Knobs, rng: np.random.Generator) -> pd.DataFrame:
    """A sample of investigations: most true cases confirmed, some missed, a few false hits."""
    labels = pd.DataFrame(planted.labels, columns=["entity_type", "entity_id", "pattern"])
    labels = labels.drop_duplicates(["entity_type", "entity_id"])
    investigated = labels[rng.random(len(labels)) < 0.45].copy()
    investigated["outcome"] = np.where(rng.random(len(investigated)) < 0.9, "confirmed", "cleared")
    looks = pd.DataFrame(planted.lookalikes, columns=["entity_type", "entity_id", "pattern"])
    looks = looks[rng.random(len(looks)) < 0.5].copy()
    looks["outcome"] = np.where(rng.random(len(looks)) < 0.05, "confirmed", "cleared")
    c = planted.cases
    clean = c[~c.case_id.isin(set(labels.entity_id))].sample(
        n=min(len(c), max(20, len(investigated) * 3)), random_state=int(rng.integers(2**31))
    )
    random_checks = pd.DataFrame(
        {
            "entity_type": "case",
            "entity_id": clean.case_id.to_numpy(),
            "pattern": "",
            "outcome": np.where(rng.random(len(clean)) < 0.02, "confirmed", "cleared"),
        }
    )
    random_checks.loc[random_checks.outcome == "confirmed", "pattern"] = "SPLIT_ADMISSION"
    out = pd.concat([investigated, looks, random_checks], ignore_index=True)
    out["investigated_on"] = pd.Timestamp(f"{knobs.settlement_year}-01-01") + pd.to_timedelta(
        rng.integers(0, 330, len(out)), unit="D"
    )
    return out.sort_values(["investigated_on", "entity_type", "entity_id"], ignore_index=True)
