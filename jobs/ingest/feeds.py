"""The CSV feeds besides settlement lists and the registry, declared as data.

A new source is one :class:`Feed` in :data:`FEEDS` (and its suite in
``expectations/silver/``); jobs/ingest/csv_feeds.py reads any feed declared here.
This module is plain data, so the DAGs can name the silver tables without Spark.

Each :class:`Feed` names its columns, how each is typed and checked, and how its
rows reach silver:

* ``events`` (fee details, pharmacy sales, face checks): every record is a fact.
  An exact resend (a ``record_id`` already read) is a duplicate; the rest of a
  file's rows replace that file's rows in silver, so a rerun writes the same rows.
* ``snapshot`` (doctors, enrolments elsewhere, finance and inspection feeds): the
  newest line per natural key wins (older ones are superseded) and is MERGEd.

A field may refer to another feed's silver table (:class:`Ref`: an order's product
must be in the drug catalogue, a delivery's order among the orders); the feed then
runs after that source, and may bring the referred row's columns along to derive
its own (:class:`Derived`, Spark SQL: a quantity in boxes times the pack size) and
to check them (``checks``: a reason and the SQL condition that raises it).

Raw ID numbers become ``person_key`` (HMAC) and names are not carried: neither
leaves bronze. Reason codes are listed in docs/quarantine-reasons.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from jobs.terms import (
    FEE_CATEGORIES,
    HOME_REGION,
    OFFSITE_DIRECTIONS,
    OFFSITE_FILINGS,
    OFFSITE_VISITS,
    REVIEW_DECISIONS,
    REVIEW_FIELDS,
)


@dataclass(frozen=True)
class Ref:
    """The field's value must be a ``column`` of ``silver/<table>`` (else ``reason``);
    ``bring``: that row's columns, available to derivations and checks as
    ``<prefix>_<column>`` (one row per value: the greatest of each column)."""

    table: str
    column: str
    reason: str
    prefix: str = ""
    bring: tuple[str, ...] = ()


@dataclass(frozen=True)
class Derived:
    """A silver column computed from the typed fields (and what refs bring), in order."""

    name: str
    type: str
    sql: str


@dataclass(frozen=True)
class Field:
    """One column: ``kind`` text | enum | date | timestamp | int | decimal | flag | person.

    ``person`` holds an ID number (checked, then replaced by ``person_key``); with
    ``when`` = (column, value) only on rows where that column has that value.
    ``institution`` = "any" or "hospital": the code must be in silver/institutions.
    ``past``: a date or time of an event, never after the day its file landed
    (``date_in_future``); ``fee``: an amount of one fee line (``absurd_cost`` beyond
    the plausibility threshold). Both from jobs/ingest/plausibility.yaml.
    """

    name: str
    kind: str = "text"
    required: bool = False
    values: tuple[str, ...] = ()
    type: str = ""
    low: float | None = None
    high: float | None = None
    institution: str | None = None
    when: tuple[str, str] | None = None
    keep: bool = True
    past: bool = False
    fee: bool = False
    refers: Ref | None = None


@dataclass(frozen=True)
class Feed:
    source: str
    table: str
    columns: tuple[str, ...]
    fields: tuple[Field, ...]
    mode: str  # events | snapshot
    key: tuple[str, ...] = ("record_id",)
    derived: tuple[Derived, ...] = ()
    checks: tuple[tuple[str, str], ...] = ()  # (reason, Spark SQL condition that raises it)

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(f.refers for f in self.fields if f.refers is not None)

    @property
    def pseudonymises(self) -> bool:
        return any(f.kind == "person" for f in self.fields)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


MONEY = "decimal(18,2)"
PRICE = "decimal(18,4)"  # drug prices per smallest unit: a tablet can cost 0.0312 yuan
AMOUNT = "decimal(18,4)"  # a quantity times such a price, exact
BOX = "盒"  # a quantity in boxes: times the product's pack size, in its smallest unit
# In bigint before the product: a box count times a pack size can pass 2^31.
_PER_UNIT = "CASE WHEN unit = '" + BOX + "' THEN CAST({ref}_pack_size AS BIGINT) ELSE 1 END"
PAYERS = ("fund", "hospital")  # the fund settles directly, or the hospital pays itself
# The regions the national platform settles with (jobs/reference/offsite_regions.csv), and
# the city's own: a code outside them is no pooling region the city clears with.
_REGIONS_CSV = Path(__file__).parents[1] / "reference" / "offsite_regions.csv"
with _REGIONS_CSV.open(encoding="utf-8") as _f:
    REGIONS = (HOME_REGION, *(row["region_code"] for row in csv.DictReader(_f)))
_KNOWN = ", ".join(f"'{r}'" for r in REGIONS)
_MONTH = "^[0-9]{4}-(0[1-9]|1[0-2])$"
_OFFSITE_KEYS = (
    Field("month", required=True),
    Field("region", required=True),
    Field("direction", required=True, values=OFFSITE_DIRECTIONS),
)
_OFFSITE_KEY_CHECKS = (
    ("invalid_month", f"NOT month RLIKE '{_MONTH}'"),
    ("unknown_region", f"NOT region IN ({_KNOWN})"),
)

FEEDS = {
    feed.source: feed
    for feed in (
        Feed(
            "doctors",
            "doctors",
            (
                "record_id",
                "doctor_id",
                "name",
                "institution_code",
                "second_site",
                "status",
                "registered_on",
                "deregistered_on",
            ),
            (
                Field("doctor_id", required=True),
                Field("name", keep=False),
                Field("institution_code", required=True, institution="any"),
                Field("second_site", institution="any"),
                Field("status", required=True, values=("active", "deregistered")),
                Field("registered_on", "date"),
                Field("deregistered_on", "date"),
            ),
            "snapshot",
            key=("doctor_id",),
        ),
        Feed(
            "external_enrolments",
            "external_enrolments",
            (
                "record_id",
                "id_no",
                "name",
                "region_code",
                "insurance_type",
                "enrol_start",
                "enrol_end",
            ),
            (
                Field("id_no", "person", required=True),
                Field("name", keep=False),
                Field("region_code", required=True),
                Field("insurance_type", values=("employee", "resident")),
                Field("enrol_start", "date", required=True),
                Field("enrol_end", "date"),
            ),
            "snapshot",
        ),
        Feed(
            "fee_details",
            "fee_details",
            (
                "record_id",
                "case_id",
                "hospital_code",
                "fee_date",
                "item_code",
                "item_name",
                "category",
                "quantity",
                "unit_price",
                "amount",
            ),
            (
                Field("case_id", required=True),
                Field("hospital_code", required=True, institution="hospital"),
                Field("fee_date", "date", required=True, past=True),
                Field("item_code", required=True),
                Field("item_name"),
                Field("category", required=True, values=FEE_CATEGORIES),
                Field("quantity", "decimal", required=True, type="decimal(12,3)"),
                Field("unit_price", "decimal", required=True, type=MONEY),
                Field("amount", "decimal", required=True, type=MONEY, fee=True),
            ),
            "events",
        ),
        Feed(
            "outpatient_pharmacy",
            "outpatient_pharmacy",
            (
                "record_id",
                "id_no",
                "institution_code",
                "txn_time",
                "item_code",
                "quantity",
                "days_supply",
                "trace_code",
                "amount",
            ),
            (
                Field("id_no", "person", required=True),
                Field("institution_code", required=True, institution="any"),
                Field("txn_time", "timestamp", required=True, past=True),
                Field("item_code", required=True),
                Field("quantity", "int", required=True, low=1, high=10_000),
                Field("days_supply", "int", low=0, high=366),
                Field("trace_code"),
                Field("amount", "decimal", required=True, type=MONEY),
            ),
            "events",
        ),
        Feed(
            "face_checks",
            "face_checks",
            (
                "record_id",
                "subject_type",
                "subject_id",
                "institution_code",
                "check_time",
                "matched",
            ),
            (
                Field("subject_type", required=True, values=("person", "doctor")),
                Field("subject_id", "person", required=True, when=("subject_type", "person")),
                Field("institution_code", required=True, institution="any"),
                Field("check_time", "timestamp", required=True, past=True),
                Field("matched", "flag", required=True),
            ),
            "events",
        ),
        Feed(
            "prepayments",
            "prepayments",
            ("record_id", "hospital_code", "year", "month", "amount"),
            (
                Field("hospital_code", required=True, institution="hospital"),
                Field("year", "int", required=True, low=2000, high=2100),
                Field("month", "int", required=True, low=1, high=12),
                Field("amount", "decimal", required=True, type=MONEY),
            ),
            "snapshot",
            key=("hospital_code", "year", "month"),
        ),
        Feed(
            "assessment_scores",
            "assessment_scores",
            ("record_id", "hospital_code", "year", "coefficient"),
            (
                Field("hospital_code", required=True, institution="hospital"),
                Field("year", "int", required=True, low=2000, high=2100),
                Field("coefficient", "decimal", required=True, type="decimal(6,4)", low=0, high=2),
            ),
            "snapshot",
            key=("hospital_code", "year"),
        ),
        Feed(
            "audit_deductions",
            "audit_deductions",
            ("record_id", "hospital_code", "year", "violation", "amount"),
            (
                Field("hospital_code", required=True, institution="hospital"),
                Field("year", "int", required=True, low=2000, high=2100),
                Field("violation"),
                Field("amount", "decimal", required=True, type=MONEY, low=0, high=1e12),
            ),
            "snapshot",
        ),
        Feed(
            "audit_outcomes",
            "audit_outcomes",
            ("record_id", "entity_type", "entity_id", "pattern", "outcome", "investigated_on"),
            (
                Field(
                    "entity_type", required=True, values=("case", "person", "provider", "doctor")
                ),
                Field("entity_id", "person", required=True, when=("entity_type", "person")),
                Field("pattern"),
                Field("outcome", required=True, values=("confirmed", "cleared")),
                Field("investigated_on", "date", required=True, past=True),
            ),
            "snapshot",
        ),
        Feed(
            "fund_budgets",
            "fund_budgets",
            ("record_id", "year", "budget", "deposit_rate", "approved_on"),
            (
                Field("year", "int", required=True, low=2000, high=2100),
                Field("budget", "decimal", required=True, type=MONEY, low=0, high=1e14),
                # Empty: the default of SPEC 9.1 (0.05), taken by the proposal.
                Field("deposit_rate", "decimal", type="decimal(6,4)", low=0, high=0.5),
                Field("approved_on", "date", required=True, past=True),
            ),
            "snapshot",
            key=("year",),
        ),
        Feed(
            "experts",
            "experts",
            (
                "record_id",
                "expert_id",
                "name",
                "field",
                "institution_code",
                "title",
                "active_from",
                "active_to",
            ),
            (
                Field("expert_id", required=True),
                Field("name", keep=False),
                Field("field", required=True, values=REVIEW_FIELDS),
                Field("institution_code", required=True, institution="hospital"),
                Field("title"),
                Field("active_from", "date", required=True),
                Field("active_to", "date"),
            ),
            "snapshot",
            key=("expert_id",),
        ),
        Feed(
            "special_review_applications",
            "special_review_applications",
            ("record_id", "case_id", "hospital_code", "reason", "applied_at"),
            (
                Field("case_id", required=True),
                Field("hospital_code", required=True, institution="hospital"),
                Field("reason"),
                Field("applied_at", "timestamp", required=True, past=True),
            ),
            "events",
        ),
        Feed(
            "special_review_decisions",
            "special_review_decisions",
            ("record_id", "case_id", "expert_id", "decision", "approved_cost", "decided_at"),
            (
                Field("case_id", required=True),
                Field("expert_id", required=True),
                Field("decision", required=True, values=REVIEW_DECISIONS),
                Field("approved_cost", "decimal", type=MONEY, low=0, high=1e9),
                Field("decided_at", "timestamp", required=True, past=True),
            ),
            "events",
        ),
        # --- Drug procurement (SPEC 10): the provincial platform's feeds ----------------
        Feed(
            "drug_catalogue",
            "drug_catalogue",
            (
                "record_id",
                "product_code",
                "generic_name",
                "dosage_form",
                "strength",
                "pack_size",
                "smallest_unit",
                "manufacturer",
                "group_id",
                "vbp_batch",
                "is_winner",
                "winning_price",
                "reference_price",
                "valid_from",
                "valid_to",
            ),
            (
                Field("product_code", required=True),
                Field("generic_name", required=True),
                Field("dosage_form"),
                Field("strength"),
                Field("pack_size", "int", required=True, low=1, high=10_000),
                Field("smallest_unit", required=True),
                Field("manufacturer"),
                Field("group_id", required=True),
                Field("vbp_batch", "int", low=1, high=99),
                Field("is_winner", "flag", required=True),
                Field("winning_price", "decimal", type=PRICE, low=0.0001, high=1e6),
                Field(
                    "reference_price", "decimal", required=True, type=PRICE, low=0.0001, high=1e6
                ),
                Field("valid_from", "date", required=True),
                Field("valid_to", "date"),
            ),
            "snapshot",
            key=("product_code", "valid_from"),
            checks=(
                ("missing_winning_price", "is_winner AND winning_price IS NULL"),
                ("valid_to_before_valid_from", "valid_to < valid_from"),
            ),
        ),
        Feed(
            "vbp_agreements",
            "vbp_agreements",
            (
                "record_id",
                "hospital_code",
                "group_id",
                "contract_year",
                "agreed_qty",
                "contract_start",
                "contract_end",
            ),
            (
                Field("hospital_code", required=True, institution="hospital"),
                Field(
                    "group_id",
                    required=True,
                    refers=Ref("drug_catalogue", "group_id", "unknown_group"),
                ),
                Field("contract_year", "int", required=True, low=2000, high=2100),
                Field("agreed_qty", "int", required=True, low=1, high=2_000_000_000),
                Field("contract_start", "date", required=True),
                Field("contract_end", "date", required=True),
            ),
            "snapshot",
            key=("hospital_code", "group_id", "contract_year"),
            checks=(("contract_end_before_start", "contract_end < contract_start"),),
        ),
        Feed(
            "procurement_orders",
            "procurement_orders",
            (
                "record_id",
                "order_id",
                "hospital_code",
                "product_code",
                "distributor_code",
                "qty",
                "unit",
                "unit_price",
                "ordered_at",
            ),
            (
                Field("order_id", required=True),
                Field("hospital_code", required=True, institution="hospital"),
                Field(
                    "product_code",
                    required=True,
                    refers=Ref(
                        "drug_catalogue",
                        "product_code",
                        "unknown_product",
                        prefix="product",
                        bring=("pack_size", "smallest_unit", "group_id"),
                    ),
                ),
                Field("distributor_code", required=True),
                Field("qty", "int", required=True, low=1, high=10_000_000),
                Field("unit", required=True),
                Field("unit_price", "decimal", required=True, type=PRICE, low=0, high=1e6),
                Field("ordered_at", "timestamp", required=True, past=True),
            ),
            # The platform's order id is the order: one sent again under a new record id
            # replaces it (the newest line wins), never stands beside it.
            "snapshot",
            key=("order_id",),
            derived=(
                Derived("group_id", "string", "product_group_id"),
                Derived("pack_size", "int", "product_pack_size"),
                Derived("smallest_unit", "string", "product_smallest_unit"),
                Derived(
                    "qty_units",
                    "bigint",
                    f"CAST(qty AS BIGINT) * {_PER_UNIT.format(ref='product')}",
                ),
                Derived("amount", AMOUNT, "qty * unit_price"),
            ),
            checks=(("unknown_unit", f"NOT unit IN (product_smallest_unit, '{BOX}')"),),
        ),
        Feed(
            "deliveries",
            "deliveries",
            ("record_id", "delivery_id", "order_id", "qty", "unit", "delivered_at", "accepted_at"),
            (
                Field("delivery_id", required=True),
                Field(
                    "order_id",
                    required=True,
                    refers=Ref(
                        "procurement_orders",
                        "order_id",
                        "delivery_without_order",
                        prefix="order",
                        bring=(
                            "hospital_code",
                            "product_code",
                            "group_id",
                            "distributor_code",
                            "pack_size",
                            "smallest_unit",
                            "unit",
                            "unit_price",
                            "qty_units",
                            "amount",
                        ),
                    ),
                ),
                Field("qty", "int", required=True, low=1, high=10_000_000),
                Field("unit", required=True),
                Field("delivered_at", "timestamp", required=True, past=True),
                Field("accepted_at", "timestamp", past=True),
            ),
            "snapshot",
            key=("delivery_id",),
            derived=(
                Derived("hospital_code", "string", "order_hospital_code"),
                Derived("product_code", "string", "order_product_code"),
                Derived("group_id", "string", "order_group_id"),
                Derived("distributor_code", "string", "order_distributor_code"),
                Derived(
                    "qty_units", "bigint", f"CAST(qty AS BIGINT) * {_PER_UNIT.format(ref='order')}"
                ),
                # In the order's unit the value is exact; in another, the order's mean
                # price per smallest unit (4 places, half-up).
                Derived(
                    "amount",
                    AMOUNT,
                    "CASE WHEN unit = order_unit THEN qty * order_unit_price "
                    "ELSE round(try_divide(qty_units * order_amount, order_qty_units), 4) END",
                ),
            ),
            checks=(
                ("unknown_unit", f"NOT unit IN (order_smallest_unit, '{BOX}')"),
                ("accepted_before_delivered", "accepted_at < delivered_at"),
            ),
        ),
        Feed(
            "distributor_payments",
            "distributor_payments",
            ("record_id", "payment_id", "delivery_id", "amount", "paid_at", "payer"),
            (
                Field("payment_id", required=True),
                Field(
                    "delivery_id",
                    required=True,
                    refers=Ref(
                        "deliveries",
                        "delivery_id",
                        "payment_without_delivery",
                        prefix="delivery",
                        bring=("amount", "accepted_at"),
                    ),
                ),
                Field("amount", "decimal", required=True, type=MONEY, low=0.01, high=1e10),
                Field("paid_at", "timestamp", required=True, past=True),
                Field("payer", required=True, values=PAYERS),
            ),
            "snapshot",
            key=("payment_id",),
            checks=(
                # A delivery is worth its value to the fen (half-up): one payment above it
                # pays for something not delivered.
                ("payment_exceeds_delivery", "amount > round(delivery_amount, 2)"),
                ("paid_before_accepted", "paid_at < delivery_accepted_at"),
            ),
        ),
        # The national platform's off-site settlements (SPEC 12): one row per settlement,
        # keyed by its id (a correction sent again replaces it).
        Feed(
            "offsite_settlements",
            "offsite_settlements",
            (
                "record_id",
                "settlement_id",
                "direction",
                "insured_region",
                "treating_region",
                "institution_code",
                "case_id",
                "id_no",
                "name",
                "filing",
                "visit_type",
                "admission_date",
                "discharge_date",
                "principal_dx",
                "total_cost",
                "eligible_cost",
                "deductible",
                "fund_paid",
                "account_paid",
                "self_paid",
                "settled_at",
            ),
            (
                Field("settlement_id", required=True),
                Field("direction", required=True, values=OFFSITE_DIRECTIONS),
                Field("insured_region", required=True),
                Field("treating_region", required=True),
                Field("institution_code", required=True),
                Field("case_id", required=True),
                Field("id_no", "person", required=True),
                Field("name", keep=False),
                Field("filing", required=True, values=OFFSITE_FILINGS),
                Field("visit_type", required=True, values=OFFSITE_VISITS),
                Field("admission_date", "date", required=True, past=True),
                Field("discharge_date", "date", required=True, past=True),
                Field("principal_dx"),
                Field("total_cost", "decimal", required=True, type=MONEY, low=0, high=1e8),
                Field("eligible_cost", "decimal", required=True, type=MONEY, low=0, high=1e8),
                Field("deductible", "decimal", required=True, type=MONEY, low=0, high=1e6),
                Field("fund_paid", "decimal", required=True, type=MONEY, low=0, high=1e8),
                Field("account_paid", "decimal", required=True, type=MONEY, low=0, high=1e8),
                Field("self_paid", "decimal", required=True, type=MONEY, low=0, high=1e8),
                Field("settled_at", "timestamp", required=True, past=True),
            ),
            "snapshot",
            key=("settlement_id",),
            checks=(
                (
                    "unknown_region",
                    f"NOT insured_region IN ({_KNOWN}) OR NOT treating_region IN ({_KNOWN})",
                ),
                # One side of every flow is the city: ours treated elsewhere, or others here.
                (
                    "direction_contradicts_region",
                    f"(direction = 'outbound' AND (insured_region <> '{HOME_REGION}' "
                    f"OR treating_region = '{HOME_REGION}')) OR (direction = 'inbound' AND "
                    f"(treating_region <> '{HOME_REGION}' OR insured_region = '{HOME_REGION}'))",
                ),
                ("amounts_do_not_add_up", "total_cost <> fund_paid + account_paid + self_paid"),
                ("eligible_above_total", "eligible_cost > total_cost"),
                ("discharge_before_admission", "discharge_date < admission_date"),
            ),
        ),
        # The platform's monthly clearing per counterpart region and direction...
        Feed(
            "offsite_clearing_statements",
            "offsite_clearing_statements",
            ("record_id", "month", "region", "direction", "settlements", "fund_amount"),
            (
                *_OFFSITE_KEYS,
                Field("settlements", "int", required=True, low=0, high=100_000_000),
                Field("fund_amount", "decimal", required=True, type=MONEY, low=-1e12, high=1e12),
            ),
            "snapshot",
            key=("month", "region", "direction"),
            checks=_OFFSITE_KEY_CHECKS,
        ),
        # ...and its lines: the settlements it clears, each with the amount cleared.
        Feed(
            "offsite_statement_lines",
            "offsite_statement_lines",
            ("record_id", "month", "region", "direction", "settlement_id", "fund_amount"),
            (
                *_OFFSITE_KEYS,
                Field("settlement_id", required=True),
                Field("fund_amount", "decimal", required=True, type=MONEY, low=-1e10, high=1e10),
            ),
            "snapshot",
            key=("month", "settlement_id"),
            checks=_OFFSITE_KEY_CHECKS,
        ),
    )
}


# The silver tables the ingest writes: institutions, persons (the registry) and
# discharges (the settlement lists) by their own code, then one per feed.
SILVER_TABLES = (
    "institutions",
    "insured_persons",
    "discharges",
    *(feed.table for feed in FEEDS.values()),
)
