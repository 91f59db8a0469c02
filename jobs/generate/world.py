"""The city's registries: institutions, doctors and insured persons (with raw PII).

Everything is drawn with numpy from one seeded generator, so the same seed gives
the same city. ID numbers follow GB 11643-1999 (region, birth date, sequence with
the sex in its parity, and the ISO 7064 mod 11-2 check character).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.generate.knobs import Knobs

DISTRICTS = {
    "350203": "思明",
    "350205": "海沧",
    "350206": "湖里",
    "350211": "集美",
    "350212": "同安",
    "350213": "翔安",
}
DISTRICT_CODES = np.array(list(DISTRICTS))
DISTRICT_WEIGHTS = np.array([0.22, 0.12, 0.2, 0.18, 0.15, 0.13])
OTHER_REGIONS = np.array(["350102", "350181", "350502", "350602", "440106", "310104", "330106"])
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程苏魏吕丁沈任姚卢傅钟姜崔谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文辉玲志红鹏宇婷雪琳晨浩然梓涵欣怡子轩俊杰思远雨萱博文佳怡家豪诗涵泽宇"
)
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))
HOSPITAL_LEVEL_SHARE = {3: 0.12, 2: 0.30, 1: 0.58}
BIRTH_RATE = 0.01  # births a year per person (China: about 0.7-1.1%)


@dataclass(frozen=True)
class World:
    institutions: pd.DataFrame  # institution_code, name, type, level, district, size
    doctors: pd.DataFrame  # doctor_id, name, institution_code, second_site, status, dates
    persons: pd.DataFrame  # id_no, name, sex, birth_date, insurance_type, enrolment, ...


def id_check_char(first17: np.ndarray) -> np.ndarray:
    """GB 11643 check character for an array of 17-digit numbers (int64)."""
    total = np.zeros(len(first17), dtype=np.int64)
    rest = first17.astype(np.int64)
    for weight in ID_WEIGHTS[::-1]:  # last digit first
        total += (rest % 10) * weight
        rest //= 10
    return ID_CHECK[total % 11]


def id_numbers(region: np.ndarray, birth: pd.DatetimeIndex, seq: np.ndarray) -> np.ndarray:
    """18-character resident ID numbers from region code, birth date and sequence."""
    yyyymmdd = birth.year.to_numpy() * 10000 + birth.month.to_numpy() * 100 + birth.day.to_numpy()
    first17 = region.astype(np.int64) * 10**11 + yyyymmdd.astype(np.int64) * 1000 + seq
    return np.char.add(first17.astype("U17"), id_check_char(first17))


def chinese_names(rng: np.random.Generator, n: int) -> np.ndarray:
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    given1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    given2 = np.where(rng.random(n) < 0.7, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    return np.char.add(np.char.add(surname, given1), given2)


def build_institutions(knobs: Knobs, rng: np.random.Generator) -> pd.DataFrame:
    n = knobs.institutions
    n_hosp = max(3, round(n * 0.42))
    n_clinic = max(1, round(n * 0.22))
    n_pharm = max(1, n - n_hosp - n_clinic)
    levels = np.concatenate(
        [np.full(max(1, round(n_hosp * share)), lvl) for lvl, share in HOSPITAL_LEVEL_SHARE.items()]
    )[:n_hosp]
    levels = np.pad(levels, (0, n_hosp - len(levels)), constant_values=1)
    types = np.array(["hospital"] * n_hosp + ["clinic"] * n_clinic + ["pharmacy"] * n_pharm)
    level = np.concatenate([levels, np.zeros(n_clinic + n_pharm, dtype=int)])
    district = rng.choice(DISTRICT_CODES, size=n, p=DISTRICT_WEIGHTS)
    prefix = np.where(types == "pharmacy", "P", "H")
    code = np.array(
        [f"{p}{d}{i:05d}" for i, (p, d) in enumerate(zip(prefix, district, strict=True))]
    )
    kind = {
        3: ["人民医院", "中心医院", "中医院", "妇幼保健院"],
        2: ["医院", "中医院", "骨科医院", "妇产医院"],
        1: ["社区卫生服务中心", "卫生院", "医院"],
    }
    names = []
    for i in range(n):
        dname = DISTRICTS[district[i]]
        if types[i] == "hospital":
            names.append(f"厦门市{dname}第{i + 1}{kind[level[i]][i % len(kind[level[i]])]}")
        elif types[i] == "clinic":
            names.append(f"{dname}区第{i + 1}门诊部")
        else:
            names.append(f"{dname}第{i + 1}大药房")
    # Size: tertiary hospitals carry most of the inpatient load.
    size = np.where(level == 3, 9.0, np.where(level == 2, 3.0, 1.0)) * rng.lognormal(0, 0.4, n)
    return pd.DataFrame(
        {
            "institution_code": code,
            "name": names,
            "type": types,
            "level": level,
            "district": district,
            "size": np.where(types == "hospital", size, 0.0),
        }
    )


def build_doctors(
    institutions: pd.DataFrame, knobs: Knobs, rng: np.random.Generator
) -> pd.DataFrame:
    care = institutions[institutions.type != "pharmacy"]
    per_site = np.where(care.level == 3, 120, np.where(care.level == 2, 45, 8))
    per_site = np.maximum(
        2, (per_site * care["size"].clip(0.5, 3).where(care.level > 0, 1.0)).round().astype(int)
    )
    site = np.repeat(care.institution_code.to_numpy(), per_site)
    n = len(site)
    hospitals = institutions.institution_code[institutions.type == "hospital"].to_numpy()
    second = np.where(rng.random(n) < 0.08, rng.choice(hospitals, n), "")
    second = np.where(second == site, "", second)
    start = pd.Timestamp(f"{knobs.first_year - 8}-01-01")
    registered = start + pd.to_timedelta(rng.integers(0, 365 * 8, n), unit="D")
    return pd.DataFrame(
        {
            "doctor_id": [f"D{350200000 + i:09d}" for i in range(n)],
            "name": chinese_names(rng, n),
            "institution_code": site,
            "second_site": second,
            "status": "active",
            "registered_on": registered.normalize(),
            "deregistered_on": pd.NaT,
        }
    )


def build_persons(knobs: Knobs, rng: np.random.Generator) -> pd.DataFrame:
    n = knobs.insured
    local = rng.random(n) < 0.9
    region = np.where(
        local, rng.choice(DISTRICT_CODES, n, p=DISTRICT_WEIGHTS), rng.choice(OTHER_REGIONS, n)
    )
    # Age pyramid of a young coastal city: mean about 38, a long old tail.
    age_days = np.clip(rng.gamma(3.2, 12.0, n) * 365.25, 30, 98 * 365.25).astype(np.int64)
    # The gamma has almost no infants, yet about 1% of a city is born each year and
    # perinatal cases need newborns of their own: without this cohort every newborn
    # admission of a year fell on the same few babies (seen as thousands of cases on
    # one card, "admitted together" with everybody).
    born_lately = rng.random(n) < BIRTH_RATE * (knobs.years + 1)
    age_days[born_lately] = rng.integers(30, 365 * (knobs.years + 1), int(born_lately.sum()))
    ref = pd.Timestamp(f"{knobs.settlement_year}-12-31")
    birth = (ref - pd.to_timedelta(age_days, unit="D")).normalize()
    female = rng.random(n) < 0.5
    seq = rng.integers(0, 500, n) * 2 + np.where(female, 0, 1)
    id_no = id_numbers(region, birth, seq)
    # The same region, birth date and sequence twice is impossible in life: keep the first.
    frame = pd.DataFrame(
        {
            "id_no": id_no,
            "name": chinese_names(rng, n),
            "sex": np.where(female, "F", "M"),
            "birth_date": birth,
            "insurance_type": np.where(rng.random(n) < 0.47, "employee", "resident"),
            "district": np.where(local, region, rng.choice(DISTRICT_CODES, n, p=DISTRICT_WEIGHTS)),
        }
    ).drop_duplicates("id_no", ignore_index=True)
    m = len(frame)
    frame["village"] = np.char.add(
        frame.district.to_numpy().astype("U6"),
        np.char.zfill(rng.integers(1, 120, m).astype("U3"), 3),
    )
    enrol_start = pd.Timestamp(f"{knobs.first_year - 10}-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 9, m), unit="D"
    )
    frame["enrol_start"] = np.maximum(enrol_start.normalize(), frame.birth_date)
    frame["enrol_end"] = pd.NaT
    # Deaths (civil affairs feed): about 0.6% a year, older people far more often.
    age = (ref - frame.birth_date).dt.days / 365.25
    p_death = np.clip(0.0004 * np.exp(age / 14.0), 0, 0.3) * knobs.years / 4
    dies = rng.random(m) < p_death
    death = pd.Timestamp(f"{knobs.first_year}-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * knobs.years, m), unit="D"
    )
    frame["death_date"] = pd.Series(death.normalize()).where(dies)
    frame["enrol_end"] = frame.death_date
    return frame


def build_world(knobs: Knobs, rng: np.random.Generator) -> World:
    institutions = build_institutions(knobs, rng)
    return World(
        institutions=institutions,
        doctors=build_doctors(institutions, knobs, rng),
        persons=build_persons(knobs, rng),
    )
