import os
import subprocess
import sys

import pytest

from jobs import cli


def test_help_explains_the_tool_and_lists_every_command():
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "medical-insurance bureau" in done.stdout
    for name in cli.COMMANDS:
        assert name in done.stdout
    assert "DIPLAKE_" in done.stdout


def test_each_command_has_help_with_the_settings_flags():
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as leave:
            cli.main([name, "--help"])
        assert leave.value.code == 0


@pytest.mark.parametrize(
    ("argv", "home", "lake"),
    [
        (["clearing", "--home", "/h", "run"], "/h", None),
        (["clearing", "run", "--home", "/h"], "/h", None),
        (["clearing", "--home", "/h", "run", "--lake", "/l"], "/h", "/l"),
        (["clearing", "run"], None, None),
    ],
)
def test_settings_flags_go_before_or_after_the_clearing_action(argv, home, lake):
    args = cli.build_parser().parse_args([*argv, "--year", "2025", "--budget", "1"])
    assert (args.home, args.lake, args.action) == (home, lake, "run")


def test_config_shows_settings_but_not_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIPLAKE_HMAC_KEY", "s3cret-value")
    assert cli.main(["config", "--home", str(tmp_path), "--master", "local[3]"]) == 0
    out = capsys.readouterr().out
    assert "local[3]" in out and "(--master)" in out
    assert "present" in out
    assert "s3cret-value" not in out


def test_a_bad_setting_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as leave:
        cli.main(["config", "--home", str(tmp_path), "--shuffle-partitions", "many"])
    assert leave.value.code == 2
    assert "whole number" in capsys.readouterr().err


def test_submit_refuses_what_is_not_a_spark_job(tmp_path):
    for job in ("nope", "bench", "generate"):
        with pytest.raises(SystemExit, match="is not a Spark job"):
            cli.main(["submit", "--home", str(tmp_path), job])


HEAVY = ("pyspark", "delta", "mlflow", "great_expectations")


@pytest.mark.parametrize("command", [None, *cli.COMMANDS])
def test_help_loads_no_spark_delta_mlflow_or_gx(command):
    """`diplake --help` and `diplake <command> --help` read arguments, not the jobs."""
    argv = [*([command] if command else []), "--help"]
    probe = "\n".join(
        [
            "import sys",
            "from jobs import cli",
            "try:",
            f"    cli.main({argv!r})",
            "except SystemExit:",
            "    pass",
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "usage: diplake" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_refusal_is_reported_not_raised(tmp_path, capsys):
    """A job's refusal (jobs.Refused) is one line on stderr and exit code 2."""
    truth = tmp_path / "no-truth"
    code = cli.main(
        ["fraud", "evaluate", "--year", "2025", "--home", str(tmp_path), "--truth", str(truth)]
    )
    assert code == 2
    assert f"refused: no fraud_labels.csv in {truth}" in capsys.readouterr().err


def _pipeline_calls(path) -> set[str]:
    """The names X of every ``pipeline.X`` in a file (read with ast, not run)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "pipeline"
    }


def test_both_doors_call_the_same_steps():
    """Every step of jobs/pipeline.py has a subcommand; every DAG task calls a real step."""
    import inspect
    from pathlib import Path

    from jobs import pipeline

    root = Path(__file__).resolve().parent.parent
    steps = {
        name
        for name, fn in inspect.getmembers(pipeline, inspect.isfunction)
        if fn.__module__ == pipeline.__name__ and not name.startswith("_")
    }
    from_cli = _pipeline_calls(root / "jobs" / "cli.py")
    assert steps - {"silver_tables"} <= from_cli, steps - from_cli
    from_dags = set().union(*(_pipeline_calls(p) for p in (root / "dags").glob("*.py")))
    assert from_dags and from_dags <= steps, from_dags - steps


def test_ingest_help_names_the_key_and_the_folders_in_force(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIPLAKE_")}
    env["DIPLAKE_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "ingest", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    text = " ".join(done.stdout.split())  # argparse wraps lines (at hyphens, too)
    assert "DIPLAKE_HMAC_KEY" in text and "changes nothing" in text
    packed = "".join(done.stdout.split())
    assert f"(now:{tmp_path / 'lake'})" in packed
    assert f"(now:{tmp_path / '.secrets' / 'hmac.key'})" in packed


def test_each_job_command_prints_its_steps_summary(monkeypatch, capsys, tmp_path):
    """The subcommands only print what their pipeline step returns (canned here)."""
    from jobs import pipeline

    canned = {
        "catalogue": {
            "year": 2025,
            "types": 1042,
            "core_types": 900,
            "comprehensive_types": 142,
            "core_coverage": 0.9512,
            "base_cases": 9000,
            "M": "8123.45",
            "k": {"1": "0.9", "2": "1.0", "3": "1.2"},
            "level_method": "raw",
        },
        "points": {
            "year": 2025,
            "cases": 3044,
            "classes": {"normal": 3000, "high": 44},
            "special_review": 2,
            "total_points": "123.4500",
            "report": "/r/catalogue-2025/index.html",
        },
        "ingest": {
            "run_date": "2026-01-02",
            "sources": {"doctors": dict.fromkeys(("files", *pipeline.INGEST_COUNTS), 1)},
            "rejected_files": {"fee_details/2026-01-01/x.csv.gz": "compressed_file"},
            "held_files": 3,
            "held_days": ["2026-01-03", "2026-01-05"],
        },
        "monitoring": {"year": 2025, "hospitals": 25, "flagged": [{"hospital_code": "H1"}]},
        "maintain": {"silver/doctors": {"files_removed": 4, "files_added": 1}},
    }
    for step, summary in canned.items():
        monkeypatch.setattr(pipeline, step, lambda *a, s=summary, **k: s)
    home = ["--home", str(tmp_path)]
    expected = {
        ("catalogue", "--year", "2025"): [
            "Catalogue 2025: 1,042 types (900 core, 142 comprehensive), core coverage 95.1%",
            "K (raw) = ",
        ],
        ("points", "--year", "2025"): [
            "Points 2025: 3,044 cases (high 44, normal 3,000); 2 for special review; "
            "total 123.4500 points",
            "Catalogue report: /r/catalogue-2025/index.html",
        ],
        ("ingest", "--date", "2026-01-02"): [
            "rejected whole: fee_details/2026-01-01/x.csv.gz (compressed_file)",
            "held until their day: 3 files in folders dated after 2026-01-02 "
            "(2026-01-03 .. 2026-01-05)",
            "1 files ingested into",
        ],
        ("monitoring", "--year", "2025"): [
            "gold/hospital_monitoring 2025: 25 hospitals, 1 flagged",
            "hospital_code H1",
        ],
        ("maintain",): ["silver/doctors: 4 files compacted into 1"],
    }
    for argv, lines in expected.items():
        assert cli.main([*argv, *home]) == 0, argv
        out = capsys.readouterr().out
        for line in lines:
            assert line in out, (argv, line, out)


def test_the_ingest_summary_counts_what_the_ledger_counts():
    """The command line prints the ingest's counts without importing the wing: the same names."""
    from jobs import pipeline
    from jobs.ingest.run import LEDGER

    assert pipeline.INGEST_COUNTS == LEDGER
