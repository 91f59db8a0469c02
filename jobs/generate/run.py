"""``diplake generate``: a synthetic city's feeds in the landing zone, with the truth beside.

    diplake generate --landing DIR --scale {demo,small,city} --seed N [knobs]

Writes every source of SPEC 3 under ``<landing>/<source>/<yyyy-mm-dd>/`` and the
ground truth under ``<landing>/_truth/`` (fraud labels, injected defects).
The same seed and knobs give byte-identical files.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from jobs import vocab
from jobs.generate import (
    activity,
    calibrate,
    clinical,
    discharges,
    drug_use,
    feeds,
    fraud,
    mess,
    offsite,
    procurement,
    review,
)
from jobs.generate.broken_files import land_broken_files
from jobs.generate.knobs import Knobs
from jobs.generate.settlement import assign_dialects, write_settlement_lists
from jobs.generate.world import World, build_world

# A new stream goes last: SeedSequence children keep their index, so the others stay.
STREAMS = (
    "world",
    "clinical",
    "cases",
    "fraud",
    "mess",
    "feeds",
    "activity",
    "files",
    "review",
    "procurement",
    "offsite",
)


OFFSITE_VARIANT = "treated_elsewhere_during_local_stay"


def _by_month(
    frame: pd.DataFrame,
    when: pd.Series,
    source: str,
    stem: str,
    landing: Path,
    rate: float,
    log: mess.DefectLog,
    rng: np.random.Generator,
) -> int:
    """One file per calendar month, landed on the 1st of the next month."""
    files = 0
    month = when.dt.to_period("M")
    for period, part in frame.groupby(month, sort=True):
        day = (period + 1).to_timestamp().strftime("%Y-%m-%d")
        rel = f"{source}/{day}/{stem}_{period.strftime('%Y%m')}.csv"
        part = part.reset_index(drop=True)
        feeds.write_csv(feeds.duplicate_some(part, source, rel, rate, log, rng), landing / rel)
        files += 1
    return files


def run(landing: Path, knobs: Knobs, progress: bool = True) -> dict:
    """Rewrite ``landing`` with the city ``knobs`` describe; return the run's summary."""
    started = time.perf_counter()
    rngs = _streams(knobs.seed)
    steps = tqdm(total=13, desc="generate", unit="step", disable=not progress)

    def step(name: str) -> None:
        steps.set_postfix_str(name)
        steps.update(1)

    if landing.exists():
        shutil.rmtree(landing)  # a landing zone is rewritten whole: byte-identical reruns
    landing.mkdir(parents=True)
    vocabularies = vocab.load()
    world = build_world(knobs, rngs["world"])
    step("registries")
    model = clinical.build_model(vocabularies, rngs["clinical"])
    cases = discharges.build_discharges(model, world, knobs, rngs["cases"])
    step("discharges")
    planted = fraud.plant_all(cases, world, knobs, rngs["fraud"])
    _deregister(world.doctors, planted.deregistered)
    # The special-review truth (SPEC 9.5) goes on cases the fraud left alone, before any
    # feed is written, so every feed shows the same costs and stays.
    spared = review.spared_cases(planted)
    planted.cases, special = review.plant_special_cases(
        planted.cases, spared, knobs.settlement_year, rngs["review"], world.persons
    )
    # People insured elsewhere (SPEC 12): some persons whom nothing above touched now have
    # their stays as visitors, in the lists with their home region.
    cases = offsite.make_inbound(
        planted.cases,
        spared | set(special.case_id),
        _planted_persons(planted),
        knobs.settlement_year,
        rngs["offsite"],
    )
    planted.cases = cases
    step("fraud")

    log = mess.DefectLog()
    first_day = f"{knobs.first_year}-01-01"
    feeds.write_reference(world, landing, first_day)
    # The registry is there before the first claim, so every claim can be checked against it.
    unregistered = feeds.write_registry(
        world, landing, first_day, knobs.mess_rate, log, rngs["mess"]
    )
    step("registries written")
    hospitals = world.institutions.institution_code[world.institutions.type == "hospital"]
    dialect_of = assign_dialects(hospitals.to_numpy(), rngs["mess"])
    codes = _spoiler_codes(vocabularies, rngs["mess"])
    n_files = write_settlement_lists(
        cases,
        landing,
        dialect_of,
        knobs.mess_rate,
        codes,
        log,
        rngs["mess"],
        unregistered=unregistered,
    )
    step("settlement lists")

    # Which drugs each hospital and shop uses (SPEC 10), drawn from its own stream; the
    # fee details and pharmacy sales then name their drugs from it, drawing nothing.
    plan = drug_use.build_plan(world, knobs, *drug_use.load_reference(), rngs["procurement"])
    recent_years = knobs.year_list[-knobs.fee_detail_years :]
    recent = cases[cases.year.isin(recent_years)]
    fee_rows, fee_files, drugs_used = feeds.write_fee_details(
        recent, planted, landing, knobs.mess_rate * 0.1, log, rngs["feeds"], plan
    )
    n_files += fee_files
    step("fee details")

    sales_rows, sales_files, drugs_sold = _land_pharmacy_sales(
        world, planted, knobs, landing, log, rngs["activity"], rngs["mess"], plan
    )
    n_files += sales_files
    n_files += _land_face_checks(
        world, planted, knobs, landing, log, rngs["activity"], rngs["mess"]
    )
    # Beside the real files of the CSV feeds, a few that hold no records at all.
    n_files += land_broken_files(landing, log, rngs["files"])
    step("pharmacy and face checks")

    _land_external_enrolments(world, planted, knobs, landing, rngs["activity"])
    feeds.write_finance(cases, world, landing, knobs.year_list, knobs.mess_rate, log, rngs["mess"])
    _land_audit_outcomes(planted, knobs, landing, rngs["activity"])
    step("enrolments, finance, audits")

    budget_rows = review.write_fund_budgets(
        cases, knobs.year_list, knobs.settlement_year, landing, log, rngs["review"]
    )
    experts = review.write_experts(
        world.institutions,
        knobs.first_year,
        knobs.settlement_year,
        landing,
        log,
        rngs["review"],
    )
    applications = review.write_applications(
        cases, special, spared, knobs.settlement_year, landing, log, rngs["review"]
    )
    step("budgets, experts, special-review applications")

    bought = procurement.write_procurement(
        world, knobs, plan, rngs["procurement"], landing, log, drugs_used, drugs_sold
    )
    step("drug procurement")

    (landing / "_truth").mkdir(exist_ok=True)
    flows = offsite.write_offsite(
        world, cases, knobs, landing, log, rngs["offsite"], planted.labels
    )
    step("off-site treatment")

    truth = landing / "_truth"
    n_labels = _write_truth(truth, planted, log)
    review.write_truth(truth, special, applications)
    step("truth")

    base = cases[cases.year < knobs.settlement_year]
    size = calibrate.catalogue_size(base.principal_dx, base.procedures)
    summary = {
        "knobs": {k: v for k, v in knobs.__dict__.items()},
        "cases": len(cases),
        "cases_per_year": {
            int(y): int(n) for y, n in cases.year.value_counts().sort_index().items()
        },
        "persons": len(world.persons),
        "institutions": len(world.institutions),
        "doctors": len(world.doctors),
        "settlement_files": n_files,
        "fee_detail_rows": fee_rows,
        "pharmacy_rows": sales_rows,
        "defects": len(log.rows),
        "fraud_labels": n_labels,
        "fund_budget_rows": budget_rows,
        "experts": len(experts),
        "special_review_cases": {
            str(k): int(v) for k, v in special.nature.value_counts().sort_index().items()
        },
        "special_review_applications": len(applications),
        "procurement": bought,
        "offsite": flows,
        "catalogue_types": size.types,
        "core_types": size.core_types,
        "comprehensive_types": size.comprehensive_types,
        "core_coverage": round(size.core_coverage, 4),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (truth / "summary.json").write_text(
        json.dumps({**summary, "seconds": None}, indent=2, sort_keys=True) + "\n"
    )
    step("calibration")
    steps.close()
    return summary


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per part of the city, so that a part drawing more leaves the others' draws
    as they were."""
    return dict(
        zip(
            STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(STREAMS))),
            strict=True,
        )
    )


def _planted_persons(planted: fraud.Planted) -> set[str]:
    """Everybody a planted pattern names or shapes: their stays stay the city's own."""
    named = {e for t, e, _ in [*planted.labels, *planted.lookalikes] if t == "person"}
    return (
        named
        | set(planted.resale_persons)
        | set(planted.hoarding_persons)
        | set(planted.chronic_persons)
        | {p for p, _ in planted.distant_same_day}
        | {p for p, _ in planted.nearby_two_shops}
        | set(planted.duplicate_enrolments)
        | set(planted.moved_persons)
    )


def _deregister(doctors: pd.DataFrame, deregistered: dict[str, pd.Timestamp]) -> None:
    """Mark in the doctors' registry those the planted fraud struck off, and on which day."""
    for doctor_id, day in deregistered.items():
        doctors.loc[doctors.doctor_id == doctor_id, ["status", "deregistered_on"]] = [
            "deregistered",
            day,
        ]


def _spoiler_codes(vocabularies: vocab.Vocabularies, rng: np.random.Generator) -> mess.SpoilerCodes:
    """The wrong codes a spoiled settlement record may carry."""
    known_dx = set(vocabularies.icd10.code) | set(vocabularies.icd10.category)
    return mess.SpoilerCodes(
        unknown_dx=mess.unknown_codes(known_dx, "icd10", rng),
        unknown_px=mess.unknown_codes(set(vocabularies.icd9.code), "icd9", rng),
        icd10_cm=mess.icd10_cm_codes().code.to_numpy(),
        sex_specific=mess.sex_specific_codes(clinical.diagnosis_pool(vocabularies).code),
    )


def _land_pharmacy_sales(
    world: World,
    planted: fraud.Planted,
    knobs: Knobs,
    landing: Path,
    log: mess.DefectLog,
    rng: np.random.Generator,
    mess_rng: np.random.Generator,
    plan: drug_use.DrugPlan,
) -> tuple[int, int, pd.DataFrame]:
    """One file of outpatient pharmacy sales per month, record ids running on across the
    months; return the rows and the files written, and the drugs sold by month (each sale
    names its product, quantity in smallest units and amount from the ``plan``)."""
    rows = files = 0
    sold = []
    for period, sales in activity.pharmacy_months(world, planted, knobs, rng):
        drugs = drug_use.pharmacy_items(sales, plan)
        sales["item_code"] = drugs.product_code
        sales["quantity"] = drugs.quantity
        sales["amount_fen"] = drugs.amount_fen
        sold.append(drug_use.monthly_sales(sales.rename(columns={"item_code": "product_code"})))
        sales.insert(
            0,
            "record_id",
            np.char.add("T", np.char.zfill(np.arange(rows, rows + len(sales)).astype("U10"), 10)),
        )
        rows += len(sales)
        sales["amount"] = feeds.yuan_text(sales.pop("amount_fen").to_numpy())
        sales["txn_time"] = sales.txn_time.dt.strftime("%Y-%m-%d %H:%M:%S")
        day = (period + 1).to_timestamp().strftime("%Y-%m-%d")
        rel = f"outpatient_pharmacy/{day}/sales_{period.strftime('%Y%m')}.csv"
        feeds.write_csv(
            feeds.duplicate_some(
                sales, "outpatient_pharmacy", rel, knobs.mess_rate * 0.1, log, mess_rng
            ),
            landing / rel,
        )
        files += 1
    return rows, files, pd.concat(sold, ignore_index=True)


def _land_face_checks(
    world: World,
    planted: fraud.Planted,
    knobs: Knobs,
    landing: Path,
    log: mess.DefectLog,
    rng: np.random.Generator,
    mess_rng: np.random.Generator,
) -> int:
    """The identity checks at admission, one file a month; return the files written."""
    checks = activity.face_checks(world, planted, knobs, rng)
    checks.insert(0, "record_id", [f"K{i:010d}" for i in range(len(checks))])
    when = checks.check_time
    checks["check_time"] = checks.check_time.dt.strftime("%Y-%m-%d %H:%M:%S")
    return _by_month(checks, when, "face_checks", "face_checks", landing, 0.0, log, mess_rng)


def _land_external_enrolments(
    world: World, planted: fraud.Planted, knobs: Knobs, landing: Path, rng: np.random.Generator
) -> None:
    """Enrolments reported by other pooling regions, one file at the settlement year's end."""
    ext = activity.external_enrolments(world, planted, knobs, rng)
    ext.insert(0, "record_id", [f"X{i:07d}" for i in range(len(ext))])
    for column in ("enrol_start", "enrol_end"):
        ext[column] = ext[column].dt.strftime("%Y-%m-%d").fillna("")
    feeds.write_csv(
        ext,
        landing
        / "external_enrolments"
        / f"{knobs.settlement_year}-12-31"
        / "external_enrolments.csv",
    )


def _land_audit_outcomes(
    planted: fraud.Planted, knobs: Knobs, landing: Path, rng: np.random.Generator
) -> None:
    """The investigations' outcomes, one file in the January after the settlement year."""
    outcomes = activity.audit_outcomes(planted, knobs, rng)
    outcomes.insert(0, "record_id", [f"U{i:07d}" for i in range(len(outcomes))])
    outcomes["investigated_on"] = outcomes.investigated_on.dt.strftime("%Y-%m-%d")
    feeds.write_csv(
        outcomes,
        landing / "audit_outcomes" / f"{knobs.settlement_year + 1}-01-15" / "audit_outcomes.csv",
    )


def _write_truth(truth: Path, planted: fraud.Planted, log: mess.DefectLog) -> int:
    """The ground truth beside the feeds: fraud labels, look-alikes and every injected defect;
    return the number of fraud labels."""
    truth.mkdir(exist_ok=True)  # the procurement part wrote its truth there first
    key = ["entity_type", "entity_id", "pattern"]
    labels = pd.DataFrame(planted.labels, columns=key).drop_duplicates()
    # The off-site generator adds its persons (treated elsewhere during a local stay) as
    # plain labels: that pattern has one shape there.
    labels["variant"] = [
        planted.variant_of.get(k, OFFSITE_VARIANT)
        for k in labels.itertuples(index=False, name=None)
    ]
    labels = labels.sort_values(["pattern", "entity_type", "entity_id"])
    labels.to_csv(truth / "fraud_labels.csv", index=False, lineterminator="\n")
    looks = pd.DataFrame(planted.lookalikes, columns=key).drop_duplicates()
    looks["family"] = [planted.family_of[k] for k in looks.itertuples(index=False, name=None)]
    looks.sort_values(["pattern", "entity_type", "entity_id"]).to_csv(
        truth / "lookalikes.csv", index=False, lineterminator="\n"
    )
    (truth / "defects.csv").write_text(log.to_csv(), encoding="utf-8")
    return len(labels)
