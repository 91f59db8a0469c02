"""Run the ingest's sources side by side, each only after the sources it reads.

The sources of one landing zone are mostly independent: every feed checks its
institution codes against ``silver/institutions``, and the settlement lists also
check enrolment against ``silver/insured_persons``; nothing else reads another
source's silver. Several sources on the two cores of a small machine keep both
busy while one of them waits on a Delta commit, a quality suite or the driver.

:func:`run` takes the work as plain callables, so the rules (dependencies first,
a failure stops what depends on it, nothing already started is abandoned) are
tested without Spark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What became of each task: its result, or the first error (and which task raised it)."""

    results: dict[str, T] = field(default_factory=dict)
    failed: str | None = None
    error: BaseException | None = None
    not_started: list[str] = field(default_factory=list)


def run(
    tasks: Mapping[str, Callable[[], T]],
    depends_on: Mapping[str, Sequence[str]],
    order: Sequence[str],
    workers: int,
) -> Outcome[T]:
    """Run ``tasks`` on ``workers`` threads, each once its ``depends_on`` have succeeded.

    A dependency that is not among ``tasks`` has nothing to do and counts as met.
    Ready tasks start in ``order`` (longest chains first pays). After a failure no
    new task starts; the running ones finish, so their work is not left half done.
    """
    unknown = [name for name in tasks if name not in order]
    if unknown:
        raise ValueError(f"tasks missing from the order: {unknown}")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    outcome: Outcome[T] = Outcome()
    pending = [name for name in order if name in tasks]
    running: dict[Future, str] = {}

    def ready(name: str) -> bool:
        return all(d in outcome.results or d not in tasks for d in depends_on.get(name, ()))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        while True:
            if outcome.error is None:
                for name in [n for n in pending if ready(n)][: workers - len(running)]:
                    pending.remove(name)
                    running[pool.submit(tasks[name])] = name
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                try:
                    outcome.results[name] = future.result()
                except Exception as error:  # kept; the caller re-raises it
                    log.error("%s failed: %s", name, error)
                    if outcome.error is None:
                        outcome.failed, outcome.error = name, error
    outcome.not_started = pending
    return outcome
