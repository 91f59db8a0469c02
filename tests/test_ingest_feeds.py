"""The CSV feeds: each reason code fires on its own defect, clean lines pass, no PII survives."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from jobs.ingest import csv_feeds, feeds
from jobs.ingest.reference import parse_csv
from jobs.pseudonymise import person_key_value

GOOD_ID = "11010519491231002X"  # GB 11643 example number, valid checksum
BAD_ID = "110105194912310021"


def _lines(spark, feed: feeds.Feed, rows: list[str]):
    texts = [",".join(feed.columns), *rows]
    data = [
        (f"{feed.source}/2024-01-01/x.csv", i + 1, t, "2024-01-01") for i, t in enumerate(texts)
    ]
    return parse_csv(
        spark.createDataFrame(data, "source_file string, line int, text string, day string"),
        feed.columns,
    )


@pytest.fixture(scope="module")
def institutions(spark):
    return spark.createDataFrame(
        [("H1", "hospital"), ("P1", "pharmacy")], "institution_code string, type string"
    )


# What the procurement feeds refer to: a winning product sold in boxes of 28 tablets and
# another maker's, two orders (10 boxes at 5.60 a box; 100 tablets at 0.20) and a delivery.
CATALOGUE = [
    ("XW1", 28, "片", "G1"),
    ("XN1", 7, "片", "G1"),
]
ORDERS = [
    ("PO1", "H1", "XW1", "G1", "PS01", 28, "片", "盒", Decimal("5.6000"), 280, Decimal("56.0000")),
    ("PO2", "H1", "XW1", "G1", "PS01", 28, "片", "片", Decimal("0.2000"), 100, Decimal("20.0000")),
]


@pytest.fixture(scope="module")
def lookups(spark):
    return {
        "drug_catalogue": spark.createDataFrame(
            CATALOGUE, "product_code string, pack_size int, smallest_unit string, group_id string"
        ),
        "procurement_orders": spark.createDataFrame(
            ORDERS,
            "order_id string, hospital_code string, product_code string, group_id string, "
            "distributor_code string, pack_size int, smallest_unit string, unit string, "
            "unit_price decimal(18,4), qty_units bigint, amount decimal(18,4)",
        ),
        # a wall-clock time in the session's zone, as the feeds' timestamps are read
        "deliveries": spark.createDataFrame(
            [("DL1", Decimal("56.0000"), "2024-01-01 09:00:00")],
            "delivery_id string, amount decimal(18,4), accepted_at string",
        ).withColumn("accepted_at", F.to_timestamp("accepted_at")),
    }


def _conformed(spark, institutions, lookups, source: str, rows: list[str]):
    feed = feeds.FEEDS[source]
    return csv_feeds.conform(feed, _lines(spark, feed, rows), institutions, lookups)


def _reasons(spark, institutions, source: str, rows: list[str], lookups=None) -> list[list[str]]:
    out = _conformed(spark, institutions, lookups, source, rows).orderBy("line")
    return [sorted(r.reasons) for r in out.collect()]


def _offsite(
    d="outbound",
    ins="350200",
    tr="310000",
    inst="H31000000001",
    who=GOOD_ID,
    filing="resident",
    visit="inpatient",
    start="2023-12-01",
    money="1000.00,900.00,100.00,680.00,20.00,300.00",
    at="2023-12-05 10:00:00",
) -> str:
    return (
        f"S1,X1,{d},{ins},{tr},{inst},W1,{who},某某,{filing},{visit},{start},2023-12-05,K35.8,"
        f"{money},{at}"
    )


CASES = {
    "fee_details": [
        ("E1,ZY1,H1,2024-01-01,1102,床位费,bed,1,13.26,13.26", []),
        (",ZY1,H1,2024-01-01,1102,床位费,bed,1,13.26,13.26", ["missing_record_id"]),
        ("E2,,H1,2024-01-01,1102,床位费,bed,1,13.26,13.26", ["missing_case_id"]),
        ("E3,ZY1,P1,2024-01-01,1102,床位费,bed,1,13.26,13.26", ["unknown_hospital"]),
        ("E4,ZY1,H1,2024-13-45,1102,床位费,bed,1,13.26,13.26", ["invalid_date"]),
        ("E5,ZY1,H1,2024-01-01,1102,床位费,food,1,13.26,13.26", ["invalid_category"]),
        ("E6,ZY1,H1,2024-01-01,1102,床位费,bed,1,13.26,abc", ["invalid_amount"]),
        ("E8,ZY1,H1,2024-01-01,1102,床位费,bed,1,13.26,13.26", []),  # the landing day itself
        ("E9,ZY1,H1,2024-01-02,1102,床位费,bed,1,13.26,13.26", ["date_in_future"]),
        # Over the plausibility threshold of one fee line (1,000,000 yuan): a unit error.
        ("E10,ZY1,H1,2024-01-01,1102,床位费,bed,1,1326000.00,1326000.00", ["absurd_cost"]),
        ("E11,ZY1,H1,2024-01-01,1102,床位费,bed,1,999999.99,999999.99", []),
        (
            "E7,ZY1,H1,2024-01-01,1102",  # cut short: what is missing is named too
            [
                "malformed_record",
                "missing_amount",
                "missing_category",
                "missing_quantity",
                "missing_unit_price",
            ],
        ),
    ],
    "outpatient_pharmacy": [
        (f"T1,{GOOD_ID},P1,2024-01-01 08:00:00,X1,2,30,123,10.00", []),
        (f"T2,{BAD_ID},P1,2024-01-01 08:00:00,X1,2,30,123,10.00", ["invalid_id_checksum"]),
        (f"T3,{GOOD_ID},P9,2024-01-01 08:00:00,X1,2,30,123,10.00", ["unknown_institution"]),
        (f"T4,{GOOD_ID},P1,yesterday,X1,2,30,123,10.00", ["invalid_timestamp"]),
        (f"T5,{GOOD_ID},P1,2024-01-01 08:00:00,X1,two,30,123,10.00", ["invalid_number"]),
        (f"T6,{GOOD_ID},P1,2024-01-01 08:00:00,X1,2,400,123,10.00", ["days_supply_out_of_range"]),
        (f"T7,{GOOD_ID},P1,2024-01-01 23:59:59,X1,2,30,123,10.00", []),
        (f"T8,{GOOD_ID},P1,2024-01-02 00:00:00,X1,2,30,123,10.00", ["date_in_future"]),
    ],
    "face_checks": [
        (f"K1,person,{GOOD_ID},H1,2024-01-01 08:00:00,Y", []),
        ("K2,doctor,D0001,H1,2024-01-01 08:00:00,N", []),  # doctor ids are not ID numbers
        (f"K3,person,{BAD_ID},H1,2024-01-01 08:00:00,Y", ["invalid_id_checksum"]),
        (f"K4,nurse,{GOOD_ID},H1,2024-01-01 08:00:00,Y", ["invalid_subject_type"]),
        (f"K5,person,{GOOD_ID},H1,2024-01-01 08:00:00,maybe", ["invalid_flag"]),
    ],
    "doctors": [
        ("R1,D1,张医生,H1,,active,2021-01-01,", []),
        ("R2,D2,王医生,H9,,active,2021-01-01,", ["unknown_institution"]),
        ("R3,D3,李医生,H1,,retired,2021-01-01,", ["invalid_status"]),
        ("R4,,赵医生,H1,,active,2021-01-01,", ["missing_doctor_id"]),
    ],
    "prepayments": [
        ("F1,H1,2024,1,100.00", []),
        ("F2,H1,2024,13,100.00", ["month_out_of_range"]),
        ("F3,H1,1899,1,100.00", ["year_out_of_range"]),
        ("F4,H1,2024,1,", ["missing_amount"]),
    ],
    "assessment_scores": [
        ("S1,H1,2024,0.9658", []),
        ("S2,H1,2024,2.5", ["coefficient_out_of_range"]),
        ("S3,H1,2024,12345.6789", ["invalid_amount"]),  # does not fit decimal(6,4)
    ],
    "audit_deductions": [
        ("V1,H1,2024,重复收费,45866.40", []),
        ("V2,H1,2024,重复收费,-5", ["amount_out_of_range"]),
        ("V3,H1,2024,重复收费,5.005", ["invalid_amount"]),  # fractions of a fen are not rounded
    ],
    "audit_outcomes": [
        ("U1,case,ZY1,,cleared,2023-12-01", []),
        (f"U2,person,{GOOD_ID},DRUG_RESALE,confirmed,2023-12-01", []),
        (f"U3,person,{BAD_ID},DRUG_RESALE,confirmed,2023-12-01", ["invalid_id_checksum"]),
        ("U4,case,ZY1,,dismissed,2023-12-01", ["invalid_outcome"]),
        # The file landed on 2024-01-01: an investigation of the next day is not yet.
        ("U5,case,ZY1,,cleared,2024-01-02", ["date_in_future"]),
    ],
    "external_enrolments": [
        (f"X1,{GOOD_ID},张三,350102,employee,2024-01-01,", []),
        (f"X2,{GOOD_ID},张三,350102,employee,,", ["missing_enrol_start"]),
    ],
    "fund_budgets": [
        ("B1,2024,1850000000.00,0.0500,2023-12-20", []),
        ("B2,2024,1850000000.00,,2023-12-20", []),  # no rate: the proposal takes 0.05
        ("B3,2024,1850000000.00,0.6000,2023-12-20", ["deposit_rate_out_of_range"]),
        ("B4,2024,-1.00,0.0500,2023-12-20", ["budget_out_of_range"]),
        ("B5,2024,1850000000.00,0.0500,2024-01-02", ["date_in_future"]),
    ],
    "experts": [
        ("L1,EX1,张专家,surgery,H1,主任医师,2020-01-01,", []),
        ("L2,EX2,王专家,dentistry,H1,主任医师,2020-01-01,", ["invalid_field"]),
        ("L3,EX3,李专家,surgery,P1,主任医师,2020-01-01,", ["unknown_hospital"]),
        # An appointment's term may begin after its file landed: not a date in the future.
        ("L4,EX4,赵专家,oncology,H1,副主任医师,2024-06-01,2026-05-31", []),
        ("L5,EX5,钱专家,oncology,H1,副主任医师,,", ["missing_active_from"]),
    ],
    "special_review_applications": [
        ("A1,ZY1,H1,病情危重,2023-12-30 10:00:00", []),
        ("A2,ZY1,P1,病情危重,2023-12-30 10:00:00", ["unknown_hospital"]),
        ("A3,,H1,病情危重,2023-12-30 10:00:00", ["missing_case_id"]),
        ("A4,ZY1,H1,病情危重,2024-01-02 10:00:00", ["date_in_future"]),
    ],
    "special_review_decisions": [
        ("R1,ZY1,EX1,approve,12000.00,2023-12-30 10:00:00", []),
        ("R2,ZY1,EX1,reject,,2023-12-30 10:00:00", []),
        ("R3,ZY1,EX1,maybe,,2023-12-30 10:00:00", ["invalid_decision"]),
        ("R4,ZY1,EX1,approve,-5.00,2023-12-30 10:00:00", ["approved_cost_out_of_range"]),
        ("R5,ZY1,,approve,100.00,2023-12-30 10:00:00", ["missing_expert_id"]),
    ],
    "drug_catalogue": [
        ("K1,XW1,阿托伐他汀钙,片剂,20mg,28,片,嘉林,G1,1,1,0.0500,0.1250,2024-01-01,2024-12-31", []),
        ("K2,XN1,阿托伐他汀钙,片剂,20mg,7,片,齐鲁,G1,1,0,,0.1250,2024-01-01,", []),
        (
            "K3,XW1,阿托伐他汀钙,片剂,20mg,28,片,嘉林,G1,1,1,,0.1250,2024-01-01,2024-12-31",
            ["missing_winning_price"],
        ),
        (
            "K4,XW1,阿托伐他汀钙,片剂,20mg,0,片,嘉林,G1,1,1,0.0500,0.1250,2024-01-01,2024-12-31",
            ["pack_size_out_of_range"],
        ),
        (
            "K5,XW1,阿托伐他汀钙,片剂,20mg,28,片,嘉林,G1,1,yes,0.0500,0.1250,2024-01-01,",
            ["invalid_flag"],
        ),
        (
            "K6,XW1,阿托伐他汀钙,片剂,20mg,28,片,嘉林,G1,1,1,0.0500,0.1250,2024-01-01,2023-12-31",
            ["valid_to_before_valid_from"],
        ),
        (
            "K7,XW1,阿托伐他汀钙,片剂,20mg,28,片,嘉林,G1,1,0,,0.12x,2024-01-01,2024-12-31",
            ["invalid_amount"],
        ),
        (
            "K8,XW1,阿托伐他汀钙,片剂,20mg,28,片,嘉林,,1,0,,0.1250,2024-01-01,2024-12-31",
            ["missing_group_id"],
        ),
        (
            "K9,XW1,阿托伐他汀钙,片剂,20mg,28,片,嘉林,G1,1,0,,0.0000,2024-01-01,2024-12-31",
            ["reference_price_out_of_range"],
        ),
    ],
    "vbp_agreements": [
        ("V1,H1,G1,2024,36500,2024-01-01,2024-12-31", []),
        ("V2,H1,G9,2024,36500,2024-01-01,2024-12-31", ["unknown_group"]),
        ("V3,P1,G1,2024,36500,2024-01-01,2024-12-31", ["unknown_hospital"]),
        ("V4,H1,G1,2024,0,2024-01-01,2024-12-31", ["agreed_qty_out_of_range"]),
        ("V5,H1,G1,2024,100,2024-12-31,2024-01-01", ["contract_end_before_start"]),
    ],
    "procurement_orders": [
        ("O1,PO10,H1,XW1,PS01,10,盒,5.6000,2024-01-01 08:00:00", []),
        ("O2,PO11,H1,XW1,PS01,100,片,0.2000,2024-01-01 08:00:00", []),
        ("O3,PO12,H1,XZZ,PS01,10,片,0.2000,2024-01-01 08:00:00", ["unknown_product"]),
        ("O4,PO13,H1,XW1,PS01,0,片,0.2000,2024-01-01 08:00:00", ["qty_out_of_range"]),
        ("O5,PO14,H1,XW1,PS01,-5,片,0.2000,2024-01-01 08:00:00", ["qty_out_of_range"]),
        ("O6,PO15,H1,XW1,PS01,10,支,0.2000,2024-01-01 08:00:00", ["unknown_unit"]),
        ("O7,PO16,H1,XW1,PS01,10,片,0.2000,2024-01-02 00:00:00", ["date_in_future"]),
        ("O8,PO17,P1,XW1,PS01,10,片,0.2000,2024-01-01 08:00:00", ["unknown_hospital"]),
        # 300 million boxes of 28: past every integer type on the way, quarantined all the same
        ("O9,PO18,H1,XW1,PS01,300000000,盒,5.6000,2024-01-01 08:00:00", ["qty_out_of_range"]),
        (
            "O10,PO19,H1,XW1,PS01,10,盒,99999999999999.0000,2024-01-01 08:00:00",
            ["unit_price_out_of_range"],
        ),
    ],
    "deliveries": [
        ("D1,DL10,PO1,10,盒,2024-01-01 08:00:00,2024-01-01 09:00:00", []),
        ("D2,DL11,PO9,10,盒,2024-01-01 08:00:00,2024-01-01 09:00:00", ["delivery_without_order"]),
        ("D3,DL12,PO1,0,盒,2024-01-01 08:00:00,2024-01-01 09:00:00", ["qty_out_of_range"]),
        ("D4,DL13,PO1,10,支,2024-01-01 08:00:00,2024-01-01 09:00:00", ["unknown_unit"]),
        (
            "D5,DL14,PO1,10,盒,2024-01-01 09:00:00,2024-01-01 08:00:00",
            ["accepted_before_delivered"],
        ),
        ("D6,DL15,PO2,50,片,2024-01-01 08:00:00,", []),  # delivered, not accepted yet
    ],
    "distributor_payments": [
        ("P1,PY10,DL1,56.00,2024-01-01 12:00:00,fund", []),
        ("P2,PY11,DL9,56.00,2024-01-01 12:00:00,fund", ["payment_without_delivery"]),
        ("P3,PY12,DL1,56.01,2024-01-01 12:00:00,fund", ["payment_exceeds_delivery"]),
        ("P4,PY13,DL1,10.00,2024-01-01 12:00:00,bank", ["invalid_payer"]),
        ("P5,PY14,DL1,10.00,2023-12-31 12:00:00,hospital", ["paid_before_accepted"]),
        ("P6,PY15,DL1,0.00,2024-01-01 12:00:00,fund", ["amount_out_of_range"]),
    ],
    # SPEC 12: the national platform. ``out``: an outbound stay; fund + account + cash = total.
    "offsite_settlements": [
        (_offsite(), []),
        (_offsite(d="inbound", ins="360700", tr="350200", inst="H1", visit="outpatient"), []),
        (_offsite(tr="990100"), ["unknown_region"]),  # no pooling region the city clears with
        (_offsite(ins="310000", tr="350200"), ["direction_contradicts_region"]),
        (_offsite(money="1000.00,900.00,100.00,680.00,20.00,301.00"), ["amounts_do_not_add_up"]),
        (_offsite(money="1000.00,1100.00,100.00,680.00,20.00,300.00"), ["eligible_above_total"]),
        (_offsite(money="1000.00,900.00,100.00,-10.00,0.00,1010.00"), ["fund_paid_out_of_range"]),
        (_offsite(start="2023-12-06"), ["discharge_before_admission"]),
        (_offsite(filing="abroad"), ["invalid_filing"]),
        (_offsite(visit="dental"), ["invalid_visit_type"]),
        (_offsite(who=BAD_ID), ["invalid_id_checksum"]),
        (_offsite(at=""), ["missing_settled_at"]),
        (_offsite(at="2024-01-02 08:00:00"), ["date_in_future"]),
    ],
    "offsite_clearing_statements": [
        ("T1,2023-12,310000,outbound,3,1500.00", []),
        ("T2,2023-13,310000,outbound,3,1500.00", ["invalid_month"]),
        ("T3,2023-12,990100,outbound,3,1500.00", ["unknown_region"]),
        ("T4,2023-12,310000,sideways,3,1500.00", ["invalid_direction"]),
        ("T5,2023-12,310000,outbound,-1,1500.00", ["settlements_out_of_range"]),
    ],
    "offsite_statement_lines": [
        ("N1,2023-12,310000,outbound,X1,680.00", []),
        ("N2,2023-12,310000,outbound,,680.00", ["missing_settlement_id"]),
        ("N3,2023-12,310000,outbound,X1,abc", ["invalid_amount"]),
    ],
}


def test_every_feed_has_cases():
    assert set(CASES) == set(feeds.FEEDS)


@pytest.mark.parametrize("source", sorted(CASES))
def test_each_reason_code(spark, institutions, lookups, source):
    rows, expected = zip(*CASES[source], strict=True)
    got = _reasons(spark, institutions, source, list(rows), lookups)
    assert got == [sorted(e) for e in expected]


def test_a_wrong_header_rejects_the_file(spark, institutions, tmp_path):
    from jobs.ingest.landing import discover, wrong_headers

    feed = feeds.FEEDS["prepayments"]
    day = tmp_path / "prepayments" / "2024-01-01"
    day.mkdir(parents=True)
    (day / "good.csv").write_text('"' + '","'.join(feed.columns) + '"\nF1,H1,2024,1,1.00\n')
    (day / "bad.csv").write_text("id,hospital,yr,mon,amt\nF1,H1,2024,1,1.00\n")
    (day / "gbk.csv").write_bytes(("记录号," + ",".join(feed.columns[1:]) + "\n").encode("gbk"))
    found = discover(tmp_path, ["prepayments"]).files
    assert sorted(wrong_headers(found, ",".join(feed.columns))) == [
        "prepayments/2024-01-01/bad.csv",
        "prepayments/2024-01-01/gbk.csv",
    ]
    raw = [(f"{feed.source}/2024-01-01/x.csv", 2, "F1,H1,2024,1,100.00", "2024-01-01")]
    frame = spark.createDataFrame(raw, "source_file string, line int, text string, day string")
    parsed = parse_csv(frame, feed.columns, ["prepayments/2024-01-01/x.csv"])
    got = csv_feeds.conform(feed, parsed, institutions).first()
    assert got.reasons == ["unexpected_header"]


def test_silver_rows_are_typed_and_pseudonymised(spark, institutions):
    key = b"test-only-key"
    feed = feeds.FEEDS["audit_outcomes"]
    lines = _lines(
        spark,
        feed,
        [
            f"U2,person,{GOOD_ID},DRUG_RESALE,confirmed,2023-12-01",
            "U1,case,ZY1,,cleared,2023-12-01",
        ],
    )
    rows = csv_feeds.to_silver(feed, csv_feeds.conform(feed, lines, institutions), key).collect()
    by_id = {r.record_id: r for r in rows}
    assert by_id["U2"].entity_id == person_key_value(key, GOOD_ID)
    assert by_id["U1"].entity_id == "ZY1"  # only persons are pseudonymised
    feed = feeds.FEEDS["doctors"]
    lines = _lines(spark, feed, ["R1,D1,张医生,H1,,active,2021-01-01,"])
    silver = csv_feeds.to_silver(feed, csv_feeds.conform(feed, lines, institutions), key)
    assert "name" not in silver.columns
    feed = feeds.FEEDS["prepayments"]
    lines = _lines(spark, feed, ["F1,H1,2024,1,1297822.05"])
    row = csv_feeds.to_silver(feed, csv_feeds.conform(feed, lines, institutions), key).first()
    assert (row.year, row.month, row.amount) == (2024, 1, Decimal("1297822.05"))


def test_procurement_quantities_reach_silver_in_the_smallest_unit(spark, institutions, lookups):
    key = b"test-only-key"
    orders = _conformed(
        spark,
        institutions,
        lookups,
        "procurement_orders",
        ["O1,PO10,H1,XW1,PS01,10,盒,5.6000,2024-01-01 08:00:00"],
    )
    row = csv_feeds.to_silver(feeds.FEEDS["procurement_orders"], orders, key).first()
    # 10 boxes of 28 at 5.60 a box: 280 tablets, 56.0000 yuan, of the winner's group
    assert (row.qty_units, row.amount, row.group_id, row.pack_size, row.smallest_unit) == (
        280,
        Decimal("56.0000"),
        "G1",
        28,
        "片",
    )
    deliveries = _conformed(
        spark,
        institutions,
        lookups,
        "deliveries",
        [
            "D1,DL10,PO1,5,盒,2024-01-01 08:00:00,2024-01-01 09:00:00",  # half the boxes
            "D2,DL11,PO1,280,片,2024-01-01 08:00:00,2024-01-01 09:00:00",  # a box order in tablets
            "D3,DL12,PO2,2,盒,2024-01-01 08:00:00,2024-01-01 09:00:00",  # a tablet order in boxes
        ],
    )
    got = {
        r.record_id: r
        for r in csv_feeds.to_silver(feeds.FEEDS["deliveries"], deliveries, key).collect()
    }
    assert (got["D1"].qty_units, got["D1"].amount) == (140, Decimal("28.0000"))  # 5 × 5.60
    assert (got["D2"].qty_units, got["D2"].amount) == (280, Decimal("56.0000"))
    # 56 tablets at the order's 0.20 a tablet
    assert (got["D3"].qty_units, got["D3"].amount) == (56, Decimal("11.2000"))
    assert {r.hospital_code for r in got.values()} == {"H1"}
    assert {(r.product_code, r.distributor_code) for r in got.values()} == {("XW1", "PS01")}
