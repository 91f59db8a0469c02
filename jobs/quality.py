"""Great Expectations 1.x suites as gates: run a table's suite on a batch, stop on critical.

Suites live in ``expectations/<layer>/<table>.json`` (one file per table, so a
new table's checks are one new file). Each expectation carries GX's own
``severity``: a failed ``critical`` one raises :class:`QualityGateError` and the
caller does not write; ``warning`` and ``info`` failures are reported.
Usage statistics are switched off: nothing leaves the machine.

With a root, every stored result is rendered into the Data Docs site at once, and the
site is made offline: GX's pages ask public CDNs for their scripts, styles and fonts,
and the site serves the same files from ``static/vendor/`` instead (:data:`VENDORED`).
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.config import REPO_ROOT

if TYPE_CHECKING:  # the gate's callers bring Spark and pandas; `diplake --help` needs neither
    import pandas as pd
    from pyspark.sql import DataFrame

SUITES = REPO_ROOT / "expectations"
# The npm packages of package.json (exact versions in package-lock.json), installed by
# `make web` at install time: a job never fetches them.
WEB_MODULES = REPO_ROOT / ".web" / "node_modules"
# Each file the Data Docs load, by its path in WEB_MODULES, and the address GX's pages ask for
# it by. A render copies it to the same path under the site's static/vendor/.
VENDORED = {
    "bootstrap/dist/css/bootstrap.min.css": "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
    "bootstrap/dist/js/bootstrap.min.js": "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
    "jquery/dist/jquery.min.js": "https://code.jquery.com/jquery-3.7.1.min.js",
    "popper.js/dist/umd/popper.min.js": "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
    "bootstrap-table/dist/bootstrap-table.min.css": "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
    "bootstrap-table/dist/bootstrap-table.min.js": "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
    # The pages ask 1.19.0 for the filter-control stylesheet (the index its .min.css) and
    # 1.19.1 for its script: 1.19.1's stylesheet goes with that script.
    "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css": "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css": "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
    "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js": "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
    "@fortawesome/fontawesome-free/css/all.min.css": "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
    "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css": "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
    # What jsDelivr serves for a bare package@major: the package's "jsdelivr" file.
    "vega/build/vega.min.js": "https://cdn.jsdelivr.net/npm/vega@5",
    "vega-lite/build/vega-lite.min.js": "https://cdn.jsdelivr.net/npm/vega-lite@5",
    "vega-embed/build/vega-embed.min.js": "https://cdn.jsdelivr.net/npm/vega-embed@6",
}
# Folders copied whole because a vendored stylesheet loads them relatively (../webfonts/).
VENDORED_FOLDERS = ("@fortawesome/fontawesome-free/webfonts",)
VENDOR = "static/vendor"
# GX's logo comes from its S3 bucket, with this context's id in the query; the site holds the
# same image (GX ships no copy of the dark theme's variant: the one logo serves both).
GX_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
LOCAL = {url: f"{VENDOR}/{path}" for path, url in VENDORED.items()} | {
    GX_ASSETS + "logo-long.png": "static/images/logo-long.png",
    GX_ASSETS + "full_logo_dark.png": "static/images/logo-long.png",
}
# What a browser fetches from outside, or from the site's static/ folder: a src or href
# attribute, or a url(...) in an inline style.
_FETCHED = re.compile(
    r"""(?P<lead>(?:src|href)="|url\(['"]?)(?P<url>https?://[^"')\s]+|(?:\.\.?/)*static/)"""
)
# A browser refuses a script with crossorigin (and an integrity hash) from file://, where
# there is no CORS: a localised page drops both (the copies hash as the CDN's did).
_CDN_ONLY = re.compile(r'\s(?:integrity="[^"]*"|crossorigin="anonymous")')
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


def _vendored_files() -> list[str]:
    """The paths in WEB_MODULES a site serves; refuse if `make web` has not installed them."""
    missing = [p for p in [*VENDORED, *VENDORED_FOLDERS] if not (WEB_MODULES / p).exists()]
    if missing:
        raise FileNotFoundError(
            f"{WEB_MODULES / missing[0]} is missing: the Data Docs' scripts and styles are"
            " installed by `make web` (part of `make install`)"
        )
    folders = [sorted((WEB_MODULES / folder).iterdir()) for folder in VENDORED_FOLDERS]
    return [*VENDORED, *(str(f.relative_to(WEB_MODULES)) for files in folders for f in files)]


def _offline(root: Path, vendored: list[str]) -> None:
    """Copy the ``vendored`` files into the site and point every page at them, not at a CDN."""
    site = docs_index(root).parent
    for path in vendored:
        source, target = WEB_MODULES / path, site / VENDOR / path
        if not (target.exists() and filecmp.cmp(source, target)):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # Only the pages GX wrote since the last pass: a site of years of results is not read
    # again at every validation. (GX writes under _GX_LOCK, as this pass runs.)
    stamp = site / VENDOR / ".localised"
    since = stamp.stat().st_mtime_ns if stamp.exists() else -1
    started = time.time_ns()
    for page in site.rglob("*.html"):
        if page.stat().st_mtime_ns < since:
            continue
        html = page.read_text(encoding="utf-8")
        offline = _localise(html, "../" * (len(page.relative_to(site).parts) - 1))
        if offline != html:
            page.write_text(offline, encoding="utf-8")
    stamp.touch()
    os.utime(stamp, ns=(started, started))


def _localise(html: str, up: str) -> str:
    """``html`` fetching the site's copies (``up`` leads from the page to the site's root).

    GX's own static files are reached by ``up`` too: its favicon link on a result page
    climbs one folder too few.
    """

    def local(m: re.Match) -> str:
        if m["url"].endswith("static/"):
            return m["lead"] + up + "static/"
        path = LOCAL.get(m["url"].split("?")[0])
        return m["lead"] + (up + path if path else m["url"])  # links to GX's site stay

    return _CDN_ONLY.sub("", _FETCHED.sub(local, html))


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
    store the result and render it into the Data Docs site.

    A pass/fail run first (BOOLEAN_ONLY: one aggregate per expectation); only when
    something fails is the suite run again at BASIC for the counts and samples that
    explain it, so a clean batch of millions of rows is not scanned for samples.
    """
    if root is not None:
        vendored = _vendored_files()  # refuse before the suite runs, not after
    with _GX_LOCK:
        outcome = _run_suite(df, layer, table, root, "BOOLEAN_ONLY")
        if not all(r.success for r in outcome):
            outcome = _run_suite(df, layer, table, root, "BASIC")
        if root is not None:
            _offline(root, vendored)
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
    from great_expectations.checkpoint import UpdateDataDocsAction

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
    # With a root the run stores its result and renders that page and the index (GX's
    # incremental build): whichever job validates, silver or gold, its result is on the site.
    docs = [UpdateDataDocsAction(name="data_docs")] if root is not None else []
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[validation],
            actions=docs,
            result_format=result_format,
        )
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": df})
    return [r for run in outcome.run_results.values() for r in run.results]


def build_docs(root: Path) -> Path:
    """Render the Data Docs site of ``root`` again from every stored validation result."""
    with _GX_LOCK:
        _context(str(root)).build_data_docs()
        _offline(root, _vendored_files())
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
