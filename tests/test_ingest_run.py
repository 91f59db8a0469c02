"""Ingest end to end on a tiny generated city: nothing lost, truth matched, reruns harmless."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs import lake
from jobs.ingest import run as ingest
from jobs.terms import HOME_REGION

# Every source the generator lands with the city; the experts' decisions come later, as the
# answers to a review round's sheet (the demo chain ingests them: tests/demo_home.py).
LANDED = tuple(s for s in ingest.SOURCES if s != "special_review_decisions")


@pytest.fixture(scope="module")
def landing(tiny_landing) -> Path:
    return tiny_landing


@pytest.fixture(scope="module")
def ingested(spark, landing, tmp_path_factory):
    from jobs import config

    home = tmp_path_factory.mktemp("ingest-home")
    cfg = config.load(
        {
            "home": str(home),
            "landing": str(landing),
            "spark_master": "local[2]",
            "shuffle_partitions": 2,
        }
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("DIPLAKE_HMAC_KEY", "test-only-key")
    report = ingest.run(spark, cfg)
    yield cfg, report
    mp.undo()


def _truth(landing: Path, source: str | None = "settlement_lists") -> list[dict]:
    with (landing / "_truth" / "defects.csv").open(encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if source is None or r["source"] == source]


def _ledger(spark, cfg) -> list:
    return lake.read_version(spark, lake.table_path(cfg, "ops", "ingest_ledger")).collect()


def test_every_record_is_accounted_for(spark, ingested, landing):
    cfg, report = ingested
    ledger = _ledger(spark, cfg)
    assert len(ledger) == len(report.files) > 0
    # Nothing vanishes: every landed file has a ledger row or a rejection, never neither.
    rejected = lake.read_version(spark, lake.table_path(cfg, "ops", "file_rejections")).collect()
    landed = {
        str(p.relative_to(landing))
        for p in landing.rglob("*")
        if p.is_file() and p.relative_to(landing).parts[0] != "_truth"
    }
    assert {r.source_file for r in ledger} | {r.source_file for r in rejected} == landed
    assert not {r.source_file for r in ledger} & {r.source_file for r in rejected}
    assert {r.source for r in ledger} == set(LANDED)  # the tiny city lands every source
    for row in ledger:
        assert row.records_read == row.to_silver + row.quarantined + row.duplicates + row.superseded
    # And the ledger agrees with the tables it describes.
    for source in LANDED:
        rows = [r for r in ledger if r.source == source]
        quarantined = lake.read_version(spark, lake.table_path(cfg, "quarantine", source))
        assert sum(r.quarantined for r in rows) == quarantined.count(), source
        bronze = lake.read_version(spark, lake.table_path(cfg, "bronze", source))
        assert sum(r.records_read for r in rows) == bronze.count(), source
    silver = lake.read_version(spark, lake.table_path(cfg, "silver", "discharges")).count()
    settlement = [r for r in ledger if r.source == "settlement_lists"]
    assert sum(r.to_silver for r in settlement) == silver
    fees = lake.read_version(spark, lake.table_path(cfg, "silver", "fee_details")).count()
    assert sum(r.to_silver for r in ledger if r.source == "fee_details") == fees


@pytest.mark.parametrize("source", LANDED)
def test_outcomes_match_the_injected_defects(spark, ingested, landing, source):
    """Exactly the records the generator spoiled are quarantined; resends add no row."""
    cfg, _ = ingested
    truth = _truth(landing, source)
    expected_q = {
        (r["source_file"], int(r["line"])) for r in truth if r["expected"] == "quarantine"
    }
    expected_files = {
        (r["source_file"], r["defect"]) for r in truth if r["expected"] == "reject_file"
    }
    path = lake.table_path(cfg, "ops", "file_rejections")
    rejected = lake.read_version(spark, path).filter(F.col("source") == source).collect()
    assert {(r.source_file, r.reason) for r in rejected} == expected_files
    q = lake.read_version(spark, lake.table_path(cfg, "quarantine", source))
    got_q = {(r.source_file, r.line) for r in q.select("source_file", "line").collect()}
    assert got_q == expected_q
    rows = [r for r in _ledger(spark, cfg) if r.source == source]
    dedupe = sum(1 for r in truth if r["expected"] == "dedupe")
    assert sum(r.duplicates + r.superseded for r in rows) == dedupe


def test_quarantine_reasons_name_the_injected_defect(spark, ingested, landing):
    cfg, _ = ingested
    q = lake.read_version(spark, lake.table_path(cfg, "quarantine", "settlement_lists"))
    reasons = {(r.source_file, r.line): set(r.reasons) for r in q.collect()}
    # The defect's name, or for a cut-off line the reader's code for it.
    named = {
        "truncated_record": "malformed_record",
        "missing_field": None,
        "icd10_cm_code": "unknown_diagnosis_code",  # not cut down to its WHO parent
    }
    for row in _truth(landing):
        if row["expected"] != "quarantine":
            continue
        got = reasons[(row["source_file"], int(row["line"]))]
        want = named.get(row["defect"], row["defect"])
        if want is None:
            assert any(r.startswith("missing_") for r in got), (row, got)
        else:
            assert want in got, (row, got)


def test_corrected_records_reach_silver_normalised(spark, ingested, landing):
    cfg, _ = ingested
    corrected = {r["record_id"] for r in _truth(landing) if r["expected"] == "correct"}
    silver = lake.read_version(spark, lake.table_path(cfg, "silver", "discharges"))
    promoted = silver.filter(F.col("record_id").isin(list(corrected)))
    assert promoted.count() == len(corrected) > 0
    assert promoted.filter(~F.col("principal_dx").rlike(r"^[A-Z][0-9]{2}(\.[0-9])?$")).count() == 0
    canonical_px = F.forall("procedures", lambda c: c.rlike(r"^[0-9]{2}(\.[0-9]{1,2})?$"))
    assert promoted.filter(~canonical_px).count() == 0
    # Every kind of normalised defect is among them (full-width, 医保版 procedures too).
    kinds = {r["defect"] for r in _truth(landing) if r["expected"] == "correct"}
    assert {"fullwidth_code", "procedure_code_extension", "code_format_variant"} <= kinds


def test_clearing_inputs_are_typed_as_the_contract_says(spark, ingested, landing):
    cfg, _ = ingested

    def types(table: str) -> dict[str, str]:
        return dict(lake.read_version(spark, lake.table_path(cfg, "silver", table)).dtypes)

    pre = types("prepayments")
    assert (pre["hospital_code"], pre["year"], pre["month"], pre["amount"]) == (
        "string",
        "int",
        "int",
        "decimal(18,2)",
    )
    score = types("assessment_scores")
    assert (score["year"], score["coefficient"]) == ("int", "decimal(6,4)")
    deduction = types("audit_deductions")
    assert (deduction["year"], deduction["amount"]) == ("int", "decimal(18,2)")
    # Values as landed: the sum of prepayments equals the file's, read independently.
    total = 0
    seen = set()
    for path in sorted((landing / "prepayments").rglob("*.csv")):
        with path.open(encoding="utf-8") as f:
            for r in csv.DictReader(f):
                key = (r["hospital_code"], r["year"], r["month"])
                if key not in seen:
                    seen.add(key)
                    total += round(float(r["amount"]) * 100)
    silver = lake.read_version(spark, lake.table_path(cfg, "silver", "prepayments"))
    got = silver.agg(F.sum("amount")).first()[0]
    assert int(got * 100) == total


def test_quarantine_rows_carry_reasons_and_the_raw_line(spark, ingested):
    cfg, _ = ingested
    q = lake.read_version(spark, lake.table_path(cfg, "quarantine", "settlement_lists"))
    assert q.filter(F.size("reasons") == 0).count() == 0
    assert q.filter(F.col("raw").isNull()).count() == 0
    assert set(q.columns) >= {"record_id", "source_file", "line", "reasons", "raw", "run_id"}


def test_no_raw_id_number_or_name_in_silver(spark, ingested, landing):
    cfg, _ = ingested
    registry = next((landing / "insured_registry").rglob("*.csv"))
    with registry.open(encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    secrets = {p["id_no"] for p in people} | {p["name"] for p in people if len(p["name"]) >= 2}
    with next((landing / "doctors").rglob("*.csv")).open(encoding="utf-8") as f:
        secrets |= {d["name"] for d in csv.DictReader(f) if len(d["name"]) >= 2}
    assert len(secrets) > 1000
    scanned = 0
    for table in [*(cfg.lake / "silver").iterdir(), *(cfg.lake / "gold").glob("*")]:
        df = lake.read_version(spark, str(table))
        strings = [c for c, t in df.dtypes if t == "string"]
        for column in strings:
            values = {r[0] for r in df.select(column).distinct().collect()}
            assert not values & secrets, f"{table.name}.{column}"
            scanned += 1
    assert scanned > 20  # every silver table's string columns, not an empty folder


def test_a_second_run_changes_nothing(spark, ingested):
    cfg, _ = ingested
    paths = [
        lake.table_path(cfg, layer, t)
        for layer, t in (
            ("silver", "discharges"),
            ("silver", "institutions"),
            ("silver", "insured_persons"),
            ("silver", "fee_details"),
            ("silver", "prepayments"),
            ("silver", "audit_outcomes"),
            ("quarantine", "insured_registry"),
            ("bronze", "settlement_lists"),
            ("quarantine", "settlement_lists"),
            ("ops", "ingest_ledger"),
        )
    ]
    before = {p: lake.latest_version(spark, p) for p in paths}
    assert ingest.run(spark, cfg).nothing_new
    assert {p: lake.latest_version(spark, p) for p in paths} == before
    # Staged batches (which hold raw values) do not outlive their source's ingest.
    assert not (cfg.lake / "bronze" / "_staging").exists() or not any(
        (cfg.lake / "bronze" / "_staging").iterdir()
    )


def test_private_layers_are_owner_only(ingested):
    cfg, _ = ingested
    for layer in ("bronze", "quarantine"):
        assert (cfg.lake / layer).stat().st_mode & 0o077 == 0


def test_registry_rejects_exactly_the_bad_id_numbers(spark, ingested, landing):
    cfg, _ = ingested
    with (landing / "_truth" / "defects.csv").open(encoding="utf-8") as f:
        bad = {
            (r["source_file"], int(r["line"]))
            for r in csv.DictReader(f)
            if r["source"] == "insured_registry"
        }
    q = lake.read_version(spark, lake.table_path(cfg, "quarantine", "insured_registry"))
    assert {(r.source_file, r.line) for r in q.collect()} == bad
    assert all(r.reasons == ["invalid_id_checksum"] for r in q.collect())
    persons = lake.read_version(spark, lake.table_path(cfg, "silver", "insured_persons"))
    registry = next((landing / "insured_registry").rglob("*.csv"))
    with registry.open(encoding="utf-8") as f:
        listed = sum(1 for _ in csv.DictReader(f))
    assert persons.count() == listed - len(bad)
    # The same key gives the same pseudonym in both tables: the city's own insured join their
    # persons; the only discharges without a person in the registry are visitors insured elsewhere.
    discharges = lake.read_version(spark, lake.table_path(cfg, "silver", "discharges"))
    unmatched = discharges.join(persons, "person_key", "left_anti")
    assert unmatched.where(F.col("insured_region") == HOME_REGION).count() == 0
    visitors = discharges.where(F.col("insured_region") != HOME_REGION)
    assert unmatched.count() == visitors.count() > 0


def test_a_failed_gate_marks_the_run_failed_and_promotes_nothing(spark, landing, tmp_path):
    """A suite that cannot pass stops the first table: silver untouched, run marked failed."""
    import json
    import shutil

    from jobs import config, quality

    small = tmp_path / "landing"
    shutil.copytree(landing / "institutions", small / "institutions")
    cfg = config.load({"home": str(tmp_path), "landing": str(small)})
    suite = json.loads(quality.suite_path("silver", "institutions").read_text(encoding="utf-8"))
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "type", "value_set": ["hospital"]},
            "severity": "critical",
        }
    )
    strict = tmp_path / "suites"
    (strict / "silver").mkdir(parents=True)
    for path in quality.SUITES.glob("*/*.json"):
        (strict / path.parent.name).mkdir(exist_ok=True)
        shutil.copy(path, strict / path.parent.name / path.name)
    (strict / "silver" / "institutions.json").write_text(json.dumps(suite), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("DIPLAKE_HMAC_KEY", "test-only-key")
    mp.setattr(quality, "SUITES", strict)
    try:
        with pytest.raises(quality.QualityGateError, match=r"silver\.institutions"):
            ingest.run(spark, cfg)
    finally:
        mp.undo()
    assert not lake.is_table(spark, lake.table_path(cfg, "silver", "institutions"))
    assert not lake.is_table(spark, lake.table_path(cfg, "ops", "ingest_ledger"))
    runs = lake.read_version(spark, lake.table_path(cfg, "ops", "ingest_runs")).collect()
    assert [(r.status, r.message.split(":")[0]) for r in runs] == [("failed", "institutions")]
    assert "expect_column_values_to_be_in_set" in runs[0].message
