"""The silver/discharges suite gates a batch: critical failures stop it, warnings do not.
Under a root every result is on the Data Docs site (gold beside silver), and the site
fetches nothing from outside."""

import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from jobs import quality

KEY = "a" * 64
SCHEMA = (
    "case_id string, person_key string, principal_dx string, hospital_code string, sex string, "
    "admission_type string, discharge_status string, discharge_year int, "
    "total_cost decimal(18,2), fund_paid decimal(18,2), doctor_id string, "
    "admission_date date"
)


def _row(case_id="ZY1", **change):
    row = {
        "case_id": case_id,
        "person_key": KEY,
        "principal_dx": "K35.8",
        "hospital_code": "H1",
        "sex": "M",
        "admission_type": "elective",
        "discharge_status": "cured",
        "discharge_year": 2024,
        "total_cost": Decimal("100.00"),
        "fund_paid": Decimal("70.00"),
        "doctor_id": "D1",
        "admission_date": date(2024, 1, 2),
    }
    row.update(change)
    return tuple(row.values())


def test_a_clean_batch_passes(spark):
    df = spark.createDataFrame([_row("ZY1"), _row("ZY2")], SCHEMA)
    assert quality.gate(df, "silver", "discharges").failures == ()


def test_a_raw_id_number_in_person_key_is_critical(spark):
    df = spark.createDataFrame([_row(person_key="11010519491231002X")], SCHEMA)
    with pytest.raises(quality.QualityGateError, match="person_key"):
        quality.gate(df, "silver", "discharges")


def test_a_duplicate_case_is_critical(spark):
    df = spark.createDataFrame([_row("ZY1"), _row("ZY1")], SCHEMA)
    with pytest.raises(quality.QualityGateError, match="unique"):
        quality.gate(df, "silver", "discharges")


def test_a_warning_is_reported_but_does_not_stop(spark):
    df = spark.createDataFrame([_row(doctor_id=None)], SCHEMA)
    report = quality.gate(df, "silver", "discharges")
    assert [(f.severity, f.column) for f in report.failures] == [("warning", "doctor_id")]


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""")


class Page(HTMLParser):
    """What a page makes the browser fetch (any src, a <link>'s href, a CSS url(...) in a
    <style> or style attribute) and where its hyperlinks go."""

    def __init__(self, path: Path):
        super().__init__()
        self.fetched: list[str] = []
        self.links: list[str] = []
        self._in_style = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("src"):
            self.fetched.append(attrs["src"])
        if tag in ("link", "a") and attrs.get("href"):
            (self.fetched if tag == "link" else self.links).append(attrs["href"])
        self.fetched += CSS_URL.findall(attrs.get("style") or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.fetched += CSS_URL.findall(data)


def local_file(base: Path, ref: str) -> Path:
    return (base.parent / ref.split("#")[0].split("?")[0]).resolve()


def assert_offline(site: Path) -> None:
    """No page fetches from outside; every file a page (or a stylesheet it loads) fetches,
    and every page it links to, is on disk."""
    pages = sorted(site.rglob("*.html"))
    assert pages
    for page in pages:
        found = Page(page)
        outside = [r for r in found.fetched if re.match(r"(https?:)?//", r)]
        assert outside == [], page
        for ref in found.fetched:
            assert local_file(page, ref).is_file(), (page, ref)
            if ref.endswith(".css"):  # Font Awesome's fonts, by ../webfonts/
                css = local_file(page, ref)
                for inner in CSS_URL.findall(css.read_text(encoding="utf-8")):
                    if not inner.startswith("data:"):
                        assert local_file(css, inner).is_file(), (css, inner)
        for ref in found.links:
            if not re.match(r"(https?:|#)", ref):
                assert local_file(page, ref).is_file(), (page, ref)


def test_every_result_under_a_root_is_on_the_site_gold_beside_silver(spark, tmp_path):
    silver = spark.createDataFrame([_row("ZY1"), _row("ZY2")], SCHEMA)
    quality.gate(silver, "silver", "discharges", tmp_path)
    # A pandas frame, as the catalogue job gates its gold tables.
    gold = pd.DataFrame(
        {
            "catalogue_version": [2025, 2025, 2025],
            "level": [1, 2, 3],
            "k": [Decimal("0.8500"), Decimal("1.0000"), Decimal("1.2000")],
            "overall_avg_cost": [Decimal("9800.00")] * 3,
            "level_method": ["casemix"] * 3,
        }
    )
    quality.gate(gold, "gold", "dip_level_coefficients", tmp_path)
    # No build_docs: the gold jobs never call it, their results are on the site all the same.
    index = quality.docs_index(tmp_path)
    site = index.parent
    results = sorted(p.relative_to(site) for p in (site / "validations").rglob("*.html"))
    assert [r.parts[:3] for r in results] == [
        ("validations", "gold", "dip_level_coefficients"),
        ("validations", "silver", "discharges"),
    ]
    listed = index.read_text(encoding="utf-8")
    assert all(r.as_posix() in listed for r in results)
    assert_offline(site)


def test_results_are_kept_and_data_docs_built_under_a_root(spark, tmp_path):
    df = spark.createDataFrame([_row("ZY1"), _row("ZY1")], SCHEMA)  # case_id not unique
    with pytest.raises(quality.QualityGateError):
        quality.gate(df, "silver", "discharges", tmp_path)
    index = quality.build_docs(tmp_path)
    assert index.is_file()
    pages = list(index.parent.rglob("*.html"))
    assert any("silver.discharges" in p.read_text(encoding="utf-8") for p in pages)
    assert_offline(index.parent)


def test_a_root_without_the_installed_scripts_and_styles_is_refused_before_validating(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(quality, "WEB_MODULES", tmp_path / "not-installed")
    with pytest.raises(FileNotFoundError, match="make web"):
        quality.validate(pd.DataFrame({"case_id": ["ZY1"]}), "silver", "discharges", tmp_path)
    assert not (tmp_path / "gx").exists()
