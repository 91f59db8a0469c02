"""Unit checks of the generator's pieces, with hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs import vocab
from jobs.generate import calibrate, clinical, discharges, world
from jobs.generate.knobs import preset


def test_id_number_check_character_matches_the_standard_example():
    # GB 11643-1999's own example: 11010519491231002X.
    ids = world.id_numbers(np.array(["110105"]), pd.DatetimeIndex(["1949-12-31"]), np.array([2]))
    assert ids.tolist() == ["11010519491231002X"]


def test_cost_split_adds_up_to_the_fen():
    totals = np.array([100, 1_234_567, 7])
    shares = np.array([[0.5, 0.5], [0.333, 0.667], [0.9, 0.1]])
    parts = discharges.split_cost(totals, shares)
    assert parts.sum(axis=1).tolist() == [100, 1_234_567, 7]
    assert parts[0].tolist() == [50, 50]
    assert parts[2].tolist() == [7, 0]  # floor(6.3)=6, floor(0.7)=0, the 1 fen left goes first


@pytest.mark.parametrize(
    ("procedures", "key", "klass"),
    [
        (("51.23", "88.01", "45.13"), "51.23+45.13", "S"),  # principal S first, rest sorted
        (("88.01", "99.25", "51.23", "47.09"), "47.09+51.23+99.25", "D"),  # principal D
        (("99.25", "96.04", "93.90", "51.23"), "99.25+51.23+93.90", "T"),  # cap 3 after ordering
        (("88.01",), "", "D"),
        ((), "", "C"),
        (("99.25", "99.25"), "99.25", "T"),
    ],
)
def test_proc_key_and_class_follow_spec_5_1(procedures, key, klass):
    assert calibrate.proc_key(procedures) == key
    assert calibrate.proc_class(procedures) == klass


def test_catalogue_size_counts_core_and_comprehensive_by_hand():
    dx = pd.Series(["K35.8"] * 15 + ["K35.9"] * 14 + ["I10"] * 2)
    procs = pd.Series([("47.09",)] * 15 + [()] * 14 + [("88.01",), ()])
    size = calibrate.catalogue_size(dx, procs)
    # core: K35.8|47.09 (15 cases); comprehensive: K35|*|C (14), I10|*|D, I10|*|C
    assert (size.core_types, size.comprehensive_types, size.core_cases) == (1, 3, 15)


def test_vocabularies_are_real_and_named_in_chinese():
    v = vocab.load()
    appendicitis = v.icd10.set_index("code").loc["K35.8"]
    assert "阑尾炎" in appendicitis.name_zh
    assert v.icd9.set_index("code").loc["47.09"].name_zh
    assert len(v.icd10) > 14_000 and len(v.icd9) > 3_800


def test_calibration_at_small_scale():
    knobs = preset("small")
    rng = np.random.default_rng(knobs.seed)
    city = world.build_world(knobs, rng)
    model = clinical.build_model(vocab.load(), rng)
    cases = discharges.build_discharges(model, city, knobs, rng)
    base = cases[cases.year < knobs.settlement_year]
    # A tenth of the city's cases: with the threshold scaled to a tenth as well (15 -> 2)
    # the catalogue should look like the city's: 4,000-5,000 types, core >= 85%.
    scaled = calibrate.catalogue_size(base.principal_dx, base.procedures, threshold=2)
    assert 4_000 <= scaled.types <= 5_000, str(scaled)
    assert scaled.core_coverage >= 0.85, str(scaled)
    # Average cost and stay near the national figures (about 10,300 yuan, 8.8 days).
    assert 8_000 <= cases.total_fen.mean() / 100 <= 13_000
    stay = (cases.discharge_date - cases.admission_date).dt.days.mean()
    assert 7 <= stay <= 11
    by_level = cases.groupby("level").total_fen.mean()
    assert by_level[3] > by_level[2] > by_level[1]


def test_sex_specific_diagnoses_are_one_sexs_alone():
    model = clinical.build_model(vocab.load(), np.random.default_rng(5))
    profiles = model.profiles
    only = profiles.principal_dx.map(vocab.sex_of_diagnosis)
    # Written out from jobs/reference/sex_specific_diagnoses.csv: pregnancy is a woman's,
    # the prostate a man's, and an appendix anybody's.
    assert vocab.sex_of_diagnosis("O80") == "F" and vocab.sex_of_diagnosis("N40") == "M"
    assert vocab.sex_of_diagnosis("K35.8") is None
    assert (profiles.female_share[only == "F"] == 1.0).all() and (only == "F").any()
    assert (profiles.female_share[only == "M"] == 0.0).all() and (only == "M").any()
    assert (profiles.female_share[only.isna()] == 0.5).all()
