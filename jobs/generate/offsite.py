"""Off-site treatment through the national platform (SPEC 12): the city's flows, with truth.

Two parts, each drawing only from the ``offsite`` stream:

* :func:`make_inbound`, before the settlement lists are written: some persons with
  stays, whom no planted pattern touched, become people insured elsewhere (an ID
  number of their home region, ``insured_region`` its code). Their stays stay in our
  hospitals' settlement lists, now with that region, and the fund's part is what the
  platform paid.
* :func:`write_offsite`: the platform's settlements of the settlement year (inbound:
  those stays, and outpatient visits here; outbound: the city's insured treated in
  other regions, filed as residents, referrals, temporary or unfiled), the monthly
  clearing statement per counterpart region with its lines, and the truth: statement
  differences (a settlement missing on one side, an amount off by a few fen or yuan,
  one in the next month's statement), fund shares that break the filing rule, an
  outbound visit on a day of a local stay, and destinations that charge far above
  their peers. Mess as for every feed: resends, corrections a month later, records
  with a bad ID number, an unknown region, amounts that do not add up, a missing time.

Files land as the platform sends them: a month's settlements on the 2nd of the next
month, its statement and lines on the 15th (docs/sources/offsite.md).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from jobs.generate import offsite_files
from jobs.generate.mess import DefectLog
from jobs.generate.world import chinese_names, id_numbers
from jobs.terms import HOME_REGION, OFFSITE_SCHEME

REGIONS = Path(__file__).parents[1] / "reference" / "offsite_regions.csv"
# The city's published off-site scheme, which the platform applies to its insured: read as
# data, as the platform would (the generator imports no wing).
SCHEME = Path(__file__).parents[1] / "offsite" / "schemes" / f"offsite-{OFFSITE_SCHEME}.yaml"
INBOUND_PERSON_SHARE = 0.03  # of the persons with stays: people insured elsewhere
OUTBOUND_STAYS = 0.04  # outbound inpatient stays per local discharge of the year
VISITS_PER_STAY = {"outpatient": 3.0, "chronic_special": 1.0}
INBOUND_VISITS_PER_STAY = 1.5  # inbound outpatient visits per inbound stay
# Most outbound inpatients are filed (SPEC 12): as long-term residents or referrals.
FILING_MIX = {
    "inpatient": {"resident": 0.40, "referral": 0.35, "temporary": 0.17, "unfiled": 0.08},
    "outpatient": {"resident": 0.60, "referral": 0.05, "temporary": 0.30, "unfiled": 0.05},
    "chronic_special": {"resident": 0.85, "referral": 0.05, "temporary": 0.10, "unfiled": 0.0},
}
MEDIAN_COST = {"inpatient": 26_000.0, "outpatient": 380.0, "chronic_special": 950.0}
DEDUCTIBLE = {"inpatient": 1_000, "outpatient": 0, "chronic_special": 0}  # yuan
RESIDENTS_ABROAD = 0.002  # of the insured: living elsewhere, filed as residents there
PLANTED_SHARE = 0.002  # of the settlements, for each kind of statement difference
EXPENSIVE_FACTOR = 2.2  # a destination that charges this many times its peers
FEN = Decimal("0.01")


class Policy:
    """The shares of the city's scheme, as the platform applies them."""

    def __init__(self, path: Path = SCHEME) -> None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.resident = {k: Decimal(str(v)) for k, v in raw["resident_share"].items()}
        self.cut_points = {k: Decimal(str(v)) for k, v in raw["cut_points"].items()}
        self.destination_min_cases = int(raw["watch"]["destination_min_cases"])

    def share(self, visit_type: str, filing: str) -> Decimal:
        return self.resident[visit_type] - self.cut_points[filing] / 100


def load_regions() -> pd.DataFrame:
    return pd.read_csv(REGIONS, dtype={"region_code": str})


def _weights(frame: pd.DataFrame, column: str) -> np.ndarray:
    w = frame[column].to_numpy(dtype=float)
    return w / w.sum()


def _home_id_region(region: np.ndarray) -> np.ndarray:
    """A county code of the region for an ID number: a municipality's first district
    (310000 -> 310101), a prefecture's first urban district (350500 -> 350502)."""
    municipal = np.char.endswith(region.astype(str), "0000")
    return np.where(
        municipal,
        np.char.add(np.char.ljust(np.char.rstrip(region.astype(str), "0"), 2, "0"), "0101"),
        np.char.add(np.char.ljust(np.char.rstrip(region.astype(str), "0"), 4, "0"), "02"),
    )


def _fund_fen(base_fen: np.ndarray, share: np.ndarray) -> np.ndarray:
    """round-half-up(base × share) in fen, exactly (shares have at most 4 places)."""
    scaled = base_fen.astype(np.int64) * np.round(share * 10_000).astype(np.int64)
    return (scaled + 5_000) // 10_000


def make_inbound(
    cases: pd.DataFrame,
    touched_cases: set[str],
    touched_persons: set[str],
    settlement_year: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``cases`` with ``insured_region``; some untouched persons' stays now of people insured
    elsewhere (new ID numbers and names), their fund as the platform paid it."""
    out = cases.copy()
    out["insured_region"] = HOME_REGION
    regions = load_regions()
    spoiled = out.case_id.isin(touched_cases) | out.id_no.isin(touched_persons)
    candidates = np.array(sorted(set(out.id_no) - set(out.id_no[spoiled])))
    n = round(len(candidates) * INBOUND_PERSON_SHARE)
    if n == 0:
        return out
    chosen = rng.choice(candidates, n, replace=False)
    origin = rng.choice(regions.region_code.to_numpy(), n, p=_weights(regions, "inbound_weight"))
    first = out.drop_duplicates("id_no").set_index("id_no").loc[chosen]
    male = (first.sex == "M").to_numpy()
    county = _home_id_region(origin).astype(np.int64)
    taken = set(out.id_no)
    new_id = np.empty(n, dtype=object)
    for _ in range(20):  # a clash with somebody's number is rare; draw again
        todo = np.array([i for i in range(n) if new_id[i] is None or new_id[i] in taken], int)
        if not len(todo):
            break
        seq = rng.integers(0, 500, len(todo)) * 2 + np.where(male[todo], 1, 0)
        birth = pd.DatetimeIndex(first.birth_date.to_numpy()[todo])
        new_id[todo] = id_numbers(county[todo], birth, seq)
        taken |= set(new_id[todo])
    identity = pd.DataFrame(
        {
            "id_no": chosen,
            "_new_id": new_id,
            "_new_name": chinese_names(rng, n),
            "_origin": origin,
            "_share": rng.choice([0.70, 0.75, 0.80, 0.85, 0.90], n),
        }
    )
    merged = out[["id_no"]].merge(identity, on="id_no", how="left")
    moved = merged._new_id.notna().to_numpy()
    out.loc[moved, "id_no"] = merged._new_id[moved].to_numpy()
    out.loc[moved, "name"] = merged._new_name[moved].to_numpy()
    out.loc[moved, "insured_region"] = merged._origin[moved].to_numpy()
    # The platform paid the home region's share of the eligible cost above a deductible.
    total = out.loc[moved, "total_fen"].to_numpy(dtype=np.int64)
    eligible = total * rng.integers(82, 97, len(total)) // 100
    base = np.maximum(eligible - DEDUCTIBLE["inpatient"] * 100, 0)
    fund = _fund_fen(base, merged._share[moved].to_numpy(dtype=float))
    out.loc[moved, "fund_fen"] = fund
    out.loc[moved, "self_fen"] = total - fund
    out["eligible_fen"] = out.total_fen
    out.loc[moved, "eligible_fen"] = eligible
    del settlement_year
    return out


def _destinations(regions: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The outside institutions the city's insured go to: a few per region, more where many go."""
    rows = []
    for r in regions.itertuples(index=False):
        weight = max(r.outbound_weight, r.resident_weight)
        if weight <= 0:
            continue
        k = int(min(12, 2 + np.ceil(weight)))
        popularity = 1.0 / np.arange(1, k + 1)  # a region's big hospitals draw the most
        for j in range(k):
            rows.append((f"H{r.region_code}{j + 1:05d}", r.region_code, popularity[j]))
    frame = pd.DataFrame(rows, columns=["institution_code", "region", "popularity"])
    frame["cost_factor"] = np.exp(rng.normal(0, 0.08, len(frame)))
    return frame


def write_offsite(
    world,
    cases: pd.DataFrame,
    knobs,
    landing: Path,
    log: DefectLog,
    rng: np.random.Generator,
    planted_labels: list,
) -> dict:
    """Write the platform's files for the settlement year and ``_truth/offsite_planted.csv``;
    add the persons treated elsewhere on a day of a local stay to ``planted_labels``."""
    year = knobs.settlement_year
    scheme = Policy()
    regions = load_regions()
    places = _destinations(regions, rng)
    inbound = _inbound(cases, year, world, rng)
    local_stays = cases[(cases.year == year) & (cases.insured_region == HOME_REGION)]
    outbound = _outbound(world, local_stays, year, regions, places, scheme, rng)
    frame = pd.concat([inbound, outbound], ignore_index=True)
    frame = frame.sort_values(["settled_at", "direction", "case_id"], ignore_index=True)
    frame["settlement_id"] = [f"YD{year}{i:09d}" for i in rng.permutation(len(frame))]
    frame["truth"] = ""
    frame, truth = _plant(frame, local_stays, places, scheme, year, rng, planted_labels)
    counts = offsite_files.land(frame, landing, log, knobs.mess_rate, rng)
    truth.to_csv(landing / "_truth" / "offsite_planted.csv", index=False, lineterminator="\n")
    return {
        "inbound": int((frame.direction == "inbound").sum()),
        "outbound": int((frame.direction == "outbound").sum()),
        "planted": {k: int(v) for k, v in truth.kind.value_counts().sort_index().items()},
        **counts,
    }


def _settled_at(day: pd.Series, rng: np.random.Generator) -> pd.Series:
    seconds = rng.integers(7 * 3600, 24 * 3600, len(day))
    return day.dt.normalize() + pd.to_timedelta(seconds, unit="s")


def _inbound(cases: pd.DataFrame, year: int, world, rng: np.random.Generator) -> pd.DataFrame:
    """The platform's inbound settlements: the stays of people insured elsewhere in our
    hospitals' lists, and their outpatient visits to our institutions."""
    stays = cases[(cases.year == year) & (cases.insured_region != HOME_REGION)]
    fund = stays.fund_fen.to_numpy(dtype=np.int64)
    total = stays.total_fen.to_numpy(dtype=np.int64)
    account = np.minimum(total - fund, rng.integers(0, 50_000, len(stays)))
    inpatient = pd.DataFrame(
        {
            "direction": "inbound",
            "insured_region": stays.insured_region.to_numpy(),
            "treating_region": HOME_REGION,
            "institution_code": stays.hospital_code.to_numpy(),
            "case_id": stays.case_id.to_numpy(),
            "id_no": stays.id_no.to_numpy(),
            "name": stays.name.to_numpy(),
            "filing": rng.choice(
                ["resident", "referral", "temporary"], len(stays), p=[0.5, 0.3, 0.2]
            ),
            "visit_type": "inpatient",
            "admission_date": stays.admission_date.to_numpy(),
            "discharge_date": stays.discharge_date.to_numpy(),
            "principal_dx": stays.principal_dx.to_numpy(),
            "total_fen": total,
            "eligible_fen": stays.eligible_fen.to_numpy(dtype=np.int64),
            "deductible_fen": np.where(
                stays.eligible_fen.to_numpy() > 0, DEDUCTIBLE["inpatient"] * 100, 0
            ),
            "fund_fen": fund,
            "account_fen": account,
        }
    )
    # Outpatient visits of the same people (and their chronic care) at our institutions.
    n = round(len(stays) * INBOUND_VISITS_PER_STAY)
    pick = rng.integers(0, max(len(stays), 1), n) if len(stays) else np.array([], int)
    institutions = world.institutions
    clinics = institutions.institution_code[institutions.type != "pharmacy"].to_numpy()
    days = pd.to_datetime(f"{year}-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    total_v = np.round(rng.lognormal(np.log(MEDIAN_COST["outpatient"]), 0.6, n) * 100).astype(
        np.int64
    )
    eligible_v = total_v * rng.integers(80, 97, n) // 100
    fund_v = _fund_fen(eligible_v, rng.choice([0.5, 0.6, 0.7], n))
    visits = pd.DataFrame(
        {
            "direction": "inbound",
            "insured_region": stays.insured_region.to_numpy()[pick],
            "treating_region": HOME_REGION,
            "institution_code": rng.choice(clinics, n),
            "case_id": [f"MZ{year}{i:08d}" for i in range(n)],
            "id_no": stays.id_no.to_numpy()[pick],
            "name": stays.name.to_numpy()[pick],
            "filing": rng.choice(["resident", "temporary"], n, p=[0.6, 0.4]),
            "visit_type": rng.choice(["outpatient", "chronic_special"], n, p=[0.8, 0.2]),
            "admission_date": days,
            "discharge_date": days,
            "principal_dx": stays.principal_dx.to_numpy()[pick],
            "total_fen": total_v,
            "eligible_fen": eligible_v,
            "deductible_fen": 0,
            "fund_fen": fund_v,
            "account_fen": np.minimum(total_v - fund_v, rng.integers(0, 5_000, n)),
        }
    )
    out = pd.concat([inpatient, visits], ignore_index=True)
    out["settled_at"] = _settled_at(pd.Series(pd.to_datetime(out.discharge_date)), rng)
    return out


def _outbound(
    world, local: pd.DataFrame, year: int, regions, places, scheme, rng: np.random.Generator
) -> pd.DataFrame:
    """The city's insured treated in other regions, none on a day of a local stay."""
    persons = world.persons
    alive = persons[
        (persons.enrol_start <= pd.Timestamp(f"{year}-01-01"))
        & (persons.death_date.isna() | (persons.death_date > pd.Timestamp(f"{year}-12-31")))
    ]
    n_stays = max(10, round(len(local) * OUTBOUND_STAYS))
    counts = {"inpatient": n_stays} | {v: round(n_stays * k) for v, k in VISITS_PER_STAY.items()}
    # Residents abroad: a fixed set of persons, each filed in one region.
    n_abroad = max(20, int(len(alive) * RESIDENTS_ABROAD))
    abroad = alive.sample(n_abroad, random_state=rng.integers(1 << 31)).reset_index(drop=True)
    abroad_region = rng.choice(
        regions.region_code.to_numpy(), n_abroad, p=_weights(regions, "resident_weight")
    )
    outbound_p = _weights(regions, "outbound_weight")
    frames = []
    dx_pool = local.principal_dx.to_numpy()
    for visit, n in counts.items():
        mix = FILING_MIX[visit]
        filing = rng.choice(list(mix), n, p=np.array(list(mix.values())))
        resident = filing == "resident"
        who = alive.sample(n, replace=True, random_state=rng.integers(1 << 31)).reset_index(
            drop=True
        )
        pick = rng.integers(0, n_abroad, n)
        id_no = np.where(resident, abroad.id_no.to_numpy()[pick], who.id_no.to_numpy())
        name = np.where(resident, abroad.name.to_numpy()[pick], who.name.to_numpy())
        region = np.where(
            resident,
            abroad_region[pick],
            rng.choice(regions.region_code.to_numpy(), n, p=outbound_p),
        )
        start = pd.Timestamp(f"{year}-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
        los = np.clip(np.round(rng.gamma(2.2, 4.5, n)), 1, 60).astype(int)
        if visit != "inpatient":
            los[:] = 0
        last = pd.Timestamp(f"{year}-12-31")
        end = start + pd.to_timedelta(los, unit="D")
        end = end.where(end <= last, last)
        frames.append(
            pd.DataFrame(
                {
                    "visit_type": visit,
                    "filing": filing,
                    "id_no": id_no,
                    "name": name,
                    "treating_region": region,
                    "admission_date": start,
                    "discharge_date": end,
                    "principal_dx": rng.choice(dx_pool, n),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out = _away_from_local_stays(out, local)
    out["institution_code"] = _pick_places(out.treating_region.to_numpy(), places, rng)
    factor = places.set_index("institution_code").cost_factor.loc[out.institution_code].to_numpy()
    median = out.visit_type.map(MEDIAN_COST).to_numpy(dtype=float)
    total = np.round(rng.lognormal(np.log(median), 0.5) * factor * 100).astype(np.int64)
    eligible = total * rng.integers(80, 97, len(out)) // 100
    deductible = out.visit_type.map(DEDUCTIBLE).to_numpy(dtype=np.int64) * 100
    deductible = np.minimum(deductible, eligible)  # never above what it applies to
    share = np.array(
        [float(scheme.share(v, f)) for v, f in zip(out.visit_type, out.filing, strict=True)]
    )
    fund = _fund_fen(np.maximum(eligible - deductible, 0), share)
    out = out.assign(
        direction="outbound",
        insured_region=HOME_REGION,
        case_id=[f"WD{year}{i:08d}" for i in range(len(out))],
        total_fen=total,
        eligible_fen=eligible,
        deductible_fen=deductible,
        fund_fen=fund,
        account_fen=np.minimum(total - fund, rng.integers(0, 20_000, len(out))),
    )
    out["settled_at"] = _settled_at(pd.Series(pd.to_datetime(out.discharge_date)), rng)
    return out


def _away_from_local_stays(visits: pd.DataFrame, local: pd.DataFrame) -> pd.DataFrame:
    """The visits that share no day with a local stay of the same person (a day of
    transfer, discharged here and admitted there, is no overlap)."""
    stays = local[["id_no", "admission_date", "discharge_date"]].rename(
        columns={"admission_date": "_a", "discharge_date": "_d"}
    )
    visits = visits.reset_index(drop=True)
    pairs = visits.reset_index().merge(stays, on="id_no")
    clash = (pairs.admission_date < pairs._d) & (pairs._a < pairs.discharge_date)
    clash |= (pairs.admission_date == pairs.discharge_date) & (
        (pairs._a < pairs.admission_date) & (pairs.admission_date < pairs._d)
    )
    return visits.drop(index=pairs["index"][clash].unique()).reset_index(drop=True)


def _pick_places(region: np.ndarray, places: pd.DataFrame, rng: np.random.Generator):
    out = np.empty(len(region), dtype=object)
    for code, group in places.groupby("region"):
        at = np.flatnonzero(region == code)
        if len(at):
            p = group.popularity.to_numpy() / group.popularity.sum()
            out[at] = rng.choice(group.institution_code.to_numpy(), len(at), p=p)
    return out


def _plant(frame, local, places, scheme, year, rng, planted_labels):
    """``frame`` with the truth planted (its ``truth`` column), and the truth table."""
    rows = []
    n = max(2, round(len(frame) * PLANTED_SHARE))

    def free(mask) -> np.ndarray:
        return np.flatnonzero(mask & (frame.truth == "").to_numpy())

    outbound = (frame.direction == "outbound").to_numpy()
    # Fund shares that break the filing rule: a temporary or unfiled visit paid at the
    # resident share (above), or cut five points deeper than its filing's (below).
    cut = outbound & frame.filing.isin(["temporary", "unfiled"]).to_numpy()
    for kind in ("above_filing_share", "below_filing_share"):
        at = rng.choice(
            free(cut & (frame.eligible_fen > frame.deductible_fen + 10_000)), n, replace=False
        )
        for i in at:
            r = frame.loc[i]
            share = scheme.share(r.visit_type, r.filing) + (
                scheme.cut_points[r.filing] / 100
                if kind == "above_filing_share"
                else Decimal("-0.05")
            )
            base = Decimal(int(r.eligible_fen - r.deductible_fen)) / 100
            fund = int((base * share).quantize(FEN, ROUND_HALF_UP) * 100)
            frame.loc[i, ["fund_fen", "truth"]] = [fund, kind]
            frame.loc[i, "account_fen"] = min(r.account_fen, r.total_fen - fund)
            rows.append(
                (
                    kind,
                    r.settlement_id,
                    _month(r.settled_at),
                    r.treating_region,
                    "outbound",
                    r.institution_code,
                    r.id_no,
                )
            )
    # Statement differences, on settlements otherwise clean.
    months = frame.settled_at.dt.month.to_numpy()
    inpatient_inbound = (
        (frame.direction == "inbound") & (frame.visit_type == "inpatient")
    ).to_numpy()
    everything = np.ones(len(frame), dtype=bool)
    for kind, mask, shown in (
        ("missing_in_statement", everything, 12),
        # A settlement the lake never saw; not an inbound stay, whose list would then stand alone.
        ("missing_in_ours", ~inpatient_inbound, 12),
        ("amount_differs", everything, 12),
        ("wrong_month", months < 12, 11),  # cleared in the next month's statement
    ):
        # One of each shows in the year's last statement (what the demo reconciles).
        late = free(mask & (months == shown))
        first = rng.choice(late, min(1, len(late)), replace=False)
        rest = rng.choice(np.setdiff1d(free(mask), first), n - len(first), replace=False)
        for i in [*first, *rest]:
            r = frame.loc[i]
            frame.loc[i, "truth"] = kind
            region = r.treating_region if r.direction == "outbound" else r.insured_region
            rows.append(
                (
                    kind,
                    r.settlement_id,
                    _month(r.settled_at),
                    region,
                    r.direction,
                    r.institution_code,
                    r.id_no,
                )
            )
    # A person treated elsewhere on a day of a local stay: an outpatient visit there on a
    # day strictly inside a stay here (the card was lent, or the stay was not real).
    long_stays = local[(local.discharge_date - local.admission_date).dt.days >= 3]
    taken = set(frame.id_no) | {e for t, e, _ in planted_labels if t == "person"}
    long_stays = long_stays[~long_stays.id_no.isin(taken)]
    k = max(3, round(len(local) * 0.0005))
    chosen = long_stays.iloc[rng.choice(len(long_stays), min(k, len(long_stays)), replace=False)]
    chosen = chosen.drop_duplicates("id_no")
    extra = []
    for s in chosen.itertuples(index=False):
        days = (s.discharge_date - s.admission_date).days
        day = s.admission_date + pd.Timedelta(days=int(rng.integers(1, days)))
        region = str(rng.choice(places.region.unique()))
        inst = _pick_places(np.array([region]), places, rng)[0]
        total = int(rng.integers(20_000, 80_000))
        eligible = total * 9 // 10
        fund = int(
            _fund_fen(
                np.array([eligible]), np.array([float(scheme.share("outpatient", "temporary"))])
            )[0]
        )
        sid = f"YD{year}9{len(extra):08d}"
        extra.append(
            {
                "direction": "outbound",
                "insured_region": HOME_REGION,
                "treating_region": region,
                "institution_code": inst,
                "case_id": f"WDX{year}{len(extra):06d}",
                "id_no": s.id_no,
                "name": s.name,
                "filing": "temporary",
                "visit_type": "outpatient",
                "admission_date": day,
                "discharge_date": day,
                "principal_dx": s.principal_dx,
                "total_fen": total,
                "eligible_fen": eligible,
                "deductible_fen": 0,
                "fund_fen": fund,
                "account_fen": 0,
                "settled_at": day + pd.Timedelta(seconds=int(rng.integers(9 * 3600, 17 * 3600))),
                "settlement_id": sid,
                "truth": "same_day_local",
            }
        )
        rows.append(
            (
                "same_day_local",
                sid,
                _month(extra[-1]["settled_at"]),
                region,
                "outbound",
                inst,
                s.id_no,
            )
        )
        planted_labels.append(("person", s.id_no, "IDENTITY_FRAUD"))
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    # Destinations that charge far above their peers: the busiest inpatient ones, raised.
    stays = frame[(frame.direction == "outbound") & (frame.visit_type == "inpatient")]
    # Among those with enough stays, none of them carrying another planted truth: every
    # stay of the destination is raised.
    busy = stays[stays.truth == ""].institution_code.value_counts()
    tainted = set(stays.institution_code[stays.truth != ""])
    busy = busy[(busy >= scheme.destination_min_cases) & ~busy.index.isin(tainted)]
    busy = busy.index.to_numpy()
    for inst in rng.choice(busy, min(2, len(busy)), replace=False) if len(busy) else []:
        at = stays.index[(stays.institution_code == inst) & (stays.truth == "")]
        frame.loc[at, "total_fen"] = np.round(frame.loc[at, "total_fen"] * EXPENSIVE_FACTOR).astype(
            np.int64
        )
        # The fund follows the eligible cost of the dearer bill, at the filing's share.
        frame.loc[at, "eligible_fen"] = frame.loc[at, "total_fen"] * 9 // 10
        for i in at:
            r = frame.loc[i]
            base = max(int(r.eligible_fen - r.deductible_fen), 0)
            share = float(scheme.share(r.visit_type, r.filing))
            frame.loc[i, "fund_fen"] = int(_fund_fen(np.array([base]), np.array([share]))[0])
        frame.loc[at, "account_fen"] = 0
        region = places.set_index("institution_code").region.loc[inst]
        rows.append(("expensive_destination", "", "", region, "outbound", inst, ""))
    truth = pd.DataFrame(
        rows,
        columns=[
            "kind",
            "settlement_id",
            "month",
            "region",
            "direction",
            "institution_code",
            "id_no",
        ],
    ).sort_values(["kind", "settlement_id", "institution_code"], ignore_index=True)
    return frame, truth


def _month(ts) -> str:
    return f"{pd.Timestamp(ts):%Y-%m}"
