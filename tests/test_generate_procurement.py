"""The procurement wing's generated sources (SPEC 10): the drugs of fee lines and pharmacy
sales, the five landed feeds, their planted anomalies and their mess. No Spark.

Every landed property is checked against what the feeds themselves say, read back from
the files, with the SPEC's rules written out here: never by asking the generator again.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs import vocab
from jobs.generate import clinical, discharges, drug_use, feeds, mess, procurement, world
from jobs.generate.knobs import preset

PROJECT_REFERENCE = drug_use.REFERENCE / "vbp_products.csv"
SOURCES = (
    "drug_catalogue",
    "vbp_agreements",
    "procurement_orders",
    "deliveries",
    "distributor_payments",
)
HEADERS = {
    "drug_catalogue": "record_id,product_code,generic_name,dosage_form,strength,pack_size,"
    "smallest_unit,manufacturer,group_id,vbp_batch,is_winner,winning_price,reference_price,"
    "valid_from,valid_to",
    "vbp_agreements": "record_id,hospital_code,group_id,contract_year,agreed_qty,"
    "contract_start,contract_end",
    "procurement_orders": "record_id,order_id,hospital_code,product_code,distributor_code,qty,"
    "unit,unit_price,ordered_at",
    "deliveries": "record_id,delivery_id,order_id,qty,unit,delivered_at,accepted_at",
    "distributor_payments": "record_id,payment_id,delivery_id,amount,paid_at,payer",
}
IDS = {
    "drug_catalogue": {"record_id": r"K\d{7}"},
    "vbp_agreements": {"record_id": r"V\d{7}"},
    "procurement_orders": {
        "record_id": r"O\d{8}",
        "order_id": r"PO\d{10}",
        "distributor_code": r"PS\d{4}",
    },
    "deliveries": {"record_id": r"D\d{8}", "delivery_id": r"DL\d{10}", "order_id": r"PO\d{10}"},
    "distributor_payments": {"record_id": r"P\d{8}", "payment_id": r"PY\d{10}"},
}


# --- A reference of our own: four groups written out -----------------------------------

GROUPS = pd.DataFrame(
    [
        # group, form, unit, ddd, reference
        ("G0001", "片剂", "片", "1", "0.5000"),
        ("G0002", "胶囊剂", "粒", "2", "1.2000"),
        ("G0003", "片剂", "片", "1", "0.0800"),
        ("G0004", "注射剂", "支", "1", "12.0000"),
    ],
    columns=["group_id", "dosage_form_zh", "smallest_unit_zh", "ddd_units", "reference_price"],
).assign(
    vbp_batch=["1", "2", "3", "4"],
    generic_name_zh=["甲药", "乙药", "丙药", "丁药"],
    generic_name_en=["a", "b", "c", "d"],
    dosage_form=["tablet", "capsule", "tablet", "injection"],
    dosage_form_code=["A001", "A002", "A001", "B001"],
    strength=["10mg", "20mg", "5mg", "1g"],
    atc=["C10AA", "C09AA", "B01AC", "J01DC"],
    generic_serial=["A001", "A002", "A003", "A004"],
    smallest_unit=["tablet", "capsule", "tablet", "vial"],
    pack_sizes=["7|14|28", "14|28", "28", "1|10"],
)
PRODUCTS = pd.DataFrame(
    [
        # code, group, pack, winner, winning, list, originator
        ("XC10AAA001A001000100001", "G0001", "14", "true", "0.2000", "0.2000", "false"),
        ("XC10AAA001A001000200002", "G0001", "28", "false", "", "0.5200", "false"),
        ("XC10AAA001A001000300003", "G0001", "7", "false", "", "0.5100", "false"),
        ("XC10AAA001A001000100004", "G0001", "28", "false", "", "1.5000", "true"),
        ("XC09AAA002A002000100001", "G0002", "14", "true", "0.6000", "0.6000", "false"),
        ("XC09AAA002A002000200005", "G0002", "28", "true", "0.5500", "0.5500", "false"),
        ("XC09AAA002A002000300002", "G0002", "28", "false", "", "1.2400", "false"),
        ("XB01ACA003A001000100003", "G0003", "28", "true", "0.0300", "0.0300", "false"),
        ("XB01ACA003A001000200006", "G0003", "28", "false", "", "0.0820", "false"),
        ("XJ01DCA004B001000100007", "G0004", "10", "true", "5.0000", "5.0000", "false"),
        ("XJ01DCA004B001000200008", "G0004", "1", "false", "", "12.3000", "false"),
    ],
    columns=[
        "product_code",
        "group_id",
        "pack_size",
        "is_winner",
        "winning_price",
        "list_price",
        "is_originator",
    ],
).assign(manufacturer_zh="某药业", manufacturer_code="00001")
WINNER_A, GENERIC_A, _, ORIGINATOR_A = PRODUCTS.product_code[:4]


def _hand_plan(
    mix: list[tuple[str, str, float, int]], shop_products: list[str]
) -> drug_use.DrugPlan:
    """One hospital H1 whose lines all fall in G0001, by ``mix`` (product, share, price)."""
    table = drug_use.product_table(GROUPS, PRODUCTS)
    m = pd.DataFrame(mix, columns=["product_code", "group_id", "share", "price_e4"])
    m.insert(0, "pair", 0)
    m.insert(1, "hospital_code", "H1")
    weight = m.share * m.price_e4
    m["start"] = (weight.cumsum() - weight) / weight.sum()
    return drug_use.DrugPlan(
        products=table,
        hospitals=pd.Series([0], index=["H1"]),
        hospital_groups=pd.DataFrame(
            {"hospital_code": ["H1"], "group_id": ["G0001"], "weight": [1.0], "start": [0.0]}
        ),
        mix=m,
        steering=pd.DataFrame(columns=["hospital_code", "group_id"]),
        shop_products=pd.DataFrame(
            {
                "product_code": shop_products,
                "start": np.arange(len(shop_products)) / len(shop_products),
            }
        ),
        shop_reds=pd.DataFrame(
            [("S9", "2025-03", GENERIC_A, 2.0)],
            columns=["institution_code", "month", "product_code", "factor"],
        ),
        salt=12345,
    )


# --- The pure functions ----------------------------------------------------------------


def test_a_fee_line_is_its_amount_over_the_purchase_price_in_smallest_units():
    plan = _hand_plan([(WINNER_A, "G0001", 1.0, 2000)], [WINNER_A])
    rows = pd.DataFrame(
        {
            "case_id": ["ZY1", "ZY1", "ZY2", "ZY3"],
            "hospital_code": "H1",
            "fee_date": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-02-01", "2025-02-01"]),
            # 10.00, 10.10, 0.05 and 0.11 yuan at 0.2000 a tablet
            "amount_fen": [1000, 1010, 5, 11],
        },
        index=[7, 8, 9, 10],
    )
    got = drug_use.fee_drug_items(rows, plan)
    assert got.index.tolist() == [7, 8, 9, 10]
    assert got.item_code.tolist() == [WINNER_A] * 4
    assert got.item_name.tolist() == ["甲药 10mg"] * 4
    # 50; 50.5 rounds half up to 51; 0.25 is less than one tablet: 1; 0.55 rounds to 1
    assert got.quantity.tolist() == [50, 51, 1, 1]


def test_the_fee_function_draws_nothing_and_gives_a_line_the_same_drug_in_any_chunk():
    parameters = inspect.signature(drug_use.fee_drug_items).parameters
    assert list(parameters) == ["rows", "plan"]  # no generator can reach it
    plan = _hand_plan([(WINNER_A, "G0001", 0.5, 2000), (GENERIC_A, "G0001", 0.5, 5000)], [WINNER_A])
    n = 400
    rows = pd.DataFrame(
        {
            "case_id": [f"ZY{i // 3:05d}" for i in range(n)],
            "hospital_code": "H1",
            "fee_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) % 20, "D"),
            "amount_fen": 10_000,
            "row_in_case": np.arange(n) % 3,
        }
    )
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    whole = drug_use.fee_drug_items(rows, plan)
    assert (np.random.get_state()[1] == state).all()
    backwards = rows.iloc[::-1]
    chunks = pd.concat(
        [
            drug_use.fee_drug_items(backwards.iloc[:150], plan),
            drug_use.fee_drug_items(backwards.iloc[150:], plan),
        ]
    )
    pd.testing.assert_frame_equal(chunks.sort_index(), whole)
    # Both products occur; by volume each has about half (share 0.5 each): a line's amount
    # buys 50 tablets of the winner at 0.20 and 20 of the generic at 0.50, so the generic
    # gets 0.5 × 0.5 / (0.5 × 0.2 + 0.5 × 0.5) = 5/7 of the lines.
    generic_lines = (whole.item_code == GENERIC_A).mean()
    assert 5 / 7 - 0.08 < generic_lines < 5 / 7 + 0.08
    volume = whole.groupby("item_code").quantity.sum()
    assert 0.4 < volume[WINNER_A] / volume.sum() < 0.6


def test_monthly_use_adds_up_units_by_month_hospital_and_product():
    rows = pd.DataFrame(
        {
            "hospital_code": ["H1", "H1", "H1", "H2"],
            "fee_date": pd.to_datetime(["2025-01-31", "2025-01-02", "2025-02-01", "2025-01-05"]),
            "item_code": [WINNER_A, WINNER_A, WINNER_A, GENERIC_A],
            "quantity": [5, 7, 11, 13],
        }
    )
    got = drug_use.monthly_use(rows)
    assert got.values.tolist() == [
        ["2025-01", "H1", WINNER_A, 12],
        ["2025-01", "H2", GENERIC_A, 13],
        ["2025-02", "H1", WINNER_A, 11],
    ]


def test_a_pharmacy_sale_is_whole_packs_for_its_days_at_the_shops_price():
    plan = _hand_plan([(WINNER_A, "G0001", 1.0, 2000)], [WINNER_A])
    sales = pd.DataFrame(
        {
            "institution_code": ["S1", "S1", "S2"],
            "id_no": ["a", "b", "c"],
            "txn_time": pd.to_datetime(
                ["2025-01-02 09:00:00", "2025-01-02 10:00:00", "2025-04-01 11:00:00"]
            ),
            "days_supply": [30, 7, 14],
        }
    )
    got = drug_use.pharmacy_items(sales, plan)
    assert inspect.signature(drug_use.pharmacy_items).parameters.keys() == {"sales", "plan"}
    assert got.product_code.tolist() == [WINNER_A] * 3
    # one tablet a day, packs of 14: 30 days need 3 packs, 7 days one, 14 days one
    assert got.quantity.tolist() == [42, 14, 14]
    # at the winning price 0.2000: 8.40, 2.80, 2.80 yuan
    assert got.amount_fen.tolist() == [840, 280, 280]


def test_a_planted_shop_sells_its_product_far_above_the_reference_in_its_month():
    plan = _hand_plan([(WINNER_A, "G0001", 1.0, 2000)], [WINNER_A])
    n = 300
    sales = pd.DataFrame(
        {
            "institution_code": ["S9"] * n + ["S8"] * n,
            "id_no": [f"p{i}" for i in range(2 * n)],
            "txn_time": pd.Timestamp("2025-03-05 10:00:00")
            + pd.to_timedelta(np.arange(2 * n), "min"),
            "days_supply": 28,
        }
    )
    got = drug_use.pharmacy_items(sales, plan)
    red = got[got.product_code == GENERIC_A]
    assert 0.2 * n < len(red) < 0.4 * n  # about a third of S9's lines that month
    assert set(sales.institution_code[red.index]) == {"S9"}
    # 28 tablets (one pack of 28) at 2 × the reference 0.5000: 28.00 yuan
    assert red.quantity.unique().tolist() == [28]
    assert red.amount_fen.unique().tolist() == [2800]
    assert set(got.product_code[sales.institution_code == "S8"]) == {WINNER_A}


def test_the_clean_price_of_a_generic_is_near_its_list_price_and_the_reference():
    table = drug_use.product_table(GROUPS, PRODUCTS).set_index("product_code", drop=False)
    rows = table.loc[[GENERIC_A, GENERIC_A, GENERIC_A, WINNER_A]]
    got = drug_use.clean_price(rows, np.array([0.0, 0.5, 0.999999, 0.3]))
    # list 0.5200 × 0.95 = 0.4940; × 0.975 = 0.5070; × 1.00 = 0.5200 but at most 1.05 × 0.5000
    assert got.tolist() == [4940, 5070, 5200, 2000]
    capped = drug_use.clean_price(table.loc[[GENERIC_A]].assign(list_e4=6000), np.array([0.999999]))
    assert capped.tolist() == [5250]


def test_originators_are_listed_but_never_bought_or_sold():
    knobs = preset("demo").replace(institutions=24, insured=500, seed=3)
    city = world.build_world(knobs, np.random.default_rng(3))
    plan = drug_use.build_plan(city, knobs, GROUPS, PRODUCTS, np.random.default_rng(4))
    assert ORIGINATOR_A in plan.products.index
    assert ORIGINATOR_A not in set(plan.mix.product_code)
    assert ORIGINATOR_A not in set(plan.shop_products.product_code)
    # nor injections in shops
    assert not set(plan.shop_products.product_code) & set(PRODUCTS.product_code[-2:])


def test_the_plan_is_the_same_for_the_same_seed():
    knobs = preset("demo").replace(institutions=24, insured=500, seed=3)
    city = world.build_world(knobs, np.random.default_rng(3))
    a = drug_use.build_plan(city, knobs, GROUPS, PRODUCTS, np.random.default_rng(4))
    b = drug_use.build_plan(city, knobs, GROUPS, PRODUCTS, np.random.default_rng(4))
    pd.testing.assert_frame_equal(a.mix, b.mix)
    pd.testing.assert_frame_equal(a.shop_reds, b.shop_reds)
    assert a.salt == b.salt


@pytest.mark.skipif(not PROJECT_REFERENCE.exists(), reason="reference tables not written yet")
def test_the_project_reference_reads_as_the_plan_needs_it():
    groups, products = drug_use.load_reference()
    table = drug_use.product_table(groups, products)
    assert table.product_code.str.len().eq(23).all()
    assert table.group_id.notna().all() and (table.reference_e4 > 0).all()
    winners = table[table.is_winner]
    assert (winners.winning_e4 > 0).all() and (winners.winning_e4 < winners.reference_e4).all()
    bought = table[table.bought & ~table.is_winner]
    # the generics the city buys list within 1.10 of the reference: a clean price exists
    assert (bought.list_e4 * 0.95 <= bought.reference_e4 * 1.05).all()


# --- The landed feeds --------------------------------------------------------------------


def _synthetic_city(seed: int = 11):
    """A small city whose hospitals bill drug lines every month (hand-made rows), and whose
    shops sell every month."""
    knobs = preset("demo").replace(institutions=30, insured=2_000, seed=seed)
    city = world.build_world(knobs, np.random.default_rng(seed))
    plan = drug_use.build_plan(city, knobs, GROUPS, PRODUCTS, np.random.default_rng(seed + 1))
    rng = np.random.default_rng(seed + 2)
    hosp = city.institutions[city.institutions.type == "hospital"]
    months = pd.period_range("2024-01", "2025-12", freq="M")
    uses, sales = [], []
    for period in months:
        n = (40 * hosp["size"].to_numpy()).astype(int) + 20
        code = np.repeat(hosp.institution_code.to_numpy(), n)
        rows = pd.DataFrame(
            {
                "case_id": [f"ZY{period.strftime('%Y%m')}{i:06d}" for i in range(len(code))],
                "hospital_code": code,
                "fee_date": period.to_timestamp()
                + pd.to_timedelta(rng.integers(0, period.days_in_month, len(code)), "D"),
                "amount_fen": rng.integers(2_000, 60_000, len(code)),
            }
        )
        rows[["item_code", "item_name", "quantity"]] = drug_use.fee_drug_items(rows, plan)
        uses.append(drug_use.monthly_use(rows))
        shops = city.institutions.institution_code[city.institutions.type != "hospital"]
        k = 40 * len(shops)
        s = pd.DataFrame(
            {
                "institution_code": rng.choice(shops.to_numpy(), k),
                "id_no": rng.integers(10**17, 10**18, k).astype(str),
                "txn_time": period.to_timestamp()
                + pd.to_timedelta(rng.integers(0, period.days_in_month * 86_400, k), "s"),
                "days_supply": rng.choice([7, 14, 30], k),
            }
        )
        s[["product_code", "quantity", "amount_fen"]] = drug_use.pharmacy_items(s, plan)
        sales.append(s)
    use = pd.concat(uses, ignore_index=True)
    sold = pd.concat(sales, ignore_index=True)
    return knobs, city, plan, use, sold


def _demo_city():
    """The demo city as run.py builds it, with the project's reference."""
    knobs = preset("demo")
    rng = np.random.default_rng(knobs.seed)
    city = world.build_world(knobs, rng)
    cases = discharges.build_discharges(clinical.build_model(vocab.load(), rng), city, knobs, rng)
    plan = drug_use.build_plan(city, knobs, *drug_use.load_reference(), np.random.default_rng(7))
    recent = cases[cases.year.isin(knobs.year_list[-knobs.fee_detail_years :])]
    uses, fee_rng = [], np.random.default_rng(1)
    for _, chunk in recent.groupby(recent.discharge_date.dt.to_period("M"), sort=True):
        fees = feeds.fee_details(chunk, fee_rng)
        drugs = fees[fees.category == "drugs"].copy()
        drugs[["item_code", "item_name", "quantity"]] = drug_use.fee_drug_items(drugs, plan)
        uses.append(drug_use.monthly_use(drugs))
    shops = city.institutions.institution_code[city.institutions.type != "hospital"].to_numpy()
    sales, srng = [], np.random.default_rng(2)
    per_month = int(len(city.persons) * knobs.pharmacy_per_insured / 12)
    for period in pd.period_range("2024-01", "2025-12", freq="M"):
        s = pd.DataFrame(
            {
                "institution_code": srng.choice(shops, per_month),
                "id_no": srng.choice(city.persons.id_no.to_numpy(), per_month),
                "txn_time": period.to_timestamp()
                + pd.to_timedelta(srng.integers(0, period.days_in_month * 86_400, per_month), "s"),
                "days_supply": srng.choice([7, 14, 30], per_month),
            }
        )
        s[["product_code", "quantity", "amount_fen"]] = drug_use.pharmacy_items(s, plan)
        sales.append(s)
    return (
        knobs,
        city,
        plan,
        pd.concat(uses, ignore_index=True),
        pd.concat(sales, ignore_index=True),
    )


class Landed:
    """The five feeds read back from the files, with each line's file and number."""

    def __init__(self, landing: Path, log: mess.DefectLog, use, sold, plan, counts) -> None:
        self.landing, self.use, self.sold, self.plan, self.counts = landing, use, sold, plan, counts
        self.frames = {source: self._read(source) for source in SOURCES}
        self.defects = pd.DataFrame(
            log.rows, columns=["source", "record_id", "source_file", "line", "defect", "expected"]
        )
        truth = landing / "_truth"
        self.anomalies = pd.read_csv(
            truth / "procurement_anomalies.csv", dtype=str, keep_default_na=False
        )
        self.completion = pd.read_csv(truth / "procurement_completion.csv")

    def _read(self, source: str) -> pd.DataFrame:
        frames = []
        for path in sorted((self.landing / source).rglob("*.csv")):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame["source_file"] = str(path.relative_to(self.landing))
            frame["line"] = np.arange(len(frame)) + 2
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def logged(self, source: str) -> pd.Series:
        """Each line's logged defect ('' when clean)."""
        d = self.defects[self.defects.source == source]
        defect = d.set_index(["source_file", "line"]).defect
        f = self.frames[source]
        at = pd.MultiIndex.from_frame(f[["source_file", "line"]])
        return pd.Series(defect.reindex(at).fillna("").to_numpy(), index=f.index)

    def catalogue(self) -> pd.DataFrame:
        c = self.frames["drug_catalogue"]
        return c[c.valid_from.str[:4] == c.valid_from.str[:4].max()].set_index("product_code")

    def clean_orders(self) -> pd.DataFrame:
        """Orders as the lake keeps them: duplicates and rejected lines out, boxes in units."""
        o = self.frames["procurement_orders"]
        o = o[self.logged("procurement_orders").isin(["", "box_quantity"])].copy()
        cat = self.catalogue()
        pack = cat.pack_size.astype(int).reindex(o.product_code).to_numpy()
        box = (o.unit == "盒").to_numpy()
        o["units"] = o.qty.astype(int) * np.where(box, pack, 1)
        o["price"] = [
            Decimal(p) / (k if b else 1) for p, k, b in zip(o.unit_price, pack, box, strict=True)
        ]
        o["box"] = box
        o["month"] = o.ordered_at.str[:7]
        winner = cat.is_winner.reindex(o.product_code).to_numpy() == "1"
        ref = np.where(
            winner,
            cat.winning_price.reindex(o.product_code),
            cat.reference_price.reindex(o.product_code),
        )
        o["reference"] = [Decimal(r) for r in ref]
        o["winner"] = winner
        o["group_id"] = cat.group_id.reindex(o.product_code).to_numpy()
        return o

    def clean_deliveries(self) -> pd.DataFrame:
        d = self.frames["deliveries"]
        d = d[self.logged("deliveries").isin(["", "box_quantity"])]
        o = self.clean_orders().set_index("order_id")
        d = d.join(
            o[
                [
                    "hospital_code",
                    "product_code",
                    "group_id",
                    "winner",
                    "month",
                    "units",
                    "box",
                    "unit_price",
                    "ordered_at",
                ]
            ].rename(columns={"units": "order_units"}),
            on="order_id",
        )
        cat = self.catalogue()
        pack = cat.pack_size.astype(int).reindex(d.product_code).to_numpy()
        d["units"] = d.qty.astype(int) * np.where(d.box, pack, 1)
        return d


@pytest.fixture(scope="module", params=["synthetic", "project"])
def landed(request, tmp_path_factory) -> Landed:
    if request.param == "project" and not PROJECT_REFERENCE.exists():
        pytest.skip("reference tables not written yet")
    tmp = tmp_path_factory.mktemp(request.param)
    knobs, city, plan, use, sold = (
        _synthetic_city() if request.param == "synthetic" else _demo_city()
    )
    log = mess.DefectLog()
    counts = procurement.write_procurement(
        city, knobs, plan, np.random.default_rng(21), tmp, log, use, drug_use.monthly_sales(sold)
    )
    return Landed(tmp, log, use, sold, plan, counts)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_lands_the_same_bytes(tmp_path):
    knobs, city, plan, use, sold = _synthetic_city(seed=5)
    digests = []
    for run in ("a", "b"):
        log = mess.DefectLog()
        procurement.write_procurement(
            city,
            knobs,
            plan,
            np.random.default_rng(8),
            tmp_path / run,
            log,
            use,
            drug_use.monthly_sales(sold),
        )
        (tmp_path / run / "_truth" / "defects.csv").write_text(log.to_csv())
        digests.append(_digest(tmp_path / run))
    assert digests[0] == digests[1] and len(digests[0]) > 50


def test_every_source_lands_monthly_or_yearly_with_its_header_and_serials(landed: Landed):
    for source, header in HEADERS.items():
        paths = sorted((landed.landing / source).rglob("*.csv"))
        assert paths, source
        for path in paths:
            with path.open(encoding="utf-8", newline="") as f:
                assert next(csv.reader(f)) == header.split(","), path
        f = landed.frames[source]
        for column, pattern in IDS[source].items():
            assert f[column].str.fullmatch(pattern).all(), (source, column)
        # record ids run across the files, each once but for verbatim resends
        assert f[header.split(",")].drop_duplicates().record_id.is_unique, source
    o = landed.frames["procurement_orders"]
    for path in (landed.landing / "procurement_orders").rglob("*.csv"):
        yyyymm = path.stem[-6:]
        landed_on = (pd.Period(f"{yyyymm[:4]}-{yyyymm[4:]}", "M") + 1).to_timestamp()
        assert path.parent.name == (landed_on + pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    assert (o.ordered_at.str[:7].str.replace("-", "") == o.source_file.str[-10:-4]).all()
    d = landed.frames["deliveries"]
    assert (d.accepted_at.str[:7].str.replace("-", "") == d.source_file.str[-10:-4]).all()
    p = landed.frames["distributor_payments"]
    assert (p.paid_at.str[:7].str.replace("-", "") == p.source_file.str[-10:-4]).all()
    assert set(p.payer) == {"fund", "hospital"}
    assert (p.payer == "fund").mean() > 0.7


def test_the_catalogue_is_the_reference_each_year(landed: Landed):
    c = landed.frames["drug_catalogue"]
    table = landed.plan.products
    years = sorted(c.valid_from.str[:4].unique())
    assert len(years) == 2 and len(c) == 2 * len(table)
    for year in years:
        y = c[c.valid_from == f"{year}-01-01"].set_index("product_code")
        assert (y.valid_to == f"{year}-12-31").all()
        assert y.index.is_unique and set(y.index) == set(table.index)
    row = c.set_index("product_code").loc[table.index[0]].iloc[0]
    assert row.reference_price == f"{table.reference_e4.iat[0] / 10_000:.4f}"
    winners = c[c.is_winner == "1"]
    assert winners.winning_price.str.fullmatch(r"\d+\.\d{4}").all()
    assert (c[c.is_winner == "0"].winning_price == "").all()


def test_every_mess_record_is_logged_at_its_line_and_only_those(landed: Landed):
    o, d, p = (
        landed.frames[s] for s in ("procurement_orders", "deliveries", "distributor_payments")
    )
    lo, ld, lp = (
        landed.logged(s) for s in ("procurement_orders", "deliveries", "distributor_payments")
    )
    columns = HEADERS["procurement_orders"].split(",")
    repeat = o.record_id.eq(o.record_id.shift()) & (o[columns] == o[columns].shift()).all(axis=1)
    assert (repeat == (lo == "duplicate_submission")).all()
    assert ((o.qty.astype(int) <= 0) == (lo == "non_positive_quantity")).all()
    known = set(landed.frames["drug_catalogue"].product_code)
    assert ((~o.product_code.isin(known)) == (lo == "unknown_product")).all()
    assert ((o.unit == "盒") == lo.isin(["box_quantity"])).all()
    assert ((~d.order_id.isin(o.order_id)) == (ld == "delivery_without_order")).all()
    assert ((d.qty.astype(int) <= 0) == (ld == "non_positive_quantity")).all()
    assert ((d.unit == "盒") == (ld == "box_quantity")).all()
    # a payment above its delivery's amount (qty × the order's unit price)
    orders = o.drop_duplicates("order_id").set_index("order_id")
    due = {
        row.delivery_id: (Decimal(row.qty) * Decimal(orders.unit_price[row.order_id])).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        for row in d[ld.isin(["", "box_quantity"])].itertuples()
    }
    over = [Decimal(a) > due[i] for a, i in zip(p.amount, p.delivery_id, strict=True)]
    assert (np.array(over) == (lp == "payment_exceeds_delivery").to_numpy()).all()
    expected = landed.defects.defect.map(mess.DEFECTS)
    assert (landed.defects.expected == expected).all()
    kinds = set(landed.defects.defect)
    assert kinds == {
        "duplicate_submission",
        "non_positive_quantity",
        "unknown_product",
        "box_quantity",
        "delivery_without_order",
        "payment_exceeds_delivery",
    }
    # every order's delivery is a real one, and a box order's too
    assert set(d.order_id[ld == "box_quantity"]) <= set(o.order_id[lo == "box_quantity"])


def test_nothing_spoiled_is_planted(landed: Landed):
    a = landed.anomalies
    spoiled = set(landed.defects.record_id)
    o, d = landed.frames["procurement_orders"], landed.frames["deliveries"]
    bad_orders = set(o.order_id[o.record_id.isin(spoiled)])
    bad_deliveries = set(d.delivery_id[d.record_id.isin(spoiled)])
    planted_orders = {i for ids in a.order_id for i in ids.split(";") if i}
    assert planted_orders and not planted_orders & bad_orders
    assert not set(a.delivery_id[a.delivery_id != ""]) & bad_deliveries


def test_deliveries_match_the_months_use_within_the_stocks_movement(landed: Landed):
    d = landed.clean_deliveries()
    got = d.groupby(["month", "hospital_code", "product_code"]).units.sum()
    boxed = d.groupby(["month", "hospital_code", "product_code"]).box.any()
    use = landed.use.groupby(["month", "hospital_code", "product_code"]).qty.sum()
    use = use[use.index.get_level_values(0).isin(got.index.get_level_values(0))]
    assert set(got.index) == set(use.index)
    used = use.reindex(got.index).to_numpy()
    pack = landed.plan.products.pack_size.reindex(got.index.get_level_values(2)).to_numpy()
    slack = np.where(boxed.reindex(got.index), pack, 0)
    assert (got.to_numpy() >= np.floor(0.97 * used) - 1).all()
    assert (got.to_numpy() <= np.ceil(1.03 * used) + 1 + slack).all()
    assert abs(got.sum() / used.sum() - 1) < 0.01


def test_box_orders_come_back_to_the_use_in_smallest_units(landed: Landed):
    o = landed.clean_orders()
    boxes = o[o.box]
    assert len(boxes)
    cells = o.groupby(["month", "hospital_code", "product_code"]).units.sum()
    use = landed.use.groupby(["month", "hospital_code", "product_code"]).qty.sum()
    key = pd.MultiIndex.from_frame(boxes[["month", "hospital_code", "product_code"]])
    ratio = cells.reindex(key).to_numpy() / use.reindex(key).to_numpy()
    assert ((ratio > 0.96) & (ratio < 1.06)).all()
    # the price per box is the price per smallest unit × the pack
    pack = landed.catalogue().pack_size.astype(int).reindex(boxes.product_code).to_numpy()
    per_box = [Decimal(p) for p in boxes.unit_price]
    assert all(b == u * k for b, u, k in zip(per_box, boxes.price, pack, strict=True))


def test_deliveries_and_acceptance_follow_the_order_within_days(landed: Landed):
    d = landed.clean_deliveries()
    ordered = pd.to_datetime(d.ordered_at).dt.normalize()
    delivered = pd.to_datetime(d.delivered_at)
    accepted = pd.to_datetime(d.accepted_at)
    lag = (delivered.dt.normalize() - ordered).dt.days
    assert lag.between(1, 5).all()
    assert (accepted.dt.normalize() - delivered.dt.normalize()).dt.days.between(0, 2).all()
    assert (accepted > delivered).all()
    # each order delivered in full, in one go mostly, sometimes two
    per_order = d.groupby("order_id").agg(
        units=("units", "sum"), n=("units", "size"), want=("order_units", "first")
    )
    assert (per_order.units == per_order.want).all()
    assert 0.8 < (per_order.n == 1).mean() < 0.98 and per_order.n.max() == 2


def _cells(o: pd.DataFrame) -> pd.DataFrame:
    """SPEC 10.4 written out: amount-weighted price per smallest unit over the reference."""
    o = o.assign(amount=[u * p for u, p in zip(o.units, o.price, strict=True)])
    g = o.groupby(["month", "hospital_code", "product_code"])
    out = g.agg(
        units=("units", "sum"),
        amount=("amount", "sum"),
        reference=("reference", "first"),
        winner=("winner", "first"),
        ids=("order_id", lambda s: ";".join(sorted(s))),
    )
    out["ratio"] = [a / u / r for a, u, r in zip(out.amount, out.units, out.reference, strict=True)]
    return out


def test_planted_prices_land_in_their_lights_and_clean_ones_far_from_any(landed: Landed):
    cells = _cells(landed.clean_orders())
    a = landed.anomalies
    ranges = {
        "price_yellow": (Decimal("1.15"), Decimal("1.25")),
        "price_red": (Decimal("1.40"), Decimal("2.00")),
        "winner_above_winning_price": (Decimal("1.02"), Decimal("1.08")),
    }
    planted = set()
    for kind, (low, high) in ranges.items():
        rows = a[a.kind == kind]
        assert len(rows) >= 5, kind
        for row in rows.itertuples():
            cell = cells.loc[(row.month, row.institution_code, row.product_code)]
            assert low <= cell.ratio <= high, (kind, cell.ratio)
            assert cell.winner == (kind == "winner_above_winning_price")
            assert ";".join(sorted(row.order_id.split(";"))) == cell.ids
            planted.add((row.month, row.institution_code, row.product_code))
    clean = cells[~cells.index.isin(planted)]
    assert (clean[clean.winner].ratio == 1).all()  # winners at exactly their winning price
    ratio = clean[~clean.winner].ratio.astype(float)
    assert ratio.between(0.95, 1.05).all()


def test_payments_are_on_time_but_for_the_planted_late_and_missing(landed: Landed):
    d = landed.clean_deliveries().set_index("delivery_id")
    p = landed.frames["distributor_payments"]
    p = p[landed.logged("distributor_payments") == ""]
    assert p.delivery_id.is_unique and set(p.delivery_id) <= set(d.index)
    a = landed.anomalies
    late = a[a.kind == "payment_late"]
    missing = a[a.kind == "payment_missing"]
    assert len(late) >= 5 and len(missing) >= 3
    assert set(d.index) - set(p.delivery_id) == set(missing.delivery_id)
    paid = p.set_index("delivery_id")
    days = (
        pd.to_datetime(paid.paid_at).dt.normalize()
        - pd.to_datetime(d.accepted_at.reindex(paid.index)).dt.normalize()
    ).dt.days
    assert days[late.delivery_id].between(35, 90).all()
    assert days.drop(late.delivery_id).between(5, 28).all()
    for row in late.itertuples():
        assert row.institution_code == d.hospital_code[row.delivery_id]
        assert row.order_id == d.order_id[row.delivery_id]
        assert row.month == d.accepted_at[row.delivery_id][:7]
    # never paid: accepted at least four months before the data's last month
    last = landed.frames["deliveries"].accepted_at.str[:7].max()
    assert (pd.PeriodIndex(missing.month, freq="M") <= pd.Period(last, "M") - 4).all()
    # the amount is the delivery's qty × its order's unit price, rounded half up to the fen
    for delivery_id, row in paid.iloc[:: max(1, len(paid) // 500)].iterrows():
        due = Decimal(d.qty[delivery_id]) * Decimal(d.unit_price[delivery_id])
        assert Decimal(row.amount) == due.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _month_ends(year: int) -> np.ndarray:
    ends = pd.date_range(f"{year}-01-31", f"{year}-12-31", freq="ME")
    return ends.dayofyear.to_numpy() / ends[-1].dayofyear


def test_agreed_volumes_are_0_6_to_0_8_of_the_use_before(landed: Landed):
    ag = landed.frames["vbp_agreements"].astype({"agreed_qty": int, "contract_year": int})
    assert (ag.contract_start == ag.contract_year.astype(str) + "-01-01").all()
    assert (ag.contract_end == ag.contract_year.astype(str) + "-12-31").all()
    group = landed.plan.products.group_id
    use = landed.use.assign(
        group_id=group.reindex(landed.use.product_code).to_numpy(),
        year=landed.use.month.str[:4].astype(int),
    )
    per_year = use.groupby(["hospital_code", "group_id", "year"]).qty.sum()
    first = ag.contract_year.min()
    base = per_year.reindex(
        pd.MultiIndex.from_arrays(
            [ag.hospital_code, ag.group_id, np.maximum(ag.contract_year - 1, first)]
        )
    ).to_numpy()
    ratio = ag.agreed_qty.to_numpy() / base
    assert ((ratio >= 0.6) & (ratio <= 0.8)).all()
    hospitals = set(landed.plan.hospitals.index)
    assert set(ag.hospital_code) <= hospitals
    # only groups the hospital used that year
    assert (
        per_year.reindex(
            pd.MultiIndex.from_frame(ag[["hospital_code", "group_id", "contract_year"]])
        )
        .gt(0)
        .all()
    )
    assert len(ag) >= 20


def test_completion_is_on_pace_for_clean_contracts_and_far_behind_for_the_steered(landed):
    ag = landed.frames["vbp_agreements"].astype({"agreed_qty": int, "contract_year": int})
    d = landed.clean_deliveries()
    d["year"] = d.accepted_at.str[:4].astype(int)
    d["m"] = d.accepted_at.str[5:7].astype(int)
    steered = landed.anomalies[landed.anomalies.kind == "steering"]
    steered_keys = set(
        zip(
            steered.institution_code,
            steered.group_id,
            steered.contract_year.astype(int),
            strict=True,
        )
    )
    assert len(steered_keys) >= 3
    truth = landed.completion.set_index(["hospital_code", "group_id", "contract_year"])
    assert len(truth) == len(ag)
    by = d.groupby(["hospital_code", "group_id", "year", "winner", "m"]).units.sum()
    for row in ag.itertuples():
        key = (row.hospital_code, row.group_id, row.contract_year)
        won = np.zeros(12)
        other = np.zeros(12)
        for (winner, m), units in by.loc[key].items() if key in by.index.droplevel([3, 4]) else []:
            (won if winner else other)[m - 1] += units
        won, other = won.cumsum(), other.cumsum()
        completion = won / row.agreed_qty
        schedule = _month_ends(row.contract_year)
        with np.errstate(invalid="ignore"):
            share = other / (won + other)
        assert truth.loc[key].tolist() == [row.agreed_qty, won[-1], other[-1]]
        if key in steered_keys:
            assert (completion <= 0.4 * schedule).all(), key
            assert (np.nan_to_num(share, nan=1.0) >= 0.6).all(), key
        else:
            assert (completion >= 0.9 * schedule).all(), key
            assert (share < 0.3).all(), key


def test_shops_overcharge_only_where_planted(landed: Landed):
    s = landed.sold.assign(month=landed.sold.txn_time.dt.strftime("%Y-%m"))
    cells = s.groupby(["month", "institution_code", "product_code"])[
        ["quantity", "amount_fen"]
    ].sum()
    light = landed.plan.products.light_e4.reindex(cells.index.get_level_values(2)).to_numpy()
    ratio = pd.Series(
        cells.amount_fen.to_numpy() * 100 / cells.quantity.to_numpy() / light, index=cells.index
    )
    reds = landed.anomalies[landed.anomalies.kind == "pharmacy_price_red"]
    assert len(reds) >= 3
    key = list(zip(reds.month, reds.institution_code, reds.product_code, strict=True))
    assert ratio.reindex(key).between(1.4, 2.5).all()
    clean = ratio.drop(key)
    assert clean.between(0.9, 1.05).all()
    winner = landed.plan.products.is_winner.reindex(clean.index.get_level_values(2)).to_numpy()
    assert (clean[winner] <= 1).all()  # a winner never comes out above its winning price


def test_the_counts_name_every_planted_and_mess_kind(landed: Landed):
    c = landed.counts
    for kind in (
        "steering",
        "price_yellow",
        "price_red",
        "winner_above_winning_price",
        "payment_late",
        "payment_missing",
        "pharmacy_price_red",
    ):
        assert c[f"planted_{kind}"] == (landed.anomalies.kind == kind).sum() > 0, kind
    for kind in (
        "duplicate_submission",
        "box_quantity",
        "non_positive_quantity",
        "unknown_product",
        "delivery_without_order",
        "payment_exceeds_delivery",
    ):
        assert c[kind] == (landed.defects.defect == kind).sum() >= 1, kind
