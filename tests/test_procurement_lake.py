"""The procurement wing on a tiny lake that lives: platform files ingested, the month's and
the year's jobs run, then a second month of files, a corrected file re-sent and reruns.

Every expected figure is worked out by hand below from the files written here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from jobs import config, lake
from jobs.ingest import run as ingest
from jobs.ingest.feeds import FEEDS
from jobs.procurement import run as procurement

D = Decimal
KEY = "test-only-key"
AT = "08:00:00"
PLATFORM = (
    "drug_catalogue",
    "vbp_agreements",
    "procurement_orders",
    "deliveries",
    "distributor_payments",
)

INSTITUTIONS = [
    "record_id,institution_code,name,type,level,district",
    "I1,H1,第一医院,hospital,3,思明区",
    "I2,H2,第二医院,hospital,2,湖里区",
]
# The landing header of each platform feed is its declared columns (the formats themselves
# are checked in tests/test_generate_procurement.py and tests/test_ingest_feeds.py).
HEAD = {source: ",".join(FEEDS[source].columns) for source in PLATFORM}


def catalogue(year: int, first: int) -> list[str]:
    """W wins the group at 0.20 a tablet (reference 0.30); N does not (reference 0.50)."""
    span = f"{year}-01-01,{year}-12-31"
    return [
        f"K{first},W,阿托伐他汀钙,片剂,20mg,28,片,嘉林,G1,1,1,0.2000,0.3000,{span}",
        f"K{first + 1},N,阿托伐他汀钙,片剂,20mg,28,片,辉瑞,G1,1,0,,0.5000,{span}",
    ]


FIRST = {
    "drug_catalogue/2024-01-01/drug_catalogue_2024.csv": catalogue(2024, 1),
    "drug_catalogue/2025-01-01/drug_catalogue_2025.csv": catalogue(2025, 3),
    "vbp_agreements/2025-01-05/vbp_agreements_2025.csv": [
        "V1,H1,G1,2025,3650,2025-01-01,2025-12-31",
        "V2,H2,G1,2025,1000,2025-01-01,2025-12-31",
    ],
    # The base year: H1 buys 1,000 tablets of N at 0.50; H2 buys none of the group.
    "procurement_orders/2024-07-03/procurement_orders_202406.csv": [
        f"O1,PO1,H1,N,PS01,1000,片,0.5000,2024-06-10 {AT}",
    ],
    "deliveries/2024-07-03/deliveries_202406.csv": [
        f"D1,DL1,PO1,1000,片,2024-06-11 {AT},2024-06-12 {AT}",
    ],
    "distributor_payments/2024-07-03/distributor_payments_202406.csv": [
        f"P1,PY1,DL1,500.00,2024-06-30 {AT},fund",
    ],
    # March 2025: H1 50 boxes of W (1,400 tablets, 280.00) and 100 tablets of N at 0.55;
    # H2 1,000 tablets of W at 0.21, above its winning price.
    "procurement_orders/2025-04-03/procurement_orders_202503.csv": [
        f"O2,PO2,H1,W,PS01,50,盒,5.6000,2025-03-02 {AT}",
        f"O3,PO3,H1,N,PS01,100,片,0.5500,2025-03-02 {AT}",
        f"O4,PO4,H2,W,PS01,1000,片,0.2100,2025-03-05 {AT}",
    ],
    "deliveries/2025-04-03/deliveries_202503.csv": [
        f"D2,DL2,PO2,50,盒,2025-03-03 {AT},2025-03-04 {AT}",
        f"D3,DL3,PO3,100,片,2025-03-03 {AT},2025-03-04 {AT}",
        f"D4,DL4,PO4,1000,片,2025-03-06 {AT},2025-03-07 {AT}",
    ],
    # DL2 paid on day 30 (on time), DL4 on day 31 by H2 itself (late), DL3 not at all.
    "distributor_payments/2025-05-03/distributor_payments_202504.csv": [
        f"P2,PY2,DL2,280.00,2025-04-03 {AT},fund",
        f"P3,PY3,DL4,210.00,2025-04-07 {AT},hospital",
    ],
}
SECOND = {
    # May: H1 receives 100 more boxes of W (2,800 tablets).
    "procurement_orders/2025-06-03/procurement_orders_202505.csv": [
        f"O5,PO5,H1,W,PS01,100,盒,5.6000,2025-05-08 {AT}",
    ],
    "deliveries/2025-06-03/deliveries_202505.csv": [
        f"D5,DL5,PO5,100,盒,2025-05-09 {AT},2025-05-10 {AT}",
    ],
    # The distributor corrects March: only 80 tablets of N were delivered.
    "deliveries/2025-04-03/deliveries_202503.csv": [
        f"D2,DL2,PO2,50,盒,2025-03-03 {AT},2025-03-04 {AT}",
        f"D3,DL3,PO3,80,片,2025-03-03 {AT},2025-03-04 {AT}",
        f"D4,DL4,PO4,1000,片,2025-03-06 {AT},2025-03-07 {AT}",
    ],
}


def _land(landing: Path, files: dict[str, list[str]]) -> None:
    for relative, lines in files.items():
        source = relative.split("/", 1)[0]
        head = INSTITUTIONS[0] if source == "institutions" else HEAD[source]
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        body = lines[1:] if source == "institutions" else lines
        path.write_text("\n".join([head, *body]) + "\n", encoding="utf-8")


def _rows(spark, cfg, table: str, key: tuple[str, ...]) -> dict:
    df = lake.read_version(spark, lake.table_path(cfg, "gold", table))
    return {tuple(r[k] for k in key): r.asDict() for r in df.collect()}


@pytest.fixture(scope="module")
def lived(spark, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("DIPLAKE_HMAC_KEY", KEY)
    home = tmp_path_factory.mktemp("procurement")
    cfg = config.load({"home": str(home), "spark_master": "local[2]", "shuffle_partitions": 2})
    _land(cfg.landing, {"institutions/2024-01-01/institutions.csv": INSTITUTIONS, **FIRST})
    out = {"cfg": cfg, "ingest1": ingest.run(spark, cfg, "2025-05-31")}
    out["april"] = procurement.monthly_run(spark, cfg, 2025, 4)
    out["march"] = procurement.monthly_run(spark, cfg, 2025, 3)
    out["completion"] = _rows(spark, cfg, "vbp_completion", ("hospital_code", "as_of"))
    out["settlement"] = _rows(
        spark, cfg, "distributor_settlement", ("as_of", "level", "party_code", "month")
    )
    out["lights"] = _rows(spark, cfg, "drug_price_lights", ("institution_code", "product_code"))
    out["april_again"] = procurement.monthly_run(spark, cfg, 2025, 4)
    out["march_again"] = procurement.monthly_run(spark, cfg, 2025, 3)
    out["completion_again"] = _rows(spark, cfg, "vbp_completion", ("hospital_code", "as_of"))
    out["settlement_again"] = _rows(
        spark, cfg, "distributor_settlement", ("as_of", "level", "party_code", "month")
    )
    out["lights_again"] = _rows(
        spark, cfg, "drug_price_lights", ("institution_code", "product_code")
    )
    _land(cfg.landing, SECOND)
    out["ingest2"] = ingest.run(spark, cfg, "2025-06-30")
    out["april_corrected"] = procurement.monthly_run(spark, cfg, 2025, 4)
    out["may"] = procurement.monthly_run(spark, cfg, 2025, 5)
    out["completion_after"] = _rows(spark, cfg, "vbp_completion", ("hospital_code", "as_of"))
    out["settlement_after"] = _rows(
        spark, cfg, "distributor_settlement", ("as_of", "level", "party_code", "month")
    )
    out["retention"] = procurement.retention_run(spark, cfg, 2025)
    out["retained"] = _rows(spark, cfg, "vbp_surplus_retention", ("hospital_code",))
    yield out
    mp.undo()


def test_completion_as_of_a_month_end_counts_boxes_as_tablets(lived):
    h1 = lived["completion"]["H1", date(2025, 4, 30)]
    # Jan..Apr: 120 of 365 days; 50 boxes × 28 = 1,400 winner tablets of 3,650 agreed
    assert (h1["schedule"], h1["winner_qty"], h1["other_qty"]) == (D("0.328767"), 1400, 100)
    assert (h1["completion"], h1["non_winner_share"], h1["light"]) == (
        D("0.383562"),
        D("0.066667"),  # 100 of 1,500
        "green",
    )
    h2 = lived["completion"]["H2", date(2025, 4, 30)]
    assert (h2["completion"], h2["non_winner_share"], h2["light"]) == (
        D("1.000000"),
        D("0.000000"),
        "green",
    )
    # March: 90 of 365 days (0.246575); H1 already at 0.383562
    assert lived["completion"]["H1", date(2025, 3, 31)]["schedule"] == D("0.246575")


def test_settlement_on_day_30_and_31_as_of_april(lived):
    april = date(2025, 4, 30)
    ps01 = lived["settlement"][april, "distributor", "PS01", "2025-03"]
    # 280.00 (W to H1) + 55.00 (N to H1) + 210.00 (W to H2)
    assert (ps01["deliveries"], ps01["due"]) == (3, D("545.00"))
    assert (ps01["paid_on_time"], ps01["paid_late"], ps01["unpaid"]) == (
        D("280.00"),
        D("210.00"),
        D("55.00"),
    )
    # DL3 due by 3 Apr, unpaid on 30 Apr: 27 days; DL4 paid one day late
    assert (ps01["overdue"], ps01["late_deliveries"], ps01["max_days_overdue"]) == (
        D("55.00"),
        2,
        27,
    )
    h2 = lived["settlement"][april, "hospital", "H2", "2025-03"]
    assert (h2["due"], h2["paid_late"], h2["max_days_overdue"]) == (D("210.00"), D("210.00"), 1)
    base = lived["settlement"][april, "distributor", "PS01", "2024-06"]
    assert (base["paid_on_time"], base["unpaid"]) == (D("500.00"), D("0.00"))


def test_price_lights_of_march(lived):
    lights = lived["lights"]
    assert (lights["H1", "W"]["ratio"], lights["H1", "W"]["light"]) == (D("1.000000"), "green")
    assert (lights["H1", "N"]["ratio"], lights["H1", "N"]["light"]) == (D("1.100000"), "green")
    h2 = lights["H2", "W"]
    assert (h2["ratio"], h2["light"], h2["reason"]) == (D("1.050000"), "red", "above_winning_price")
    assert {r["month"] for r in lights.values()} == {"2025-03"}


def test_a_rerun_on_the_same_lake_writes_the_same_rows(lived):
    assert lived["april_again"]["run_id"] == lived["april"]["run_id"]
    assert lived["march_again"]["run_id"] == lived["march"]["run_id"]
    assert lived["completion_again"] == lived["completion"]
    assert lived["settlement_again"] == lived["settlement"]
    assert lived["lights_again"] == lived["lights"]


def test_a_second_month_and_a_corrected_file_move_the_figures(lived):
    assert lived["april_corrected"]["run_id"] != lived["april"]["run_id"]  # newer silver
    h1 = lived["completion_after"]["H1", date(2025, 4, 30)]
    # the corrected March file: 80 tablets of N, not 100 (80 of 1,480)
    assert (h1["other_qty"], h1["non_winner_share"]) == (80, D("0.054054"))
    ps01 = lived["settlement_after"][date(2025, 4, 30), "distributor", "PS01", "2025-03"]
    assert (ps01["due"], ps01["unpaid"]) == (D("534.00"), D("44.00"))  # 80 × 0.55
    may = lived["completion_after"]["H1", date(2025, 5, 31)]
    # 151 of 365 days; 1,400 + 2,800 = 4,200 of 3,650
    assert (may["schedule"], may["winner_qty"], may["completion"]) == (
        D("0.413699"),
        4200,
        D("1.150685"),
    )


def test_retention_at_the_year_end(lived):
    got = lived["retained"]
    # H2: no base of its own; the city's (H1's 1,000 at 0.50) is 0.50. Completion 1.
    # saving = 0.7 × (0.50 × 1,000 − 210.00) = 203.00; retained × 0.5 = 101.50
    h2 = got["H2",]
    assert (h2["base_source"], h2["base_price"], h2["saving"], h2["gate"], h2["retained"]) == (
        "city",
        D("0.500000"),
        D("203.00"),
        D("1.000000"),
        D("101.50"),
    )
    # H1: 4,200 winners at 0.20 against its own 0.50: saving 0.7 × 1,260 = 882.00, but its
    # completion 1.150685 passes the gate at 1 and 80 of 4,280 are non-winners: 441.00
    h1 = got["H1",]
    assert (h1["base_source"], h1["saving"], h1["gate"], h1["retained"]) == (
        "own",
        D("882.00"),
        D("1.000000"),
        D("441.00"),
    )
    assert lived["retention"]["retained"] == "542.50"
