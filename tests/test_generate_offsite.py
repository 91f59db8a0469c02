"""The generator's off-site feeds (docs/sources/offsite.md) on the demo city, checked against
the documented format, the city's scheme read here from its YAML, and the settlement lists.
Nothing here calls the generator's own helpers to compute an expected value."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from jobs.generate import run as generator
from jobs.generate.knobs import preset
from jobs.ingest.feeds import FEEDS

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("offsite_settlements", "offsite_clearing_statements", "offsite_statement_lines")
HOME = "350200"
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def valid_id(id_no: str) -> bool:
    total = sum(int(d) * w for d, w in zip(id_no[:17], WEIGHTS, strict=True))
    return len(id_no) == 18 and "10X98765432"[total % 11] == id_no[17]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("offsite-landing")
    generator.run(out, preset("demo"), progress=False)
    return out


def _read(landing: Path, source: str) -> pd.DataFrame:
    frames = []
    for path in sorted((landing / source).glob("*/*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["file"] = str(path.relative_to(landing))
        frame["line"] = range(2, len(frame) + 2)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def feeds(landing: Path) -> dict:
    defects = pd.read_csv(landing / "_truth" / "defects.csv", dtype=str)
    mine = defects[defects.source == "offsite_settlements"]
    spoiled = set(zip(mine.source_file, mine.line.astype(int), strict=True))
    settlements = _read(landing, "offsite_settlements")
    at = list(zip(settlements.file, settlements.line, strict=True))
    return {
        "settlements": settlements,
        "clean": settlements[[a not in spoiled for a in at]],
        "statements": _read(landing, "offsite_clearing_statements"),
        "lines": _read(landing, "offsite_statement_lines"),
        "truth": pd.read_csv(landing / "_truth" / "offsite_planted.csv", dtype=str).fillna(""),
        "defects": defects[defects.source == "offsite_settlements"],
    }


def _money(text: str) -> Decimal:
    return Decimal(text)


@pytest.mark.parametrize("source", SOURCES)
def test_each_file_has_its_documented_columns_and_lands_in_its_month(landing: Path, source):
    day = {"offsite_settlements": "02"}.get(source, "15")
    for path in (landing / source).glob("*/*.csv"):
        header = path.read_text(encoding="utf-8").splitlines()[0].replace('"', "")
        assert header == ",".join(FEEDS[source].columns), path
        landed = pd.Period(path.parent.name[:7], "M")
        month = pd.Period(f"{path.stem[-6:-2]}-{path.stem[-2:]}", "M")
        assert path.parent.name.endswith(f"-{day}") and landed == month + 1, path


def test_amounts_add_up_and_one_side_of_every_flow_is_the_city(feeds):
    clean = feeds["clean"]
    total = clean.total_cost.map(_money)
    paid = (
        clean.fund_paid.map(_money) + clean.account_paid.map(_money) + clean.self_paid.map(_money)
    )
    assert (total == paid).all()
    assert (clean.eligible_cost.map(_money) <= total).all()
    regions = set(pd.read_csv(REPO / "jobs/reference/offsite_regions.csv", dtype=str).region_code)
    out = clean[clean.direction == "outbound"]
    inn = clean[clean.direction == "inbound"]
    assert (out.insured_region == HOME).all() and out.treating_region.isin(regions).all()
    assert (inn.treating_region == HOME).all() and inn.insured_region.isin(regions).all()
    assert clean.id_no.map(valid_id).all()
    assert len(out) > len(inn) > 0


def test_outbound_funds_follow_the_citys_scheme_but_the_planted_breaks(feeds):
    scheme = yaml.safe_load((REPO / "jobs/offsite/schemes/offsite-2025.1.yaml").read_text())
    out = feeds["clean"][feeds["clean"].direction == "outbound"]
    wrong = set()
    for r in out.itertuples():
        share = (
            Decimal(scheme["resident_share"][r.visit_type])
            - Decimal(scheme["cut_points"][r.filing]) / 100
        )
        base = max(_money(r.eligible_cost) - _money(r.deductible), Decimal(0))
        if (base * share).quantize(Decimal("0.01"), ROUND_HALF_UP) != _money(r.fund_paid):
            wrong.add(r.settlement_id)
    truth = feeds["truth"]
    breaks = truth.kind.isin(["above_filing_share", "below_filing_share"])
    planted = set(truth.settlement_id[breaks])
    assert wrong == planted and len(planted) >= 4


def test_most_outbound_inpatients_are_filed_as_residents_or_referrals(feeds):
    stays = feeds["clean"][
        (feeds["clean"].direction == "outbound") & (feeds["clean"].visit_type == "inpatient")
    ]
    assert stays.filing.isin(["resident", "referral"]).mean() > 0.6


def test_a_statement_is_its_lines_and_clears_each_settlement_but_the_planted(feeds):
    lines, statements = feeds["lines"], feeds["statements"]
    lines = lines.assign(fund=lines.fund_amount.map(_money))
    summed = lines.groupby(["month", "region", "direction"]).agg(
        n=("settlement_id", "size"), fund=("fund", "sum")
    )
    stated = statements.set_index(["month", "region", "direction"])
    assert (summed.n == stated.settlements.astype(int).reindex(summed.index)).all()
    assert (summed.fund == stated.fund_amount.map(_money).reindex(summed.index)).all()
    truth = feeds["truth"]
    truth = truth[truth.settlement_id != ""].set_index("settlement_id").kind
    clean = feeds["clean"].drop_duplicates("settlement_id", keep="last")
    clean = clean.assign(month=clean.settled_at.str[:7])
    merged = clean.merge(lines, on="settlement_id", how="outer", suffixes=("", "_l"))
    kind = merged.settlement_id.map(truth).fillna("")
    unmatched = merged[
        merged.month.isna() | merged.month_l.isna() | (merged.month != merged.month_l)
        | (merged.fund_paid.map(lambda v: _money(v) if isinstance(v, str) else None)
           != merged.fund)
    ]  # fmt: skip
    assert set(unmatched.settlement_id) == set(
        merged.settlement_id[kind.isin(["missing_in_statement", "missing_in_ours",
                                        "wrong_month", "amount_differs"])]
    )  # fmt: skip


def _lists(landing: Path) -> pd.DataFrame:
    """(case_id, insured_region, fund) of every settlement-list record, any dialect."""
    rows = []
    for path in (landing / "settlement_lists").glob("*/*"):
        if path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    r = json.loads(line)
                    rows.append(
                        (r["case"]["case_id"], r["patient"].get("insured_region"),
                         _money(r["costs"]["fund_paid"]))
                    )  # fmt: skip
                except (ValueError, KeyError, TypeError):
                    continue  # a truncated line
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("gbk") if path.suffix == ".csv" else raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8-sig")
        sep = "," if path.suffix == ".csv" else "|"
        for line in text.splitlines()[1:]:
            f = line.split(sep)
            if len(f) == 27 and f[-2].replace(".", "").isdigit():
                fund = _money(f[-3]) if sep == "," else Decimal(int(f[-3])) / 100
                rows.append((f[1], f[-1], fund))
    return pd.DataFrame(rows, columns=["case_id", "insured_region", "fund"])


def test_inbound_stays_are_in_the_lists_with_their_region_and_fund(landing, feeds):
    lists = _lists(landing).drop_duplicates("case_id", keep="last").set_index("case_id")
    stays = feeds["clean"][
        (feeds["clean"].direction == "inbound") & (feeds["clean"].visit_type == "inpatient")
    ]
    assert len(stays) > 0
    seen = stays[stays.case_id.isin(lists.index)]
    assert len(seen) >= 0.9 * len(stays)  # the rest: list lines spoiled by the mess
    assert (seen.insured_region.to_numpy() == lists.insured_region[seen.case_id].to_numpy()).all()
    assert (seen.fund_paid.map(_money).to_numpy() == lists.fund[seen.case_id].to_numpy()).all()
    assert (seen.insured_region != HOME).all()  # a visitor's stay says where they are insured
    visitors = set(lists.index[lists.insured_region.notna() & (lists.insured_region != HOME)])
    assert set(seen.case_id) <= visitors


def test_no_clean_outbound_visit_shares_a_night_with_a_local_stay_but_the_planted(landing, feeds):
    lists = []
    for path in (landing / "settlement_lists").glob("*/*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            lists.append((r["patient"]["id_no"], r["case"]["admission_date"],
                          r["case"]["discharge_date"]))  # fmt: skip
    stays = pd.DataFrame(lists, columns=["id_no", "a", "d"]).drop_duplicates()
    out = feeds["clean"][feeds["clean"].direction == "outbound"]
    pairs = out.merge(stays, on="id_no")
    clash = (pairs.a < pairs.discharge_date) & (pairs.admission_date < pairs.d)
    truth = feeds["truth"]
    same_day = set(truth.settlement_id[truth.kind == "same_day_local"])
    assert set(pairs.settlement_id[clash]) <= same_day  # only dialect A's stays are read here
    assert len(same_day) >= 3
    labels = pd.read_csv(landing / "_truth" / "fraud_labels.csv", dtype=str)
    persons = set(labels.entity_id[labels.pattern == "IDENTITY_FRAUD"])
    assert set(truth.id_no[truth.kind == "same_day_local"]) <= persons


def test_the_mess_is_logged_at_its_line(feeds):
    settlements = feeds["settlements"].set_index(["file", "line"])
    for d in feeds["defects"].itertuples():
        row = settlements.loc[(d.source_file, int(d.line))]
        assert row.record_id == d.record_id, d
    assert set(feeds["defects"].defect) == {
        "duplicate_submission",
        "superseded_by_correction",
        "invalid_id_checksum",
        "unknown_region",
        "amounts_do_not_add_up",
        "missing_field",
    }
