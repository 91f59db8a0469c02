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
