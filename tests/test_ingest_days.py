"""The lake as it lives: hand-made files over several days, each record's end checked by hand.

One small landing zone, written here line by line (dialect A settlement lists, whose
``submitted_at`` orders versions): a first day with a record of every class of
defect, a second day of corrections and resends, files that cannot be read, a folder
dated after the run date, and a sender's correction file re-sent under its own name.
Every expected outcome below is written by hand from the records, not computed by
the ingest.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import id_number
from pyspark.sql import functions as F

from jobs import config, lake
from jobs.ingest import run as ingest

KEY = "test-only-key"


MAN = id_number("35020319700101001")
WOMAN = id_number("35020319800202002")
REGISTRY = [
    "record_id,id_no,name,sex,birth_date,insurance_type,district,village,enrol_start,enrol_end,"
    "death_date",
    f"P1,{MAN},张三,M,1970-01-01,employee,思明区,,2020-01-01,,",
    f"P2,{WOMAN},李四,F,1980-02-02,resident,湖里区,,2020-01-01,,",
]
INSTITUTIONS = [
    "record_id,institution_code,name,type,level,district",
    "I1,H1,第一医院,hospital,3,思明区",
    "I2,H2,第二医院,hospital,2,湖里区",
]
COSTS = {  # 1000.00 yuan in seven parts, 700 from the fund
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


def case(record_id: str, case_id: str, submitted: str, **over) -> str:
    """One dialect-A settlement list (JSON Lines), clean unless ``over`` spoils it."""
    man = over.get("sex", "M") == "M"
    record = {
        "record_id": record_id,
        "submitted_at": submitted,
        "case": {
            "case_id": case_id,
            "hospital_code": over.get("hospital", "H1"),
            "admission_date": over.get("admission", "2024-01-02"),
            "discharge_date": over.get("discharge", "2024-01-09"),
            "admission_type": "elective",
            "discharge_status": over.get("status", "cured"),
            "attending_doctor": "D1",
        },
        "patient": {
            "id_no": MAN if man else WOMAN,
            "name": "张三" if man else "李四",
            "sex": "M" if man else "F",
            "birth_date": over.get("birth", "1970-01-01" if man else "1980-02-02"),
        },
        "diagnoses": [{"code": over.get("dx", "K35.8"), "principal": True}]
        + [{"code": c, "principal": False} for c in over.get("other_dx", ["I10"])],
        "procedures": [{"code": over.get("px", "47.09"), "principal": True}],
        "costs": over.get("costs", COSTS),
    }
    return json.dumps(record, ensure_ascii=False)


def scaled(factor: int) -> dict[str, str]:
    return {k: f"{int(float(v)) * factor}.00" for k, v in COSTS.items()}


DAY1, DAY2, LATER = "2024-02-05", "2024-03-05", "2024-04-05"
AT1, AT2 = f"{DAY1} 09:00:00", f"{DAY2} 09:00:00"
FIRST_DAY = [  # settlement_lists/2024-02-05/A_202401.jsonl, line by line
    case("R1", "C1", AT1),  # 1 clean
    case("R2", "C2", AT1, dx="Ｋ３５．８", px="47.0900x001"),  # 2 full-width, 医保版: normalised
    case("R3", "C3", AT1, dx="E11.65"),  # 3 an ICD-10-CM code, not its WHO parent E11.6
    case("R4", "C4", AT1, dx="O80"),  # 4 a delivery, recorded for a man
    case("R5", "C5", AT1, discharge="2024-02-20"),  # 5 discharged after the file was sent
    case("R6", "C6", AT1, birth="1820-01-01"),  # 6 204 years old
    case("R7", "C7", AT1, admission="2014-01-02"),  # 7 a ten-year stay
    case("R8", "C8", AT1, costs={k: "0.00" for k in COSTS}),  # 8 costs nothing
    case("R9", "C9", AT1, costs=scaled(50_000)),  # 9 50 million yuan
    case("R1", "C1", AT1),  # 10 an exact resend of line 1
    case("R10", "C10", AT1),  # 11 clean
    case("R10", "C10", AT1, status="died"),  # 12 the same serial number, other content
    case("R11", "C11", f"{DAY1} 08:00:00", other_dx=[]),  # 13 C11, first version
    case("R12", "C11", AT1),  # 14 C11 corrected in the same file, later: wins
    case("R13", "C13", AT1, sex="F", dx="N80.0"),  # 15 endometriosis, a woman: clean
]
SECOND_DAY = [  # settlement_lists/2024-03-05/A_202402.jsonl
    case("R20", "C1", AT2, other_dx=["I10", "E11.9"]),  # 1 C1 corrected a month later: wins
    case("R21", "C11", f"{DAY1} 07:00:00", status="left"),  # 2 older than R12: never wins
    case("R1", "C1", AT1),  # 3 R1 once more, unchanged: a duplicate
    case("R2", "C2", AT1, dx="K35.8", px="47.09"),  # 4 R2 in plain notation: the same record
    case("R13", "C13", AT1, sex="F", dx="N80.1"),  # 5 R13 with another content: a conflict
]
# The sender's correction file: day 1's file again, same name, new content.
RESENT_FIRST_DAY = [
    case("R30", "C10", AT1, other_dx=["I10", "K80.2"]),  # 1 C10, now on line 1: still newer
    case("R31", "C2", AT1, other_dx=[]),  # 2 C2 again
]
LATE = [case("R40", "C40", f"{LATER} 09:00:00", discharge="2024-03-20")]


def _write(landing: Path, relative: str, lines: list[str]) -> None:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def land_first_days(landing: Path) -> None:
    _write(landing, f"institutions/{DAY1}/institutions.csv", INSTITUTIONS)
    _write(landing, f"insured_registry/{DAY1}/registry.csv", REGISTRY)
    _write(landing, f"settlement_lists/{DAY1}/A_202401.jsonl", FIRST_DAY)
    folder = landing / "settlement_lists" / DAY1
    (folder / "B_202401.csv").write_bytes(b"")  # empty
    (folder / "C_202401.txt").write_bytes(gzip.compress("\n".join(FIRST_DAY).encode()))
    (folder / "A_202312.jsonl").write_bytes(b"\x00\x01\x02binary\x00")
    (folder / "B_202312.csv").write_bytes("流水号,病案号\n".encode("gbk") + b"\x81\x7f\xff\n")
    (folder / "readme.txt").write_text("sent by the HIS vendor\n", encoding="utf-8")
    _write(landing, f"settlement_lists/{DAY2}/A_202402.jsonl", SECOND_DAY)
    _write(landing, f"settlement_lists/{LATER}/A_202403.jsonl", LATE)


REJECTED = {
    f"settlement_lists/{DAY1}/B_202401.csv": "empty_file",
    f"settlement_lists/{DAY1}/C_202401.txt": "compressed_file",
    f"settlement_lists/{DAY1}/A_202312.jsonl": "binary_file",
    f"settlement_lists/{DAY1}/B_202312.csv": "undecodable_file",
    f"settlement_lists/{DAY1}/readme.txt": "unknown_dialect",
}


def settings(home: Path) -> config.Config:
    return config.load({"home": str(home), "spark_master": "local[2]", "shuffle_partitions": 2})


def _table(spark, cfg, layer: str, name: str):
    return lake.read_version(spark, lake.table_path(cfg, layer, name))


def snapshot(spark, cfg) -> dict:
    silver = _table(spark, cfg, "silver", "discharges")
    return {
        "silver": {
            r.case_id: r.asDict(recursive=True) for r in silver.drop("source_version").collect()
        },
        "quarantine": {
            (r.source_file, r.line): sorted(r.reasons)
            for r in _table(spark, cfg, "quarantine", "settlement_lists").collect()
        },
        "ledger": {
            (r.source_file, r.sha256): r.asDict()
            for r in _table(spark, cfg, "ops", "ingest_ledger")
            .drop("run_id", "finished_at")
            .collect()
        },
        "versions": {
            f"{layer}/{t}": lake.latest_version(spark, lake.table_path(cfg, layer, t))
            for layer, t in (
                ("silver", "discharges"),
                ("bronze", "settlement_lists"),
                ("quarantine", "settlement_lists"),
                ("ops", "ingest_ledger"),
            )
        },
    }


@pytest.fixture(scope="module")
def days(spark, tmp_path_factory):
    """Two lakes over the same files: day by day (with reruns and the resent file), and at once."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DIPLAKE_HMAC_KEY", KEY)
    home = tmp_path_factory.mktemp("days")
    cfg = settings(home)
    land_first_days(cfg.landing)
    out = {"cfg": cfg}
    out["run1"] = ingest.run(spark, cfg, "2024-02-06")
    out["after1"] = snapshot(spark, cfg)
    out["rerun1"] = ingest.run(spark, cfg, "2024-02-06")
    out["after_rerun1"] = snapshot(spark, cfg)
    out["run2"] = ingest.run(spark, cfg, "2024-03-06")
    out["after2"] = snapshot(spark, cfg)
    _write(cfg.landing, f"settlement_lists/{DAY1}/A_202401.jsonl", RESENT_FIRST_DAY)
    out["run3"] = ingest.run(spark, cfg, "2024-03-06")
    out["after3"] = snapshot(spark, cfg)
    out["rerun3"] = ingest.run(spark, cfg, "2024-03-06")
    out["after_rerun3"] = snapshot(spark, cfg)

    at_once = settings(tmp_path_factory.mktemp("at-once"))
    land_first_days(at_once.landing)
    out["at_once_run"] = ingest.run(spark, at_once, "2024-03-06")
    out["at_once"] = snapshot(spark, at_once)
    yield out
    mp.undo()


A1 = f"settlement_lists/{DAY1}/A_202401.jsonl"
A2 = f"settlement_lists/{DAY2}/A_202402.jsonl"


def test_each_class_of_defect_lands_where_it_belongs(days):
    quarantine = days["after1"]["quarantine"]
    assert quarantine == {
        (A1, 3): ["unknown_diagnosis_code"],
        (A1, 4): ["diagnosis_contradicts_sex"],
        (A1, 5): ["date_in_future"],
        (A1, 6): ["implausible_age"],
        (A1, 7): ["implausible_stay"],
        (A1, 8): ["zero_cost"],
        (A1, 9): ["absurd_cost"],
        (A1, 12): ["record_id_conflict"],
    }
    silver = days["after1"]["silver"]
    assert sorted(silver) == ["C1", "C10", "C11", "C13", "C2"]
    # Normalised on the way: full-width diagnosis and the 医保版 procedure form.
    assert (silver["C2"]["principal_dx"], silver["C2"]["procedures"]) == ("K35.8", ["47.09"])
    assert silver["C11"]["record_id"] == "R12"  # the later line of the same file
    assert silver["C10"]["discharge_status"] == "cured"  # the first content of R10 stays


def test_the_ledger_balances_on_every_file(days):
    for moment in ("after1", "after2", "after3"):
        for row in days[moment]["ledger"].values():
            parts = row["to_silver"] + row["quarantined"] + row["duplicates"] + row["superseded"]
            assert parts == row["records_read"], (moment, row)
    first = next(r for (f, _), r in days["after1"]["ledger"].items() if f == A1)
    # 15 lines: 5 promoted (C1, C2, C10, C11 by R12, C13), 8 quarantined, line 10 a
    # duplicate of line 1, line 13 superseded by line 14.
    assert (
        first["records_read"],
        first["to_silver"],
        first["quarantined"],
        first["duplicates"],
        first["superseded"],
    ) == (15, 5, 8, 1, 1)


def test_files_that_hold_no_records_are_rejected_whole(days, spark):
    cfg = days["cfg"]
    rows = _table(spark, cfg, "ops", "file_rejections").collect()
    assert {r.source_file: r.reason for r in rows} == REJECTED
    assert {f.relative: f.problem for f in days["run1"].rejected} == REJECTED
    # Every file of day 1 has a ledger row or a rejection, and only one of them.
    ledgered = {f for f, _ in days["after1"]["ledger"]}
    day1 = {
        str(p.relative_to(cfg.landing))
        for p in cfg.landing.rglob("*")
        if p.is_file() and p.parent.name == DAY1
    }
    assert ledgered | set(REJECTED) == day1 and not ledgered & set(REJECTED)


def test_a_folder_after_the_run_date_is_held_until_its_day(days):
    held = sorted(f.relative for f in days["run1"].held)
    assert held == [A2, f"settlement_lists/{LATER}/A_202403.jsonl"]
    assert not any(f == A2 for f, _ in days["after1"]["ledger"])
    assert [f.relative for f in days["run2"].held] == [f"settlement_lists/{LATER}/A_202403.jsonl"]
    assert any(f == A2 for f, _ in days["after2"]["ledger"])
    assert "C40" not in days["after3"]["silver"]


def test_a_rerun_changes_nothing(days):
    assert days["rerun1"].nothing_new and days["rerun3"].nothing_new
    assert days["after_rerun1"] == days["after1"]
    assert days["after_rerun3"] == days["after3"]


def test_corrections_across_days(days):
    silver = days["after2"]["silver"]
    assert silver["C1"]["record_id"] == "R20"  # a month later: supersedes
    assert silver["C1"]["other_dx"] == ["I10", "E11.9"]
    assert silver["C11"]["record_id"] == "R12"  # R21 came later but was submitted earlier
    second = next(r for (f, _), r in days["after2"]["ledger"].items() if f == A2)
    # R20 promoted; R21 superseded; R1 and R2 exact resends; R13 another content.
    assert (
        second["to_silver"],
        second["superseded"],
        second["duplicates"],
        second["quarantined"],
    ) == (
        1,
        1,
        2,
        1,
    )
    assert days["after2"]["quarantine"][(A2, 5)] == ["record_id_conflict"]


def test_one_run_over_both_days_ends_as_two_runs_do(days):
    assert days["at_once"]["silver"] == days["after2"]["silver"]
    assert days["at_once"]["quarantine"] == days["after2"]["quarantine"]


def test_a_correction_file_resent_under_its_name_is_read_again(days, spark):
    silver = days["after3"]["silver"]
    # Both records of the new content win, wherever they stand in the file.
    assert (silver["C10"]["record_id"], silver["C10"]["other_dx"]) == ("R30", ["I10", "K80.2"])
    assert (silver["C2"]["record_id"], silver["C2"]["other_dx"]) == ("R31", [])
    # C1's newer version (day 2) is not overtaken by day 1's file coming again.
    assert silver["C1"]["record_id"] == "R20"
    contents = [k for k in days["after3"]["ledger"] if k[0] == A1]
    assert len(contents) == 2  # the first content's ledger row stays, the new one beside it
    # Bronze keeps both contents: the first's 15 lines and the new 2.
    bronze = _table(spark, days["cfg"], "bronze", "settlement_lists").filter(
        F.col("source_file") == A1
    )
    assert sorted(r["count"] for r in bronze.groupBy("sha256").count().collect()) == [2, 15]
    # The first content's quarantined records are still in quarantine.
    assert days["after3"]["quarantine"][(A1, 9)] == ["absurd_cost"]
