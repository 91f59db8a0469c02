"""The reports site (jobs/site.py) on hand-written report facts: no Spark, no lake.

Each wing's page function renders from the facts its job writes; the values the
pages must show are written here by hand (exact money with separators, every
hospital's statement linked both ways, every alert's evidence).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from jobs import config, pipeline, quality, site

FIELDS = [
    ["cases", "病例数 cases"],
    ["points", "总点数 points"],
    ["gross_fund", "统筹基金 gross fund"],
    ["assessment_coef", "考核系数 assessment"],
    ["deductions", "扣减 deductions"],
    ["settlement", "清算额 settlement"],
    ["prepaid", "已预付 prepaid"],
    ["payable", "应付 payable"],
]


def _hospital(code: str, level: int, payable: str) -> dict:
    return {
        "hospital_code": code, "level": level, "cases": 2, "points": "2000.0000",
        "gross_fund": "1234567.89", "assessment_coef": "0.9500", "deductions": "100.00",
        "settlement": "1172739.50", "prepaid": "480.00", "payable": payable,
    }  # fmt: skip


def write_city(root: Path) -> None:
    """Reports of three kinds, as their jobs write them: facts, and the files beside them."""
    for made in (
        "clearing-2025-a/hospitals.csv",
        "clearing-2025-a/hospitals/H3.csv",
        "clearing-2025-a/hospitals/H9.csv",
        "clearing-2025-a/payable.png",
        "fraud-alerts-2025/alerts_by_pattern.png",
    ):
        (root / made).parent.mkdir(parents=True, exist_ok=True)
        (root / made).write_bytes(b"written by the job")
    site.write_report(
        root / "clearing-2025-a",
        kind="clearing",
        title="DIP clearing 2025",
        year=2025,
        run_id="clearing-2025-a",
        status="draft",
        reads={"gold/dip_case_points": 7, "silver/discharges": 3},
        data={
            "summary": {
                "budget": "20000000.00",
                "pv_method": "ratio",
                "total_points": "3000.0000",
                "r": "0.700000",
                "point_value": "0.476190",
                "total_settlement": "1172739.50",
                "retained": "133.33",
                "total_payable": "1172259.50",
            },
            "fields": FIELDS,
            "hospitals": [_hospital("H3", 3, "1172259.50"), _hospital("H9", 1, "-50.00")],
        },
    )
    site.write_report(
        root / "fraud-alerts-2025",
        kind="fraud_alerts",
        title="Fraud alerts 2025",
        year=2025,
        run_id="fraud-2025-abc",
        status="final",
        reads={"silver/fee_details": 4, "model/dip-fraud-case": 2},
        data={
            "alerts": [
                {
                    "alert_id": "a1",
                    "entity_type": "case",
                    "entity_id": "C1",
                    "pattern": "upcoding",
                    "score": 0.91,
                    "source": "model+rule",
                    "reasons": "R07 upcoding: 9 secondary diagnoses [Art. 38] | model v2 0.91",
                },
                {
                    "alert_id": "a2",
                    "entity_type": "provider",
                    "entity_id": "H3",
                    "pattern": "phantom_stays",
                    "score": 1.0,
                    "source": "rule",
                    "reasons": "R01 phantom: no face check; no fee lines [Art. 40]",
                },
            ],
            "rules": {"R07": "upcoding [Art. 38]", "R01": "phantom [Art. 40]"},
        },
    )
    site.write_report(
        root / "ingest-20251203-x",
        kind="ingest",
        title="Ingest 2025-12-03",
        year=2025,
        month=12,
        run_id="ingest-20251203-x",
        status="succeeded",
        reads={"silver/discharges": 3},
        data={
            "run_date": "2025-12-03",
            "totals": {
                "files": 1,
                "records_read": 10,
                "to_silver": 8,
                "quarantined": 1,
                "duplicates": 1,
                "superseded": 0,
            },
            "sources": {
                "settlement_lists": {
                    "files": 1,
                    "records_read": 10,
                    "to_silver": 8,
                    "quarantined": 1,
                    "duplicates": 1,
                    "superseded": 0,
                }
            },
            "files": [
                {
                    "file": "2025-12-03/settlement_lists/a.csv",
                    "records_read": 10,
                    "to_silver": 8,
                    "quarantined": 1,
                    "duplicates": 1,
                    "superseded": 0,
                }
            ],
            "rejected": [],
            "held_files": 2,
        },
    )


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, dict]:
    """A home with a report of each kind and a two-page Data Docs site, built by the door."""
    cfg = config.load({"home": str(tmp_path)}, env={})
    write_city(cfg.reports)
    docs = quality.docs_index(cfg.quality_root).parent
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text('<a href="validations/v.html">v</a>')
    (docs / "validations" / "v.html").write_text('<a href="../index.html">back</a>')
    return cfg.reports, pipeline.reports_build(cfg)


def _build(root: Path) -> dict:
    return pipeline.reports_build(config.load({"home": str(root.parent)}, env={}))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _hrefs(path: Path) -> list[str]:
    return re.findall(r'href="([^"]+)"', _text(path))


def test_every_kind_the_wings_write_has_a_registered_page(built):
    assert {
        "catalogue",
        "case_points",
        "clearing",
        "fraud_alerts",
        "fraud_evaluation",
        "ingest",
    } <= set(site.registered())


def test_the_home_page_lists_every_report_by_year_and_month(built):
    root, summary = built
    home = _text(root / "index.html")
    for run_id in ("clearing-2025-a", "fraud-2025-abc", "ingest-20251203-x"):
        assert run_id in home
    assert "<h2>2025</h2>" in home and "<h3>2025-12</h3>" in home
    assert "status-draft" in home and "status-final" in home
    assert {
        "clearing-2025-a/index.html",
        "fraud-alerts-2025/index.html",
        "ingest-20251203-x/index.html",
        "quality/index.html",
        "data-docs/index.html",
    } <= set(_hrefs(root / "index.html"))
    assert summary["reports"] == {"clearing": 1, "fraud_alerts": 1, "ingest": 1}
    listing = json.loads(_text(root / "index.json"))
    assert {r["run_id"] for r in listing} == {"clearing-2025-a", "fraud-2025-abc",
                                              "ingest-20251203-x"}  # fmt: skip


def test_the_clearing_links_every_statement_and_back_with_exact_money(built):
    root, _ = built
    index = root / "clearing-2025-a" / "index.html"
    assert {"hospitals/H3.html", "hospitals/H9.html"} <= set(_hrefs(index))
    page = _text(index)
    assert "20,000,000.00" in page and "0.476190" in page
    assert "gold/dip_case_points v7" in page and "silver/discharges v3" in page
    # level 3: H3 only; level 1: H9 only (gross 1,234,567.89 each, summed by level)
    assert "1,234,567.89" in page and "-50.00" in page
    statement = root / "clearing-2025-a" / "hospitals" / "H9.html"
    assert "../index.html" in _hrefs(statement)
    assert 'class="n neg">-50.00' in _text(statement)
    assert "../../index.html" in _hrefs(statement)  # the navigation's way home


def test_alerts_link_to_their_evidence(built):
    root, _ = built
    index = root / "fraud-alerts-2025" / "index.html"
    assert {"alerts/a1.html", "alerts/a2.html"} <= set(_hrefs(index))
    evidence = _text(root / "fraud-alerts-2025" / "alerts" / "a2.html")
    assert "<li>R01 phantom: no face check</li>" in evidence
    assert "<li>no fee lines [Art. 40]</li>" in evidence
    assert "phantom [Art. 40]" in evidence and "upcoding [Art. 38]" not in evidence
    # a2 is the higher score: listed first
    page = _text(index)
    assert page.index("alerts/a2.html") < page.index("alerts/a1.html")


def test_the_quality_page_lists_the_ingest_runs(built):
    root, _ = built
    quality = _text(root / "quality" / "index.html")
    assert "../ingest-20251203-x/index.html" in quality and "../data-docs/index.html" in quality
    run = _text(root / "ingest-20251203-x" / "index.html")
    assert "2025-12-03/settlement_lists/a.csv" in run and "settlement_lists" in run


def test_the_site_has_no_broken_link_and_asks_nothing_outside(built):
    root, summary = built
    assert summary["broken_links"] == [] and summary["outside_requests"] == []
    assert (root / "data-docs" / "validations" / "v.html").is_file()


def test_the_link_check_finds_what_is_planted(built):
    root, _ = built
    (root / "bad.html").write_text(
        '<a href="nowhere.html">x</a><a href="/reports/index.html">abs</a>'
        '<script src="https://cdn.example.com/x.js"></script>'
        '<a href="https://example.com/">a link a person may follow</a>'
        '<img src="clearing-2025-a/missing.png"><a href="#top">t</a>'
    )
    broken, outside = site.check_links(root)
    assert sorted(broken) == [
        ("bad.html", "/reports/index.html"),
        ("bad.html", "clearing-2025-a/missing.png"),
        ("bad.html", "nowhere.html"),
    ]
    assert outside == [("bad.html", "https://cdn.example.com/x.js")]


def test_a_rebuild_changes_nothing_and_a_publication_shows(built):
    root, _ = built
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.html")}
    again = _build(root)
    assert again["pages_written"] == 0
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.html")} == before
    site.set_status(root / "clearing-2025-a", "published")
    _build(root)
    assert "status-published" in _text(root / "clearing-2025-a" / "index.html")
    assert "status-published" in _text(root / "index.html")


def test_a_kind_without_a_page_function_still_gets_a_page(tmp_path):
    root = tmp_path / "reports"
    site.write_report(
        root / "x-2025",
        kind="not_yet",
        title="Not yet",
        year=2025,
        run_id="x",
        status="final",
        reads={},
        data={"n": Decimal("1.10")},
    )
    _build(root)
    page = _text(root / "x-2025" / "index.html")
    assert "not_yet" in page and '"1.10"' in page


def test_a_kind_is_registered_once():
    with pytest.raises(ValueError, match="already has a page function"):
        site.pages("clearing")(lambda report: [])
