"""Great Expectations 1.x suites as gates: run a table's suite on a batch, stop on critical.

Suites live in ``expectations/<layer>/<table>.json`` (one file per table, so a
new table's checks are one new file). Each expectation carries GX's own
``severity``: a failed ``critical`` one raises :class:`QualityGateError` and the
caller does not write; ``warning`` and ``info`` failures are reported.
Usage statistics are switched off: nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.config import REPO_ROOT

if TYPE_CHECKING:  # the gate's callers bring Spark and pandas; `diplake --help` needs neither
    import pandas as pd
    from pyspark.sql import DataFrame

SUITES = REPO_ROOT / "expectations"
# For get_spark(preload=...): jobs that validate import GX while the JVM starts.
PRELOAD = ("great_expectations",)
# One suite at a time: a GX context and its stores are not made for several threads
# (the ingest runs two sources side by side).
_GX_LOCK = threading.Lock()
log = logging.getLogger(__name__)


class QualityGateError(RuntimeError):
    """A critical expectation failed: the batch must not be promoted."""


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    severity: str
    unexpected: int | None

    def __str__(self) -> str:
        where = f" on {self.column}" if self.column else ""
        count = f" ({self.unexpected} rows)" if self.unexpected is not None else ""
        return f"[{self.severity}] {self.expectation}{where}{count}"


@dataclass(frozen=True)
class QualityReport:
    suite: str
    failures: tuple[Failure, ...]

    @property
    def critical(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.severity == "critical")


def suite_path(layer: str, table: str) -> Path:
    return SUITES / layer / f"{table}.json"


def docs_index(root: Path) -> Path:
    """Where the Data Docs of a quality root are built (open it in a browser)."""
    return root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


@lru_cache(maxsize=4)
def _context(root: str | None):
    """Ephemeral without a root; with one, a file context that keeps results and Data Docs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if root is None:
        context = gx.get_context(mode="ephemeral")
    else:
        context = gx.get_context(mode="file", project_root_dir=root)
    # The jobs log what they validate; GX's per-metric progress bars only drown that.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def validate(
    df: DataFrame | pd.DataFrame, layer: str, table: str, root: Path | None = None
) -> QualityReport:
    """Run the table's suite on ``df`` (Spark, or pandas for a small frame); with ``root``,
    store the result for Data Docs.

    A pass/fail run first (BOOLEAN_ONLY: one aggregate per expectation); only when
    something fails is the suite run again at BASIC for the counts and samples that
    explain it, so a clean batch of millions of rows is not scanned for samples.
    """
    with _GX_LOCK:
        outcome = _run_suite(df, layer, table, root, "BOOLEAN_ONLY")
        if not all(r.success for r in outcome):
            outcome = _run_suite(df, layer, table, root, "BASIC")
    failures = tuple(
        Failure(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            severity=str(getattr(r.expectation_config, "severity", "critical"))
            .lower()
            .split(".")[-1],
            unexpected=r.result.get("unexpected_count"),
        )
        for r in outcome
        if not r.success
    )
    return QualityReport(suite=f"{layer}.{table}", failures=failures)


def _run_suite(
    df: DataFrame | pd.DataFrame, layer: str, table: str, root: Path | None, result_format: str
):
    import great_expectations as gx

    spec = json.loads(suite_path(layer, table).read_text(encoding="utf-8"))
    context = _context(None if root is None else str(root))
    name = f"{layer}.{table}"
    import pandas as pd

    if isinstance(df, pd.DataFrame):
        # A few thousand rows the job already holds in Python (the catalogue): pandas
        # checks them in milliseconds, where each Spark metric is a job (3 s a suite).
        source = context.data_sources.add_or_update_pandas(name=f"{name}.pandas")
    else:
        # persist=False: GX would otherwise cache the whole batch before its first metric.
        # Callers hand it staged Parquet, a Delta table or a frame they cached themselves,
        # which is cheaper to scan again than to cache once more (the city ingest's 23M-row
        # fee gate: 107 s with GX's cache, 22 s without).
        source = context.data_sources.add_or_update_spark(name=name, persist=False)
    asset = source.add_dataframe_asset(name="batch")
    definition = asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(gx.ExpectationSuite(**spec))
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=definition, suite=suite)
    )
    # Results are stored by the run; the Data Docs site is rendered once per job
    # (build_docs), not after every table.
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name, validation_definitions=[validation], actions=[], result_format=result_format
        )
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": df})
    return [r for run in outcome.run_results.values() for r in run.results]


def build_docs(root: Path) -> Path:
    """Render the Data Docs site of ``root`` from every stored validation result."""
    with _GX_LOCK:
        _context(str(root)).build_data_docs()
    return docs_index(root)


def gate(
    df: DataFrame | pd.DataFrame, layer: str, table: str, root: Path | None = None
) -> QualityReport:
    """Validate; raise on a critical failure, log the rest (``root``: see :func:`validate`)."""
    report = validate(df, layer, table, root)
    for failure in report.failures:
        log.warning("%s: %s", report.suite, failure)
    if report.critical:
        reasons = "; ".join(str(f) for f in report.critical)
        raise QualityGateError(f"{report.suite} not promoted: {reasons}")
    return report
