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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pyspark.sql import DataFrame

from jobs.config import REPO_ROOT

SUITES = REPO_ROOT / "expectations"
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


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx.get_context(mode="ephemeral")


def validate(df: DataFrame, layer: str, table: str) -> QualityReport:
    import great_expectations as gx

    spec = json.loads(suite_path(layer, table).read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**spec)
    context = _context()
    name = f"{layer}.{table}"
    try:
        source = context.data_sources.get(name)
    except (KeyError, ValueError):
        source = context.data_sources.add_spark(name=name)
    try:
        asset = source.get_asset("batch")
    except LookupError:
        asset = source.add_dataframe_asset(name="batch")
    try:
        definition = asset.get_batch_definition("whole")
    except KeyError:
        definition = asset.add_batch_definition_whole_dataframe("whole")
    result = definition.get_batch(batch_parameters={"dataframe": df}).validate(suite)
    failures = tuple(
        Failure(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            severity=str(getattr(r.expectation_config, "severity", "critical"))
            .lower()
            .split(".")[-1],
            unexpected=r.result.get("unexpected_count"),
        )
        for r in result.results
        if not r.success
    )
    return QualityReport(suite=name, failures=failures)


def gate(df: DataFrame, layer: str, table: str) -> QualityReport:
    """Validate; raise on a critical failure, log the rest."""
    report = validate(df, layer, table)
    for failure in report.failures:
        log.warning("%s: %s", report.suite, failure)
    if report.critical:
        reasons = "; ".join(str(f) for f in report.critical)
        raise QualityGateError(f"{report.suite} not promoted: {reasons}")
    return report
