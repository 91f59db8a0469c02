"""``make demo``: the main job on embedded defaults.

For now the main job is the Delta round trip (:mod:`jobs.roundtrip`); as the
pipeline grows this module chains generate → ingest → catalogue → points →
clearing → fraud on the demo-size city.
"""

from __future__ import annotations

import argparse

from jobs import roundtrip
from jobs.config import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options of its own yet: every setting comes from jobs.config


def command(cfg: Config, args: argparse.Namespace) -> int:
    return roundtrip.command(cfg, args)
