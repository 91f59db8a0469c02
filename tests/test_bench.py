"""The benchmark's DuckDB reference reads SPEC 5.1-5.2 as the Spark jobs do, case by case.

Two engines written separately (SQL in jobs/tools/bench/reference.py, Spark in jobs/dip/) over
the demo city's silver tables must agree on every type and every case's points.
"""

from __future__ import annotations

import demo_home as demo
import pytest

from jobs.tools.bench import compare, reference
from jobs.tools.bench import report as bench_report


def test_duckdb_and_spark_give_the_same_catalogue_and_points(demo_home):
    cfg = demo.settings(demo_home)
    ref = reference.run(cfg, demo.YEAR, threads=2)
    verdict = compare.compare(cfg, demo.YEAR, ref)
    figures = verdict["figures"]
    assert figures["types_spark"] == figures["types_duckdb"] > 0
    assert figures["cases_spark"] == figures["cases_duckdb"] > 0
    assert figures["catalogue_field_differences"] == 0 and figures["cases_that_differ"] == 0
    assert verdict["same_catalogue"] and verdict["same_points"]


def test_a_changed_figure_is_seen(demo_home):
    """The comparison can fail: one case's points off by 0.0001 is a difference."""
    cfg = demo.settings(demo_home)
    ref = reference.run(cfg, demo.YEAR, threads=2)
    ref.points.loc[ref.points.index[0], "points_u"] += 1
    verdict = compare.compare(cfg, demo.YEAR, ref)
    assert not verdict["same_points"] and verdict["figures"]["cases_that_differ"] == 1


STAGES = ("generate", "ingest", "catalogue", "points", "clearing", "fraud_train", "fraud_score")


def _run(label: str, records: int, seconds: float) -> dict:
    stage = {"records": records, "seconds": seconds}
    return {
        "label": label,
        "machine": {"cpu": "test", "cores": 2, "memory_gb": 1},
        "stages": {name: dict(stage) for name in STAGES},
        "total_seconds": seconds * len(STAGES),
        "spark_catalogue_points_seconds": 2 * seconds,
        "duckdb_catalogue_points_seconds": 1.0,
        "spark_duckdb_ratio": 2 * seconds,
        "same_catalogue": True,
        "same_points": True,
    }


def test_growth_and_marginal_cost_by_hand(tmp_path):
    # 10x the records in 10x the time: slope 1 (linear); 9M more records cost 90 s, 10 s/M.
    runs = [_run("small", 1_000_000, 10.0), _run("large", 10_000_000, 100.0)]
    assert abs(bench_report.growth(runs, "points") - 1.0) < 1e-12
    assert abs(bench_report.marginal(runs, "points") - 10.0) < 1e-12
    # Time that does not grow at all: slope 0, nothing per extra record.
    flat = [_run("small", 1_000_000, 50.0), _run("large", 10_000_000, 50.0)]
    assert bench_report.growth(flat, "points") == 0.0
    page = bench_report.write(runs, tmp_path / "REPORT.md").read_text()
    assert "| points | 10.0 | 100.0 | 1.00 | 10.0 |" in page
    assert (tmp_path / "scaling.png").stat().st_size > 0


def test_a_scaled_run_keeps_its_factor_in_the_file_name(tmp_path):
    from jobs.tools.bench import run

    as_json, as_md = run.output_paths(tmp_path, "2026-12-02", "city-0.1x")
    assert (as_json.name, as_md.name) == ("2026-12-02-city-0.1x.json", "2026-12-02-city-0.1x.md")


def test_the_report_keeps_the_newest_run_of_each_label(tmp_path):
    import json

    old, new = _run("city", 1_000_000, 60.0), _run("city", 1_000_000, 40.0)
    small = _run("city-0.1x", 100_000, 30.0)
    for name, run in (
        ("2026-12-02-city", old),
        ("2026-12-03-city", new),
        ("2026-12-02-city-0.1x", small),
    ):
        (tmp_path / f"{name}.json").write_text(json.dumps(run))
    runs = bench_report.load(tmp_path)
    assert [(r["label"], r["total_seconds"]) for r in runs] == [
        ("city-0.1x", 30.0 * len(STAGES)),
        ("city", 40.0 * len(STAGES)),
    ]


def test_ratios_of_a_first_run_and_of_a_run_with_the_duckdb_command():
    # A first run: its spark_duckdb_ratio was commands against the reference's compute.
    first = _run("city", 1_000_000, 50.0) | {"spark_duckdb_warm_ratio": 20.0}
    first["warm"] = {"catalogue_second": 12.0, "points_second": 8.0}
    assert bench_report._ratios(first) == (None, None, 20.0, 1.0, 20.0, 100.0)
    # Now: 100 s of Spark commands against a 10 s DuckDB command is 10, and against its
    # 1 s of compute 100; the warm session's 20 s against that 1 s is 20.
    now = first | {
        "duckdb_command_seconds": 10.0,
        "spark_duckdb_ratio": 10.0,
        "spark_commands_duckdb_compute_ratio": 100.0,
    }
    assert bench_report._ratios(now) == (10.0, 10.0, 20.0, 1.0, 20.0, 100.0)


def test_the_pipeline_is_ingest_through_fraud_scoring(tmp_path):
    from jobs.tools.bench import run

    more = ("generate_next_day", "increment", "fraud_features", "dip_month", "offsite_month")
    stages = {name: {"records": 1_000, "seconds": 10.0} for name in (*STAGES, *more)}
    stages["generate"]["seconds"] = 400.0
    stages["increment"]["seconds"] = 5.0
    # ingest, catalogue, points, clearing, fraud features, training and scoring: 7 x 10 s;
    # the synthetic files, the next day's increment and the wings stay out.
    assert run.pipeline_seconds(stages) == 70.0
    runs = [_run("city", 1_000_000, 10.0) | {"stages": stages}]
    page = bench_report.write(runs, tmp_path / "REPORT.md").read_text()
    assert "| **pipeline** (ingest through fraud scoring) | **70** | | |" in page


def test_the_floor_ratio_by_hand(tmp_path):
    """Two floor processes of 16 s and 18 s against a 10 s DuckDB command: 34 s, ratio 3.4."""
    from jobs.tools.bench import run

    assert run.floor_ratio([16.0, 18.0], 10.0) == 3.4
    now = _run("city", 1_000_000, 50.0) | {
        "duckdb_command_seconds": 10.0,
        "spark_floor_seconds": [16.0, 18.0],
        "spark_floor_duckdb_ratio": 3.4,
    }
    assert bench_report._floor(now) == (34.0, 3.4)
    assert bench_report._floor(_run("city", 1_000_000, 50.0)) == (None, None)
    page = bench_report.write([now], tmp_path / "REPORT.md").read_text()
    assert "| 34.0 | 3.4 | True | True |" in page


def test_the_floor_reads_the_years_coefficients_and_names_a_missing_year(demo_home):
    from deltalake import DeltaTable

    from jobs.spark import get_spark
    from jobs.tools.bench import floor

    cfg = demo.settings(demo_home)
    # The expected row read by delta-rs, not by Spark.
    table = DeltaTable(str(cfg.lake / "gold" / "dip_level_coefficients")).to_pandas()
    expected = int(table.base_cases[table.catalogue_version == demo.YEAR].iloc[0])
    assert floor.read_one(get_spark(cfg), cfg, demo.YEAR) == expected > 0
    with pytest.raises(floor.FloorError, match="no catalogue version 1999"):
        floor.read_one(get_spark(cfg), cfg, 1999)


def test_a_stage_an_older_run_lacks_is_a_dash_and_the_days_figures_are_listed(tmp_path):
    old = _run("city-0.3x", 300_000, 10.0)
    new = _run("city", 1_000_000, 20.0)
    new["stages"]["increment"] = {"records": 5_000, "seconds": 12.0}
    new |= {
        "increment_ratio": 0.06,
        "fraud_score_points_ratio": 1.4,
        "fraud_train_points_ratio": 2.5,
        "ingest_core_speedup": 1.3,
        "pipeline_seconds": 950.0,
        "wings_points_ratio": {"dip_month": 1.2},
    }
    page = bench_report.write([old, new], tmp_path / "REPORT.md").read_text()
    assert "| increment | — | 12.0 |" in page
    assert (
        "| the next day's ingest / the full ingest (`increment_ratio`) | at most 0.08 | 0.06 |"
        in page
    )
    assert (
        "| ingest at 0.3x: local[1] / local[2] (`ingest_core_speedup`) | at least 1.6 | 1.3 |"
        in page
    )
    assert "| dip_month / points | — | 1.2 |" in page
    assert bench_report.growth([old, new], "increment") is None  # one run has it
