"""Where an ingest's time goes: seconds per source and step, for its report and the bench.

Each source runs on its own thread (jobs/ingest/schedule.py), so the clock is
per thread: :func:`begin` starts a source's, :func:`step` adds the wall time of
a block to one of :data:`STEPS`, :func:`end` returns the source's seconds. Spark
is lazy: a step's seconds are those of the actions it runs, so work planned in
one step and forced in a later one counts in the later one (the checks, for
one, are forced when the checked batch is staged).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

STEPS = {
    "read": "decode the files' lines and write them to bronze",
    "checks": "parse, conform and check the records; stage the checked batch",
    "identity": "record ids against the source's index: resends and conflicts",
    "quarantine": "write the rejected records to quarantine",
    "versions": "newest version per key, against silver's",
    "pseudonymise": "the HMAC of the events' ID numbers, staged once for the gate and write",
    "gate": "the silver Great Expectations suite",
    "merge": "MERGE into silver (keyed feeds) or replace the files' rows (events)",
    "ledger": "count each file's records and write the ledger rows",
}
_clock = threading.local()


def begin() -> None:
    """Start the current thread's source: its steps from zero."""
    _clock.seconds = dict.fromkeys(STEPS, 0.0)
    _clock.started = time.monotonic()


@contextmanager
def step(name: str) -> Iterator[None]:
    """Add the block's wall time to ``name`` (one of :data:`STEPS`) of the current source."""
    if name not in STEPS:
        raise ValueError(f"unknown ingest step {name!r}; steps are {', '.join(STEPS)}")
    started = time.monotonic()
    try:
        yield
    finally:
        seconds = getattr(_clock, "seconds", None)
        if seconds is not None:
            seconds[name] += time.monotonic() - started


def end() -> dict[str, float]:
    """The current source's seconds per step (rounded to 0.1 s) and ``total``."""
    seconds = getattr(_clock, "seconds", None) or dict.fromkeys(STEPS, 0.0)
    total = time.monotonic() - getattr(_clock, "started", time.monotonic())
    _clock.seconds = None
    return {k: round(v, 1) for k, v in seconds.items()} | {"total": round(total, 1)}
