import argparse
import os
from pathlib import Path

import pytest

from jobs import config
from jobs.config import ConfigError


def test_defaults_resolve_against_home(tmp_path: Path):
    cfg = config.load({"home": str(tmp_path)}, env={})
    assert cfg.lake == tmp_path / "lake"
    assert cfg.landing == tmp_path / "landing"
    assert cfg.hmac_key_file == tmp_path / ".secrets" / "hmac.key"
    assert cfg.mlflow_uri == f"sqlite:///{tmp_path}/mlflow.db"
    assert cfg.spark_master == "local[*]"
    assert cfg.shuffle_partitions == 8
    assert cfg.spark_ui is False


def test_flag_beats_environment_beats_default(tmp_path: Path):
    env = {
        "DIPLAKE_HOME": str(tmp_path),
        "DIPLAKE_LAKE": "/srv/lake",
        "DIPLAKE_SPARK_MASTER": "spark://10.1.1.1:7077",
        "DIPLAKE_SHUFFLE_PARTITIONS": "64",
        "DIPLAKE_SPARK_UI": "true",
    }
    from_env = config.load({}, env=env)
    assert from_env.lake == Path("/srv/lake")
    assert from_env.spark_master == "spark://10.1.1.1:7077"
    assert from_env.shuffle_partitions == 64
    assert from_env.spark_ui is True

    flagged = config.load({"lake": "other", "spark_master": "local[2]"}, env=env)
    assert flagged.lake == tmp_path / "other"  # relative flag resolves against DIPLAKE_HOME
    assert flagged.spark_master == "local[2]"
    assert flagged.shuffle_partitions == 64  # untouched settings still come from the env


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DIPLAKE_SHUFFLE_PARTITIONS", "eight", "whole number"),
        ("DIPLAKE_SPARK_UI", "maybe", "not a boolean"),
    ],
)
def test_malformed_settings_are_refused_with_the_reason(name, value, message):
    with pytest.raises(ConfigError, match=message):
        config.load({}, env={name: value})


def test_hmac_key_from_environment_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    cfg = config.load({"home": str(tmp_path), "hmac_key_file": str(key_file)}, env={})
    monkeypatch.setenv("DIPLAKE_HMAC_KEY", "from-env")
    assert cfg.hmac_key() == b"from-env"
    monkeypatch.delenv("DIPLAKE_HMAC_KEY")
    assert cfg.hmac_key() == b"from-file"


def test_missing_hmac_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DIPLAKE_HMAC_KEY", raising=False)
    cfg = config.load({"home": str(tmp_path)}, env={})
    with pytest.raises(ConfigError, match="DIPLAKE_HMAC_KEY"):
        cfg.hmac_key()
    cfg.hmac_key_file.parent.mkdir(parents=True)
    cfg.hmac_key_file.write_text("   \n")  # an empty key is no key
    with pytest.raises(ConfigError):
        cfg.hmac_key()


def test_flags_parse_into_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in [n for n in os.environ if n.startswith("DIPLAKE_")]:
        monkeypatch.delenv(name)
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    args = parser.parse_args(
        [
            "--home",
            str(tmp_path),
            "--master",
            "local[3]",
            "--shuffle-partitions",
            "5",
            "--landing",
            "in",
            "--spark-ui",
            "yes",
        ]
    )
    cfg = config.from_args(args)
    assert cfg.spark_master == "local[3]"
    assert cfg.shuffle_partitions == 5
    assert cfg.landing == tmp_path / "in"
    assert cfg.spark_ui is True
    assert {s.name for s in config.SETTINGS} <= set(config.Config.__dataclass_fields__)
