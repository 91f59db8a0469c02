"""The national VBP reference tables (jobs/reference/vbp_*.csv) hold together as
docs/sources/vbp_reference.md says: groups, product codes, winners and prices."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).parents[1] / "jobs" / "reference"

GROUP_COLUMNS = [
    "group_id",
    "vbp_batch",
    "generic_name_zh",
    "generic_name_en",
    "dosage_form_zh",
    "dosage_form",
    "dosage_form_code",
    "strength",
    "atc",
    "generic_serial",
    "smallest_unit_zh",
    "smallest_unit",
    "pack_sizes",
    "ddd_units",
    "reference_price",
]
PRODUCT_COLUMNS = [
    "product_code",
    "group_id",
    "manufacturer_zh",
    "manufacturer_code",
    "is_originator",
    "pack_size",
    "is_winner",
    "winning_price",
    "list_price",
]
# X, ATC level 4, generic serial, dosage-form code, spec/pack serial, manufacturer serial
PRODUCT_CODE = re.compile(
    r"^X(?P<atc>[A-Z]\d{2}[A-Z]{2})(?P<serial>A\d{3})(?P<form>A\d{3})(?P<spec>\d{4})(?P<mfr>\d{5})$"
)
TEXT = {"group_id": str, "dosage_form_code": str, "generic_serial": str, "pack_sizes": str}


@pytest.fixture(scope="module")
def groups() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "vbp_drug_groups.csv", dtype=TEXT)


@pytest.fixture(scope="module")
def products() -> pd.DataFrame:
    return pd.read_csv(
        REFERENCE / "vbp_products.csv",
        dtype={"product_code": str, "group_id": str, "manufacturer_code": str},
    )


@pytest.fixture(scope="module")
def joined(groups, products) -> pd.DataFrame:
    return products.merge(groups, on="group_id", how="left", validate="many_to_one")


def _group(groups: pd.DataFrame, name: str, form: str, strength: str) -> pd.Series:
    hit = groups[
        (groups.generic_name_zh == name)
        & (groups.dosage_form == form)
        & (groups.strength == strength)
    ]
    assert len(hit) == 1, (name, form, strength)
    return hit.iloc[0]


def test_columns_are_the_documented_ones_in_order(groups, products):
    assert list(groups.columns) == GROUP_COLUMNS
    assert list(products.columns) == PRODUCT_COLUMNS


def test_there_are_at_least_a_hundred_groups_numbered_in_file_order(groups):
    assert len(groups) >= 100
    assert list(groups.group_id) == [f"G{i:04d}" for i in range(1, len(groups) + 1)]


def test_a_group_is_one_generic_form_and_strength(groups):
    assert not groups.duplicated(["generic_name_zh", "dosage_form", "strength"]).any()


def test_batches_are_national_chemical_batches_and_never_the_insulin_one(groups):
    assert set(groups.vbp_batch) <= set(range(1, 10))
    assert 6 not in set(groups.vbp_batch)  # batch 6 procured insulin only
    assert len(set(groups.vbp_batch)) >= 5


def test_atc_is_a_level_four_code(groups):
    assert groups.atc.str.fullmatch(r"[A-Z]\d{2}[A-Z]{2}").all()


def test_generic_serial_is_one_per_generic_name(groups):
    assert groups.generic_serial.str.fullmatch(r"A\d{3}").all()
    assert (groups.groupby("generic_name_zh").generic_serial.nunique() == 1).all()
    assert (groups.groupby("generic_serial").generic_name_zh.nunique() == 1).all()


def test_a_dosage_form_has_one_code(groups):
    assert groups.dosage_form_code.str.fullmatch(r"A\d{3}").all()
    assert (groups.groupby("dosage_form").dosage_form_code.nunique() == 1).all()
    assert (groups.groupby("dosage_form_code").dosage_form.nunique() == 1).all()
    assert (groups.groupby("dosage_form").dosage_form_zh.nunique() == 1).all()


def test_pack_sizes_ddd_and_reference_price_are_sane(groups):
    assert groups.pack_sizes.str.fullmatch(r"[1-9]\d*(\|[1-9]\d*){0,2}").all()
    assert (groups.ddd_units >= 1).all()
    assert (groups.reference_price > 0).all()


def test_each_group_has_three_to_six_products_and_a_winner(groups, products):
    counts = products.groupby("group_id").size().reindex(groups.group_id, fill_value=0)
    assert counts.between(3, 6).all(), counts[~counts.between(3, 6)]
    winners = products[products.is_winner].groupby("group_id").size()
    assert set(winners.index) == set(groups.group_id)
    assert (products.groupby("group_id").is_winner.apply(lambda w: (~w).any())).all()


def test_a_manufacturer_sells_one_product_per_group(products):
    assert not products.duplicated(["group_id", "manufacturer_zh"]).any()


def test_product_code_is_unique_and_follows_the_layout(joined):
    assert joined.product_code.is_unique
    parts = joined.product_code.str.extract(PRODUCT_CODE)
    assert parts.notna().all().all(), joined.product_code[parts.isna().any(axis=1)]
    assert (joined.product_code.str.len() == 23).all()
    assert (parts.atc == joined.atc).all()
    assert (parts.serial == joined.generic_serial).all()
    assert (parts.form == joined.dosage_form_code).all()
    assert (parts.mfr == joined.manufacturer_code).all()
    assert (joined.product_code.str[:10] == "X" + joined.atc + joined.generic_serial).all()


def test_spec_serial_names_one_group_and_pack_within_its_prefix(joined):
    codes = pd.DataFrame(
        {
            "prefix": joined.product_code.str[:14],
            "spec": joined.product_code.str[14:18],
            "group_pack": joined.group_id + "/" + joined.pack_size.astype(str),
        }
    )
    assert (codes.groupby(["prefix", "spec"]).group_pack.nunique() == 1).all()
    assert (codes.groupby("group_pack").spec.nunique() == 1).all()


def test_a_manufacturer_has_one_code_and_a_code_one_manufacturer(products):
    assert products.manufacturer_code.str.fullmatch(r"\d{5}").all()
    assert (products.groupby("manufacturer_zh").manufacturer_code.nunique() == 1).all()
    assert (products.groupby("manufacturer_code").manufacturer_zh.nunique() == 1).all()


def test_pack_size_is_one_of_the_groups_pack_sizes(joined):
    allowed = joined.pack_sizes.str.split("|")
    outside = [
        (code, size)
        for code, size, sizes in zip(joined.product_code, joined.pack_size, allowed, strict=True)
        if str(size) not in sizes
    ]
    assert outside == []


def test_winning_prices_sit_between_035_and_075_of_the_reference(joined):
    won = joined[joined.is_winner]
    assert won.winning_price.notna().all()
    assert (won.winning_price >= 0.35 * won.reference_price - 1e-9).all()
    assert (won.winning_price <= 0.75 * won.reference_price + 1e-9).all()
    assert (won.list_price == won.winning_price).all()
    assert not won.duplicated(["group_id", "winning_price"]).any()
    assert joined[~joined.is_winner].winning_price.isna().all()


def test_every_winner_is_cheaper_than_every_loser_in_its_group(joined):
    worst_winner = joined[joined.is_winner].groupby("group_id").list_price.max()
    best_loser = joined[~joined.is_winner].groupby("group_id").list_price.min()
    assert (worst_winner < best_loser.reindex(worst_winner.index)).all()


def test_losers_list_near_the_reference_and_originators_well_above(joined):
    lost = joined[~joined.is_winner]
    ratio = lost.list_price / lost.reference_price
    generic = ratio[~lost.is_originator]
    original = ratio[lost.is_originator]
    assert generic.between(1.0 - 1e-9, 1.08 + 1e-9).all()
    assert original.between(1.5, 4.0).all()


def test_at_most_one_originator_per_group_and_it_almost_never_wins(products):
    assert (products.groupby("group_id").is_originator.sum() <= 1).all()
    assert products[products.is_originator & products.is_winner].shape[0] <= 2


def test_prices_have_four_decimals():
    for name, columns in {
        "vbp_drug_groups.csv": ["reference_price"],
        "vbp_products.csv": ["winning_price", "list_price"],
    }.items():
        raw = pd.read_csv(REFERENCE / name, dtype=str)
        for column in columns:
            assert raw[column].dropna().str.fullmatch(r"\d+\.\d{4}").all(), (name, column)


def test_atorvastatin_20mg_tablets_are_a_batch_one_statin(groups):
    atorvastatin = _group(groups, "阿托伐他汀钙", "tablet", "20mg")
    assert atorvastatin.vbp_batch == 1 and atorvastatin.atc == "C10AA"
    assert atorvastatin.generic_name_en == "atorvastatin calcium"
    ten = _group(groups, "阿托伐他汀钙", "tablet", "10mg")
    assert ten.generic_serial == atorvastatin.generic_serial
    assert ten.group_id != atorvastatin.group_id


def test_spot_checks_of_real_drugs(groups):
    assert _group(groups, "苯磺酸氨氯地平", "tablet", "5mg").atc == "C08CA"
    clopidogrel = _group(groups, "硫酸氢氯吡格雷", "tablet", "75mg")
    assert (clopidogrel.vbp_batch, clopidogrel.atc) == (1, "B01AC")
    pemetrexed = _group(groups, "培美曲塞二钠", "powder_for_injection", "0.5g")
    assert (pemetrexed.vbp_batch, pemetrexed.atc, pemetrexed.smallest_unit) == (1, "L01BA", "vial")
    acarbose = _group(groups, "阿卡波糖", "tablet", "50mg")
    assert (acarbose.vbp_batch, acarbose.atc) == (2, "A10BF")
    assert _group(groups, "他达拉非", "tablet", "5mg").atc == "G04BE"
    assert _group(groups, "碘海醇", "injection", "100ml:30g(I)").vbp_batch == 5
    metoprolol = _group(groups, "琥珀酸美托洛尔", "sustained_release_tablet", "47.5mg")
    assert (metoprolol.vbp_batch, metoprolol.atc) == (7, "C07AB")


def test_cheap_generics_and_oncology_injections_are_priced_apart(groups):
    atorvastatin = _group(groups, "阿托伐他汀钙", "tablet", "20mg").reference_price
    assert 0.05 <= atorvastatin <= 0.3
    nab_paclitaxel = _group(groups, "紫杉醇（白蛋白结合型）", "powder_for_injection", "100mg")
    assert nab_paclitaxel.reference_price > 100
