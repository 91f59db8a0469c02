"""Fraud features: hand-checked values, and the leakage guard (nothing after the cutoff)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from jobs.fraud import features

DISCHARGES = (
    "case_id string, hospital_code string, person_key string, birth_date date, "
    "admission_date date, discharge_date date, admission_type string, principal_dx string, "
    "other_dx array<string>, procedures array<string>, doctor_id string, "
    + ", ".join(f"{p}_cost decimal(18,2)" for p in features.PARTS)
    + ", total_cost decimal(18,2)"
)


def case(
    cid, person, admitted, discharged, dx="K35.8", hospital="H1", exams="10.00", total="100.00"
):
    rest = Decimal(total) - Decimal(exams)
    parts = [
        rest,
        Decimal("0"),
        Decimal(exams),
        Decimal("0"),
        Decimal("0"),
        Decimal("0"),
        Decimal("0"),
    ]
    return (
        cid,
        hospital,
        person,
        date(1970, 1, 1),
        date.fromisoformat(admitted),
        date.fromisoformat(discharged),
        "elective",
        dx,
        [],
        ["88.38"],
        "D1",
        *parts,
        Decimal(total),
    )


def tables(spark, cases, fees=(), checks=(), sales=()):
    return {
        "discharges": spark.createDataFrame(cases, DISCHARGES),
        "fee_details": spark.createDataFrame(
            list(fees),
            "case_id string, fee_date date, item_code string, category string, "
            "amount decimal(18,2)",
        ),
        "face_checks": spark.createDataFrame(
            list(checks),
            "subject_type string, subject_id string, institution_code string, "
            "check_time timestamp, matched boolean",
        ),
        "outpatient_pharmacy": spark.createDataFrame(
            list(sales), "person_key string, txn_time timestamp"
        ),
        "insured_persons": spark.createDataFrame(
            [("p1", None, "V1"), ("p2", date(2025, 1, 1), "V2")],
            "person_key string, death_date date, village string",
        ),
        "institutions": spark.createDataFrame(
            [("H1", 2), ("H2", 2)], "institution_code string, level int"
        ),
        "procedure_classes": spark.createDataFrame(
            [("88.38", "D"), ("47.09", "S")], "code string, class string"
        ),
    }


BASE = [
    case("A0", "p1", "2024-01-02", "2024-01-06"),
    case("A1", "p1", "2024-01-10", "2024-01-14", dx="K35.3"),
    case("B1", "p2", "2025-02-01", "2025-02-05", hospital="H2", total="300.00"),
]
FEES = [
    ("A1", date(2024, 1, 11), "1102", "bed", Decimal("10.00")),
    ("A1", date(2024, 1, 11), "1202", "nursing", Decimal("10.00")),
    ("A1", date(2024, 1, 12), "1202", "nursing", Decimal("10.00")),
    ("A1", date(2024, 1, 12), "1202", "nursing", Decimal("10.00")),
]


def test_case_features_by_hand(spark):
    got = {
        r.case_id: r
        for r in features.case_features(
            tables(
                spark,
                BASE,
                FEES,
                checks=[("person", "p1", "H1", datetime(2024, 1, 10, 9), True)],
                sales=[("p1", datetime(2024, 1, 12, 11))],
            ),
            date(2024, 1, 1),
            date(2024, 12, 31),
        ).collect()
    }
    a1 = got["A1"]
    assert set(got) == {"A0", "A1"}  # B1 is discharged after the period
    assert a1.los == 4.0
    assert a1.readmit_gap == 4.0  # K35 again, 4 days after A0's discharge
    assert got["A0"].readmit_gap == features.NO_GAP
    assert a1.chapter_gap == 4.0 and got["A0"].chapter_gap == features.NO_GAP
    assert a1.care_per_day == 3 / 4  # three nursing items over four days
    assert a1.duplicate_items == 1.0  # nursing 1202 twice on the 12th
    assert a1.face_checked == 1.0 and got["A0"].face_checked == 0.0
    assert a1.pharmacy_during_stay == 1.0
    assert a1.exams_share == pytest.approx(0.1)
    assert a1.after_death == 0.0


def test_case_features_ignore_everything_after_the_cutoff(spark):
    end = date(2024, 12, 31)
    before = features.case_features(tables(spark, BASE, FEES), date(2024, 1, 1), end)
    later = [
        *BASE,
        case("A2", "p1", "2025-01-01", "2025-01-03"),  # a later stay of the same person
        case("C1", "p3", "2025-03-01", "2025-03-04", dx="K35.8", total="9000.00"),
    ]
    later_fees = [*FEES, ("A1", date(2025, 1, 2), "1202", "nursing", Decimal("10.00"))]
    after = features.case_features(
        tables(
            spark,
            later,
            later_fees,
            checks=[("person", "p1", "H1", datetime(2025, 1, 1, 9), True)],
            sales=[("p1", datetime(2025, 1, 2, 9))],
        ),
        date(2024, 1, 1),
        end,
    )
    assert sorted(before.collect()) == sorted(after.collect())


def test_provider_features_ignore_the_following_year(spark):
    before = features.provider_features(tables(spark, BASE, FEES), 2024)
    more = [
        *BASE,
        *[case(f"X{i}", f"q{i}", "2025-05-01", "2025-05-03", hospital="H1") for i in range(5)],
    ]
    after = features.provider_features(tables(spark, more, FEES), 2024)
    assert sorted(before.collect()) == sorted(after.collect())


def test_provider_features_by_hand(spark):
    rows = features.provider_features(tables(spark, BASE, FEES), 2024).collect()
    assert [r.hospital_code for r in rows] == ["H1"]
    h1 = rows[0]
    assert h1.cases == 2.0
    assert h1.diagnostic_only_share == 1.0  # 88.38 is diagnostic
    assert h1.exam_share == pytest.approx(0.1)
    assert h1.template_share == 0.5  # two stays, different diagnoses
    assert h1.top_village_share == 1.0  # both stays of p1, village V1
    # A1's fees: three nursing items over one bed day; its nursing twice on the 12th
    assert h1.care_per_bed_day == 3.0
    assert h1.repeated_items_share == 0.5  # one of the two stays
    assert h1.after_death_share == 0.0  # p1 is alive
    assert h1.repeated_exam_share == 0.0  # A1 billed no examination item
    # no stay in 2023: each diagnosis expected at the floor of half a stay, seen once
    assert h1.dx_burst == pytest.approx((1 - 0.5) / 0.5**0.5)
    assert h1.cases_vs_2y is None  # nothing two years before
    # K35.8 (max_by breaks the tie of two 50% diagnoses by code) had no stay in 2023:
    # 0.5 against the floor of 0.005
    assert h1.top_dx_growth == pytest.approx(100.0)
    assert h1.short_stay_vs_peers is None  # no short stay among its peers: no ratio
    assert h1.exam_breadth == 0.0  # each stay alone with its diagnosis: its own quartile
    assert h1.peer_anomaly == 0.0  # a hospital alone has no peers to be unlike: ordinary


def test_the_hospital_above_its_peers_on_a_pattern_stands_out_and_one_below_does_not(spark):
    scored_by = {*features.ANOMALY_GROUPS, "peer_anomaly"}
    columns = [c for c in features.PROVIDER_FEATURES if c not in scored_by]
    upcoding = set(features.ANOMALY_GROUPS["anomaly_upcoding"])
    rng = __import__("random").Random(3)

    def measures(value):
        return [2.0 if c == "level" else value(c) for c in columns]  # one level: peers

    rows = [
        (f"H{i:02d}", 2024, *measures(lambda c: 1.0 + rng.uniform(-0.05, 0.05))) for i in range(30)
    ]
    # far above its peers on every measure upcoding moves, and far below on them
    rows.append(("HIGH", 2024, *measures(lambda c: 9.0 if c in upcoding else 1.0)))
    rows.append(("LOW", 2024, *measures(lambda c: 0.1 if c in upcoding else 1.0)))
    schema = "hospital_code string, year int, " + ", ".join(f"{c} double" for c in columns)
    scored = features.with_peer_anomaly(spark.createDataFrame(rows, schema)).toPandas()
    by = scored.set_index("hospital_code")
    assert by.anomaly_upcoding.idxmax() == "HIGH"
    # the most it stands out on any pattern: the top of one pattern is among the top of all
    assert by.peer_anomaly["HIGH"] == by.peer_anomaly.max()
    # one-sided: below the median is the median, as ordinary as can be
    assert by.anomaly_upcoding["LOW"] < by.anomaly_upcoding.drop(["HIGH", "LOW"]).median()
    # not a pattern it moved: as typical as the typical hospital (robust z about 0)
    assert abs(by.anomaly_over_testing["HIGH"]) < 1.0
    again = features.with_peer_anomaly(spark.createDataFrame(rows, schema)).toPandas()
    assert again.peer_anomaly.tolist() == scored.peer_anomaly.tolist()  # a fixed seed


def test_case_fees_by_hand_for_the_cases_asked_only(spark):
    fees = spark.createDataFrame(
        [
            *FEES,  # A1: bed 1102 on the 11th, nursing 1202 on the 11th and twice on the 12th
            ("A1", date(2024, 1, 13), "1102", "bed", Decimal("10.00")),
            ("A0", date(2024, 1, 3), "1202", "nursing", Decimal("10.00")),
            ("A0", date(2024, 1, 3), "1202", "nursing", Decimal("10.00")),  # a case not asked for
            # a treatment under two codes at one price on the 13th: a sibling code
            ("A1", date(2024, 1, 13), "3101000001", "treatment", Decimal("50.00")),
            ("A1", date(2024, 1, 13), "3101000009", "treatment", Decimal("50.00")),
            # two codes at two prices on the 12th: two treatments
            ("A1", date(2024, 1, 12), "3101000001", "treatment", Decimal("50.00")),
            ("A1", date(2024, 1, 12), "3101000002", "treatment", Decimal("20.00")),
            # one examination on two days (repeated), another on one day only
            ("A1", date(2024, 1, 11), "2201", "exams", Decimal("30.00")),
            ("A1", date(2024, 1, 12), "2201", "exams", Decimal("30.00")),
            ("A1", date(2024, 1, 12), "2202", "exams", Decimal("40.00")),
            # B1: fees, but no bed day and no exam
            ("B1", date(2024, 1, 5), "1202", "nursing", Decimal("10.00")),
        ],
        "case_id string, fee_date date, item_code string, category string, amount decimal(18,2)",
    )
    asked = spark.createDataFrame([("A1",), ("B1",), ("Z9",)], "case_id string")  # Z9: no fees
    got = {r.case_id: r for r in features.case_fees(fees, asked).collect()}
    assert set(got) == {"A1", "B1"}
    a1 = got["A1"]
    # 4 + 2 bed and treatments on the 13th + 2 on the 12th + 3 exams
    assert (a1.fee_items, a1.care_items, a1.duplicate_items) == (12, 10, 1)
    assert a1.same_price_items == 1  # the 13th; nursing twice at one price is not counted
    assert a1.bed_days == 2  # the 11th and the 13th
    assert a1.repeated_exam == 1.0  # 2201 on the 11th and the 12th
    assert a1.repeat_example == "1202 twice on 2024-01-12"  # before the sibling pair
    b1 = got["B1"]
    assert (b1.fee_items, b1.bed_days, b1.repeated_exam) == (1, None, 0.0)
    assert b1.repeat_example is None


def test_peer_z_by_hand():
    import pandas as pd

    rows = pd.DataFrame(
        {
            "level": [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
            "m": [1.0, 2.0, 3.0, 10.0, 5.0, 5.0, 5.0],
        }
    )
    z = features.peer_z(rows, ["m"]).m.round(4).tolist()
    # level 1: median 2.5, absolute deviations 1.5, 0.5, 0.5, 7.5 -> their median 1.0,
    # spread 1.4826; below the median is 0. Level 2 does not vary: the spread of all
    # levels (median 5, deviations 4, 3, 2, 5, 0, 0, 0 -> 2 x 1.4826), and nobody is above.
    assert z == [0.0, 0.0, round(0.5 / 1.4826, 4), round(7.5 / 1.4826, 4), 0.0, 0.0, 0.0]


def _stays(spark, rows):
    return spark.createDataFrame(
        [(h, doc, dx, date.fromisoformat(day), person) for h, doc, dx, day, person in rows],
        "hospital_code string, doctor_id string, principal_dx string, discharge_date date, "
        "person_key string",
    )


def test_a_doctors_sudden_run_of_one_diagnosis_among_few_villages_by_hand(spark):
    rows = [("H1", "D1", "A01.0", "2024-03-01", "p0")]
    # nine stays of it this year: eight people of one village and a visitor (no village)
    rows += [("H1", "D1", "A01.0", "2025-03-01", f"p{i}") for i in range(1, 10)]
    rows += [("H1", "D2", "B02.0", "2025-03-01", f"q{i}") for i in range(3)]  # three villages
    # a campaign: five stays of a new diagnosis, five villages
    rows += [("H2", "D3", "C03.0", "2025-04-01", f"r{i}") for i in range(5)]
    # one patient's six cycles of a new treatment
    rows += [("H3", "D4", "E05.0", f"2025-0{m}-01", "s0") for m in range(1, 7)]
    villages = spark.createDataFrame(
        [("p0", "V1"), *[(f"p{i}", "V1") for i in range(1, 9)]]
        + [(f"q{i}", f"W{i}") for i in range(3)]
        + [(f"r{i}", f"X{i}") for i in range(5)]
        + [("s0", "V1")],
        "person_key string, village string",
    )
    got = {
        r.hospital_code: r.doctor_burst
        for r in features._doctor_burst(_stays(spark, rows), villages, 2025).collect()
    }
    # D1: (9 - 1) / sqrt(9 + 1 + 1), two places (V1, the visitor) for nine stays
    assert got["H1"] == pytest.approx(8 / 11**0.5 * (1 - 2 / 9))
    assert got["H2"] == pytest.approx(0.0)  # as many villages as stays: no concentration
    assert got["H3"] == pytest.approx(0.0)  # one person, one village: a course, not a run


def test_a_shift_to_the_costliest_sibling_by_hand(spark):
    by_dx = spark.createDataFrame(
        [("K35.8", 1.0), ("K35.3", 0.0), ("Z00.0", None)],
        "principal_dx string, top_sibling double",
    )
    rows = [("H1", "D1", "K35.8", "2023-05-01", "a")]
    rows += [("H1", "D1", "K35.3", "2023-05-01", "a")] * 3
    rows += [("H1", "D1", "K35.8", "2024-05-01", "a")] * 2
    rows += [("H1", "D1", "K35.8", "2025-05-01", "a"), ("H1", "D1", "K35.3", "2025-05-01", "a")]
    rows += [("H1", "D1", "Z00.0", "2025-05-01", "a")]  # a category of one code: not counted
    rows += [("H2", "D1", "K35.8", "2025-05-01", "a")]
    rows += [("H2", "D1", "K35.3", "2025-05-01", "a")] * 3
    got = {
        r.hospital_code: r
        for r in features._coding_shift(_stays(spark, rows), by_dx, 2025).collect()
    }
    # the city's recent K35 stays: 4 of 8 to the costliest; H1 3 of 4, H2 1 of 4
    assert got["H1"].top_sibling_z == pytest.approx((3 - 2) / (4 * 0.25) ** 0.5)
    assert got["H2"].top_sibling_z == pytest.approx((1 - 2) / (4 * 0.25) ** 0.5)
    # H1 against its own 2023 (1 of 4): pooled 4 of 8
    assert got["H1"].top_sibling_shift_z == pytest.approx(0.5 / (0.25 * (1 / 4 + 1 / 4)) ** 0.5)
    assert got["H2"].top_sibling_shift_z is None  # no stay two years before: no own baseline


def test_exams_above_the_upper_quartile_of_their_diagnosis_by_hand(spark):
    stays = [
        case("A", "p1", "2024-03-01", "2024-03-04", dx="X00.0", exams="40.00"),
        case("B", "p1", "2024-04-01", "2024-04-04", dx="X00.0", exams="10.00"),
        case("C", "p2", "2024-03-01", "2024-03-04", dx="X00.0", hospital="H2", exams="20.00"),
        case("D", "p2", "2024-04-01", "2024-04-04", dx="X00.0", hospital="H2", exams="30.00"),
        case("E", "p2", "2024-05-01", "2024-05-04", dx="Y00.0", hospital="H2", exams="50.00"),
        case("F", "p2", "2023-05-01", "2023-05-04", dx="X00.0", hospital="H2", exams="90.00"),
    ]
    d = spark.createDataFrame(stays, DISCHARGES)
    got = {r.hospital_code: r.exam_breadth for r in features._exam_breadth(d, 2024).collect()}
    # X00.0 in 2024: 0.1, 0.2, 0.3, 0.4 of the cost; upper quartile 0.325 (interpolated);
    # F is of 2023. Only A is above: H1 one of two, H2 none of three (E alone in Y00.0)
    assert got == {"H1": 0.5, "H2": 0.0}


def test_robust_z_by_hand():
    import pandas as pd

    # median 3, absolute deviations 2, 1, 0, 1, 7: their median 1, the spread 1.4826
    assert features.robust_z(pd.Series([1.0, 2.0, 3.0, 4.0, 10.0])).round(4).tolist() == [
        round(v / 1.4826, 4) for v in (-2.0, -1.0, 0.0, 1.0, 7.0)
    ]
    # most values equal: no median deviation, the standard deviation instead
    most = pd.Series([0.0, 0.0, 0.0, 0.0, 5.0])
    assert features.robust_z(most).tolist() == pytest.approx((most / most.std()).tolist())
    assert features.robust_z(pd.Series([2.0, 2.0, 2.0])).tolist() == [0.0, 0.0, 0.0]


def test_shared_features_are_computed_once_per_lake_state(spark, cfg, monkeypatch):
    """Training and scoring read a year's features from gold while silver stands still,
    and compute them again once it moves (a new day's files) or the features' meaning
    does; the rows are those the features code computes from the tables."""
    from pyspark.sql import functions as F

    from jobs import lake
    from jobs.fraud import feature_tables

    lake.ensure_layout(cfg)
    for name, frame in tables(spark, BASE, FEES).items():
        lake.overwrite(frame, lake.table_path(cfg, "silver", name))

    def shared():
        reads = lake.PinnedReads(spark, cfg)
        pinned = {name: reads.table("silver", name) for name in tables(spark, BASE)}
        return feature_tables.SharedFeatures(spark, cfg, reads, pinned), pinned

    first, pinned = shared()
    got = first.case(2024)
    assert first.computed == [("case+provider+case_fees", 2024)]
    direct = features.case_features(pinned, date(2024, 1, 1), date(2024, 12, 31))
    assert sorted(got.collect()) == sorted(direct.collect())
    assert first.provider(2024).count() == 1  # written with the case rows: no second run
    # the rules' sums, by hand: A0 has no fee rows; A1 four items, nursing twice on the 12th
    sums = {
        (r.case_id, r.fee_items, r.duplicate_items, r.bed_days)
        for r in first.case_fees(2024).collect()
    }
    assert sums == {("A1", 4, 1, 1)}
    assert first.computed == [("case+provider+case_fees", 2024)]

    again, _ = shared()
    assert again.case(2024).count() == 2 and again.provider(2024).count() == 1
    assert again.computed == []  # silver as it was: read from gold

    more = tables(spark, [*BASE, case("A2", "p2", "2024-03-01", "2024-03-04")])["discharges"]
    more.filter(F.col("case_id") == "A2").write.format("delta").mode("append").save(
        lake.table_path(cfg, "silver", "discharges")
    )
    moved, _ = shared()
    assert moved.case(2024).count() == 3  # a new day's stay: the year computed again
    assert moved.computed == [("case+provider+case_fees", 2024)]

    monkeypatch.setattr(features, "FEATURES_VERSION", "another meaning")
    changed, _ = shared()
    assert changed.provider(2024).count() == 1
    assert changed.computed == [("case+provider+case_fees", 2024)]  # not read under another meaning


def test_scoring_reads_the_case_fees_of_both_years_the_earlier_computed_alone(spark, cfg):
    """The rules look at two years: scoring gives them the case fees of both, the year
    before the scored one computed alone (its case and provider rows are not read), and
    each year's sums cut at its own end."""
    from jobs import lake
    from jobs.fraud import feature_tables, rules, score

    lake.ensure_layout(cfg)
    fees = [
        *FEES,  # A1 (2024): four items, nursing 1202 twice on the 12th
        ("A1", date(2025, 1, 3), "3101", "treatment", Decimal("50.00")),  # after 2024 ended
        ("A1", date(2025, 1, 3), "3101", "treatment", Decimal("50.00")),
        ("B1", date(2025, 2, 2), "3101", "treatment", Decimal("50.00")),  # B1 (2025): twice
        ("B1", date(2025, 2, 2), "3101", "treatment", Decimal("50.00")),
    ]
    for name, frame in tables(spark, BASE, fees).items():
        lake.overwrite(frame, lake.table_path(cfg, "silver", name))
    reads = lake.PinnedReads(spark, cfg)
    pinned = {name: reads.table("silver", name) for name in tables(spark, BASE)}
    shared = feature_tables.SharedFeatures(spark, cfg, reads, pinned)

    shared.ensure(2025)
    found, held = score.inputs_of_rules(
        spark, cfg, rules.load_rules(), pinned, shared, date(2024, 1, 1), date(2025, 12, 31)
    )
    assert shared.computed == [("case+provider+case_fees", 2025), ("case_fees", 2024)]
    sums = {r.case_id: (r.fee_items, r.duplicate_items) for r in found["case_fees"].collect()}
    # A0 has no fee rows; A1's two rows of 2025 are not in its 2024 sums
    assert sums == {"A1": (4, 1), "B1": (2, 1)}
    for frame in held:
        frame.unpersist()
