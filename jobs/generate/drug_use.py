"""Which drug a fee line or a pharmacy sale is, and how much of it (SPEC 10).

The procurement wing's drugs are the national VBP groups of ``jobs/reference``
(``vbp_drug_groups.csv``, ``vbp_products.csv``). A :class:`DrugPlan`, drawn once per
city from the procurement part's own generator, says which groups each hospital
uses, its product mix in each (winners for most of the volume; the planted steering
hospitals buy non-winners for most of some groups), what it pays, and which shops
overcharge for which product in which month.

Fee details and pharmacy sales then ask the plan, line by line, through pure
functions: a line's drug follows from a stable hash of the line itself, so they draw
nothing from any random stream, and the same line always gets the same drug, in
whatever chunk it comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.generate.knobs import Knobs
from jobs.generate.world import World

REFERENCE = Path(__file__).parents[1] / "reference"
HASH_KEY = "diplake-drugs-16"  # pandas' siphash key: 16 characters

# Share of the groups a hospital of each level uses (at least MIN_GROUPS of them).
GROUP_USE = {3: 0.9, 2: 0.6, 1: 0.35}
MIN_GROUPS = 5
WINNER_SHARE = (0.87, 0.95)  # of a clean hospital's volume of a group
STEERED_WINNER_SHARE = (0.08, 0.16)  # a steering hospital's, in its steered groups
STEERING_SHARE = 0.04  # of hospitals (at least MIN_STEERING), among the bigger ones
MIN_STEERING = 2
STEERED_GROUPS = 3  # per steering hospital: its heaviest groups that have non-winners
SHOP_WINNER_SHARE = 0.6  # of a group's retail volume
SHOP_RED_SHARE = 0.1  # of shops (at least MIN_SHOP_REDS), each overcharging in two months
MIN_SHOP_REDS = 3
SHOP_RED_FACTOR = (1.45, 2.4)  # × the light's reference: red (SPEC 10.4: above 1.30)
SHOP_RED_ROWS = 0.3  # of the shop's lines in the month that sell the overcharged product
NOT_RETAIL = "注射|吸入|滴眼|栓"  # dosage forms a shop does not sell


@dataclass(frozen=True)
class DrugPlan:
    """What each hospital and shop buys and sells, and at which price."""

    products: pd.DataFrame  # product_code (index), group fields, prices in 1/10,000 yuan
    hospitals: pd.Series  # hospital_code -> its number in the tables below
    hospital_groups: pd.DataFrame  # hospital_code, group_id, weight, start
    mix: pd.DataFrame  # pair, hospital_code, group_id, product_code, share, price_e4, start
    steering: pd.DataFrame  # hospital_code, group_id
    shop_products: pd.DataFrame  # product_code, start
    shop_reds: pd.DataFrame  # institution_code, month (YYYY-MM), product_code, factor
    salt: int


def load_reference(root: Path = REFERENCE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The VBP groups and products, as text."""
    read = {"dtype": str, "keep_default_na": False}
    return (
        pd.read_csv(root / "vbp_drug_groups.csv", **read),
        pd.read_csv(root / "vbp_products.csv", **read),
    )


def e4(text: pd.Series) -> np.ndarray:
    """Yuan text (4 dp at most) as integer 1/10,000 yuan; empty -> 0."""
    value = pd.to_numeric(pd.Series(text).replace("", "0"), errors="raise").to_numpy(float)
    return np.round(value * 10_000).astype(np.int64)


def _true(flags: pd.Series) -> pd.Series:
    return flags.astype(str).str.strip().str.lower().isin({"1", "true"})


def clean_price(table: pd.DataFrame, u: np.ndarray) -> np.ndarray:
    """A clean price per smallest unit, 1/10,000 yuan: a winner's is its winning price; a
    generic's is 0.95–1.00 of its list price, kept within 0.95–1.05 of the reference."""
    ref = table.reference_e4.to_numpy()
    near_list = np.round(table.list_e4.to_numpy() * (0.95 + 0.05 * u))
    other = np.clip(near_list, np.ceil(ref * 0.95), np.floor(ref * 1.05))
    return np.where(table.is_winner, table.winning_e4, other).astype(np.int64)


def product_table(groups: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """One row per product with its group's fields; prices in 1/10,000 yuan; ``light_e4``
    is the price lights' reference (SPEC 10.4: the winning price of a winner, else the
    group's reference price)."""
    g = groups.drop(columns=[c for c in ("pack_sizes",) if c in groups])
    out = products.merge(g, on="group_id", how="left", validate="many_to_one")
    out["pack_size"] = out.pack_size.astype(int)
    out["is_winner"] = _true(out.is_winner)
    out["winning_e4"] = np.where(out.is_winner, e4(out.winning_price), 0)
    out["reference_e4"] = e4(out.reference_price)
    out["light_e4"] = np.where(out.is_winner, out.winning_e4, out.reference_e4)
    out["list_e4"] = e4(out.list_price)
    # An originator lists at 1.5–4 × the reference: bought at that, every line would be a red
    # light nobody planted. The city buys and sells the winners and the other generics.
    out["bought"] = out.is_winner | ~_true(out.is_originator)
    out["ddd_units"] = pd.to_numeric(out.ddd_units).astype(float)
    out["item_name"] = out.generic_name_zh + " " + out.strength
    out["retail"] = ~out.dosage_form_zh.str.contains(NOT_RETAIL)
    return out.sort_values("product_code").set_index("product_code", drop=False)


def build_plan(
    world: World,
    knobs: Knobs,
    groups: pd.DataFrame,
    products: pd.DataFrame,
    rng: np.random.Generator,
) -> DrugPlan:
    """Draw the city's drug plan (the procurement part's own generator)."""
    table = product_table(groups, products)
    bought = table[table.bought]
    inst = world.institutions
    hosp = inst[inst.type == "hospital"].sort_values("institution_code", ignore_index=True)
    group_ids = np.sort(bought.group_id.unique())
    popularity = rng.lognormal(0.0, 0.8, len(group_ids))
    rows = []
    for h in hosp.itertuples():
        k = min(len(group_ids), max(MIN_GROUPS, round(GROUP_USE[h.level] * len(group_ids))))
        used = np.sort(
            rng.choice(len(group_ids), k, replace=False, p=popularity / popularity.sum())
        )
        weight = popularity[used] * rng.lognormal(0.0, 0.3, k)
        rows.append(
            pd.DataFrame(
                {"hospital_code": h.institution_code, "group_id": group_ids[used], "weight": weight}
            )
        )
    pairs = pd.concat(rows, ignore_index=True)
    number = pd.Series(np.arange(len(hosp)), index=hosp.institution_code.to_numpy())
    pairs["start"] = _starts(number[pairs.hospital_code].to_numpy(), pairs.weight.to_numpy())
    steering = _steering(hosp, pairs, bought, rng)
    mix = _mix_of(pairs, bought, steering, rng)
    shops = inst.institution_code[inst.type.isin(["pharmacy", "clinic"])].sort_values()
    retail = bought[bought.retail]
    pop = pd.Series(popularity, index=group_ids)[retail.group_id].to_numpy()
    winners = retail.groupby("group_id").is_winner.transform("sum").to_numpy()
    others = retail.groupby("group_id").is_winner.transform("size").to_numpy() - winners
    share = np.where(
        retail.is_winner,
        np.where(others > 0, SHOP_WINNER_SHARE, 1.0) / np.maximum(winners, 1),
        np.where(winners > 0, 1 - SHOP_WINNER_SHARE, 1.0) / np.maximum(others, 1),
    )
    shop_products = pd.DataFrame({"product_code": retail.product_code.to_numpy()})
    shop_products["start"] = _starts(np.zeros(len(retail), int), pop * share)
    years = knobs.year_list[-knobs.fee_detail_years :]
    return DrugPlan(
        products=table,
        hospitals=number,
        hospital_groups=pairs,
        mix=mix,
        steering=steering,
        shop_products=shop_products,
        shop_reds=_shop_reds(shops.to_numpy(), retail.product_code.to_numpy(), years, rng),
        salt=int(rng.integers(2**62)),
    )


def _starts(block: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Where each row's slice of [block, block + 1) begins, slices as wide as the rows'
    weights within their block (rows sorted by block)."""
    w = pd.Series(weight, dtype=float)
    before = w.groupby(block).cumsum() - w
    return block + (before / w.groupby(block).transform("sum")).to_numpy()


def _steering(
    hosp: pd.DataFrame, pairs: pd.DataFrame, table: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Hospitals that steer: among the bigger half, each with its heaviest groups that have
    both winners and non-winners."""
    n = min(len(hosp), max(MIN_STEERING, round(STEERING_SHARE * len(hosp))))
    big = hosp[hosp["size"] >= hosp["size"].median()]
    pick = rng.choice(big.institution_code.to_numpy(), min(n, len(big)), replace=False)
    both = table.groupby("group_id").is_winner.agg(["any", "all"])
    mixed = set(both.index[both["any"] & ~both["all"]])
    cand = pairs[pairs.hospital_code.isin(pick) & pairs.group_id.isin(mixed)]
    top = cand.sort_values(["hospital_code", "weight"], ascending=[True, False])
    top = top.groupby("hospital_code").head(STEERED_GROUPS)
    return top[["hospital_code", "group_id"]].sort_values(
        ["hospital_code", "group_id"], ignore_index=True
    )


def _mix_of(
    pairs: pd.DataFrame, table: pd.DataFrame, steering: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Each hospital × group: every winner and one or two non-winners, their shares of the
    volume, the price paid and each product's slice of the lines (share × price: a line's
    amount buys fewer units of a dearer product)."""
    pairs = pairs.reset_index(drop=True).assign(pair=lambda f: np.arange(len(f)))
    cand = (
        pairs[["pair", "hospital_code", "group_id"]]
        .merge(
            table[
                ["group_id", "product_code", "is_winner", "winning_e4", "reference_e4", "list_e4"]
            ],
            on="group_id",
        )
        .sort_values(["pair", "product_code"], ignore_index=True)
    )
    order = rng.random(len(cand))
    keep_n = rng.integers(1, 3, len(pairs))[cand.pair]
    rank = pd.Series(np.where(cand.is_winner, -1.0, order)).groupby(cand.pair).rank(method="first")
    n_win = cand.groupby("pair").is_winner.transform("sum").to_numpy()
    cand = cand[cand.is_winner | (rank.to_numpy() - n_win <= keep_n)].reset_index(drop=True)
    steered = pd.MultiIndex.from_frame(cand[["hospital_code", "group_id"]]).isin(
        pd.MultiIndex.from_frame(steering)
    )
    low, high = (
        np.where(steered, STEERED_WINNER_SHARE[0], WINNER_SHARE[0]),
        np.where(steered, STEERED_WINNER_SHARE[1], WINNER_SHARE[1]),
    )
    winner_share = rng.uniform(0, 1, len(pairs))[cand.pair] * (high - low) + low
    wins = cand.groupby("pair").is_winner.transform("sum").to_numpy()
    others = cand.groupby("pair").is_winner.transform("size").to_numpy() - wins
    winner_share = np.where(others == 0, 1.0, np.where(wins == 0, 0.0, winner_share))
    spread = rng.uniform(0.5, 1.5, len(cand))
    spread_sum = pd.Series(np.where(cand.is_winner, 0, spread)).groupby(cand.pair).transform("sum")
    cand["share"] = np.where(
        cand.is_winner,
        winner_share / np.maximum(wins, 1),
        (1 - winner_share) * spread / np.maximum(spread_sum.to_numpy(), 1e-12),
    )
    cand["price_e4"] = clean_price(cand, rng.random(len(cand)))
    cand = cand[cand.share > 0].reset_index(drop=True)
    cand["start"] = _starts(cand.pair.to_numpy(), cand.share * cand.price_e4)
    return cand[["pair", "hospital_code", "group_id", "product_code", "share", "price_e4", "start"]]


def _shop_reds(
    shops: np.ndarray, retail: np.ndarray, years: list[int], rng: np.random.Generator
) -> pd.DataFrame:
    """Shops that overcharge: each one product in two months of the fee-detail years."""
    n = min(len(shops), max(MIN_SHOP_REDS, round(SHOP_RED_SHARE * len(shops))))
    months = pd.period_range(f"{years[0]}-01", f"{years[-1]}-12", freq="M").strftime("%Y-%m")
    rows = []
    for shop in np.sort(rng.choice(shops, n, replace=False)):
        product = rng.choice(retail)
        for month in np.sort(rng.choice(months, min(2, len(months)), replace=False)):
            rows.append((shop, month, product, rng.uniform(*SHOP_RED_FACTOR)))
    return pd.DataFrame(rows, columns=["institution_code", "month", "product_code", "factor"])


# --- Pure, line by line --------------------------------------------------------------


def as_text(when: pd.Series | np.ndarray, unit: str = "s") -> np.ndarray:
    """Datetimes as ``YYYY-MM-DD HH:MM:SS`` (unit ``s``), ``YYYY-MM-DD`` (``D``) or
    ``YYYY-MM`` (``M``): numpy's formatting, many times faster than strftime."""
    values = pd.to_datetime(pd.Series(when)).to_numpy().astype(f"datetime64[{unit}]")
    return np.char.replace(np.datetime_as_string(values, unit=unit), "T", " ")


def _text(column: pd.Series) -> np.ndarray:
    """A key column as text, datetimes in one canonical form."""
    column = pd.Series(column)
    if pd.api.types.is_datetime64_any_dtype(column):
        return as_text(column).astype(object)
    return column.astype(str).to_numpy(dtype=object)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def line_hash(columns: list, salt: int) -> np.ndarray:
    """A stable 64-bit hash of each row of ``columns`` (the same text, the same hash)."""
    h = np.full(len(columns[0]), np.uint64(salt), dtype=np.uint64)
    for column in columns:
        h = _mix64(h ^ pd.util.hash_array(_text(column), hash_key=HASH_KEY))
    return h


def uniform(h: np.ndarray, draw: int = 0) -> np.ndarray:
    """The ``draw``-th number in [0, 1) of each hash."""
    return (_mix64(h ^ np.uint64(draw)) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _pick(starts: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.searchsorted(starts, target, side="right") - 1


def fee_drug_items(rows: pd.DataFrame, plan: DrugPlan) -> pd.DataFrame:
    """The drug of each fee-detail drug line: ``item_code`` (the product code), ``item_name``
    (generic name and strength), ``quantity`` (smallest units, at least 1: the amount over
    the hospital's purchase price, rounded half up). Index as ``rows``.

    ``rows``: ``case_id, hospital_code, fee_date, amount_fen`` and ``row_in_case`` (the
    line's number among its case's drug lines; when absent, counted in the rows' order).
    The group is the hospital's, by a hash of case, day and number; the product, by the
    hospital's mix of the group."""
    number = rows["row_in_case"] if "row_in_case" in rows else rows.groupby("case_id").cumcount()
    fee_date = as_text(rows.fee_date, "D")
    h = line_hash([rows.case_id, fee_date, number], plan.salt)
    block = plan.hospitals.reindex(rows.hospital_code).to_numpy()
    if np.isnan(block.astype(float)).any():
        raise ValueError("fee rows of an institution that is not a hospital of the plan")
    pair = _pick(plan.hospital_groups.start.to_numpy(), block + uniform(h, 1))
    line = _pick(plan.mix.start.to_numpy(), pair + uniform(h, 2))
    product = plan.mix.product_code.to_numpy()[line]
    price = plan.mix.price_e4.to_numpy()[line]
    amount = rows.amount_fen.to_numpy(np.int64)
    quantity = np.maximum(1, (200 * amount + price) // (2 * price))
    return pd.DataFrame(
        {
            "item_code": product,
            "item_name": plan.products.item_name.reindex(product).to_numpy(),
            "quantity": quantity,
        },
        index=rows.index,
    )


def monthly_use(rows: pd.DataFrame) -> pd.DataFrame:
    """``month`` (YYYY-MM), ``hospital_code``, ``product_code``, ``qty``: the smallest units
    of each product a hospital's fee lines used in a month (rows: ``hospital_code,
    fee_date, item_code, quantity``)."""
    month = pd.Series(as_text(rows.fee_date, "M"), index=rows.index)
    out = rows.groupby(
        [month.rename("month"), rows.hospital_code, rows.item_code.rename("product_code")]
    ).quantity.sum()
    return out.rename("qty").astype(np.int64).reset_index()


def pharmacy_items(sales: pd.DataFrame, plan: DrugPlan) -> pd.DataFrame:
    """The drug of each pharmacy or clinic sale: ``product_code``, ``quantity`` (smallest
    units: whole packs covering ``days_supply`` days at the group's daily units) and
    ``amount_fen`` (quantity × the shop's price, the fraction of a fen dropped, so that a
    winner never comes out above its winning price). Index as ``sales``.

    ``sales``: ``institution_code, id_no, txn_time, days_supply``. A shop's price is the
    winning price of a winner, 0.95–1.00 of the list price of another generic (within
    0.95–1.05 of the reference); in the plan's red months about a third of the planted
    shop's lines sell its product, which it sells that month at 1.45–2.4 × the reference
    (the winning price of a winner)."""
    when = pd.to_datetime(sales.txn_time)
    h = line_hash([sales.institution_code, sales.id_no, when], plan.salt)
    shop_starts = plan.shop_products.start.to_numpy()
    product = plan.shop_products.product_code.to_numpy()[_pick(shop_starts, uniform(h, 3))]
    reds = plan.shop_reds.set_index(["institution_code", "month"])
    at = pd.MultiIndex.from_arrays([sales.institution_code, as_text(when, "M")])
    hit = reds.reindex(at)
    planted = hit.product_code.to_numpy()
    forced = hit.product_code.notna().to_numpy() & (uniform(h, 4) < SHOP_RED_ROWS)
    product = np.where(forced, planted, product)
    # The shop's price of the month for the product, whichever line sells it.
    red = product == planted
    p = plan.products.reindex(product)
    clean = clean_price(p, uniform(line_hash([sales.institution_code, product], plan.salt), 5))
    price = np.where(red, np.round(p.light_e4.to_numpy() * hit.factor.to_numpy()), clean)
    pack = p.pack_size.to_numpy()
    days = pd.to_numeric(sales.days_supply).to_numpy(float)
    packs = np.maximum(1, np.ceil(days * p.ddd_units.to_numpy() / pack - 1e-9)).astype(np.int64)
    quantity = packs * pack
    return pd.DataFrame(
        {
            "product_code": product,
            "quantity": quantity,
            "amount_fen": (quantity * price.astype(np.int64)) // 100,
        },
        index=sales.index,
    )


def monthly_sales(sales: pd.DataFrame) -> pd.DataFrame:
    """``month, institution_code, product_code, qty, amount_fen`` of sales (rows:
    ``institution_code, txn_time, product_code, quantity, amount_fen``)."""
    month = pd.Series(as_text(sales.txn_time, "M"), index=sales.index, name="month")
    out = sales.groupby([month, sales.institution_code, sales.product_code])[
        ["quantity", "amount_fen"]
    ].sum()
    return out.rename(columns={"quantity": "qty"}).astype(np.int64).reset_index()
