"""``diplake maintain``: OPTIMIZE (compaction) and VACUUM of every Delta table of the lake.

    diplake maintain [--lake DIR] [--retain-hours H]

VACUUM keeps ``--retain-hours`` of history (default 168, Delta's own default and
minimum without overriding its safety check), except for the tables a clearing run
or a catalogue records the versions of (:data:`AUDITED`): they keep ten years of
log and removed files (``delta.logRetentionDuration`` and
``delta.deletedFileRetentionDuration``, set here) and are vacuumed by their own
retention, so a clearing paid years ago can still be reproduced by time travel.
"""

from __future__ import annotations

import logging

from delta.tables import DeltaTable

from jobs import lake
from jobs.config import Config

log = logging.getLogger(__name__)
# The inputs and outputs of the catalogue, the case points and the clearing, whose
# versions each run records (input_versions): their history must outlive an audit.
AUDITED = frozenset(
    {
        "silver/discharges",
        "silver/procedure_classes",
        "silver/institutions",
        "silver/icd10_codes",
        "silver/assessment_scores",
        "silver/audit_deductions",
        "silver/prepayments",
        "gold/dip_catalogue",
        "gold/dip_level_coefficients",
        "gold/dip_case_points",
        "gold/dip_clearing_runs",
        "gold/dip_clearing_hospital",
        "gold/dip_clearing_publications",
    }
)
AUDIT_RETENTION = "interval 3650 days"


def tables(cfg: Config) -> list[str]:
    """Every Delta table under the lake's layers, as paths."""
    found = []
    for layer in lake.LAYERS:
        root = cfg.lake / layer
        if root.is_dir():
            found += sorted(str(p) for p in root.iterdir() if (p / "_delta_log").is_dir())
    return found


def run(spark, cfg: Config, retain_hours: int = 168) -> dict:
    done = {}
    for path in tables(cfg):
        name = path.removeprefix(str(cfg.lake) + "/")
        table = DeltaTable.forPath(spark, path)
        metrics = table.optimize().executeCompaction().collect()[0].metrics
        if name in AUDITED:  # ten years of history, then VACUUM by the table's own retention
            spark.sql(
                f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ("
                f"'delta.logRetentionDuration' = '{AUDIT_RETENTION}', "
                f"'delta.deletedFileRetentionDuration' = '{AUDIT_RETENTION}')"
            )
            table.vacuum()
        else:
            table.vacuum(retain_hours)
        done[name] = {
            "files_added": metrics.numFilesAdded,
            "files_removed": metrics.numFilesRemoved,
        }
        log.info("%s: %s", path, done[name])
    return done
