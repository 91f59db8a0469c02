"""``diplake config``: print the settings in force (never the key itself)."""

from __future__ import annotations

import argparse

from jobs.config import SETTINGS, Config, ConfigError, source_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def command(cfg: Config, args: argparse.Namespace) -> int:
    for setting in SETTINGS:
        source = source_of(setting, args)
        print(f"{setting.name:<20} {getattr(cfg, setting.name)!s:<60} ({source})")
    try:
        cfg.hmac_key()
        key_state = "present"
    except ConfigError:
        key_state = "MISSING (set DIPLAKE_HMAC_KEY or run `make key` for a local demo key)"
    print(f"{'hmac key':<20} {key_state}")
    from jobs.spark import MissingJarsError, delta_jars

    try:
        jars = delta_jars(cfg.jars_dir)
        print(f"{'delta jars':<20} {len(jars)} jars in {cfg.jars_dir}")
    except MissingJarsError as error:
        print(f"{'delta jars':<20} {error}")
    return 0
