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


def test_submit_refuses_a_missing_script(tmp_path):
    with pytest.raises(SystemExit, match="no job file"):
        cli.main(["submit", "--home", str(tmp_path), str(tmp_path / "nope.py")])
