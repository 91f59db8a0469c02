"""Settlement-list dialects to one bronze shape, values kept as received (strings).

Each dialect (docs/sources/settlement_lists.md) is parsed with Spark's own
``from_json`` / ``from_csv``: no Python per record. The result has one column
per field of a settlement list, still in the sender's notation (dates, codes,
sex, yuan or fen); ``malformed`` is set when a line could not be read whole.
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BooleanType, StringType, StructField, StructType

from jobs.terms import FEE_CATEGORIES

MONEY = ("total", *FEE_CATEGORIES, "fund_paid", "self_paid")
FIELDS = (
    "record_id",
    "case_id",
    "hospital_code",
    "id_no",
    "name",
    "sex",
    "birth_date",
    "admission_date",
    "discharge_date",
    "admission_type",
    "discharge_status",
    "principal_dx",
    "other_dx",
    "principal_procedure",
    "other_procedures",
    "doctor_id",
    *MONEY,
    # Where the patient is insured (SPEC 12): a person insured elsewhere treated here. The
    # last column, added by the vendors in 2025: a file from before it has one column less.
    "insured_region",
)
OPTIONAL_TAIL = 1  # trailing columns a file may lack (insured_region)
B_COLUMNS = (
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
)
C_COLUMNS = (
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
)
# Both flat dialects list the fields in the same order as FIELDS.
_CODE = StructType([StructField("code", StringType()), StructField("principal", BooleanType())])
A_SCHEMA = StructType(
    [
        StructField("record_id", StringType()),
        StructField("submitted_at", StringType()),
        StructField(
            "case",
            StructType(
                [
                    StructField(n, StringType())
                    for n in (
                        "case_id",
                        "hospital_code",
                        "admission_date",
                        "discharge_date",
                        "admission_type",
                        "discharge_status",
                        "attending_doctor",
                    )
                ]
            ),
        ),
        StructField(
            "patient",
            StructType(
                [
                    StructField(n, StringType())
                    for n in ("id_no", "name", "sex", "birth_date", "insured_region")
                ]
            ),
        ),
        StructField("diagnoses", ArrayType(_CODE)),
        StructField("procedures", ArrayType(_CODE)),
        StructField("costs", StructType([StructField(n, StringType()) for n in MONEY])),
    ]
)


DIALECT_FILE = r"/([A-Z])_\d{6}\.[a-z]+$"


def dialect_of_name(relative: str) -> str | None:
    """The dialect a settlement-list file is named for (``…/B_202403.csv`` -> ``B``)."""
    match = re.search(DIALECT_FILE, relative)
    return match.group(1) if match and match.group(1) in PARSERS else None


def _codes(array: Column, principal: bool) -> Column:
    chosen = F.filter(array, lambda x: x["principal"] == F.lit(principal))
    return F.transform(chosen, lambda x: x["code"])


def parse_a(lines: DataFrame) -> DataFrame:
    j = F.from_json("text", A_SCHEMA)
    parsed = lines.withColumn("j", j)
    return parsed.select(
        "*",
        F.col("j.record_id").alias("record_id"),
        F.col("j.submitted_at").alias("submitted_at"),
        F.col("j.case.case_id").alias("case_id"),
        F.col("j.case.hospital_code").alias("hospital_code"),
        F.col("j.patient.id_no").alias("id_no"),
        F.col("j.patient.name").alias("name"),
        F.col("j.patient.sex").alias("sex"),
        F.col("j.patient.birth_date").alias("birth_date"),
        F.col("j.patient.insured_region").alias("insured_region"),
        F.col("j.case.admission_date").alias("admission_date"),
        F.col("j.case.discharge_date").alias("discharge_date"),
        F.col("j.case.admission_type").alias("admission_type"),
        F.col("j.case.discharge_status").alias("discharge_status"),
        F.try_element_at(_codes(F.col("j.diagnoses"), True), F.lit(1)).alias("principal_dx"),
        _codes(F.col("j.diagnoses"), False).alias("other_dx"),
        F.try_element_at(_codes(F.col("j.procedures"), True), F.lit(1)).alias(
            "principal_procedure"
        ),
        _codes(F.col("j.procedures"), False).alias("other_procedures"),
        F.col("j.case.attending_doctor").alias("doctor_id"),
        *[F.col(f"j.costs.{m}").alias(m) for m in MONEY],
        F.lit("yuan").alias("money_unit"),
        (F.col("j").isNull() | F.col("j.costs").isNull()).alias("malformed"),
    ).drop("j")


def _parse_flat(
    lines: DataFrame, columns: tuple[str, ...], sep: str, list_sep: str, unit: str
) -> DataFrame:
    schema = ", ".join(f"`c{i}` STRING" for i in range(len(columns)))
    row = F.from_csv("text", schema, {"sep": sep, "quote": '"'})
    parsed = lines.withColumn("r", row)
    out = []
    for i, field in enumerate(FIELDS):
        value = F.col(f"r.c{i}")
        if field in ("other_dx", "other_procedures"):
            value = F.when(
                (value.isNull()) | (value == ""), F.array().cast("array<string>")
            ).otherwise(F.split(value, list_sep.replace("|", r"\|")))
        out.append(value.alias(field))
    n_fields = F.size(F.split("text", sep.replace("|", r"\|")))
    return parsed.select(
        "*",
        *out,
        F.lit(None).cast("string").alias("submitted_at"),  # the flat dialects carry none
        F.lit(unit).alias("money_unit"),
        # The last required column must be there; the optional tail may be missing.
        (
            F.col(f"r.c{len(columns) - 1 - OPTIONAL_TAIL}").isNull()
            | (n_fields < len(columns) - OPTIONAL_TAIL)
        ).alias("malformed"),
    ).drop("r")


def parse_b(lines: DataFrame) -> DataFrame:
    return _parse_flat(lines, B_COLUMNS, ",", ";", "yuan")


def parse_c(lines: DataFrame) -> DataFrame:
    return _parse_flat(lines, C_COLUMNS, "|", ",", "fen")


PARSERS = {"A": parse_a, "B": parse_b, "C": parse_c}
# The header each flat dialect may carry: with its optional tail, or from before it.
HEADERS = {
    "A": None,
    "B": (",".join(B_COLUMNS), ",".join(B_COLUMNS[:-OPTIONAL_TAIL])),
    "C": ("|".join(C_COLUMNS), "|".join(C_COLUMNS[:-OPTIONAL_TAIL])),
}
SEPARATOR = {"A": None, "B": ",", "C": "|"}
