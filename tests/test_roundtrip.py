from decimal import Decimal

from jobs.ops import roundtrip


def test_round_trip_reads_the_seed_back_by_time_travel(spark, cfg, capsys):
    result = roundtrip.run(spark, cfg)
    assert result.path == str(cfg.lake / "ops" / "delta_roundtrip")
    assert (result.seed_version, result.merged_version) == (0, 1)
    assert result.before == [
        ("H350200001", 3, Decimal("1250.5000")),
        ("H350200002", 2, Decimal("830.2500")),
        ("H350200003", 1, Decimal("97.0000")),
    ]
    assert result.after == [
        ("H350200001", 3, Decimal("1250.5000")),
        ("H350200002", 2, Decimal("845.7500")),
        ("H350200003", 1, Decimal("97.0000")),
        ("H350200004", 1, Decimal("12.3400")),
    ]
    assert [h["operation"] for h in result.history] == ["WRITE", "MERGE"]
    text = roundtrip.report(result)
    assert "numTargetRowsInserted=1, numTargetRowsUpdated=1" in text


def test_running_it_twice_gives_the_same_table(spark, cfg):
    first = roundtrip.run(spark, cfg)
    second = roundtrip.run(spark, cfg)
    assert second.after == first.after
    assert second.before == first.before
    assert (second.seed_version, second.merged_version) == (2, 3)
