"""One further day of every daily feed, ingested into the demo city's lake of years.

The generator lands the day after the city (jobs/generate/next_day.py) with its truth;
the ingest takes only that day's files, accounts for every record as the truth says
(new, resent, conflicting, stale, defective), scores as the one-shot city does, and
leaves the files of the older years of silver as they were (its MERGE reads and
rewrites only the partitions the day can touch). A rerun changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import demo_home as demo
import pytest
from conftest import copy_home

from jobs import lake
from jobs.generate.knobs import preset
from jobs.generate.mess import DEFECTS
from jobs.generate.next_day import land_next_day
from jobs.ingest import run as ingest
from jobs.ingest import score

pytestmark = pytest.mark.slow


def _to_quarantine(feed: dict) -> int:
    """The day's records of a feed whose defect the ingest must quarantine (mess.DEFECTS)."""
    return sum(n for d, n in feed.get("defects", {}).items() if DEFECTS[d] == "quarantine")


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.parquet")}


@pytest.fixture(scope="module")
def next_day(demo_home, spark, tmp_path_factory):
    home = copy_home(demo_home, tmp_path_factory.mktemp("next-day"))
    cfg = demo.settings(home)
    discharges = Path(lake.table_path(cfg, "silver", "discharges"))
    years = sorted(p.name for p in discharges.glob("discharge_year=*"))
    before = {y: _files(discharges / y) for y in years}
    scored = score.run(spark, cfg)
    truth = land_next_day(cfg.landing, preset("demo"))
    report = ingest.run(spark, cfg)
    rerun = ingest.run(spark, cfg)
    after = {y: _files(discharges / y) for y in years}
    return {
        "cfg": cfg,
        "truth": truth,
        "report": report,
        "rerun": rerun,
        "before": before,
        "after": after,
        "scored_before": scored,
    }


def test_only_the_days_files_are_taken_and_every_record_is_accounted(next_day):
    truth, report = next_day["truth"], next_day["report"]
    day = truth["day"]
    assert report.files and all(f"/{day}/" in c.source_file for c in report.files)
    assert not report.rejected
    for c in report.files:
        assert c.records_read == c.to_silver + c.quarantined + c.duplicates + c.superseded
    by_source = report.by_source()
    assert set(by_source) == set(truth["feeds"])
    for source, feed in truth["feeds"].items():
        got = by_source[source]
        assert got["files"] == feed["files"], source
        if source != "settlement_lists":  # the CSV feeds: every row of the day's file read
            assert got["records_read"] == feed["rows"], source
        assert got["quarantined"] == _to_quarantine(feed), source


def test_settlement_lists_resends_conflicts_and_stale_versions_as_the_truth_says(next_day):
    lists = next_day["truth"]["feeds"]["settlement_lists"]
    got = next_day["report"].by_source()["settlement_lists"]
    assert got["duplicates"] == lists["resends"]
    assert got["superseded"] == lists["stale_resubmissions"]
    assert got["quarantined"] == _to_quarantine(lists)
    assert lists["record_id_conflicts"] <= lists["defects"].get("record_id_conflict", 0)


def test_the_day_scores_as_the_city_and_a_rerun_changes_nothing(next_day, spark):
    scored, before = score.run(spark, next_day["cfg"]), next_day["scored_before"]
    assert scored["defect_recall"] == 1.0
    # every defect of the day handled, and no clean record of it quarantined (the demo
    # home's experts' answers, landed without a truth of their own, are the same before)
    assert scored["defects_injected"] > before["defects_injected"]
    assert scored["clean_quarantined"] == before["clean_quarantined"]
    assert scored["clean_records"] > before["clean_records"]
    assert next_day["rerun"].nothing_new
    seconds = next_day["report"].seconds
    assert {"run", "settlement_lists", "fee_details"} <= set(seconds)
    assert seconds["settlement_lists"]["merge"] > 0


def test_the_merge_leaves_the_older_years_files_alone(next_day):
    before, after = next_day["before"], next_day["after"]
    truth = next_day["truth"]
    recent = {f"discharge_year={truth['events_of'][:4]}"}
    recent.add(f"discharge_year={int(truth['events_of'][:4]) - 1}")  # corrections of last month
    older = [y for y in before if y not in recent]
    assert older, "the demo city has years the day does not touch"
    for year in older:
        assert after[year] == before[year], year
