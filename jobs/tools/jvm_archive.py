"""Build the driver's class-data-sharing archive (``make install`` runs it once).

    python -m jobs.tools.jvm_archive

One Delta round trip (write, MERGE, history, time travel) on a scratch lake in a
driver JVM started with ``-XX:ArchiveClassesAtExit``; HotSpot writes the classes
it loaded when that JVM exits. The archive is written beside the jars under a
temporary name and moved into place only once the JVM has exited cleanly, so a
half-written archive is never used. See :func:`jobs.spark.class_archive`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from jobs import config
from jobs.config import WRITE_CLASS_ARCHIVE
from jobs.ops import roundtrip
from jobs.spark import class_archive, get_spark


def build(cfg: config.Config) -> Path:
    target = class_archive(cfg)
    partial = target.with_name(target.name + ".partial")
    target.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)
    os.environ[WRITE_CLASS_ARCHIVE] = str(partial)
    try:
        with tempfile.TemporaryDirectory(prefix="diplake-archive-") as scratch:
            scratch_cfg = cfg.replace(home=Path(scratch), lake=Path(scratch) / "lake")
            spark = get_spark(scratch_cfg, "dip-lake class archive")
            roundtrip.run(spark, scratch_cfg)
            jvm = spark.sparkContext._gateway.proc  # pyspark keeps the Popen for its callers
            spark.stop()
            # The driver JVM ends when its stdin closes; the archive is written on the way out.
            jvm.stdin.close()
            code = jvm.wait(timeout=300)
    finally:
        del os.environ[WRITE_CLASS_ARCHIVE]
    if code != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"the driver JVM exited with {code} and wrote no class archive")
    partial.rename(target)
    return target


def main() -> int:
    target = build(config.load())
    print(f"class archive: {target} ({target.stat().st_size / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
