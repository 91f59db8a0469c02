"""Settlement lists as three HIS vendors send them (documented in docs/sources/).

* ``A`` — JSON Lines, UTF-8, nested objects; ISO dates; dotted ICD codes, some
  carrying the 医保版 extension (``K35.800x002``); money in yuan with 2 decimals;
  ``submitted_at``, when the sender submitted the record (orders a case's versions).
* ``B`` — CSV in GBK with Chinese headers; several codes joined by ``;``;
  dates ``YYYY-MM-DD``; sex 男/女; admission and discharge ways in Chinese.
* ``C`` — pipe-separated text, UTF-8, English headers; dates ``YYYYMMDD``; codes
  without the dot (``K358``, ``5123``); money in integer fen.

Each formatter takes the clean case frame (with ``record_id``) and returns the
lines of one file, so the mess module can spoil lines and record where.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from jobs.terms import FEE_CATEGORIES

DIALECTS = ("A", "B", "C")
DIALECT_SHARE = (0.4, 0.35, 0.25)
EXTENSION = {"A": "jsonl", "B": "csv", "C": "txt"}
ENCODING = {"A": "utf-8", "B": "gbk", "C": "utf-8"}

B_HEADER = [
    "流水号",
    "病案号",
    "定点机构编码",
    "身份证号",
    "姓名",
    "性别",
    "出生日期",
    "入院日期",
    "出院日期",
    "入院途径",
    "离院方式",
    "主要诊断编码",
    "其他诊断编码",
    "主要手术操作编码",
    "其他手术操作编码",
    "主治医师代码",
    "医疗总费用",
    "药品费",
    "耗材费",
    "检查费",
    "治疗费",
    "护理费",
    "床位费",
    "其他费",
    "统筹基金支付",
    "个人自付",
    "参保地区划",
]
B_SEX = {"M": "男", "F": "女"}
B_ADMISSION = {"emergency": "急诊", "elective": "门诊"}
B_STATUS = {"cured": "医嘱离院", "transferred": "医嘱转院", "died": "死亡", "left": "非医嘱离院"}
C_HEADER = [
    "record_id",
    "case_no",
    "org_code",
    "idcard",
    "pname",
    "gender",
    "birthday",
    "in_date",
    "out_date",
    "in_way",
    "out_way",
    "main_diag",
    "other_diags",
    "main_oper",
    "other_opers",
    "doctor",
    "total_fen",
    "drug_fen",
    "material_fen",
    "exam_fen",
    "treat_fen",
    "nurse_fen",
    "bed_fen",
    "other_fen",
    "fund_fen",
    "self_fen",
    "insu_admdvs",
]
C_SEX = {"M": "1", "F": "2"}
C_ADMISSION = {"emergency": "1", "elective": "2"}
C_STATUS = {"cured": "1", "transferred": "2", "died": "5", "left": "4"}
PARTS = FEE_CATEGORIES


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def insurance_extension(code: str, salt: int) -> str:
    """The 医保版 form of an ICD-10 code: ``K35.8`` -> ``K35.800x002`` (a real-looking suffix)."""
    if len(code) == 3:
        return f"{code}.x{salt % 90 + 1:02d}"
    return f"{code}00x{salt % 9 + 1:03d}"


def undotted(code: str) -> str:
    return code.replace(".", "")


WHO_CODE = re.compile(r"[A-Z]\d{2}(\.\d)?")


def _a_code(code: str, ext: bool, salt: int) -> str:
    # The extension belongs to a WHO code: not to nothing (a missing code stays missing),
    # nor to a code of another edition (a US ICD-10-CM code is sent as the HIS has it).
    return insurance_extension(code, salt) if ext and WHO_CODE.fullmatch(code) else code


def format_a(cases: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    ext = rng.random(len(cases)) < 0.3
    salt = rng.integers(0, 1000, len(cases))
    lines = []
    for i, r in enumerate(cases.itertuples(index=False)):
        record = {
            "record_id": r.record_id,
            "submitted_at": r.submitted_at,
            "case": {
                "case_id": r.case_id,
                "hospital_code": r.hospital_code,
                "admission_date": f"{r.admission_date:%Y-%m-%d}",
                "discharge_date": f"{r.discharge_date:%Y-%m-%d}",
                "admission_type": r.admission_type,
                "discharge_status": r.discharge_status,
                "attending_doctor": r.doctor_id,
            },
            "patient": {
                "id_no": r.id_no,
                "name": r.name,
                "sex": r.sex,
                "birth_date": f"{r.birth_date:%Y-%m-%d}",
                "insured_region": r.insured_region,
            },
            "diagnoses": [{"code": _a_code(r.principal_dx, ext[i], salt[i]), "principal": True}]
            + [{"code": _a_code(c, ext[i], salt[i] + 7), "principal": False} for c in r.other_dx],
            "procedures": [{"code": c, "principal": j == 0} for j, c in enumerate(r.procedures)],
            "costs": {
                "total": yuan(r.total_fen),
                **{p: yuan(getattr(r, f"{p}_fen")) for p in PARTS},
                "fund_paid": yuan(r.fund_fen),
                "self_paid": yuan(r.self_fen),
            },
        }
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    return lines


def _csv_field(value: str, sep: str) -> str:
    return f'"{value}"' if (sep in value or '"' in value) else value


def format_b(cases: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    del rng
    lines = [",".join(B_HEADER)]
    for r in cases.itertuples(index=False):
        fields = [
            r.record_id,
            r.case_id,
            r.hospital_code,
            r.id_no,
            r.name,
            B_SEX[r.sex],
            f"{r.birth_date:%Y-%m-%d}",
            f"{r.admission_date:%Y-%m-%d}",
            f"{r.discharge_date:%Y-%m-%d}",
            B_ADMISSION[r.admission_type],
            B_STATUS[r.discharge_status],
            r.principal_dx,
            ";".join(r.other_dx),
            r.procedures[0] if r.procedures else "",
            ";".join(r.procedures[1:]),
            r.doctor_id,
            yuan(r.total_fen),
            *(yuan(getattr(r, f"{p}_fen")) for p in PARTS),
            yuan(r.fund_fen),
            yuan(r.self_fen),
            r.insured_region,
        ]
        lines.append(",".join(_csv_field(str(f), ",") for f in fields))
    return lines


def format_c(cases: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    lower = rng.random(len(cases)) < 0.2
    lines = ["|".join(C_HEADER)]
    for i, r in enumerate(cases.itertuples(index=False)):
        dx = undotted(r.principal_dx)
        others = [undotted(c) for c in r.other_dx]
        if lower[i]:
            dx, others = dx.lower(), [c.lower() for c in others]
        fields = [
            r.record_id,
            r.case_id,
            r.hospital_code,
            r.id_no,
            r.name,
            C_SEX[r.sex],
            f"{r.birth_date:%Y%m%d}",
            f"{r.admission_date:%Y%m%d}",
            f"{r.discharge_date:%Y%m%d}",
            C_ADMISSION[r.admission_type],
            C_STATUS[r.discharge_status],
            dx,
            ",".join(others),
            undotted(r.procedures[0]) if r.procedures else "",
            ",".join(undotted(c) for c in r.procedures[1:]),
            r.doctor_id,
            str(r.total_fen),
            *(str(getattr(r, f"{p}_fen")) for p in PARTS),
            str(r.fund_fen),
            str(r.self_fen),
            r.insured_region,
        ]
        lines.append("|".join(fields))
    return lines


FORMATTERS = {"A": format_a, "B": format_b, "C": format_c}
HEADER_LINES = {"A": 0, "B": 1, "C": 1}
