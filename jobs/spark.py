"""The one SparkSession factory: Delta on, jars from disk, nothing from the network.

Every job, DAG task, notebook and test gets its session from :func:`get_spark`.
The Delta jars are copied into ``cfg.jars_dir`` at install time (``make jars``,
Maven reading ``pom.xml``); this module only points Spark at them. It never sets
``spark.jars.packages``, so no Ivy resolution can happen when a job starts.

Under ``spark-submit`` the JVM is already running: pass the same jars with
``--jars`` (``diplake submit`` does it, see :func:`submit_command`); the builder
then only adds the Delta SQL settings.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from jobs.config import REPO_ROOT, Config, class_archive_target

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
REQUIRED_JAR_PREFIXES = ("delta-spark_", "delta-storage-")
LOG_CONFIG = REPO_ROOT / "conf" / "log4j2.properties"
SCHEDULER_POOLS = REPO_ROOT / "conf" / "fairscheduler.xml"
# The ingest's checks generate methods larger than the 8,000 bytes of bytecode HotSpot
# compiles by default; left interpreted, the registry conform ran about 2.5 times
# slower (the settlement-list conform was the same either way). Let the JIT compile them.
JIT_OPTION = "-XX:-DontCompileHugeMethods"
ROW_GROUP_BYTES = 16 * 2**20
JARS_COMMAND = (
    "make jars   (runs: mvn -q -f pom.xml dependency:copy-dependencies -DoutputDirectory=.jars)"
)


class MissingJarsError(RuntimeError):
    """The Delta jars are not on disk; the message names the command that fetches them."""


def delta_jars(jars_dir: Path) -> list[Path]:
    """All jars in ``jars_dir``, after checking that Delta's own two are among them."""
    jars = sorted(jars_dir.glob("*.jar")) if jars_dir.is_dir() else []
    names = [jar.name for jar in jars]
    missing = [p for p in REQUIRED_JAR_PREFIXES if not any(n.startswith(p) for n in names)]
    if missing:
        raise MissingJarsError(
            f"Delta jars missing in {jars_dir} (no {', '.join(p + '*.jar' for p in missing)}). "
            f"Fetch them once, at install time, with:\n    {JARS_COMMAND}"
        )
    return jars


def class_archive(cfg: Config) -> Path:
    """The driver's class-data-sharing archive, written at install time beside the jars.

    A HotSpot dynamic CDS archive of the classes a Delta round trip loads (Spark,
    Delta, Hadoop): the JVM maps them instead of loading and verifying them again.
    Measured on the 2-core machine: session start 8.8 s -> 5.5 s, the first job
    3.7 s -> 2.3 s, the city clearing 69-73 s -> 64-66 s. A JVM that cannot use
    it (another Java build, another class path) says so once and runs without.
    """
    return cfg.jars_dir / "driver.jsa"


def driver_java_options(cfg: Config) -> str:
    """The driver JVM's flags, for a local session and for spark-submit alike.

    With ``DIPLAKE_WRITE_CLASS_ARCHIVE`` set to a file, the JVM writes its class archive there
    when it exits (how ``jobs/tools/jvm_archive.py`` builds :func:`class_archive`).
    """
    options = [JIT_OPTION]
    dump_to = class_archive_target()
    if dump_to:
        options += [f"-XX:ArchiveClassesAtExit={dump_to}", "-Xlog:cds=error,cds+dynamic=error"]
    elif class_archive(cfg).is_file():
        options.append(f"-XX:SharedArchiveFile={class_archive(cfg)}")
    if LOG_CONFIG.is_file():
        options.append(f"-Dlog4j2.configurationFile={LOG_CONFIG}")
    return " ".join(options)


def spark_conf(cfg: Config, app_name: str) -> dict[str, str]:
    """The settings every dip-lake session carries, as plain strings."""
    conf = {
        "spark.app.name": app_name,
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
        "spark.sql.session.timeZone": cfg.timezone,
        "spark.ui.enabled": str(cfg.spark_ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        # Decimal money: fail loudly on overflow instead of returning null.
        "spark.sql.ansi.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # Log replay: Delta's default of 50 partitions is all overhead for our logs. Two
        # halved a warm first read of a small table (2.0-2.6 s with 8 partitions, 1.2-1.6 s).
        "spark.databricks.delta.snapshotPartitions": str(cfg.snapshot_partitions),
        # File listing in parallel (VACUUM, and partition discovery past 32 paths) as one
        # task per path up to this many; Spark's default, 10,000 tasks, made a VACUUM of a
        # one-file table take 26-41 s on two cores (3.5-6 s with 8), for every table that
        # `diplake maintain` keeps.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(4 * cfg.shuffle_partitions),
        "spark.driver.memory": cfg.driver_memory,
        # Jobs of concurrent threads (the ingest's sources) share the cores; see the file.
        "spark.scheduler.mode": "FAIR",
        "spark.scheduler.allocation.file": str(SCHEDULER_POOLS),
        "spark.executor.extraJavaOptions": JIT_OPTION,
        # Parquet row groups of 16 MiB, not 128: a reader splits a file only between row
        # groups, and one 26 MB file of a year's discharges (one row group) left the points
        # job on one core for 8 s while the other idled.
        "spark.hadoop.parquet.block.size": str(ROW_GROUP_BYTES),
    }
    conf.update(cfg.extra_spark_conf)
    return conf


def _running_under_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands Python the gateway through these.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def import_in_background(modules: Sequence[str]) -> None:
    """Import ``modules`` on a daemon thread while this one waits for something else.

    Great Expectations takes about 6 s to import (with compiled bytecode; 16 s
    without); started just before the JVM, the import overlaps its start. The
    caller must have done its own imports already: a later ``import`` of the same
    module simply waits for this thread to finish it.
    """
    for name in modules:
        if name not in sys.modules:
            threading.Thread(
                target=importlib.import_module, args=(name,), name=f"import {name}", daemon=True
            ).start()


def get_spark(cfg: Config, app_name: str = "dip-lake", preload: Sequence[str] = ()):
    """Return the active session, or build one with Delta from ``cfg``.

    ``preload``: Python modules the job will need, imported while the JVM starts
    (see :func:`import_in_background`).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    import_in_background(preload)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    conf = spark_conf(cfg, app_name)
    if _running_under_spark_submit():
        # The JVM exists already: master, memory and jars came from spark-submit's flags.
        del conf["spark.driver.memory"]
    else:
        builder = builder.master(cfg.spark_master)
        conf["spark.jars"] = ",".join(str(j) for j in delta_jars(cfg.jars_dir))
        conf["spark.driver.extraJavaOptions"] = driver_java_options(cfg)
        if cfg.spark_master.startswith("local"):
            # A local run needs no routable address; binding loopback keeps it off the network.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def spark_home() -> Path:
    """pyspark's own distribution folder (bin/spark-submit, bin/spark-class)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def submit_command(
    cfg: Config,
    script: Path,
    script_args: Sequence[str] = (),
    master: str | None = None,
    extra_conf: Mapping[str, str] | None = None,
) -> list[str]:
    """The ``spark-submit`` command line that runs ``script`` with the Delta jars attached."""
    jars = delta_jars(cfg.jars_dir)
    submit = shutil.which("spark-submit") or str(spark_home() / "bin" / "spark-submit")
    command = [
        submit,
        "--master",
        master or cfg.spark_master,
        "--jars",
        ",".join(str(j) for j in jars),
        "--conf",
        f"spark.sql.extensions={DELTA_EXTENSION}",
        "--conf",
        f"spark.sql.catalog.spark_catalog={DELTA_CATALOG}",
        "--conf",
        f"spark.pyspark.python={sys.executable}",
    ]
    command += ["--driver-java-options", driver_java_options(cfg)]
    for key, value in (extra_conf or {}).items():
        command += ["--conf", f"{key}={value}"]
    return [*command, str(script), *script_args]
