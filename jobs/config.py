"""Every setting of dip-lake, read in one place.

Precedence, highest first: a command-line flag, a ``DIPLAKE_*`` environment
variable, the embedded default. Relative defaults are resolved against
``DIPLAKE_HOME`` (default: the current directory), so ``make demo`` run from the
repository keeps the lake, the landing zone, MLflow and the demo key beside it.

| setting | flag | environment | default |
| --- | --- | --- | --- |
| home | ``--home`` | ``DIPLAKE_HOME`` | current directory |
| lake | ``--lake`` | ``DIPLAKE_LAKE`` | ``<home>/lake`` |
| landing | ``--landing`` | ``DIPLAKE_LANDING`` | ``<home>/landing`` |
| spark master | ``--master`` | ``DIPLAKE_SPARK_MASTER`` | ``local[*]`` |
| shuffle partitions | ``--shuffle-partitions`` | ``DIPLAKE_SHUFFLE_PARTITIONS`` | ``8`` |
| driver memory | ``--driver-memory`` | ``DIPLAKE_DRIVER_MEMORY`` | ``6g`` |
| Spark UI | ``--spark-ui`` | ``DIPLAKE_SPARK_UI`` | off |
| Delta jars | ``--jars-dir`` | ``DIPLAKE_JARS_DIR`` | ``<repository>/.jars`` |
| MLflow tracking | ``--mlflow-uri`` | ``DIPLAKE_MLFLOW_URI`` | ``sqlite:///<home>/mlflow.db`` |
| MLflow artifacts | ``--mlflow-artifacts`` | ``DIPLAKE_MLFLOW_ARTIFACTS`` | ``<home>/mlruns`` |
| HMAC key file | ``--hmac-key-file`` | ``DIPLAKE_HMAC_KEY_FILE`` | ``<home>/.secrets/hmac.key`` |
| HMAC key itself | (none: never a flag) | ``DIPLAKE_HMAC_KEY`` | unset |
| time zone | ``--timezone`` | ``DIPLAKE_TIMEZONE`` | ``Asia/Shanghai`` |

The HMAC key is a secret: it is read from the environment or the key file,
never from a flag (flags land in shell history and process lists) and never
from the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "DIPLAKE_"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Setting:
    name: str
    flag: str
    help: str
    kind: type = str


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "--home", "base folder for relative defaults (default: current directory)"),
    Setting("lake", "--lake", "lake root holding <layer>/<table> Delta tables"),
    Setting("landing", "--landing", "landing root: <landing>/<source>/<yyyy-mm-dd>/<file>"),
    Setting("spark_master", "--master", "Spark master URL: local[*], local[2], spark://host:7077"),
    Setting("shuffle_partitions", "--shuffle-partitions", "spark.sql.shuffle.partitions", int),
    Setting(
        "snapshot_partitions",
        "--snapshot-partitions",
        "spark.databricks.delta.snapshotPartitions (Delta log replay)",
        int,
    ),
    Setting("ingest_workers", "--ingest-workers", "sources the ingest runs side by side", int),
    Setting("driver_memory", "--driver-memory", "driver JVM heap for local runs, e.g. 6g"),
    Setting("spark_ui", "--spark-ui", "start the Spark web UI (true/false)", bool),
    Setting("jars_dir", "--jars-dir", "folder with the Delta jars copied by `make jars`"),
    Setting("mlflow_uri", "--mlflow-uri", "MLflow tracking URI (SQLite by default)"),
    Setting("mlflow_artifacts", "--mlflow-artifacts", "MLflow artifact root for new experiments"),
    Setting("hmac_key_file", "--hmac-key-file", "file holding the pseudonymisation key"),
    Setting("timezone", "--timezone", "session time zone for timestamps"),
)


@dataclass(frozen=True)
class Config:
    home: Path
    lake: Path
    landing: Path
    spark_master: str = "local[*]"
    shuffle_partitions: int = 8
    snapshot_partitions: int = 2
    ingest_workers: int = 2
    driver_memory: str = "6g"
    spark_ui: bool = False
    jars_dir: Path = REPO_ROOT / ".jars"
    mlflow_uri: str = ""
    mlflow_artifacts: Path = Path("mlruns")
    hmac_key_file: Path = Path(".secrets/hmac.key")
    timezone: str = "Asia/Shanghai"
    extra_spark_conf: Mapping[str, str] = field(default_factory=dict)

    @property
    def quality_root(self) -> Path:
        """Great Expectations project: stored validation results and the Data Docs site."""
        return self.home / "quality"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    def replace(self, **changes: object) -> Config:
        return dataclasses.replace(self, **changes)

    def hmac_key(self) -> bytes:
        """The pseudonymisation key: ``DIPLAKE_HMAC_KEY`` or the key file; refuse without one."""
        from_env = os.environ.get(ENV_PREFIX + "HMAC_KEY", "")
        if from_env:
            return from_env.encode()
        if self.hmac_key_file.is_file():
            key = self.hmac_key_file.read_bytes().strip()
            if key:
                return key
        raise ConfigError(
            "No pseudonymisation key: set DIPLAKE_HMAC_KEY or write a key to "
            f"{self.hmac_key_file} (for a local demo: `make key`)."
        )


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"not a boolean: {text!r} (use true or false)")


def _coerce(setting: Setting, raw: str) -> object:
    if setting.kind is bool:
        return _parse_bool(raw)
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{setting.flag} wants a whole number, got {raw!r}") from None
    return raw


def load(
    overrides: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the config from overrides (flags), then the environment, then defaults."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    raw: dict[str, object] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            value = overrides[setting.name]
            raw[setting.name] = _coerce(setting, value) if isinstance(value, str) else value
        elif ENV_PREFIX + setting.name.upper() in env:
            raw[setting.name] = _coerce(setting, env[ENV_PREFIX + setting.name.upper()])
    home = Path(str(raw.pop("home", os.getcwd()))).expanduser().resolve()

    def path(name: str, default: Path) -> Path:
        value = Path(str(raw.pop(name, default))).expanduser()
        return value if value.is_absolute() else (home / value).resolve()

    lake = path("lake", Path("lake"))
    landing = path("landing", Path("landing"))
    jars_dir = path("jars_dir", REPO_ROOT / ".jars")
    artifacts = path("mlflow_artifacts", Path("mlruns"))
    key_file = path("hmac_key_file", Path(".secrets/hmac.key"))
    mlflow_uri = str(raw.pop("mlflow_uri", f"sqlite:///{home / 'mlflow.db'}"))
    return Config(
        home=home,
        lake=lake,
        landing=landing,
        jars_dir=jars_dir,
        mlflow_artifacts=artifacts,
        hmac_key_file=key_file,
        mlflow_uri=mlflow_uri,
        **raw,  # type: ignore[arg-type]
    )


def add_arguments(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    """Add one flag per setting; every default is None so the environment can fill in.

    Each flag's help ends with the value in force without it (from ``DIPLAKE_*`` or the
    default, resolved against the current folder), so ``--help`` shows where a job
    would read and write. ``nested``: the parser is an action under a command that
    has the flags already (``diplake clearing run``); an absent flag then leaves the
    command's value alone, so ``clearing --lake X run`` and ``clearing run --lake X``
    mean the same.
    """
    group = parser.add_argument_group(
        "settings", "each also reads DIPLAKE_<NAME> from the environment (see jobs/config.py)"
    )
    default = argparse.SUPPRESS if nested else None
    try:
        in_force: Config | None = load()
    except ConfigError:  # a malformed variable: the run itself will say which
        in_force = None
    for setting in SETTINGS:
        text = setting.help
        if in_force is not None:
            text += f" (now: {getattr(in_force, setting.name)})".replace("%", "%%")
        group.add_argument(setting.flag, dest=setting.name, default=default, help=text)


def from_args(args: argparse.Namespace) -> Config:
    return load({s.name: getattr(args, s.name, None) for s in SETTINGS})


def source_of(
    setting: Setting, args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> str:
    """Where a setting in force came from: its flag, its variable, or the default."""
    env = os.environ if env is None else env
    if getattr(args, setting.name, None) is not None:
        return setting.flag
    variable = ENV_PREFIX + setting.name.upper()
    return variable if variable in env else "default"


def as_environment(cfg: Config) -> dict[str, str]:
    """Every setting of ``cfg`` as its ``DIPLAKE_*`` variable, paths absolute.

    What a process started for these settings (an Airflow task, a bench run)
    needs in its environment to work on the same lake. The key itself is never
    among them: only the file it is read from.
    """
    return {
        ENV_PREFIX + s.name.upper(): str(getattr(cfg, s.name)).lower()
        if s.kind is bool
        else str(getattr(cfg, s.name))
        for s in SETTINGS
    }


# Not a setting: jobs/tools/jvm_archive.py sets it for the one JVM whose classes it archives.
WRITE_CLASS_ARCHIVE = ENV_PREFIX + "WRITE_CLASS_ARCHIVE"


def class_archive_target() -> str | None:
    """The file a starting driver JVM should write its class archive to, if any."""
    return os.environ.get(WRITE_CLASS_ARCHIVE) or None
