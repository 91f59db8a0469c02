"""The benchmark's DuckDB reference reads SPEC 5.1-5.2 as the Spark jobs do, case by case.

Two engines written separately (SQL in jobs/bench/reference.py, Spark in jobs/dip/) over
the demo city's silver tables must agree on every type and every case's points.
"""

from __future__ import annotations

import demo_home as demo

from jobs.bench import compare, reference


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
