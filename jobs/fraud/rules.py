"""The rule base: one YAML file per rule in ``jobs/fraud/rules/``, run over silver.

A rule file names its ``id``, ``pattern`` (SPEC 6), ``entity_type``, ``severity``,
the ``legal_basis`` (the article of 《医疗保障基金使用监督管理条例》 it enforces),
a ``description`` for the inspector, the silver tables it ``reads`` and its
``logic``: Spark SQL that returns ``entity_id`` and ``evidence`` (a sentence
saying why this entity was hit). In the SQL, ``{table}`` is a silver table (or a
reference table of ``reference/``, such as ``{district_seats}``, or ``{case_fees}``:
the fee sums per case, :func:`jobs.fraud.features.case_fees`, which scoring reads from
the features computed once per lake state instead of grouping the fee rows again) and
``{start}``/``{end}`` the first and last day of the period looked at. A rule sees
no data after ``{end}``. Adding a rule is adding a file.

A graded rule is hard to step around: instead of one cut-off, its evidence weakens
with the distance from the typical shape. Its file gives ``thresholds`` (the
numbers its logic reads as ``{name}``: data, not code) and ``grades`` (the
strength at which a hit is ``high`` and ``medium``); its logic returns a
``strength`` in (0, 1], and each hit's severity follows from it (never above the
rule's own ``severity``). A rule without grades hits at full strength.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import reduce
from pathlib import Path

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.terms import PATTERNS

RULES_DIR = Path(__file__).with_name("rules")
REFERENCE_DIR = Path(__file__).with_name("reference")
ENTITY_TYPES = ("case", "person", "provider", "doctor")
SEVERITIES = ("low", "medium", "high")
REQUIRED = (
    "id",
    "name",
    "pattern",
    "entity_type",
    "severity",
    "legal_basis",
    "description",
    "reads",
    "logic",
)
HITS_SCHEMA = (
    "rule_id string, pattern string, entity_type string, entity_id string, "
    "severity string, strength double, evidence string"
)
RESERVED = {"start", "end"}


class RuleError(ValueError):
    """A rule file that cannot be run: the file and what is wrong are in the message."""


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    pattern: str
    entity_type: str
    severity: str
    legal_basis: str
    description: str
    reads: tuple[str, ...]
    logic: str
    path: Path
    thresholds: tuple[tuple[str, float], ...] = ()
    grades: tuple[tuple[str, float], ...] = ()

    def hits(self, spark: SparkSession, tables: dict[str, DataFrame], start: date, end: date):
        """The entities this rule hits in [start, end], in the HITS_SCHEMA columns."""
        frames = {name: tables[name] for name in self.reads}
        found = spark.sql(
            self.logic,
            start=start.isoformat(),
            end=end.isoformat(),
            **dict(self.thresholds),
            **frames,
        )
        strength = F.col("strength").cast("double") if self.grades else F.lit(1.0)
        return (
            found.select(
                F.lit(self.id).alias("rule_id"),
                F.lit(self.pattern).alias("pattern"),
                F.lit(self.entity_type).alias("entity_type"),
                F.col("entity_id").cast("string"),
                self._severity(strength).alias("severity"),
                F.least(strength, F.lit(1.0)).alias("strength"),
                F.col("evidence").cast("string"),
            )
            .filter(F.col("entity_id").isNotNull())
            .filter(F.col("strength") > 0)
        )

    def _severity(self, strength):
        """A hit's severity from its strength by the rule's grades, capped at its own."""
        if not self.grades:
            return F.lit(self.severity)
        cut = dict(self.grades)
        graded = (
            F.when(strength >= cut["high"], "high")
            .when(strength >= cut["medium"], "medium")
            .otherwise("low")
        )
        cap = SEVERITIES.index(self.severity)
        capped = [s for s in SEVERITIES if SEVERITIES.index(s) > cap]
        return (
            F.when(graded.isin(*capped), F.lit(self.severity)).otherwise(graded)
            if capped
            else graded
        )


def parse_rule(path: Path) -> Rule:
    """One rule file, checked: every field present and each value from its vocabulary."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RuleError(f"{path.name}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise RuleError(f"{path.name}: a rule file is a mapping of fields")
    missing = [k for k in REQUIRED if not raw.get(k)]
    if missing:
        raise RuleError(f"{path.name}: missing {', '.join(missing)}")
    for key, allowed in (
        ("pattern", PATTERNS),
        ("entity_type", ENTITY_TYPES),
        ("severity", SEVERITIES),
    ):
        if raw[key] not in allowed:
            raise RuleError(f"{path.name}: {key} {raw[key]!r} is not one of {', '.join(allowed)}")
    reads = tuple(raw["reads"])
    thresholds = _numbers(path, raw, "thresholds")
    grades = _numbers(path, raw, "grades")
    if grades and (
        set(grades) != {"high", "medium"} or not 0 < grades["medium"] <= grades["high"] <= 1
    ):
        raise RuleError(f"{path.name}: grades are high and medium, 0 < medium <= high <= 1")
    clash = set(thresholds) & (set(reads) | RESERVED)
    if clash:
        raise RuleError(f"{path.name}: thresholds {sorted(clash)} reuse a table's or a date's name")
    named = set(re.findall(r"\{(\w+)\}", raw["logic"])) - RESERVED
    if named - set(thresholds) != set(reads):
        raise RuleError(
            f"{path.name}: the logic uses tables {sorted(named - set(thresholds))} but reads "
            f"lists {sorted(reads)}"
        )
    unused = set(thresholds) - named
    if unused:
        raise RuleError(f"{path.name}: thresholds {sorted(unused)} are not used by the logic")
    if grades and not re.search(r"\bstrength\b", raw["logic"]):
        raise RuleError(f"{path.name}: a graded rule's logic returns a strength column")
    return Rule(
        **{k: raw[k] for k in REQUIRED if k != "reads"},
        reads=reads,
        path=path,
        thresholds=tuple(sorted(thresholds.items())),
        grades=tuple(sorted(grades.items())),
    )


def _numbers(path: Path, raw: dict, field: str) -> dict[str, float]:
    """An optional mapping of names to numbers (``thresholds``, ``grades``), checked."""
    values = raw.get(field) or {}
    if not isinstance(values, dict):
        raise RuleError(f"{path.name}: {field} is a mapping of names to numbers")
    for name, value in values.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", str(name)):
            raise RuleError(f"{path.name}: {field} name {name!r} is not a lower_case word")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleError(f"{path.name}: {field}.{name} must be a number, not {value!r}")
    return dict(values)


def load_rules(folder: Path = RULES_DIR) -> list[Rule]:
    """Every ``*.yaml`` rule in ``folder``, by id; ids must be unique."""
    rules = sorted((parse_rule(p) for p in folder.glob("*.yaml")), key=lambda r: r.id)
    ids = [r.id for r in rules]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise RuleError(f"rule ids used twice: {', '.join(twice)}")
    return rules


def reference_tables(spark: SparkSession, folder: Path = REFERENCE_DIR) -> dict[str, DataFrame]:
    """Every ``reference/*.csv`` as a table named by its file (all columns read as text,
    then numbers cast where the CSV holds them)."""
    import pandas as pd

    out = {}
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(path, dtype=str)
        for column in frame.columns:
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if numbers.notna().all() and frame[column].str.contains(r"\.").any():
                frame[column] = numbers
        out[path.stem] = spark.createDataFrame(frame)
    return out


# Tables several rules read, and the key most of them join or group on. Read once per run
# (:func:`shared_inputs`): cut to the columns the rules name, partitioned by that key and
# cached, so that each rule starts from memory and its joins and groupings on the key
# need no shuffle of their own (the pharmacy's sales by person: three rules).
SHARED_INPUTS = {"discharges": "person_key", "outpatient_pharmacy": "person_key"}


def shared_inputs(
    rules: list[Rule], tables: dict[str, DataFrame], partitions: int
) -> tuple[dict[str, DataFrame], list[DataFrame]]:
    """``tables`` with each of :data:`SHARED_INPUTS` that two rules or more read replaced
    by its cached, partitioned cut (same rows, only the columns some rule names); and the
    cached frames, for the caller to release once the hits are collected."""
    out, held = dict(tables), []
    for name, key in SHARED_INPUTS.items():
        readers = [r for r in rules if name in r.reads]
        if len(readers) < 2 or name not in tables:
            continue
        words = set(re.findall(r"\w+", " ".join(r.logic for r in readers)))
        columns = [c for c in tables[name].columns if c in words or c == key]
        out[name] = tables[name].select(*columns).repartition(partitions, key).cache()
        held.append(out[name])
    return out, held


def run_rules(
    spark: SparkSession,
    rules: list[Rule],
    tables: dict[str, DataFrame],
    start: date,
    end: date,
) -> DataFrame:
    """Every rule's hits in one frame (one row per rule and entity)."""
    missing = sorted({t for r in rules for t in r.reads} - set(tables))
    if missing:
        raise RuleError(f"rules read tables that were not given: {', '.join(missing)}")
    if not rules:
        return spark.createDataFrame([], HITS_SCHEMA)
    return reduce(DataFrame.unionByName, [r.hits(spark, tables, start, end) for r in rules])


def rules_table(folder: Path = RULES_DIR):
    """The rule base as a table (for ``diplake fraud rules``)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "id": r.id,
                "name": r.name,
                "pattern": r.pattern,
                "entity": r.entity_type,
                "severity": r.severity,
                "legal basis": r.legal_basis,
                "graded by": ", ".join(f"{k}={v:g}" for k, v in r.thresholds) or "-",
            }
            for r in load_rules(folder)
        ]
    )
