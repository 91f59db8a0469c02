"""The counterpart regions of off-site treatment (jobs/reference/offsite_regions.csv)
hold together as docs/sources/offsite_regions.md says: real GB/T 2260 codes of
prefecture-level cities and the four municipalities, and usable draw weights."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

TABLE = Path(__file__).parents[1] / "jobs" / "reference" / "offsite_regions.csv"

COLUMNS = [
    "region_code",
    "name_zh",
    "name_en",
    "province_zh",
    "province_en",
    "same_province",
    "outbound_weight",
    "inbound_weight",
    "resident_weight",
]
WEIGHTS = ["outbound_weight", "inbound_weight", "resident_weight"]
# The first two digits of the 31 province-level divisions of the mainland (GB/T 2260).
PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
}  # fmt: skip
MUNICIPALITIES = {"110000": "北京市", "120000": "天津市", "310000": "上海市", "500000": "重庆市"}
XIAMEN = {"350200", "350203", "350205", "350206", "350211", "350212", "350213"}


@pytest.fixture(scope="module")
def regions() -> pd.DataFrame:
    return pd.read_csv(TABLE, dtype={"region_code": str}, encoding="utf-8")


def _row(regions: pd.DataFrame, code: str) -> pd.Series:
    hit = regions[regions.region_code == code]
    assert len(hit) == 1, code
    return hit.iloc[0]


def test_columns_are_the_documented_ones_in_order():
    with TABLE.open(encoding="utf-8") as f:
        assert f.readline().rstrip("\r\n") == ",".join(COLUMNS)


def test_there_are_some_forty_to_fifty_regions_in_code_order(regions):
    assert 40 <= len(regions) <= 50
    assert list(regions.region_code) == sorted(regions.region_code)


def test_codes_are_unique_six_digits_in_a_real_province(regions):
    codes = regions.region_code
    assert codes.is_unique
    assert codes.str.fullmatch(r"\d{6}").all()
    assert set(codes.str[:2]) <= PROVINCES, set(codes.str[:2]) - PROVINCES


def test_codes_name_a_prefecture_or_a_municipality_never_a_county(regions):
    codes = regions.region_code
    assert codes.str.endswith("00").all()
    prefecture = ~codes.isin(MUNICIPALITIES)
    assert (codes[prefecture].str[2:4] != "00").all()
    whole_province = regions[codes.str.endswith("0000")]
    named = dict(zip(whole_province.region_code, whole_province.name_zh, strict=True))
    assert named == MUNICIPALITIES
    municipal = regions[regions.region_code.isin(MUNICIPALITIES)]
    assert (municipal.province_zh == municipal.name_zh).all()
    assert (municipal.province_en == municipal.name_en).all()


def test_xiamen_and_its_districts_are_not_counterparts(regions):
    assert not regions.region_code.isin(XIAMEN).any()
    assert "厦门市" not in set(regions.name_zh)


def test_same_province_means_fujian(regions):
    fujian = regions.region_code.str.startswith("35")
    assert set(regions.same_province) <= {0, 1}
    assert (regions.same_province == fujian.astype(int)).all()
    assert (regions[fujian].province_zh == "福建省").all()
    assert (regions[fujian].province_en == "Fujian").all()


def test_a_province_has_one_name_and_one_prefix(regions):
    prefix = regions.region_code.str[:2]
    by_prefix = regions.groupby(prefix)
    assert (by_prefix.province_zh.nunique() == 1).all()
    assert (by_prefix.province_en.nunique() == 1).all()
    prefixes = regions.groupby("province_zh").region_code.apply(lambda c: c.str[:2].nunique())
    assert (prefixes == 1).all()


def test_names_are_filled_and_unique(regions):
    for column in ["name_zh", "name_en", "province_zh", "province_en"]:
        assert regions[column].notna().all(), column
        assert (regions[column].str.strip() == regions[column]).all(), column
    assert regions.name_zh.is_unique
    assert regions.name_en.is_unique
    assert regions.name_zh.str.endswith("市").all()
    assert regions.province_zh.str.endswith(("省", "市")).all()


def test_weights_are_non_negative_with_positive_sums(regions):
    for column in WEIGHTS:
        assert regions[column].notna().all(), column
        assert (regions[column] >= 0).all(), column
        assert regions[column].sum() > 0, column
    assert (regions[WEIGHTS].sum(axis=1) > 0).all()


def test_weights_have_two_decimals():
    raw = pd.read_csv(TABLE, dtype=str)
    for column in WEIGHTS:
        assert raw[column].str.fullmatch(r"\d+\.\d{2}").all(), column


def test_hand_checked_rows(regions):
    expected = {
        "350100": ("福州市", "福建省", 1),
        "350500": ("泉州市", "福建省", 1),
        "350600": ("漳州市", "福建省", 1),
        "350800": ("龙岩市", "福建省", 1),
        "310000": ("上海市", "上海市", 0),
        "110000": ("北京市", "北京市", 0),
        "440100": ("广州市", "广东省", 0),
        "440300": ("深圳市", "广东省", 0),
        "330100": ("杭州市", "浙江省", 0),
        "360700": ("赣州市", "江西省", 0),
        "460200": ("三亚市", "海南省", 0),
        "500000": ("重庆市", "重庆市", 0),
    }
    for code, (name, province, same) in expected.items():
        row = _row(regions, code)
        assert (row.name_zh, row.province_zh, row.same_province) == (name, province, same), code
    assert _row(regions, "350500").name_en == "Quanzhou"
    assert _row(regions, "440300").province_en == "Guangdong"


def test_weights_lean_the_documented_way(regions):
    weight = regions.set_index("region_code")[WEIGHTS]
    # outbound: the big medical centre and the provincial capital lead
    top_out = set(weight.outbound_weight.nlargest(3).index)
    assert {"310000", "350100"} <= top_out
    # inbound: the Fujian neighbours send the most patients
    top_in = set(weight.inbound_weight.nlargest(2).index)
    assert top_in == {"350500", "350600"}
    assert weight.loc["360700", "inbound_weight"] > weight.loc["360700", "outbound_weight"]
    # residents: children's cities and the winter coast, not the pure medical centres
    assert weight.resident_weight.idxmax() == "440300"
    assert weight.loc["460200", "resident_weight"] > weight.loc["420100", "resident_weight"]
