"""The procurement platform's and the fund's sources (SPEC 10), with their truth.

:func:`write_procurement` lands, for the fee-detail years:

* ``drug_catalogue``: the platform's catalogue in force each year;
* ``vbp_agreements``: each hospital's agreed volume per group and year, 0.6–0.8 of its
  use the year before (of the year itself where no year before is generated);
* ``procurement_orders``, ``deliveries``, ``distributor_payments``: a month at a time.
  A hospital orders early in the month about what its fee lines used that month
  (× 0.97–1.03, the stock's movement), a distributor delivers in one go or two within
  five days, the hospital accepts within two days, and the fund (or the hospital)
  pays 5–28 days later.

Planted, each with a row in ``_truth/procurement_anomalies.csv``: steering hospitals,
yellow and red prices, winners bought above their winning price, late and missing
payments, and shops overcharging (drug_use.py draws those). Clean values stay well
inside the SPEC's lights (docs/sources/procurement.md). Mess is logged in
``_truth/defects.csv``; a spoiled record is never a planted one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jobs.generate import feeds
from jobs.generate.drug_use import DrugPlan, as_text
from jobs.generate.knobs import Knobs
from jobs.generate.mess import DefectLog
from jobs.generate.world import World

STOCK = (0.97, 1.03)  # a month's order over the month's use
SPLIT_ORDER = 0.15  # of a month's product orders, placed as two lines
SPLIT_DELIVERY = 0.1  # of order lines, delivered in two goes
FUND_PAYS = 0.85  # of deliveries, paid by the fund directly; the rest by the hospital
PAY_DAYS = (5, 28)
LATE_DAYS = (36, 89)
BOX_MIN_PACKS = 50  # a hospital orders in boxes only what fills many of them
AGREED = (0.6, 0.8)  # agreed volume over the use it is based on
CLEAN_PACE = 0.9  # a clean contract's completion at every month end, at least × schedule
STEERED_PACE = 0.4  # a steered one's, at most × schedule
CLEAN_OTHERS = 0.3  # a clean contract's non-winner share stays below
STEERED_OTHERS = 0.6  # a steered one's stays at or above
# Planted kind -> (share of the candidates, minimum), and the price ratios drawn.
PLANTED = {
    "price_yellow": (0.002, 6),
    "price_red": (0.002, 6),
    "winner_above_winning_price": (0.002, 6),
    "payment_late": (0.004, 6),
    "payment_missing": (0.0015, 4),
}
RATIOS = {
    "price_yellow": (1.16, 1.24),
    "price_red": (1.45, 1.95),
    "winner_above_winning_price": (1.03, 1.07),
}
MIN_PRICE_E4 = 200  # planted prices only where 4 decimals keep the ratio to 0.25%
# Mess kind -> share of the mess rate (at least MIN_MESS of each when the rate is not 0).
MESS = {
    "duplicate_submission": 0.5,
    "box_quantity": 0.5,
    "non_positive_quantity": 0.25,
    "unknown_product": 0.25,
    "delivery_without_order": 0.25,
    "payment_exceeds_delivery": 0.25,
}
MIN_MESS = 2
BOX = "盒"
OFFICE = (8 * 3600 + 1800, 17 * 3600 + 1800)
COLUMNS = {
    "procurement_orders": "record_id order_id hospital_code product_code distributor_code qty "
    "unit unit_price ordered_at",
    "deliveries": "record_id delivery_id order_id qty unit delivered_at accepted_at",
    "distributor_payments": "record_id payment_id delivery_id amount paid_at payer",
}
ANOMALY_COLUMNS = [
    "kind",
    "contract_year",
    "month",
    "institution_code",
    "group_id",
    "product_code",
    "order_id",
    "delivery_id",
    "distributor_code",
    "detail",
]


def write_procurement(
    world: World,
    knobs: Knobs,
    plan: DrugPlan,
    rng: np.random.Generator,
    landing: Path,
    log: DefectLog,
    use: pd.DataFrame,
    sales: pd.DataFrame | None = None,
    truth_dir: Path | None = None,
) -> dict:
    """Land the five sources for the months of ``use`` (drug_use.monthly_use of every fee
    line) and write the truth to ``truth_dir`` (default ``landing/_truth``): the planted
    anomalies and the agreements' completion. ``sales`` (drug_use.monthly_sales of every
    pharmacy line) lets the truth name only the shops' red months that were sold in.
    Return counts by file kind, planted kind and mess kind."""
    hospitals = world.institutions.institution_code[world.institutions.type == "hospital"]
    if not set(use.hospital_code) <= set(hospitals):
        raise ValueError("use of an institution that is not one of the city's hospitals")
    years = knobs.year_list[-knobs.fee_detail_years :]
    use = use[use.month.str[:4].astype(int).isin(years)]  # fee lines of stays begun earlier
    use = use.groupby(["month", "hospital_code", "product_code"], as_index=False).qty.sum()
    counts: dict = {"catalogue_rows": _write_catalogue(plan, years, landing)}
    cells = _order_cells(use, plan, rng, knobs.mess_rate)
    agreements, steering = _agreements(cells, use, plan, years, rng)
    counts["agreements"] = _write_agreements(agreements, landing)
    flow = _Flow(plan, rng, landing, log, knobs.mess_rate, len(cells))
    months = sorted(cells.month.unique())
    flow.allot(cells.month.value_counts().reindex(months).to_numpy(), months)
    for month in months:
        flow.month(month, cells[cells.month == month])
    flow.flush(None)
    shops = _shop_truth(plan, sales)
    truth = pd.concat([steering, *flow.truth, _price_truth(cells, flow.order_ids), shops])
    truth = truth.reindex(columns=ANOMALY_COLUMNS).fillna("")
    truth = truth.sort_values(ANOMALY_COLUMNS, ignore_index=True)
    truth_dir = truth_dir or landing / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth.to_csv(truth_dir / "procurement_anomalies.csv", index=False, lineterminator="\n")
    agreements.to_csv(truth_dir / "procurement_completion.csv", index=False, lineterminator="\n")
    counts.update(flow.counts)
    counts.update({f"planted_{k}": int(v) for k, v in truth.kind.value_counts().items()})
    return counts


def _money(value: np.ndarray, places: int = 4) -> np.ndarray:
    """Whole 1/10**places yuan (non-negative) as yuan text with ``places`` decimals."""
    v = np.asarray(value, dtype=np.int64)
    whole = (v // 10**places).astype("U14")
    return np.char.add(np.char.add(whole, "."), _digits(v % 10**places, places))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded text (numpy's zfill fails on no values)."""
    values = np.asarray(values, dtype=np.int64)
    if not len(values):
        return np.array([], dtype=f"U{width}")
    return np.char.zfill(values.astype("U20"), width)


def _serial(prefix: str, start: int, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, _digits(np.arange(start, start + n), width))


def _spread(total: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    if total == 0 or weights.sum() == 0:
        return np.zeros(len(weights), dtype=int)
    return rng.multinomial(total, weights / weights.sum())


def _write_catalogue(plan: DrugPlan, years: list[int], landing: Path) -> int:
    p = plan.products.reset_index(drop=True)
    rows = 0
    for year in years:
        cat = pd.DataFrame(
            {
                "record_id": _serial("K", rows, len(p), 7),
                "product_code": p.product_code,
                "generic_name": p.generic_name_zh,
                "dosage_form": p.dosage_form_zh,
                "strength": p.strength,
                "pack_size": p.pack_size,
                "smallest_unit": p.smallest_unit_zh,
                "manufacturer": p.manufacturer_zh,
                "group_id": p.group_id,
                "vbp_batch": p.vbp_batch,
                "is_winner": np.where(p.is_winner, "1", "0"),
                "winning_price": np.where(p.is_winner, _money(p.winning_e4), ""),
                "reference_price": _money(p.reference_e4),
                "valid_from": f"{year}-01-01",
                "valid_to": f"{year}-12-31",
            }
        )
        rows += len(cat)
        feeds.write_csv(cat, landing / f"drug_catalogue/{year}-01-01/drug_catalogue_{year}.csv")
    return rows


def _pick_count(n: int, kind: str) -> int:
    share, least = PLANTED[kind]
    return min(n, max(least, round(share * n)))


def _order_cells(
    use: pd.DataFrame, plan: DrugPlan, rng: np.random.Generator, mess_rate: float
) -> pd.DataFrame:
    """One row per month, hospital and product: the smallest units ordered (and delivered),
    whether in boxes, the price paid per smallest unit and the planted kind, if any."""
    cells = use[use.qty > 0].sort_values(["month", "hospital_code", "product_code"])
    cells = cells.reset_index(drop=True)
    p = plan.products.reindex(cells.product_code)
    for column in ("group_id", "is_winner", "pack_size", "light_e4", "smallest_unit_zh"):
        cells[column] = p[column].to_numpy()
    price = plan.mix.set_index(["hospital_code", "product_code"]).price_e4
    cells["price_e4"] = price.reindex(
        pd.MultiIndex.from_frame(cells[["hospital_code", "product_code"]])
    ).values
    cells["year"] = cells.month.str[:4].astype(int)
    stock = rng.uniform(*STOCK, len(cells))
    cells["units"] = np.maximum(1, np.round(cells.qty * stock)).astype(np.int64)
    pack = cells.pack_size.to_numpy()
    can_box = np.flatnonzero(cells.units.to_numpy() >= BOX_MIN_PACKS * pack)
    n_box = _mess_count(MESS["box_quantity"], mess_rate, len(cells), len(can_box))
    box = np.zeros(len(cells), bool)
    box[rng.choice(can_box, n_box, replace=False)] = True
    cells["box"] = box
    cells.loc[box, "units"] = -(-cells.units[box] // cells.pack_size[box]) * cells.pack_size[box]
    cells["kind"] = ""
    steered = pd.MultiIndex.from_frame(cells[["hospital_code", "group_id"]]).isin(
        pd.MultiIndex.from_frame(plan.steering)
    )
    for kind, winner in (
        ("price_yellow", False),
        ("price_red", False),
        ("winner_above_winning_price", True),
    ):
        free = (cells.kind == "") & ~cells.box & ~steered & (cells.is_winner == winner)
        free &= cells.light_e4 >= MIN_PRICE_E4
        pool = np.flatnonzero(free.to_numpy())
        at = rng.choice(pool, _pick_count(len(pool), kind), replace=False)
        ratio = rng.uniform(*RATIOS[kind], len(at))
        cells.loc[at, "kind"] = kind
        cells.loc[at, "price_e4"] = np.round(cells.light_e4.to_numpy()[at] * ratio).astype(int)
    cells["price_e4"] = cells.price_e4.astype(np.int64)
    return cells


def _mess_count(share: float, rate: float, n: int, available: int) -> int:
    if rate <= 0:
        return 0
    return min(available, max(MIN_MESS, round(share * rate * n)))


def _agreements(
    cells: pd.DataFrame,
    use: pd.DataFrame,
    plan: DrugPlan,
    years: list[int],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Agreed volumes where a contract's truth is unambiguous: a clean contract stays at or
    above 0.9 × schedule at every month end with non-winners below 0.3, a steered one at
    or below 0.4 × schedule with non-winners at 0.6 or more. Return the agreements with
    their completion as delivered (``winner_qty``, ``other_qty``), and the steering truth."""
    key = ["hospital_code", "group_id", "year"]
    month = cells.month.str[5:].astype(int)
    by = [*[cells[k] for k in key], month.rename("m")]
    won = cells.units.where(cells.is_winner, 0).groupby(by).sum().unstack(fill_value=0)
    other = cells.units.where(~cells.is_winner, 0).groupby(by).sum().unstack(fill_value=0)
    won = won.reindex(columns=range(1, 13), fill_value=0).cumsum(axis=1)
    other = other.reindex(columns=range(1, 13), fill_value=0).cumsum(axis=1)
    pairs = won.index.to_frame(index=False)
    ends = pd.to_datetime([f"{y}-{m:02d}-01" for y in pairs.year for m in range(1, 13)])
    ends = (ends + pd.offsets.MonthEnd(0)).dayofyear.to_numpy().reshape(-1, 12)
    schedule = ends / ends[:, -1:]
    used = use.assign(
        group_id=plan.products.group_id.reindex(use.product_code).to_numpy(),
        year=use.month.str[:4].astype(int),
    )
    total = used.groupby(key).qty.sum()
    prior_year = np.where(pairs.year - 1 >= years[0], pairs.year - 1, pairs.year)
    base = (
        total.reindex(pd.MultiIndex.from_arrays([pairs.hospital_code, pairs.group_id, prior_year]))
        .fillna(0)
        .to_numpy()
    )
    w, o = won.to_numpy(float), other.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = o / (w + o)
    steered = pd.MultiIndex.from_frame(pairs[["hospital_code", "group_id"]]).isin(
        pd.MultiIndex.from_frame(plan.steering)
    )
    lo = np.ceil(AGREED[0] * base)
    hi = np.floor(AGREED[1] * base)
    cap = np.floor((w / (CLEAN_PACE * schedule)).min(axis=1))
    need = np.ceil((w / (STEERED_PACE * schedule)).max(axis=1))
    clean_ok = (np.nan_to_num(share, nan=1.0).max(axis=1) < CLEAN_OTHERS) & (
        lo <= np.minimum(hi, cap)
    )
    steer_ok = (np.nan_to_num(share, nan=1.0).min(axis=1) >= STEERED_OTHERS) & (
        np.maximum(lo, need) <= hi
    )
    lo = np.where(steered, np.maximum(lo, need), lo)
    hi = np.where(steered, hi, np.minimum(hi, cap))
    signed = np.where(steered, steer_ok, clean_ok) & (base > 0)
    draw = rng.random(len(pairs))
    agreed = np.minimum(hi, lo + np.floor(draw * (hi - lo + 1)))
    out = pairs.assign(agreed_qty=agreed, winner_qty=w[:, -1], other_qty=o[:, -1], steered=steered)[
        signed
    ]
    out = out.astype({"agreed_qty": np.int64, "winner_qty": np.int64, "other_qty": np.int64})
    out = out.sort_values(["year", "hospital_code", "group_id"], ignore_index=True)
    out = out.rename(columns={"year": "contract_year"})
    s = out[out.steered]
    steering = pd.DataFrame(
        {
            "kind": "steering",
            "contract_year": s.contract_year.astype(str),
            "institution_code": s.hospital_code,
            "group_id": s.group_id,
            "detail": [
                f"completion {a / q:.4f} at the year's end; non-winner share {b / (a + b):.4f}"
                for a, b, q in zip(s.winner_qty, s.other_qty, s.agreed_qty, strict=True)
            ],
        }
    )
    return out.drop(columns="steered"), steering


def _write_agreements(agreements: pd.DataFrame, landing: Path) -> int:
    rows = 0
    for year, part in agreements.groupby("contract_year", sort=True):
        out = pd.DataFrame(
            {
                "record_id": _serial("V", rows, len(part), 7),
                "hospital_code": part.hospital_code,
                "group_id": part.group_id,
                "contract_year": year,
                "agreed_qty": part.agreed_qty,
                "contract_start": f"{year}-01-01",
                "contract_end": f"{year}-12-31",
            }
        )
        rows += len(out)
        feeds.write_csv(out, landing / f"vbp_agreements/{year}-01-05/vbp_agreements_{year}.csv")
    return rows


def _landed(month: str) -> str:
    """A month's file lands on the 3rd of the next month."""
    return ((pd.Period(month, "M") + 1).to_timestamp() + pd.Timedelta(days=2)).strftime("%Y-%m-%d")


def _stamp(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = as_text(out[column])
    return out


class _Flow:
    """Orders, deliveries and payments a month at a time; serials run on across files, and
    payments wait until their month is complete."""

    def __init__(
        self,
        plan: DrugPlan,
        rng: np.random.Generator,
        landing: Path,
        log: DefectLog,
        rate: float,
        n_cells: int,
    ) -> None:
        self.plan, self.rng, self.landing, self.log, self.rate = plan, rng, landing, log, rate
        self.n_cells = n_cells
        self.next = dict.fromkeys(("O", "PO", "D", "DL", "P", "PY"), 0)
        self.pending: dict[str, list[pd.DataFrame]] = {}
        self.truth: list[pd.DataFrame] = []
        self.order_ids: list[pd.DataFrame] = []
        self.counts: dict[str, int] = {}
        hospitals = plan.hospitals.index.to_numpy()
        n = int(np.clip(6 + len(hospitals) // 40, 6, 12))
        self.distributors = np.char.add(
            "PS", np.sort(rng.choice(9000, n, replace=False) + 1000).astype("U4")
        )
        self.uses = np.argsort(rng.random((len(hospitals), n)), axis=1)[:, :3]
        self.n_uses = rng.integers(1, 4, len(hospitals))
        known = set(plan.products.product_code)
        guess = rng.choice(plan.products.product_code.to_numpy(), 40)
        digits = _digits(rng.integers(0, 10_000, 40), 4)
        unknown = [c[:-4] + d for c, d in zip(guess, digits, strict=True)]
        self.unknown = np.array(sorted({c for c in unknown if c not in known}))

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + int(n)

    def _serial(self, prefix: str, n: int, width: int) -> np.ndarray:
        """The next ``n`` serials: record ids from 0, the platform's own ids from 1."""
        out = _serial(prefix, self.next[prefix] + (len(prefix) == 2), n, width)
        self.next[prefix] += n
        return out

    def allot(self, cells_per_month: np.ndarray, months: list[str]) -> None:
        """How many of each mess and planted payment kind each month carries."""
        n, rng = self.n_cells, self.rng
        kinds = [k for k in MESS if k not in ("box_quantity", "non_positive_quantity")]
        self.allotted = {
            k: _spread(_mess_count(MESS[k], self.rate, n, n), cells_per_month, rng) for k in kinds
        }
        bad = _mess_count(MESS["non_positive_quantity"], self.rate, n, n)
        self.allotted["non_positive_order"] = _spread(bad - bad // 2, cells_per_month, rng)
        self.allotted["non_positive_delivery"] = _spread(bad // 2, cells_per_month, rng)
        self.allotted["payment_late"] = _spread(
            _pick_count(round(1.2 * n), "payment_late"), cells_per_month, rng
        )
        # A missing payment is plain only well before the data's end.
        early = cells_per_month * (np.arange(len(months)) < len(months) - 4)
        self.allotted["payment_missing"] = _spread(
            _pick_count(round(1.2 * n), "payment_missing"), early, rng
        )
        self.index = {m: i for i, m in enumerate(months)}

    def _take(self, kind: str, month: str, pool: np.ndarray) -> np.ndarray:
        k = min(len(pool), int(self.allotted[kind][self.index[month]]))
        return np.sort(self.rng.choice(pool, k, replace=False))

    def _times(self, days: np.ndarray, n: int) -> np.ndarray:
        seconds = self.rng.integers(*OFFICE, n)
        return (days + (seconds * 1_000_000_000).astype("timedelta64[ns]")).astype("datetime64[ns]")

    def month(self, month: str, cells: pd.DataFrame) -> None:
        start = np.datetime64(f"{month}-01", "D")
        dim = pd.Period(month, "M").days_in_month
        orders = self._orders(month, cells, start, dim)
        deliveries = self._deliveries(month, orders)
        self._payments(month, deliveries)
        self.flush(month)

    def _orders(self, month: str, cells: pd.DataFrame, start, dim: int) -> pd.DataFrame:
        rng = self.rng
        c = cells.reset_index(names="cell")
        qty = np.where(c.box, c.units // c.pack_size, c.units)
        split = (rng.random(len(c)) < SPLIT_ORDER) & (qty >= 2)
        first = np.where(split, np.maximum(1, np.floor(qty * rng.uniform(0.3, 0.7, len(c)))), qty)
        lines = c.loc[c.index.repeat(1 + split)].reset_index(drop=True)
        second = lines.cell.eq(lines.cell.shift()).to_numpy()
        qty, first = np.repeat(qty, 1 + split), np.repeat(first, 1 + split).astype(np.int64)
        lines["qty"] = np.where(second, qty - first, first)
        lines["unit"] = np.where(lines.box, BOX, lines.smallest_unit_zh)
        lines["unit_price_e4"] = lines.price_e4 * np.where(lines.box, lines.pack_size, 1)
        h = self.plan.hospitals.reindex(lines.hospital_code).to_numpy()
        pick = np.floor(rng.random(len(lines)) * self.n_uses[h]).astype(int)
        lines["distributor_code"] = self.distributors[self.uses[h, pick]]
        day = start + rng.integers(0, dim - 8, len(lines)).astype("timedelta64[D]")
        lines["ordered_at"] = self._times(day, len(lines))
        lines["mess"] = np.where(lines.box, "box_quantity", "")
        clean = np.flatnonzero((lines.mess == "").to_numpy() & (lines.kind == "").to_numpy())
        extra = []
        for kind in ("non_positive_order", "unknown_product"):
            rows = lines.iloc[self._take(kind, month, clean)].copy()
            rows["cell"] = -1
            rows["mess"] = kind.replace("_order", "_quantity")
            day = start + rng.integers(0, dim, len(rows)).astype("timedelta64[D]")
            rows["ordered_at"] = self._times(day, len(rows))
            if kind == "unknown_product":
                rows["product_code"] = rng.choice(self.unknown, len(rows))
            else:
                rows["qty"] = np.where(rng.random(len(rows)) < 0.5, 0, -rows.qty)
            extra.append(rows)
        orders = pd.concat([lines, *extra], ignore_index=True)
        orders = orders.sort_values(
            ["ordered_at", "hospital_code", "product_code"], kind="stable", ignore_index=True
        )
        orders["record_id"] = self._serial("O", len(orders), 8)
        orders["order_id"] = self._serial("PO", len(orders), 10)
        real = orders[orders.cell >= 0]
        self.order_ids.append(real[["cell", "order_id"]])
        self._count("order_lines", len(orders))
        pool = np.flatnonzero(((orders.mess == "") & (orders.kind == "")).to_numpy())
        twice = self._take("duplicate_submission", month, pool)
        orders["resent"] = False
        orders.loc[twice, "resent"] = True
        out = orders.loc[orders.index.repeat(np.where(orders.resent, 2, 1))]
        out = out.reset_index(drop=True)
        out.loc[out.record_id.eq(out.record_id.shift()), "mess"] = "duplicate_submission"
        out["unit_price"] = _money(out.unit_price_e4.to_numpy())
        rel = f"procurement_orders/{_landed(month)}/procurement_orders_{month.replace('-', '')}.csv"
        self._land("procurement_orders", rel, _stamp(out, ["ordered_at"]))
        return orders

    def _land(self, source: str, rel: str, frame: pd.DataFrame) -> None:
        """Write one month's file of ``source`` and log its spoiled lines."""
        for line in np.flatnonzero((frame.mess != "").to_numpy()):
            self.log.add(
                source, frame.record_id.iat[line], rel, int(line) + 2, frame.mess.iat[line]
            )
            self._count(frame.mess.iat[line])
        feeds.write_csv(frame[COLUMNS[source].split()], self.landing / rel)
        self._count(f"{source}_files")

    def _deliveries(self, month: str, orders: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        real = orders[orders.cell >= 0].reset_index(drop=True)
        n = len(real)
        split = (rng.random(n) < SPLIT_DELIVERY) & (real.qty.to_numpy() >= 2)
        lag = np.where(split, rng.integers(1, 5, n), rng.integers(1, 6, n))
        first = np.where(
            split, np.maximum(1, np.floor(real.qty * rng.uniform(0.4, 0.8, n))), real.qty
        ).astype(np.int64)
        d = real.loc[real.index.repeat(1 + split)].reset_index(drop=True)
        second = d.order_id.eq(d.order_id.shift()).to_numpy()
        first, lag = np.repeat(first, 1 + split), np.repeat(lag, 1 + split)
        d["qty"] = np.where(second, d.qty - first, first)
        day = d.ordered_at.to_numpy().astype("datetime64[D]")
        d["delivered_at"] = self._times(day + (lag + second).astype("timedelta64[D]"), len(d))
        after = rng.integers(0, 3, len(d)) * 86400 + rng.integers(600, 7200, len(d))
        d["accepted_at"] = d.delivered_at + pd.to_timedelta(after, unit="s")
        clean = np.flatnonzero(((d.mess == "") & (d.kind == "") & ~d.resent).to_numpy())
        extra = []
        for kind in ("delivery_without_order", "non_positive_delivery"):
            rows = d.iloc[self._take(kind, month, clean)].copy()
            rows["cell"] = -1
            rows["mess"] = kind.replace("_delivery", "_quantity")
            if kind == "delivery_without_order":
                rows["order_id"] = np.char.add("PO9", _digits(rng.integers(0, 10**9, len(rows)), 9))
            else:
                rows["qty"] = np.where(rng.random(len(rows)) < 0.5, 0, -rows.qty)
            extra.append(rows)
        d = pd.concat([d, *extra], ignore_index=True)
        d = d.sort_values(["accepted_at", "order_id"], kind="stable", ignore_index=True)
        d["record_id"] = self._serial("D", len(d), 8)
        d["delivery_id"] = self._serial("DL", len(d), 10)
        self._count("deliveries", len(d))
        rel = f"deliveries/{_landed(month)}/deliveries_{month.replace('-', '')}.csv"
        self._land("deliveries", rel, _stamp(d, ["delivered_at", "accepted_at"]))
        return d

    def _payments(self, month: str, d: pd.DataFrame) -> None:
        rng = self.rng
        real = d[d.cell >= 0].reset_index(drop=True)
        n = len(real)
        amount = (real.qty.to_numpy() * real.unit_price_e4.to_numpy() + 50) // 100
        pool = np.flatnonzero(((real.mess == "") & (real.kind == "") & ~real.resent).to_numpy())
        late = self._take("payment_late", month, pool)
        missing = self._take("payment_missing", month, np.setdiff1d(pool, late))
        over = self._take(
            "payment_exceeds_delivery", month, np.setdiff1d(pool, np.concatenate([late, missing]))
        )
        days = rng.integers(PAY_DAYS[0], PAY_DAYS[1] + 1, n)
        days[late] = rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, len(late))
        days[over] = rng.integers(PAY_DAYS[0] + 5, PAY_DAYS[1] + 1, len(over))
        accepted = real.accepted_at.to_numpy().astype("datetime64[D]")
        payer = np.where(rng.random(n) < FUND_PAYS, "fund", "hospital")
        pay = pd.DataFrame(
            {
                "delivery_id": real.delivery_id,
                "amount_fen": amount,
                "paid_at": self._times(accepted + days.astype("timedelta64[D]"), n),
                "payer": payer,
                "mess": "",
            }
        )
        wrong = pay.iloc[over].copy()
        wrong["amount_fen"] += np.maximum(
            1, np.round(wrong.amount_fen * rng.uniform(0.2, 1.0, len(over)))
        )
        early = rng.integers(PAY_DAYS[0], days[over])
        wrong["paid_at"] = self._times(accepted[over] + early.astype("timedelta64[D]"), len(over))
        wrong["mess"] = "payment_exceeds_delivery"
        pay = pd.concat([pay.drop(index=missing), wrong], ignore_index=True)
        for paid, part in pay.groupby(as_text(pay.paid_at, "M")):
            self.pending.setdefault(paid, []).append(part)
        for kind, rows in (("payment_late", late), ("payment_missing", missing)):
            r = real.iloc[rows]
            detail = (
                [
                    f"paid {k} days after acceptance, by the {p}"
                    for k, p in zip(days[rows], payer[rows], strict=True)
                ]
                if kind == "payment_late"
                else [f"never paid: {a / 100:.2f} yuan due" for a in amount[rows]]
            )
            self.truth.append(
                pd.DataFrame(
                    {
                        "kind": kind,
                        "month": month,
                        "institution_code": r.hospital_code,
                        "group_id": r.group_id,
                        "product_code": r.product_code,
                        "order_id": r.order_id,
                        "delivery_id": r.delivery_id,
                        "distributor_code": r.distributor_code,
                        "detail": detail,
                    }
                )
            )

    def flush(self, upto: str | None) -> None:
        """Write the payments of every complete month (all of them when ``upto`` is None)."""
        for paid in sorted(m for m in self.pending if upto is None or m <= upto):
            pay = pd.concat(self.pending.pop(paid), ignore_index=True)
            pay = pay.sort_values(["paid_at", "delivery_id"], kind="stable", ignore_index=True)
            pay["record_id"] = self._serial("P", len(pay), 8)
            pay["payment_id"] = self._serial("PY", len(pay), 10)
            pay["amount"] = _money(pay.amount_fen.to_numpy(), 2)
            self._count("payments", len(pay))
            name = f"distributor_payments_{paid.replace('-', '')}.csv"
            rel = f"distributor_payments/{_landed(paid)}/{name}"
            self._land("distributor_payments", rel, _stamp(pay, ["paid_at"]))


def _price_truth(cells: pd.DataFrame, order_ids: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per planted price: the hospital, product and month, and its order lines."""
    planted = cells[cells.kind != ""]
    ids = (
        pd.concat(order_ids, ignore_index=True)
        if order_ids
        else pd.DataFrame(columns=["cell", "order_id"])
    )
    joined = ids[ids.cell.isin(planted.index)].groupby("cell").order_id.agg(";".join)
    ratio = planted.price_e4 / planted.light_e4
    against = np.where(planted.is_winner, "winning", "reference")
    return pd.DataFrame(
        {
            "kind": planted.kind,
            "month": planted.month,
            "institution_code": planted.hospital_code,
            "group_id": planted.group_id,
            "product_code": planted.product_code,
            "order_id": joined.reindex(planted.index).fillna(""),
            "detail": [
                f"ratio {r:.4f}: {p} per smallest unit against the {a} price {q}"
                for r, p, a, q in zip(
                    ratio, _money(planted.price_e4), against, _money(planted.light_e4), strict=True
                )
            ],
        }
    )


def _shop_truth(plan: DrugPlan, sales: pd.DataFrame | None) -> pd.DataFrame:
    """The shops' red months (those sold in, when the sales are given), with the ratio."""
    reds = plan.shop_reds.copy()
    light = plan.products.light_e4.reindex(reds.product_code).to_numpy()
    if sales is not None:
        sold = sales.groupby(["institution_code", "month", "product_code"])[
            ["qty", "amount_fen"]
        ].sum()
        got = sold.reindex(
            pd.MultiIndex.from_frame(reds[["institution_code", "month", "product_code"]])
        )
        reds = reds[got.qty.fillna(0).to_numpy() > 0]
        light = light[got.qty.fillna(0).to_numpy() > 0]
        got = got[got.qty.fillna(0) > 0]
        reds["factor"] = (got.amount_fen.to_numpy() * 100 / got.qty.to_numpy()) / light
    return pd.DataFrame(
        {
            "kind": "pharmacy_price_red",
            "month": reds.month,
            "institution_code": reds.institution_code,
            "group_id": plan.products.group_id.reindex(reds.product_code).to_numpy(),
            "product_code": reds.product_code,
            "detail": [f"ratio {r:.4f}" for r in reds.factor],
        }
    )
