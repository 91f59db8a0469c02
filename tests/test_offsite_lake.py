"""The off-site wing on a tiny lake that lives: the platform's March files and the hospital's
settlement lists ingested, March reconciled; then April's files (a settlement the March
statement cleared too early, a correction) and March again; April refused until its
statement lands. Every expected figure is worked out by hand below from the files.

The people: MAN (the city's insured; stays here 2–9 and 26–28 March), VISITOR (insured
in Ganzhou, 360700; a stay here 10–15 March) and GUEST (insured in Quanzhou, 350500; a
stay here 20–25 March that the platform never settled).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import id_number

from jobs import config, lake
from jobs.fraud import rules
from jobs.ingest import run as ingest
from jobs.ingest.feeds import FEEDS
from jobs.offsite import run as offsite
from jobs.pseudonymise import person_key_value

D = Decimal
KEY = "test-only-key"


MAN = id_number("35020319700101001")
VISITOR = id_number("36070219900303003")
GUEST = id_number("35050219850505005")
PLATFORM = ("offsite_settlements", "offsite_clearing_statements", "offsite_statement_lines")
HEAD = {s: ",".join(FEEDS[s].columns) for s in PLATFORM}
COSTS = {
    "total": "1000.00",
    "drugs": "100.00",
    "consumables": "200.00",
    "exams": "150.00",
    "treatment": "300.00",
    "nursing": "50.00",
    "bed": "180.00",
    "other": "20.00",
    "fund_paid": "700.00",
    "self_paid": "300.00",
}


def listed(record_id, case_id, id_no, sex, birth, admitted, discharged, region=None) -> str:
    """One dialect-A settlement list; ``region``: the new ``insured_region`` (None: left out)."""
    patient = {"id_no": id_no, "name": "某某", "sex": sex, "birth_date": birth}
    if region is not None:
        patient["insured_region"] = region
    return json.dumps(
        {
            "record_id": record_id,
            "submitted_at": "2025-04-05 09:00:00",
            "case": {
                "case_id": case_id,
                "hospital_code": "H1",
                "admission_date": admitted,
                "discharge_date": discharged,
                "admission_type": "elective",
                "discharge_status": "cured",
                "attending_doctor": "D1",
            },
            "patient": patient,
            "diagnoses": [{"code": "K35.8", "principal": True}],
            "procedures": [{"code": "47.09", "principal": True}],
            "costs": COSTS,
        },
        ensure_ascii=False,
    )


def settled(sid, direction, region, inst, case, who, filing, visit, start, end, money, at):
    """One platform settlement; ``money``: total, eligible, deductible, fund, account, self."""
    insured, treating = ("350200", region) if direction == "outbound" else (region, "350200")
    return ",".join(
        [f"R{sid}", sid, direction, insured, treating, inst, case, who, "某某", filing, visit,
         start, end, "K35.8", *money, at]
    )  # fmt: skip


# Outbound: X1 MAN's stay in Shanghai, resident: (10,000 - 1,000) × 0.85 = 7,650.00.
X1 = settled("X1", "outbound", "310000", "H31000000001", "W1", MAN, "resident", "inpatient",
             "2025-03-20", "2025-03-25",
             ("12000.00", "10000.00", "1000.00", "7650.00", "0.00", "4350.00"),
             "2025-03-25 10:00:00")  # fmt: skip
# X2 MAN's outpatient visit in Shanghai on 5 March, inside his stay here (2-9 March):
# temporary, 280 × (0.70 - 0.10) = 168.00.
X2 = settled("X2", "outbound", "310000", "H31000000002", "W2", MAN, "temporary", "outpatient",
             "2025-03-05", "2025-03-05",
             ("300.00", "280.00", "0.00", "168.00", "0.00", "132.00"),
             "2025-03-05 15:00:00")  # fmt: skip
# X3 VISITOR's stay at H1 (case C2), paid by Ganzhou's rules: 700.00.
X3 = settled("X3", "inbound", "360700", "H1", "C2", VISITOR, "resident", "inpatient",
             "2025-03-10", "2025-03-15",
             ("1000.00", "1000.00", "0.00", "700.00", "0.00", "300.00"),
             "2025-03-15 12:00:00")  # fmt: skip


def x4(fund: str, self_paid: str) -> str:
    """An unfiled outpatient visit in Shenzhen at the last second of March: its share is
    0.70 - 0.20 = 0.50 of 200, 100.00; first sent paid at a resident's 0.70 (140.00)."""
    return settled("X4", "outbound", "440300", "H44030000001", "W4", MAN, "unfiled",
                   "outpatient", "2025-03-31", "2025-03-31",
                   ("200.00", "200.00", "0.00", fund, "0.00", self_paid),
                   "2025-03-31 23:59:59")  # fmt: skip


# X5: settled a second after March (April's file); the March statement clears it.
X5 = settled("X5", "outbound", "310000", "H31000000001", "W5", MAN, "referral", "inpatient",
             "2025-03-30", "2025-04-01",
             ("5000.00", "5000.00", "1000.00", "3400.00", "0.00", "1600.00"),
             "2025-04-01 00:00:00")  # fmt: skip
# X6: a temporary stay in Quanzhou that no statement clears: 1,000 × 0.75 = 750.00.
X6 = settled("X6", "outbound", "350500", "H35050000001", "W6", MAN, "temporary", "inpatient",
             "2025-03-11", "2025-03-12",
             ("2000.00", "2000.00", "1000.00", "750.00", "0.00", "1250.00"),
             "2025-03-12 09:30:00")  # fmt: skip

STATEMENT = [  # the March statement: its lines' totals
    "C1,2025-03,310000,outbound,3,11218.00",  # X1 + X2 + X5
    "C2,2025-03,360700,inbound,1,700.00",  # X3
    "C3,2025-03,440300,outbound,1,140.01",  # X4, a fen more than paid
    "C4,2025-03,350500,outbound,1,55.55",  # X9: never reached the lake
]
LINES = [
    "L1,2025-03,310000,outbound,X1,7650.00",
    "L2,2025-03,310000,outbound,X2,168.00",
    "L3,2025-03,310000,outbound,X5,3400.00",
    "L4,2025-03,360700,inbound,X3,700.00",
    "L5,2025-03,440300,outbound,X4,140.01",
    "L6,2025-03,350500,outbound,X9,55.55",
]
OLD_C_HEAD = (
    "record_id|case_no|org_code|idcard|pname|gender|birthday|in_date|out_date|in_way|out_way|"
    "main_diag|other_diags|main_oper|other_opers|doctor|total_fen|drug_fen|material_fen|"
    "exam_fen|treat_fen|nurse_fen|bed_fen|other_fen|fund_fen|self_fen"
)
FIRST = {
    "institutions/2025-01-01/institutions.csv": [
        "record_id,institution_code,name,type,level,district",
        "I1,H1,第一医院,hospital,3,思明区",
    ],
    "insured_registry/2025-01-01/registry.csv": [
        "record_id,id_no,name,sex,birth_date,insurance_type,district,village,enrol_start,"
        "enrol_end,death_date",
        f"P1,{MAN},张三,M,1970-01-01,employee,思明区,,2020-01-01,,",
    ],
    "settlement_lists/2025-04-05/A_202503.jsonl": [
        listed("A1", "C1", MAN, "M", "1970-01-01", "2025-03-02", "2025-03-09", "350200"),
        listed("A2", "C2", VISITOR, "F", "1990-03-03", "2025-03-10", "2025-03-15", "360700"),
        listed("A3", "C3", GUEST, "M", "1985-05-05", "2025-03-20", "2025-03-25", "350500"),
    ],
    # A vendor still on the old layout: no insured_region column, the city's own insured.
    "settlement_lists/2025-04-05/C_202503.txt": [
        OLD_C_HEAD,
        f"C1|C4|H1|{MAN}|张三|1|19700101|20250326|20250328|2|1|K358||4709||D1|100000|10000|"
        "20000|15000|30000|5000|18000|2000|70000|30000",
    ],
    "offsite_settlements/2025-04-02/offsite_settlements_202503.csv": [
        HEAD["offsite_settlements"], X1, X2, X3, x4("140.00", "60.00"), X6,
    ],
    "offsite_clearing_statements/2025-04-15/offsite_clearing_statements_202503.csv": [
        HEAD["offsite_clearing_statements"], *STATEMENT,
    ],
    "offsite_statement_lines/2025-04-15/offsite_statement_lines_202503.csv": [
        HEAD["offsite_statement_lines"], *LINES,
    ],
}  # fmt: skip
SECOND = {
    # April's file: X5, and X4 corrected (the same id, paid at its filing's 100.00).
    "offsite_settlements/2025-05-02/offsite_settlements_202504.csv": [
        HEAD["offsite_settlements"], X5.replace("RX5", "RX5b"),
        x4("100.00", "100.00").replace("RX4", "RX4b"),
    ],
}  # fmt: skip


def _land(landing: Path, files: dict[str, list[str]]) -> None:
    for relative, lines in files.items():
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _gold(spark, cfg, table: str, month: str | None = "2025-03") -> list[dict]:
    df = lake.read_version(spark, lake.table_path(cfg, "gold", table))
    if month:
        df = df.filter(df.month == month)
    return [r.asDict() for r in df.collect()]


@pytest.fixture(scope="module")
def lived(spark, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("DIPLAKE_HMAC_KEY", KEY)
    home = tmp_path_factory.mktemp("offsite")
    cfg = config.load({"home": str(home), "spark_master": "local[2]", "shuffle_partitions": 2})
    _land(cfg.landing, FIRST)
    out = {"cfg": cfg, "ingest1": ingest.run(spark, cfg, "2025-04-20")}
    out["march"] = offsite.monthly_run(spark, cfg, 2025, 3)
    tables = ("offsite_differences", "offsite_reconciliation", "offsite_policy_breaks")
    out["first"] = {t: _gold(spark, cfg, t) for t in tables}
    out["march_again"] = offsite.monthly_run(spark, cfg, 2025, 3)
    out["again"] = {t: _gold(spark, cfg, t) for t in tables}
    out["silver_discharges"] = {
        r.case_id: r.insured_region
        for r in lake.read_version(spark, lake.table_path(cfg, "silver", "discharges")).collect()
    }
    rule = next(r for r in rules.load_rules() if r.name == "treated_elsewhere_during_local_stay")
    silver = {
        name: lake.read_version(spark, lake.table_path(cfg, "silver", name))
        for name in ("offsite_settlements", "discharges")
    }
    found = rule.hits(spark, silver, date(2025, 1, 1), date(2025, 12, 31)).collect()
    out["rule"] = {r.entity_id for r in found}
    _land(cfg.landing, SECOND)
    out["ingest2"] = ingest.run(spark, cfg, "2025-05-10")
    out["march_after"] = offsite.monthly_run(spark, cfg, 2025, 3)
    out["after"] = {t: _gold(spark, cfg, t) for t in tables}
    with pytest.raises(offsite.OffsiteRefused, match="no statement of 2025-04"):
        offsite.monthly_run(spark, cfg, 2025, 4)
    yield out
    mp.undo()


def _differences(rows) -> list[tuple]:
    return sorted(
        ((r["kind"], r["settlement_id"] or r["case_id"], r["region"], r["difference"], r["amount"])
         for r in rows),
        key=lambda t: (-t[4], t[0]),
    )  # fmt: skip


def test_the_lists_say_where_each_patient_is_insured(lived):
    # C1 says the city's code, C4 comes in the old layout: both the city's own insured.
    assert lived["silver_discharges"] == {
        "C1": "350200",
        "C2": "360700",
        "C3": "350500",  # GUEST is in no registry of the city, and is not quarantined for it
        "C4": "350200",
    }


def test_march_against_its_statement_by_hand(lived):
    assert _differences(lived["first"]["offsite_differences"]) == [
        ("missing_in_ours", "X5", "310000", D("3400.00"), D("3400.00")),  # April's, not yet seen
        ("missing_in_statement", "X6", "350500", D("-750.00"), D("750.00")),
        ("list_without_settlement", "C3", "350500", D("0.00"), D("700.00")),
        ("missing_in_ours", "X9", "350500", D("55.55"), D("55.55")),
        ("amount_differs", "X4", "440300", D("0.01"), D("0.01")),
    ]
    regions = {r["region"]: r for r in lived["first"]["offsite_reconciliation"]}
    shanghai = regions["310000"]
    assert (shanghai["outbound_settlements"], shanghai["outbound_fund"]) == (2, D("7818.00"))
    assert shanghai["outbound_statement_fund"] == shanghai["outbound_statement_lines_fund"]
    assert (shanghai["outbound_statement_settlements"], shanghai["outbound_difference"]) == (
        3,
        D("3400.00"),
    )
    assert (shanghai["net_owed"], shanghai["net_owed_ours"]) == (D("-11218.00"), D("-7818.00"))
    quanzhou = regions["350500"]
    assert (quanzhou["outbound_fund"], quanzhou["outbound_statement_fund"]) == (
        D("750.00"),
        D("55.55"),
    )
    assert (quanzhou["outbound_difference"], quanzhou["differences"]) == (D("-694.45"), 3)
    ganzhou = regions["360700"]
    assert (ganzhou["inbound_fund"], ganzhou["inbound_difference"], ganzhou["net_owed"]) == (
        D("700.00"),
        D("0.00"),
        D("700.00"),
    )
    assert ganzhou["differences"] == 0  # X3 matches its statement line and the list's C2
    assert regions["440300"]["net_owed"] == D("-140.01")


def test_an_unfiled_visit_paid_as_a_residents_breaks_its_filing(lived):
    (row,) = lived["first"]["offsite_policy_breaks"]
    assert (row["settlement_id"], row["kind"], row["expected_fund"], row["excess"]) == (
        "X4",
        "above_filing_share",
        D("100.00"),
        D("40.00"),
    )
    assert row["share_paid"] == D("0.700000") and row["filing_share"] == D("0.500000")


def test_a_rerun_on_the_same_lake_writes_the_same_rows(lived):
    assert lived["march_again"]["run_id"] == lived["march"]["run_id"]
    for table, rows in lived["first"].items():
        assert sorted(map(repr, lived["again"][table])) == sorted(map(repr, rows)), table


def test_aprils_file_moves_march(lived):
    """X5 arrives (settled in April: cleared a month early), X4 is corrected to its share."""
    assert lived["march_after"]["run_id"] != lived["march"]["run_id"]
    assert _differences(lived["after"]["offsite_differences"]) == [
        ("wrong_month", "X5", "310000", D("3400.00"), D("3400.00")),
        ("missing_in_statement", "X6", "350500", D("-750.00"), D("750.00")),
        ("list_without_settlement", "C3", "350500", D("0.00"), D("700.00")),
        ("missing_in_ours", "X9", "350500", D("55.55"), D("55.55")),
        ("amount_differs", "X4", "440300", D("40.01"), D("40.01")),  # 140.01 cleared, 100 paid
    ]
    (x5,) = [r for r in lived["after"]["offsite_differences"] if r["settlement_id"] == "X5"]
    assert (x5["our_month"], x5["statement_month"]) == ("2025-04", "2025-03")
    assert lived["after"]["offsite_policy_breaks"] == []


def test_treated_elsewhere_during_a_local_stay_is_found_by_identity(lived):
    assert lived["rule"] == {person_key_value(KEY.encode(), MAN)}
