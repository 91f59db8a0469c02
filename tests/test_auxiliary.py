"""SPEC 9.4, the auxiliary catalogue: the CCI and the age band of a case, the coefficients
per core type and stratum, the one a case takes, its points, and the off switch.

Every expected value below was worked out by hand, except the CCI of the generated
patients, which is compared with comorbidipy's own ``comorbidity()``.
"""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs import lake, pipeline
from jobs.dip import auxiliary, catalogue, points, report

D = Decimal

CLASSES = [("47.09", "S", "阑尾切除术")]


def _cci(spark, patients: dict[str, list[str] | None]) -> dict[str, tuple[int, str]]:
    df = spark.createDataFrame(
        list(patients.items()), "case_id string, other_dx array<string>"
    ).transform(auxiliary.with_cci)
    df = df.withColumn("cci_level", auxiliary.cci_level(F.col("cci")))
    return {r.case_id: (r.cci, r.cci_level) for r in df.collect()}


def test_the_mapping_weights_and_hierarchy_come_from_comorbidipy():
    rows = set(auxiliary.charlson_prefixes())
    assert {("ami", "I21", 1), ("chf", "I50", 1), ("diabwc", "E112", 2)} <= rows
    assert {("msld", "K704", 3), ("metacanc", "C78", 6), ("aids", "B20", 6)} <= rows
    assert auxiliary.charlson_hierarchy() == {"mld": "msld", "diab": "diabwc", "canc": "metacanc"}


def test_cci_by_hand(spark):
    got = _cci(
        spark,
        {
            # MI 1 + CHF 1 + diabetes with complications 2 (E11.9 without: voided) = 4
            "mi_chf_diab": ["I21.9", "I50.0", "E11.2", "E11.9"],
            # metastatic 6; the colon cancer C18 (2) is voided
            "metastatic": ["C78.0", "C18.9"],
            # severe liver disease K70.4 (3) voids the mild K70.3 (1)
            "liver": ["K70.3", "K70.4"],
            # one condition counts once, however many of its codes
            "three_mi": ["I21.0", "I21.4", "I22.1", "I25.2"],
            # a four-character prefix: I09.9 is CHF, I09.8 is nothing
            "i099": ["I09.9"],
            "i098": ["I09.8"],
            # AIDS 6 + renal 2 + hemiplegia 2
            "ten": ["B20", "N18.5", "G81.9"],
            # diabetes without complications 1 + MI 1
            "two": ["E11.9", "I25.2"],
            "none": ["I10", "J18.9", "K35.8"],
            "empty": [],
            "null": None,
        },
    )
    assert got == {
        "mi_chf_diab": (4, "2"),
        "metastatic": (6, "3"),
        "liver": (3, "2"),
        "three_mi": (1, "1"),
        "i099": (1, "1"),
        "i098": (0, "0"),
        "ten": (10, "3"),
        "two": (2, "1"),
        "none": (0, "0"),
        "empty": (0, "0"),
        "null": (0, "0"),
    }


POOL = [
    # every condition at least once, several more than once, and codes that map to nothing
    "I21.9", "I22.0", "I25.2", "I25.1", "I50.9", "I11.0", "I42.0", "I09.9", "I09.8", "P29.0",
    "I70.2", "I73.9", "K55.1", "Z95.8", "G45.9", "I63.9", "H34.0", "F00.1", "F03", "G30.9",
    "F05.1", "J44.1", "J45.9", "I27.8", "J68.4", "M05.3", "M32.1", "M35.1", "K25.0", "K27.9",
    "B18.1", "K70.0", "K74.6", "K76.0", "Z94.4", "E11.9", "E10.9", "E14.9", "E11.2", "E10.5",
    "E13.7", "G81.9", "G82.1", "G04.1", "I12.0", "N18.3", "N03.2", "Z49.1", "Z99.2", "C18.9",
    "C50.9", "C34.1", "C91.0", "C77.0", "C78.7", "C79.5", "C80", "K70.4", "K72.9", "I85.0",
    "K76.6", "B20", "B24", "J18.9", "K35.8", "I10", "E78.5", "N39.0", "R50.9",
]  # fmt: skip


def test_cci_agrees_with_comorbidipy_on_generated_patients(spark):
    """48 patients of 1–7 codes drawn from the pool (repeats allowed): the Spark CCI equals
    comorbidipy's Charlson score (ICD-10, Quan mapping, Charlson weights, the less severe
    form voided), fed the codes as it reads them, without the dot."""
    rng = random.Random(94)
    patients = {f"p{i:02d}": rng.choices(POOL, k=rng.randint(1, 7)) for i in range(48)}
    ours = {case: cci for case, (cci, _) in _cci(spark, patients).items()}
    comorbidity = auxiliary.load_comorbidipy().comorbidity
    long = pd.DataFrame(
        [(case, code.replace(".", "")) for case, codes in patients.items() for code in codes],
        columns=["id", "code"],
    )
    theirs = comorbidity(
        long, age=None, score="charlson", icd="icd10", variant="quan", weighting="charlson"
    )
    expected = dict(zip(theirs["id"], theirs["comorbidity_score"].astype(int), strict=True))
    assert ours == expected
    assert len(set(ours.values())) >= 6  # the draw reaches well past a few scores


@pytest.mark.parametrize(
    ("cci", "level"), [(0, "0"), (1, "1"), (2, "1"), (3, "2"), (4, "2"), (5, "3"), (16, "3")]
)
def test_cci_levels(spark, cci, level):
    got = spark.range(1).select(auxiliary.cci_level(F.lit(cci)).alias("v")).first().v
    assert got == level


def test_age_band_boundaries(spark):
    rows = [
        ("born that day", date(2024, 1, 1), date(2024, 1, 1), "0-28d"),
        ("28 days", date(2024, 1, 1), date(2024, 1, 29), "0-28d"),
        ("29 days", date(2024, 1, 1), date(2024, 1, 30), "29d-1y"),
        ("day before 1st birthday", date(2024, 3, 15), date(2025, 3, 14), "29d-1y"),
        ("1st birthday", date(2024, 3, 15), date(2025, 3, 15), "1-6"),
        ("6 years", date(2018, 3, 15), date(2025, 3, 14), "1-6"),
        ("7th birthday", date(2018, 3, 15), date(2025, 3, 15), "7-17"),
        ("17 years", date(2007, 6, 10), date(2025, 6, 9), "7-17"),
        ("18th birthday", date(2007, 6, 10), date(2025, 6, 10), "18-64"),
        ("64 years", date(1960, 6, 10), date(2025, 6, 9), "18-64"),
        ("65th birthday", date(1960, 6, 10), date(2025, 6, 10), "65+"),
        ("29 Feb, 28 Feb next year", date(2024, 2, 29), date(2025, 2, 28), "29d-1y"),
        ("29 Feb, 1 Mar next year", date(2024, 2, 29), date(2025, 3, 1), "1-6"),
        ("no birth date", None, date(2025, 1, 1), None),
        ("admitted before birth", date(2025, 1, 2), date(2025, 1, 1), None),
    ]
    df = spark.createDataFrame(
        [r[:3] for r in rows], "case string, birth_date date, admission_date date"
    )
    got = {
        r.case: r.band
        for r in df.select(
            "case", auxiliary.age_band(F.col("birth_date"), F.col("admission_date")).alias("band")
        ).collect()
    }
    assert got == {case: band for case, _, _, band in rows}


AUX = [
    # dip_code, dimension, stratum, coef
    ("K35.8|47.09", "cci", "0", "0.6075"),
    ("K35.8|47.09", "cci", "1", "1.3339"),
    ("K35.8|47.09", "cci", "2", "1.5000"),
    ("K35.8|47.09", "cci", "3", "1.0000"),  # too few cases: 1
    ("K35.8|47.09", "age", "0-28d", "0.9000"),
    ("K35.8|47.09", "age", "18-64", "1.0147"),
    ("K35.8|47.09", "age", "65+", "1.2564"),
    ("K35.8|47.09", "age", "7-17", "1.0000"),
]


def _aux(spark):
    return spark.createDataFrame(
        [(c, d, s, D(k)) for c, d, s, k in AUX],
        "dip_code string, dimension string, stratum string, coef decimal(10,4)",
    )


def test_the_coefficient_a_case_takes(spark):
    cases = spark.createDataFrame(
        [
            ("cci1", "K35.8|47.09", "1", "18-64"),
            ("cci_first", "K35.8|47.09", "0", "65+"),  # CCI 0.6075 ≠ 1: age not looked at
            ("age_old", "K35.8|47.09", "3", "65+"),  # CCI coefficient 1: the age band's
            ("adult", "K35.8|47.09", "3", "18-64"),  # 18-64 never takes the age coefficient
            ("newborn", "K35.8|47.09", "9", "0-28d"),  # no CCI row at all: the age band's
            ("child_thin", "K35.8|47.09", "3", "7-17"),  # its band's coefficient is 1
            ("no_band", "K35.8|47.09", "3", None),
            ("comprehensive", "K35|*|S", "1", "65+"),  # only core types have rows
            ("unmatched", None, "1", "65+"),
        ],
        "case_id string, dip_code string, cci_level string, age_band string",
    )
    got = {
        r.case_id: (r.aux_dimension, r.aux_stratum, r.aux_coef)
        for r in auxiliary.select_coefficient(cases, _aux(spark)).collect()
    }
    none = (None, None, D("1.0000"))
    assert got == {
        "cci1": ("cci", "1", D("1.3339")),
        "cci_first": ("cci", "0", D("0.6075")),
        "age_old": ("age", "65+", D("1.2564")),
        "adult": none,
        "newborn": ("age", "0-28d", D("0.9000")),
        "child_thin": none,
        "no_band": none,
        "comprehensive": none,
        "unmatched": none,
    }


def test_a_hand_computed_cci_selects_its_coefficient(spark):
    """I21.9 (MI 1) + I50.9 (CHF 1) + E11.2 (diabetes with complications 2, voiding E11.9)
    = 4: level 2, whose coefficient is 1.5000; C78.0 (metastatic 6, voiding C18.9) = 6:
    level 3, coefficient 1, so a 70-year-old takes the 65+ one, 1.2564."""
    cases = spark.createDataFrame(
        [
            ("a", "K35.8|47.09", ["I21.9", "I50.9", "E11.2", "E11.9"], date(1980, 1, 1)),
            ("b", "K35.8|47.09", ["C78.0", "C18.9"], date(1955, 1, 1)),
        ],
        "case_id string, dip_code string, other_dx array<string>, birth_date date",
    ).withColumn("admission_date", F.lit(date(2025, 6, 1)))
    got = {
        r.case_id: (r.cci, r.cci_level, r.age_band, r.aux_dimension, r.aux_coef)
        for r in auxiliary.select_coefficient(auxiliary.with_strata(cases), _aux(spark)).collect()
    }
    assert got == {
        "a": (4, "2", "18-64", "cci", D("1.5000")),
        "b": (6, "3", "65+", "age", D("1.2564")),
    }


@pytest.fixture
def scored(spark):
    """Type avg 1000.00, rw 800.0000 at K = 1.2 (standard cost 1200) and a second type with
    rw 800.0001; each case brings its own coefficient."""

    def run(rows, with_coef=True):
        df = spark.createDataFrame(
            [(c, 3, "core", t, D(a), D(rw), D(cost), D(k)) for c, t, a, rw, cost, k in rows],
            "case_id string, level int, match_kind string, dip_code string, "
            "avg_cost decimal(18,2), type_rw decimal(18,4), total_cost decimal(18,2), "
            "aux_coef decimal(10,4)",
        )
        if not with_coef:
            df = df.drop("aux_coef")
        k = spark.createDataFrame([(3, D("1.2000"))], "level int, k decimal(10,4)")
        return {r.case_id: r for r in points.score(df, k, D("500.00"), 1000).collect()}

    return run


def test_points_with_a_coefficient(scored):
    """c = 1.25: the standard cost becomes 1000 · 1.2 · 1.25 = 1500.00."""
    a, rw = "1000.00", "800.0000"
    got = scored(
        [
            ("normal", "A", a, rw, "1500.00", "1.2500"),  # 800 · 1.2 · 1.25 = 1200
            ("half", "A", a, rw, "750.00", "1.2500"),  # ratio exactly 0.5: normal, 1200
            ("double", "A", a, rw, "3000.00", "1.2500"),  # ratio exactly 2: normal, 1200
            # 700 is normal against 1200 (0.583) but low against 1500 (0.4667):
            # 800 · 1.2 · 1.25 · 700/1500 = 800 · 700/1000 = 560, 5.2's low points
            ("low", "A", a, rw, "700.00", "1.2500"),
            ("low2", "A", a, rw, "300.00", "1.2500"),  # 800 · 300/1000 = 240
            ("high", "A", a, rw, "4500.00", "1.2500"),  # 800 · 1.2 · 1.25 · (3 − 1) = 2400
            # 800 · 3000.01/1000 − 1200 = 1200.008
            ("high2", "A", a, rw, "3000.01", "1.2500"),
            # ratio 7000/1500 = 4.667: high, 800 · 7000/1000 − 1200 = 4400; not a review
            # candidate (it would be at c = 1: 5.83)
            ("not_candidate", "A", a, rw, "7000.00", "1.2500"),
            # 800.0001 · 1.2 · 1.3339 = 1280.544160068 -> 1280.5442, rounded once;
            # standard cost 1000 · 1.2 · 1.3339 = 1600.68
            ("rounded", "B", a, "800.0001", "1000.00", "1.3339"),
        ]
    )
    expect = {
        "normal": ("normal", "1200.0000", "1500.00", "1.000000"),
        "half": ("normal", "1200.0000", "1500.00", "0.500000"),
        "double": ("normal", "1200.0000", "1500.00", "2.000000"),
        "low": ("low", "560.0000", "1500.00", "0.466667"),
        "low2": ("low", "240.0000", "1500.00", "0.200000"),
        "high": ("high", "2400.0000", "1500.00", "3.000000"),
        "high2": ("high", "1200.0080", "1500.00", "2.000007"),
        "not_candidate": ("high", "4400.0000", "1500.00", "4.666667"),
        "rounded": ("normal", "1280.5442", "1600.68", "0.624734"),
    }
    for case, (cls, pts, std, ratio) in expect.items():
        r = got[case]
        assert (r.case_class, r.points, r.standard_cost, r.ratio) == (
            cls,
            D(pts),
            D(std),
            D(ratio),
        ), case
    assert not got["not_candidate"]._candidate


def test_a_coefficient_of_one_scores_as_without_one(scored):
    costs = ["300.00", "599.99", "1000.00", "2400.01", "6000.01", "0.05", "3000.00"]
    rows = [(f"c{i}", "A", "1000.00", "800.0000", cost, "1.0000") for i, cost in enumerate(costs)]
    fields = ("case_class", "points", "standard_cost", "ratio", "_candidate")
    with_one = scored(rows)
    without = scored(rows, with_coef=False)
    assert {c: tuple(r[f] for f in fields) for c, r in with_one.items()} == {
        c: tuple(r[f] for f in fields) for c, r in without.items()
    }


def _lake(spark, cfg, cases):
    """silver discharges (case, hospital, year, dx, cost, other_dx, birth date), admitted on
    1 June of their discharge year, with procedure 47.09 unless the diagnosis is I10."""
    discharges = spark.createDataFrame(
        [
            (c, h, y, dx, [] if dx == "I10" else ["47.09"], D(cost), other, birth, date(y, 6, 1))
            for c, h, y, dx, cost, other, birth in cases
        ],
        "case_id string, hospital_code string, discharge_year int, principal_dx string, "
        "procedures array<string>, total_cost decimal(18,2), other_dx array<string>, "
        "birth_date date, admission_date date",
    )
    discharges.write.format("delta").save(lake.table_path(cfg, "silver", "discharges"))
    spark.createDataFrame(CLASSES, "code string, class string, name_zh string").write.format(
        "delta"
    ).save(lake.table_path(cfg, "silver", "procedure_classes"))
    spark.createDataFrame(
        [("H3", "hospital", 3), ("H2", "hospital", 2)],
        "institution_code string, type string, level int",
    ).write.format("delta").save(lake.table_path(cfg, "silver", "institutions"))
    spark.createDataFrame(
        [("K35.8", "急性阑尾炎"), ("I10", "高血压")], "code string, name_zh string"
    ).write.format("delta").save(lake.table_path(cfg, "silver", "icd10_codes"))


ADULT, OLD = date(1980, 1, 1), date(1940, 1, 1)
CHF, DIAB, METASTATIC = "I50.9", "E11.9", "C78.0"
BASE = [
    # case, hospital, year, principal, cost, secondary diagnoses, birth date
    ("a1", "H3", 2022, "K35.8", "100.00", [], ADULT),
    ("a2", "H3", 2022, "K35.8", "200.00", [CHF], OLD),
    ("b1", "H3", 2023, "K35.8", "120.00", [], ADULT),
    ("b2", "H3", 2023, "K35.8", "160.00", [], OLD),
    ("b3", "H3", 2023, "K35.8", "300.00", [CHF], OLD),
    ("c1", "H3", 2024, "K35.8", "100.00", [], ADULT),
    ("c2", "H3", 2024, "K35.8", "140.00", [], ADULT),
    ("c3", "H3", 2024, "K35.8", "200.00", [CHF], OLD),
    ("c4", "H3", 2024, "K35.8", "260.00", [CHF, DIAB], OLD),  # CCI 2: level 1
    ("c5", "H3", 2024, "K35.8", "400.00", [METASTATIC], ADULT),  # CCI 6: level 3
    ("c6", "H3", 2024, "K35.8", "80.00", [], date(2014, 1, 1)),  # 10 years old
    ("c7", "H3", 2024, "K35.8", "90.00", [], date(2014, 1, 1)),
    ("d1", "H3", 2024, "I10", "50.00", [CHF], OLD),  # comprehensive: no auxiliary rows
]
SETTLEMENT = [
    ("e1", "H2", 2025, "K35.8", "200.00", [CHF], ADULT),
    ("e2", "H2", 2025, "K35.8", "150.00", [], OLD),
    ("e3", "H2", 2025, "K35.8", "400.00", [METASTATIC], OLD),
    ("e4", "H2", 2025, "K35.8", "100.00", [METASTATIC], ADULT),
    ("e5", "H2", 2025, "K35.8", "100.00", [METASTATIC], date(2015, 1, 1)),
    ("e6", "H2", 2025, "I10", "50.00", [CHF], OLD),
]


def _rows(spark, cfg, table, where):
    return lake.read_version(spark, lake.table_path(cfg, "gold", table)).filter(where).collect()


def test_the_auxiliary_catalogue_its_points_and_the_off_switch(spark, cfg):
    """Catalogue 2025 at threshold 4 from 2022–2024 (weights 1, 2, 7). Core type
    K35.8|47.09 has the 12 cases a1–c7 (I10 has one: comprehensive).

    avg_cost(t): means 150 (2022), 580/3 (2023), 1270/7 (2024):
        (150 + 2·580/3 + 1270) / 10 = 542/3 = 180.666… -> 180.67
    CCI 0 (a1 b1 b2 c1 c2 c6 c7): means 100, 140, 410/4 = 102.5:
        (100 + 280 + 717.5) / 10 = 109.75; coef 109.75 / 180.67 = 0.60746… -> 0.6075
    CCI 1 (a2 b3 c3 c4): means 200, 300, 230: (200 + 600 + 1610) / 10 = 241.00;
        coef 241 / 180.67 = 1.33392… -> 1.3339
    CCI 3 (c5): 2024 only, 400.00; one case < 4: coef 1
    18-64 (a1 b1 c1 c2 c5): means 100, 120, 640/3: (100 + 240 + 4480/3) / 10 = 183.333…
        -> 183.33; coef 183.33 / 180.67 = 1.01472… -> 1.0147
    65+ (a2 b2 b3 c3 c4): means 200, 230, 230: (200 + 460 + 1610) / 10 = 227.00;
        coef 227 / 180.67 = 1.25643… -> 1.2564
    7-17 (c6 c7): 2024 only, 85.00; two cases: coef 1
    M: means 150, 580/3, 1320/8 = 165: (150 + 1160/3 + 1155) / 10 = 169.1666… -> 169.17;
    rw(t) = 180.67 / 169.17 · 1000 = 1067.97896… -> 1067.9790.
    """
    _lake(spark, cfg, BASE + SETTLEMENT)
    summary = catalogue.run(spark, cfg, catalogue.Params(2025, threshold=4, auxiliary=True))
    assert (summary["auxiliary"], summary["auxiliary_strata"], summary["auxiliary_adjusted"]) == (
        True,
        6,
        4,
    )
    types = {r.dip_code: r for r in _rows(spark, cfg, "dip_catalogue", "true")}
    assert (types["K35.8|47.09"].avg_cost, types["K35.8|47.09"].rw) == (
        D("180.67"),
        D("1067.9790"),
    )
    strata = {
        (r.dimension, r.stratum): (r.case_count, r.avg_cost, r.coef)
        for r in _rows(spark, cfg, "dip_auxiliary_catalogue", "catalogue_version = 2025")
    }
    assert strata == {
        ("cci", "0"): (7, D("109.75"), D("0.6075")),
        ("cci", "1"): (4, D("241.00"), D("1.3339")),
        ("cci", "3"): (1, D("400.00"), D("1.0000")),
        ("age", "18-64"): (5, D("183.33"), D("1.0147")),
        ("age", "65+"): (5, D("227.00"), D("1.2564")),
        ("age", "7-17"): (2, D("85.00"), D("1.0000")),
    }
    (level3,) = _rows(spark, cfg, "dip_level_coefficients", "catalogue_version = 2025")
    assert level3.auxiliary is True

    # Points of 2025 at level 2 (no base cases there: K = 1). rw = 1067.9790.
    result = points.run(spark, cfg, 2025)
    assert result["auxiliary"] is True
    got = {
        r.case_id: (r.aux_dimension, r.aux_stratum, r.aux_coef, r.case_class, r.points)
        for r in _rows(spark, cfg, "dip_case_points", "settlement_year = 2025")
    }
    none = (None, None, D("1.0000"))
    assert got == {
        # CHF: CCI 1; 200 / (180.67 · 1.3339) = 0.83: normal, 1067.9790 · 1.3339 = 1424.57719…
        "e1": ("cci", "1", D("1.3339"), "normal", D("1424.5772")),
        # CCI 0 (0.6075 ≠ 1) comes before the 65+ band: 1067.9790 · 0.6075 = 648.79724…
        "e2": ("cci", "0", D("0.6075"), "normal", D("648.7972")),
        # CCI 3's coefficient is 1, so the 65+ band's: 1067.9790 · 1.2564 = 1341.80881…
        "e3": ("age", "65+", D("1.2564"), "normal", D("1341.8088")),
        # CCI 3 (1) and an adult: none; 100 / 180.67 = 0.55: normal, rw
        "e4": (*none, "normal", D("1067.9790")),
        # a ten-year-old whose band's coefficient is 1 (two base cases): none
        "e5": (*none, "normal", D("1067.9790")),
        # comprehensive I10|*|C: never one; avg 50, ratio 1: rw = 50/169.17 · 1000 = 295.5607
        "e6": (*none, "normal", D("295.5607")),
    }
    e3 = _rows(spark, cfg, "dip_case_points", "case_id = 'e3'")[0]
    assert (e3.standard_cost, e3.ratio) == (D("226.99"), D("1.762163"))  # 180.67 · 1.2564

    folder = report.run(spark, cfg, 2025)
    facts = json.loads((folder / "report.json").read_text(encoding="utf-8"))["data"]
    assert facts["auxiliary"] is True
    assert facts["aux_dimensions"] == [
        {"dimension": "cci", "strata": 3, "adjusted": 2, "adjusted_types": 1,
         "base_cases_adjusted": 11},
        {"dimension": "age", "strata": 3, "adjusted": 2, "adjusted_types": 1,
         "base_cases_adjusted": 10},
    ]  # fmt: skip
    assert [(d["dimension"], d["stratum"], d["coef"]) for d in facts["aux_deviations"]] == [
        ("cci", "0", "0.6075"),
        ("cci", "1", "1.3339"),
        ("age", "65+", "1.2564"),
        ("age", "18-64", "1.0147"),
    ]
    assert facts["aux_deviations"][0]["dip_name"] == "急性阑尾炎：阑尾切除术"
    assert pipeline.reports_build(cfg)["broken_links"] == []
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "Auxiliary catalogue" in page and "On:" in page and "1.3339" in page

    # The same version again without it: no auxiliary rows, the rest as it was.
    before = {
        t: _rows(spark, cfg, t, "catalogue_version = 2025")
        for t in ("dip_catalogue", "dip_level_coefficients")
    }
    summary = catalogue.run(spark, cfg, catalogue.Params(2025, threshold=4))
    assert summary["auxiliary"] is False and "auxiliary_strata" not in summary
    assert _rows(spark, cfg, "dip_auxiliary_catalogue", "catalogue_version = 2025") == []
    assert sorted(_rows(spark, cfg, "dip_catalogue", "catalogue_version = 2025")) == sorted(
        before["dip_catalogue"]
    )
    (off,) = _rows(spark, cfg, "dip_level_coefficients", "catalogue_version = 2025")
    (on,) = before["dip_level_coefficients"]
    unchanged = [c for c in off.asDict() if c not in ("created_at", "auxiliary")]
    assert [off[c] for c in unchanged] == [on[c] for c in unchanged]
    assert off.auxiliary is False

    assert points.run(spark, cfg, 2025)["auxiliary"] is False
    got = {
        r.case_id: (r.aux_dimension, r.aux_stratum, r.aux_coef, r.points)
        for r in _rows(spark, cfg, "dip_case_points", "settlement_year = 2025")
    }
    # 5.2's points: e1 and e2 normal at rw (ratios 1.107 and 0.830)
    assert got["e1"] == (*none, D("1067.9790"))
    assert got["e2"] == (*none, D("1067.9790"))
    # e3: 400 / 180.67 = 2.214: high, 1067.9790 · 400 / 180.67 − 1067.9790 = 1296.50649…
    assert got["e3"] == (*none, D("1296.5065"))
    facts = json.loads((report.run(spark, cfg, 2025) / "report.json").read_text("utf-8"))
    assert facts["data"]["auxiliary"] is False and "aux_dimensions" not in facts["data"]
