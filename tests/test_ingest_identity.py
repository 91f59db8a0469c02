"""Record identity and versions on tiny in-code frames, every outcome written by hand."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import functions as F

from jobs.ingest import identity, tables, versions
from jobs.ingest.landing import LandedFile

SCHEMA = (
    "record_id string, day string, source_file string, line int, reasons array<string>, v string"
)


def _checked(spark, rows):
    df = spark.createDataFrame(rows, SCHEMA)
    return df.withColumn(
        "_fingerprint", F.when(F.size("reasons") == 0, identity.fingerprint(["v"]))
    )


def test_resends_duplicates_and_conflicts_in_one_batch_and_against_earlier_files(spark, tmp_path):
    index = str(tmp_path / "ids")
    earlier = _checked(
        spark,
        [
            ("R4", "2024-01-05", "a/2024-01-05/A_1.jsonl", 1, [], "four"),
            ("R5", "2024-01-05", "a/2024-01-05/A_1.jsonl", 2, [], "five"),
        ],
    ).withColumn("_identity", F.lit(identity.ORIGINAL))
    identity.record(spark, earlier, index, ["a/2024-01-05/A_1.jsonl"])

    f = "a/2024-02-05/A_2.jsonl"
    batch = _checked(
        spark,
        [
            ("R1", "2024-02-05", f, 1, [], "one"),  # first: original
            ("R1", "2024-02-05", f, 2, [], "one"),  # same content: duplicate
            ("R2", "2024-02-05", f, 3, [], "two"),  # original
            ("R2", "2024-02-05", f, 4, [], "TWO"),  # other content: conflict
            ("R2", "2024-02-05", f, 5, [], "two"),  # the first's content again: duplicate
            ("R3", "2024-02-05", f, 6, ["zero_cost"], "three"),  # rejected: no identity
            ("R3", "2024-02-05", f, 7, [], "three!"),  # the rejected one does not count
            ("R4", "2024-02-05", f, 8, [], "four"),  # as accepted in January: duplicate
            ("R5", "2024-02-05", f, 9, [], "FIVE"),  # other than January's: conflict
        ],
    )
    resolved = identity.resolve(spark, batch, index, [f])
    marked = identity.mark(batch, resolved).orderBy("line").collect()
    assert [(r.line, r._identity, r.reasons) for r in marked] == [
        (1, "original", []),
        (2, "duplicate", []),
        (3, "original", []),
        (4, "conflict", ["record_id_conflict"]),
        (5, "duplicate", []),
        (6, None, ["zero_cost"]),
        (7, "original", []),
        (8, "duplicate", []),
        (9, "conflict", ["record_id_conflict"]),
    ]


def test_a_file_resent_under_its_name_is_compared_with_the_other_files_only(spark, tmp_path):
    index = str(tmp_path / "ids")
    f = "a/2024-01-05/A_1.jsonl"
    first = _checked(spark, [("R1", "2024-01-05", f, 1, [], "one")])
    identity.record(spark, first.withColumn("_identity", F.lit(identity.ORIGINAL)), index, [f])
    again = _checked(spark, [("R1", "2024-01-05", f, 3, [], "one, corrected")])
    marked = identity.mark(again, identity.resolve(spark, again, index, [f])).first()
    assert (marked._identity, marked.reasons) == ("original", [])


def _file(relative: str, revision: int = 0) -> LandedFile:
    return LandedFile("s", relative.split("/")[1], relative, Path(relative), 1, "x", None, revision)


def test_versions_sort_as_submissions(spark):
    files = [_file("s/2024-02-05/A.jsonl"), _file("s/2024-03-05/A.jsonl", revision=1)]
    rows = spark.createDataFrame(
        [
            ("s/2024-02-05/A.jsonl", "2024-02-05", 10, None),
            ("s/2024-02-05/A.jsonl", "2024-02-05", 9, "2024-03-10 08:00:00"),
            ("s/2024-03-05/A.jsonl", "2024-03-05", 1, None),
            ("s/2024-03-05/A.jsonl", "2024-03-05", 2, "2024-01-31 23:00:00"),
        ],
        "source_file string, day string, line int, submitted string",
    ).withColumn("submitted", F.to_timestamp("submitted"))
    got = rows.select("line", versions.version(files, "submitted").alias("v")).collect()
    by_line = {r.line: r.v for r in got}
    assert by_line == {
        10: "2024-02-05 00:00:00|2024-02-05|s/2024-02-05/A.jsonl|000|000000010",
        9: "2024-03-10 08:00:00|2024-02-05|s/2024-02-05/A.jsonl|000|000000009",
        1: "2024-03-05 00:00:00|2024-03-05|s/2024-03-05/A.jsonl|001|000000001",
        2: "2024-01-31 23:00:00|2024-03-05|s/2024-03-05/A.jsonl|001|000000002",
    }
    # Newest first: submitted on 10 March beats landed on 5 March; submitted in January
    # loses to everything, though it landed last.
    assert sorted(by_line, key=by_line.get, reverse=True) == [9, 1, 10, 2]


def test_a_content_predicate_names_exactly_the_path_and_checksum():
    files = [
        LandedFile("s", "2024-01-05", "s/2024-01-05/O'Neil.csv", Path("x"), 1, "abc"),
        LandedFile("s", "2024-01-05", "s/2024-01-05/b.csv", Path("y"), 1, "def"),
    ]
    assert tables.contents_predicate(files) == (
        "(source_file = 's/2024-01-05/O''Neil.csv' AND sha256 = 'abc') OR "
        "(source_file = 's/2024-01-05/b.csv' AND sha256 = 'def')"
    )


def test_the_insured_region_is_content_only_when_it_is_another_regions(spark):
    """A list of the city's own insured fingerprints as it did before the column (a lake's
    index stays valid); the same record of a person insured elsewhere is other content."""
    rows = spark.createDataFrame(
        [("A1", "K35.8", None), ("A2", "K35.8", "360700")],
        "record_id string, principal_dx string, insured_elsewhere string",
    )
    before = rows.select("record_id", identity.fingerprint(["principal_dx"]).alias("f"))
    after = rows.select(
        "record_id", identity.fingerprint(["principal_dx", "insured_elsewhere"]).alias("f")
    )
    old = {r.record_id: r.f for r in before.collect()}
    new = {r.record_id: r.f for r in after.collect()}
    assert new["A1"] == old["A1"]
    assert new["A2"] != old["A2"]


def _landed(size: int) -> LandedFile:
    return LandedFile(
        "fee_details", "2024-01-05", "fee_details/2024-01-05/x.csv", Path("x"), size, "0"
    )


def test_a_days_batch_reads_only_the_rows_it_names_of_a_large_table(spark, monkeypatch):
    monkeypatch.setattr(versions, "LOOKUP_BATCH_BYTES", 100)
    assert versions.looks_up([_landed(60), _landed(40)])  # 100 bytes: a day's batch
    assert not versions.looks_up([_landed(60), _landed(41)])  # more: the table whole
    table = spark.createDataFrame(
        [("P1", "2020-01-01"), ("P2", "2021-01-01"), ("P3", "2022-01-01"), ("P3", "2023-01-01")],
        "person_key string, enrol_start string",
    )
    named = spark.createDataFrame(
        [("P3", 1), ("P3", 2), (None, 3), ("P9", 4), ("P2", 5)], "person_key string, line int"
    )
    got = versions.rows_named(table, named, ["person_key"])
    assert sorted(got.columns) == ["enrol_start", "person_key"]  # the table's columns only
    assert sorted(tuple(r) for r in got.collect()) == [
        ("P2", "2021-01-01"),
        ("P3", "2022-01-01"),
        ("P3", "2023-01-01"),
    ]
