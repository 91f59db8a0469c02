"""``diplake review``: special-case review by the expert library, on the lake (SPEC 9.5).

    diplake review assign --year 2025 [--on 2025-12-31] [--seed N]
    diplake review apply --year 2025
    diplake review show --year 2025

``assign`` draws a round: the year's candidates not yet drawn (hospitals'
applications for ``high`` cases first, by the time they applied, then the cases
5.2 flagged, by ratio descending, ties by case id), at most ⌊0.005 × N⌋ over the
year (N: the year's cases so far), each given three experts of its field by
:func:`jobs.dip.review.draw`. An application that cannot be a candidate is
refused with its reason (``unknown_case``, ``hospital_mismatch``, ``not_high``,
``already_applied``), never dropped. A round is named by the day it is drawn
(``--on``; default the year's last discharge day so far), its seed recorded
(default derived from the year and that day), so a rerun of a round replaces it
with the same rows. Written: ``gold/special_review_candidates`` (every case
considered, with its status and reason), ``gold/special_review_assignments``,
and the assignment sheet the experts receive (``reports/review-<Y>/``).

``apply`` takes the experts' decisions in silver and decides each assigned case
(:func:`jobs.dip.review.decide`): ``gold/special_review_outcomes`` with its
``review_points``, which the clearing uses in place of the case's points. A
decision no assignment allows (``case_not_in_review``, ``expert_not_assigned``,
``duplicate_decision``), an approval with no cost (``missing_approved_cost``) or
above the billed cost (``approved_above_billed``) goes to
``quarantine/special_review_decisions`` with its reason.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from jobs import Refused, lake, quality
from jobs.config import Config
from jobs.dip import review
from jobs.dip.exact import round_half_up
from jobs.dip.year import run_id

log = logging.getLogger(__name__)

SHARE = Decimal("0.005")  # at most ⌊0.005 × N⌋ candidates a year (SPEC 9.5)
CHAPTER_FIELDS = Path(__file__).parents[1] / "reference" / "icd10_chapter_fields.csv"

CANDIDATES_SCHEMA = StructType(
    [
        StructField("year", IntegerType(), False),
        StructField("round", StringType(), False),
        StructField("case_id", StringType(), False),
        StructField("hospital_code", StringType(), True),
        StructField("source", StringType(), False),  # application | flagged
        StructField("record_id", StringType(), True),  # the application's (null: flagged)
        StructField("ratio", DoubleType(), True),
        StructField("field", StringType(), True),
        StructField("status", StringType(), False),  # assigned | unassigned | refused | over_limit
        StructField("reason", StringType(), True),
        StructField("run_id", StringType(), False),
    ]
)
ASSIGNMENTS_SCHEMA = StructType(
    [
        StructField("year", IntegerType(), False),
        StructField("round", StringType(), False),
        StructField("case_id", StringType(), False),
        StructField("hospital_code", StringType(), False),
        StructField("field", StringType(), False),
        StructField("expert_id", StringType(), False),
        StructField("seed", LongType(), False),
        StructField("drawn_on", DateType(), False),
        StructField("run_id", StringType(), False),
        StructField("input_versions", StringType(), False),
    ]
)
OUTCOMES_SCHEMA = StructType(
    [
        StructField("year", IntegerType(), False),
        StructField("case_id", StringType(), False),
        StructField("hospital_code", StringType(), False),
        StructField("approvals", IntegerType(), False),
        StructField("passed", StringType(), False),  # passed | not_passed
        StructField("median_approved_cost", DecimalType(18, 2), True),
        StructField("total_cost", DecimalType(18, 2), False),
        StructField("points", DecimalType(18, 4), False),
        StructField("review_points", DecimalType(18, 4), False),
        StructField("run_id", StringType(), False),
        StructField("input_versions", StringType(), False),
    ]
)


class ReviewRefused(Refused):
    """A review step that cannot run as asked; the message says what to run first."""


@cache
def chapter_fields() -> tuple[tuple[str, str, str], ...]:
    """(first, last, field) of each ICD-10 chapter, from the reference table."""
    with CHAPTER_FIELDS.open(encoding="utf-8") as f:
        return tuple((r["first"], r["last"], r["field"]) for r in csv.DictReader(f))


def field_of(principal_dx: str | None) -> str | None:
    """The review field of a case by its principal diagnosis's chapter (None: no chapter)."""
    code = (principal_dx or "")[:3].upper()
    for first, last, field in chapter_fields():
        if first <= code <= last:
            return field
    return None


def newest_year(spark: SparkSession, cfg: Config) -> int:
    """The newest settlement year with case points: what a run triggered by new data reviews."""
    if not _table(spark, cfg, "gold", "dip_case_points"):
        raise ReviewRefused("no case points at all: run `diplake points --year Y` first")
    path = lake.table_path(cfg, "gold", "dip_case_points")
    return int(lake.read_version(spark, path).agg(F.max("settlement_year")).first()[0])


def drawn_years(spark: SparkSession, cfg: Config) -> list[int]:
    """The years with at least one drawn round, oldest first."""
    if not _table(spark, cfg, "gold", "special_review_assignments"):
        return []
    path = lake.table_path(cfg, "gold", "special_review_assignments")
    rows = lake.read_version(spark, path).select("year").distinct().collect()
    return sorted(r.year for r in rows)


def default_seed(year: int, round_: str) -> int:
    return int(hashlib.sha256(f"special-review:{year}:{round_}".encode()).hexdigest()[:12], 16)


def _table(spark: SparkSession, cfg: Config, layer: str, name: str) -> bool:
    return lake.is_table(spark, lake.table_path(cfg, layer, name))


def _points(spark: SparkSession, cfg: Config, reads: lake.PinnedReads, year: int) -> DataFrame:
    if not _table(spark, cfg, "gold", "dip_case_points"):
        raise ReviewRefused(f"no case points: run `diplake points --year {year}` first")
    return reads.table("gold", "dip_case_points").filter(F.col("settlement_year") == year)


def _earlier(spark: SparkSession, cfg: Config, year: int, round_: str) -> tuple[set[str], set[str]]:
    """What another round of the year settled: the cases it drew, and the application
    records it refused (a refused application is answered once; its case may still be
    flagged, or applied for again, later)."""
    if not _table(spark, cfg, "gold", "special_review_candidates"):
        return set(), set()
    rows = (
        lake.read_version(spark, lake.table_path(cfg, "gold", "special_review_candidates"))
        .filter((F.col("year") == year) & (F.col("round") != round_))
        .filter(F.col("status").isin("assigned", "refused"))
        .collect()
    )
    drawn = {r.case_id for r in rows if r.status == "assigned"}
    # A round drawn before candidates kept the application's record has none to match.
    refused = {r.asDict().get("record_id") for r in rows if r.status == "refused"}
    return drawn, refused - {None}


def _drawn(spark: SparkSession, cfg: Config, year: int, round_: str) -> dict | None:
    """The summary of round ``round_`` if it was drawn already, else None."""
    if not _table(spark, cfg, "gold", "special_review_candidates"):
        return None
    rows = (
        lake.read_version(spark, lake.table_path(cfg, "gold", "special_review_candidates"))
        .filter((F.col("year") == year) & (F.col("round") == round_))
        .groupBy("status")
        .agg(F.count("*").alias("n"), F.first("run_id").alias("run_id"))
        .collect()
    )
    if not rows:
        return None
    counts = {r.status: r.n for r in rows}
    seeds = (
        lake.read_version(spark, lake.table_path(cfg, "gold", "special_review_assignments"))
        .filter((F.col("year") == year) & (F.col("round") == round_))
        .select("seed")
        .first()
        if _table(spark, cfg, "gold", "special_review_assignments")
        else None
    )
    return {
        "year": year,
        "round": round_,
        "already_drawn": True,
        "seed": seeds.seed if seeds else None,
        "considered": sum(counts.values()),
        **{k: counts.get(k, 0) for k in ("assigned", "unassigned", "refused", "over_limit")},
        "limit": None,
        "sheet": str(sheet_path(cfg, year, round_)),
        "run_id": rows[0].run_id,
    }


def of_year(
    spark: SparkSession, cfg: Config, reads: lake.PinnedReads, rows: DataFrame, year: int
) -> DataFrame:
    """The rows of ``rows`` (with ``case_id``) that belong to ``year``'s review: those on a
    case discharged in ``year``, and, in the newest year's, those on no known case (so each
    of those is refused once, by one year)."""
    known = reads.table("silver", "discharges").select("case_id", "discharge_year")
    newest = year == newest_year(spark, cfg)
    return rows.join(known, "case_id", "left").filter(
        (F.col("discharge_year") == year) | (F.col("discharge_year").isNull() & F.lit(newest))
    )


def _applications(
    spark: SparkSession,
    cfg: Config,
    reads: lake.PinnedReads,
    cases: pd.DataFrame,
    year: int,
    on: date,
) -> list[dict]:
    """Each application of ``year`` (:func:`of_year`) up to ``on``, with its refusal (None:
    eligible). ``cases``: the year's points (case_id, hospital_code, case_class, ratio)."""
    applications = reads.table("silver", "special_review_applications")
    rows = (
        of_year(spark, cfg, reads, applications, year)
        .filter(F.to_date("applied_at") <= F.lit(on))
        .select("record_id", "case_id", "hospital_code", "applied_at")
        .toPandas()
        .sort_values(["applied_at", "record_id"], kind="stable")
    )
    by_case = cases.set_index("case_id")
    out, seen = [], set()
    for r in rows.itertuples():
        case = by_case.loc[r.case_id] if r.case_id in by_case.index else None
        if case is None:
            reason = "unknown_case"
        elif case.hospital_code != r.hospital_code:
            reason = "hospital_mismatch"
        elif case.case_class != "high":
            reason = "not_high"
        elif r.case_id in seen:
            reason = "already_applied"
        else:
            reason = None
            seen.add(r.case_id)
        out.append(
            {
                "case_id": r.case_id,
                "hospital_code": r.hospital_code,
                "ratio": None if case is None or pd.isna(case.ratio) else float(case.ratio),
                "reason": reason,
                "record_id": r.record_id,
            }
        )
    return out


def assign(
    spark: SparkSession,
    cfg: Config,
    year: int,
    on: date | None = None,
    seed: int | None = None,
) -> dict:
    """Draw one round of ``year`` (see the module's docstring); return its summary."""
    reads = lake.PinnedReads(spark, cfg)
    points = _points(spark, cfg, reads, year)
    discharges = reads.table("silver", "discharges").filter(F.col("discharge_year") == year)
    cases = (
        points.select("case_id", "hospital_code", "case_class", "ratio", "special_review")
        .join(
            discharges.select("case_id", "principal_dx", "discharge_date", "total_cost"), "case_id"
        )
        .toPandas()
    )
    if cases.empty:
        raise ReviewRefused(f"no case points of {year}: run `diplake points --year {year}`")
    if on is None:
        on = max(cases.discharge_date)
    round_ = on.isoformat()
    drawn_before = _drawn(spark, cfg, year, round_)
    if drawn_before is not None:
        return drawn_before  # a round once drawn is what the experts were sent: never redrawn
    seed = default_seed(year, round_) if seed is None else seed
    if not _table(spark, cfg, "silver", "experts"):
        raise ReviewRefused("no silver/experts: ingest the expert library first")
    experts = [
        review.Expert(r.expert_id, r.field, r.institution_code, r.active_from, r.active_to)
        for r in reads.table("silver", "experts").collect()
    ]
    done, answered = _earlier(spark, cfg, year, round_)
    limit = int(SHARE * len(cases)) - len(done & set(cases.case_id))
    applications = (
        _applications(spark, cfg, reads, cases, year, on)
        if _table(spark, cfg, "silver", "special_review_applications")
        else []
    )
    considered: list[dict] = []  # in the order of SPEC 9.5
    taken: set[str] = set()
    for a in applications:
        if a["case_id"] in done or a["record_id"] in answered:
            continue
        considered.append({**a, "source": "application"})
        if a["reason"] is None:
            taken.add(a["case_id"])
    flagged = cases[cases.special_review & ~cases.case_id.isin(taken | done)]
    for r in flagged.sort_values(["ratio", "case_id"], ascending=[False, True]).itertuples():
        considered.append(
            {
                "case_id": r.case_id,
                "hospital_code": r.hospital_code,
                "ratio": float(r.ratio),
                "reason": None,
                "source": "flagged",
                "record_id": None,
            }
        )
    info = cases.set_index("case_id")
    eligible = [c for c in considered if c["reason"] is None]
    within, over = eligible[: max(limit, 0)], eligible[max(limit, 0) :]
    candidates = [
        review.Candidate(
            c["case_id"], c["hospital_code"], field_of(info.principal_dx[c["case_id"]])
        )
        for c in within
    ]
    drawn = review.draw(candidates, experts, on, seed)
    rid = run_id("review-assign", year, reads, round_)
    versions = reads.as_json()
    over_ids = {c["case_id"] for c in over}
    candidate_rows = []
    for c in considered:
        case_id = c["case_id"]
        if c["reason"] is not None:
            status, reason = "refused", c["reason"]
        elif case_id in over_ids:
            status, reason = "over_limit", f"beyond ⌊0.005 × {len(cases)}⌋ for the year"
        elif case_id in drawn.unassigned:
            status, reason = "unassigned", drawn.unassigned[case_id]
        else:
            status, reason = "assigned", None
        field = field_of(info.principal_dx[case_id]) if case_id in info.index else None
        candidate_rows.append(
            (
                year,
                round_,
                case_id,
                c["hospital_code"],
                c["source"],
                c["record_id"],
                c["ratio"],
                field,
                status,
                reason,
                rid,
            )
        )
    assignment_rows = [
        (
            year,
            round_,
            case_id,
            info.hospital_code[case_id],
            field_of(info.principal_dx[case_id]),
            expert,
            seed,
            on,
            rid,
            versions,
        )
        for case_id, chosen in sorted(drawn.assignments.items())
        for expert in chosen
    ]
    where = f"year = {year} AND round = '{round_}'"
    cand = spark.createDataFrame(candidate_rows, CANDIDATES_SCHEMA)
    assigned = spark.createDataFrame(assignment_rows, ASSIGNMENTS_SCHEMA)
    quality.gate(assigned, "gold", "special_review_assignments", cfg.quality_root)
    # The candidates last: they mark the round drawn, so a draw killed before them is
    # simply drawn again, to the same rows, never left without its panels or its sheet.
    lake.replace_where(
        spark, assigned, lake.table_path(cfg, "gold", "special_review_assignments"), where
    )
    sheet = write_sheet(cfg, year, round_, assignment_rows, info)
    lake.replace_where(
        spark,
        cand,
        lake.table_path(cfg, "gold", "special_review_candidates"),
        where,
        merge_schema=True,
    )
    statuses = pd.Series([r[8] for r in candidate_rows], dtype=object).value_counts()
    return {
        "year": year,
        "round": round_,
        "seed": seed,
        "considered": len(candidate_rows),
        "assigned": int(statuses.get("assigned", 0)),
        "unassigned": int(statuses.get("unassigned", 0)),
        "refused": int(statuses.get("refused", 0)),
        "over_limit": int(statuses.get("over_limit", 0)),
        "limit": max(limit, 0),
        "sheet": str(sheet),
        "run_id": rid,
    }


def sheet_path(cfg: Config, year: int, round_: str) -> Path:
    return cfg.reports / f"review-{year}" / f"assignments-{round_}.csv"


def write_sheet(cfg: Config, year: int, round_: str, rows: list, info: pd.DataFrame) -> Path:
    """The round's assignment sheet for the experts: case, hospital, cost, expert. No
    person's data: the experts open the case file through the bureau's own system."""
    path = sheet_path(cfg, year, round_)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        [
            {
                "round": round_,
                "case_id": r[2],
                "hospital_code": r[3],
                "field": r[4],
                "expert_id": r[5],
                "total_cost": f"{Decimal(info.total_cost[r[2]]):.2f}",
            }
            for r in rows
        ],
        columns=["round", "case_id", "hospital_code", "field", "expert_id", "total_cost"],
    )
    frame.to_csv(path, index=False)
    return path


def apply(spark: SparkSession, cfg: Config, year: int) -> dict:
    """Decide every assigned case of ``year`` from the decisions received so far."""
    reads = lake.PinnedReads(spark, cfg)
    if not _table(spark, cfg, "gold", "special_review_assignments"):
        raise ReviewRefused(f"nothing drawn yet: run `diplake review assign --year {year}`")
    assigned = (
        reads.table("gold", "special_review_assignments").filter(F.col("year") == year).collect()
    )
    if not assigned:
        raise ReviewRefused(f"nothing drawn for {year}: run `diplake review assign --year {year}`")
    panels: dict[str, list[str]] = {}
    for r in assigned:
        panels.setdefault(r.case_id, []).append(r.expert_id)
    scored = _points(spark, cfg, reads, year)
    # review points = rw × k × median / (avg_cost × k), exactly (SPEC 9.5): k cancels, and so
    # does an auxiliary coefficient c (standard cost avg × k × c, points × c). The divisor is
    # the type's mean cost from the catalogue, not the stored standard cost (rounded).
    avg_cost = (
        reads.table("gold", "dip_catalogue")
        .filter(F.col("catalogue_version") == year)
        .select("dip_code", "avg_cost")
    )
    points = {
        r.case_id: r
        for r in scored.filter(F.col("case_id").isin(list(panels)))
        .join(F.broadcast(avg_cost), "dip_code", "left")
        .select("case_id", "hospital_code", "rw", "avg_cost", "points", "total_cost")
        .collect()
    }
    decisions = []
    if _table(spark, cfg, "silver", "special_review_decisions"):
        decisions = (
            of_year(spark, cfg, reads, reads.table("silver", "special_review_decisions"), year)
            .select(
                "record_id",
                "source_file",
                "case_id",
                "expert_id",
                "decision",
                "approved_cost",
                "decided_at",
            )
            .orderBy("decided_at", "record_id")
            .collect()
        )
    refused: list[tuple] = []
    usable: list[review.Decision] = []
    origin: dict[int, object] = {}
    for d in decisions:
        approve = d.decision == "approve"
        case = points.get(d.case_id)
        reason = None
        if approve and d.approved_cost is None:
            reason = "missing_approved_cost"
        elif approve and case is not None and d.approved_cost > case.total_cost:
            reason = "approved_above_billed"
        if reason:
            refused.append((d, reason))
            continue
        decision = review.Decision(d.case_id, d.expert_id, approve, d.approved_cost)
        origin[id(decision)] = d
        usable.append(decision)
    missing = sorted(set(panels) - set(points))
    if missing:
        raise ReviewRefused(
            f"{len(missing)} assigned case(s) have no points of {year} (e.g. {missing[0]}): "
            "recompute the points, then apply again"
        )
    outcomes, not_allowed = review.decide(
        usable,
        panels,
        {c: (p.rw, Decimal(1), p.avg_cost, p.points) for c, p in points.items()},
    )
    refused += [(origin[id(d)], reason) for d, reason in not_allowed]
    rid = run_id("review", year, reads)
    versions = reads.as_json()
    rows = [
        (
            year,
            o.case_id,
            points[o.case_id].hospital_code,
            o.approvals,
            "passed" if o.passed else "not_passed",
            None if o.median_cost is None else round_half_up(Fraction(o.median_cost), 2),
            points[o.case_id].total_cost,
            points[o.case_id].points,
            o.review_points,
            rid,
            versions,
        )
        for o in outcomes
    ]
    out = spark.createDataFrame(rows, OUTCOMES_SCHEMA)
    lake.replace_where(
        spark, out, lake.table_path(cfg, "gold", "special_review_outcomes"), f"year = {year}"
    )
    _quarantine(spark, cfg, year, rid, refused)
    passed = [o for o in outcomes if o.passed]
    by_reason: dict[str, int] = {}
    for _, reason in refused:
        by_reason[reason] = by_reason.get(reason, 0) + 1
    return {
        "year": year,
        "cases": len(outcomes),
        "passed": len(passed),
        "decisions": len(decisions),
        "refused": dict(sorted(by_reason.items())),
        "points_before": str(sum((o.points for o in points.values()), Decimal(0))),
        "review_points": str(sum((o.review_points for o in outcomes), Decimal(0))),
        "run_id": rid,
        "input_versions": json.loads(versions),
    }


QUARANTINE_SCHEMA = StructType(
    [
        StructField("record_id", StringType(), True),
        StructField("source_file", StringType(), True),
        StructField("line", IntegerType(), True),
        StructField("reasons", ArrayType(StringType(), False), False),
        StructField("raw", StringType(), True),
        StructField("run_id", StringType(), False),
        # The ingest's rows of the table name their file's content; the review's have none.
        StructField("sha256", StringType(), True),
    ]
)


def _quarantine(spark: SparkSession, cfg: Config, year: int, rid: str, refused: list) -> None:
    """Refused decisions into ``quarantine/special_review_decisions``, under the review's
    run id (the ingest's own rows of the table are left as they are)."""
    rows = [
        (
            d.record_id,
            d.source_file,
            None,
            [reason],
            json.dumps(
                {
                    "case_id": d.case_id,
                    "expert_id": d.expert_id,
                    "decision": d.decision,
                    "approved_cost": None if d.approved_cost is None else str(d.approved_cost),
                },
                sort_keys=True,
            ),
            rid,
            None,
        )
        for d, reason in refused
    ]
    path = lake.table_path(cfg, "quarantine", "special_review_decisions")
    df = spark.createDataFrame(rows, QUARANTINE_SCHEMA)
    if lake.is_table(spark, path):
        columns = lake.read_version(spark, path).columns
        schema = lake.read_version(spark, path).schema
        for f in schema.fields:
            if f.name not in df.columns:
                df = df.withColumn(f.name, F.lit(None).cast(f.dataType))
        df = df.select(*columns)
    lake.replace_where(spark, df, path, f"run_id LIKE 'review-{year}-%'")


def show(spark: SparkSession, cfg: Config, year: int) -> dict:
    """The year's rounds, candidates by status, and outcomes (nothing written)."""
    out: dict = {"year": year}
    if _table(spark, cfg, "gold", "special_review_candidates"):
        rows = (
            lake.read_version(spark, lake.table_path(cfg, "gold", "special_review_candidates"))
            .filter(F.col("year") == year)
            .groupBy("round", "status")
            .count()
            .collect()
        )
        rounds: dict[str, dict[str, int]] = {}
        for r in rows:
            rounds.setdefault(r["round"], {})[r["status"]] = r["count"]
        out["rounds"] = dict(sorted(rounds.items()))
    if _table(spark, cfg, "gold", "special_review_outcomes"):
        rows = (
            lake.read_version(spark, lake.table_path(cfg, "gold", "special_review_outcomes"))
            .filter(F.col("year") == year)
            .groupBy("passed")
            .count()
            .collect()
        )
        out["outcomes"] = {r.passed: r["count"] for r in rows}
    return out
