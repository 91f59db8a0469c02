"""The ingest's source scheduler (jobs/ingest/schedule.py), with plain callables for sources."""

import threading
import time

import pytest

from jobs.ingest import schedule
from jobs.ingest.run import DEPENDS_ON, PRIORITY, SOURCES


class Recorder:
    """Tasks that note when they start and end, and can be held until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.most_at_once = 0

    def task(self, name: str, seconds: float = 0.02, fail: bool = False):
        def body() -> str:
            with self.lock:
                self.events.append(("start", name))
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
            time.sleep(seconds)
            with self.lock:
                self.running -= 1
                self.events.append(("end", name))
            if fail:
                raise RuntimeError(f"{name} broke")
            return name.upper()

        return body

    def index(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))


def test_a_source_starts_only_after_what_it_reads_has_finished():
    rec = Recorder()
    tasks = {
        "institutions": rec.task("institutions"),
        "insured_registry": rec.task("insured_registry", 0.2),
        "fee_details": rec.task("fee_details", 0.05),
        "settlement_lists": rec.task("settlement_lists"),
    }
    outcome = schedule.run(tasks, DEPENDS_ON, PRIORITY, workers=2)
    assert outcome.error is None and outcome.not_started == []
    assert outcome.results == {name: name.upper() for name in tasks}
    for source, needs in DEPENDS_ON.items():
        for need in needs:
            if source in tasks:
                assert rec.index("end", need) < rec.index("start", source)
    # The fee details did not wait for the registry: they ran beside it.
    assert rec.index("start", "fee_details") < rec.index("end", "insured_registry")
    assert rec.most_at_once == 2


def test_never_more_at_once_than_the_workers():
    rec = Recorder()
    tasks = {name: rec.task(name) for name in SOURCES}
    outcome = schedule.run(tasks, DEPENDS_ON, PRIORITY, workers=3)
    assert sorted(outcome.results) == sorted(SOURCES)
    assert rec.most_at_once <= 3
    assert rec.index("start", "institutions") == 0  # everything reads the institutions


def test_a_dependency_with_nothing_new_counts_as_met():
    rec = Recorder()
    outcome = schedule.run({"settlement_lists": rec.task("settlement_lists")}, DEPENDS_ON,
                           PRIORITY, workers=2)  # fmt: skip
    assert outcome.results == {"settlement_lists": "SETTLEMENT_LISTS"}


def test_a_failure_starts_nothing_new_and_lets_the_running_source_finish():
    rec = Recorder()
    tasks = {
        "institutions": rec.task("institutions"),
        "insured_registry": rec.task("insured_registry", 0.02, fail=True),
        "fee_details": rec.task("fee_details", 0.3),
        "settlement_lists": rec.task("settlement_lists"),
        "outpatient_pharmacy": rec.task("outpatient_pharmacy"),
    }
    outcome = schedule.run(tasks, DEPENDS_ON, PRIORITY, workers=2)
    assert outcome.failed == "insured_registry"
    assert str(outcome.error) == "insured_registry broke"
    assert outcome.results == {"institutions": "INSTITUTIONS", "fee_details": "FEE_DETAILS"}
    assert outcome.not_started == ["settlement_lists", "outpatient_pharmacy"]
    assert ("start", "settlement_lists") not in rec.events


def test_one_worker_runs_in_priority_order():
    rec = Recorder()
    tasks = {name: rec.task(name, 0.001) for name in SOURCES}
    schedule.run(tasks, DEPENDS_ON, PRIORITY, workers=1)
    assert [name for kind, name in rec.events if kind == "start"] == list(PRIORITY)


def test_every_source_is_in_the_priority_once():
    assert sorted(PRIORITY) == sorted(SOURCES)
    with pytest.raises(ValueError, match="missing from the order"):
        schedule.run({"nowhere": lambda: None}, {}, PRIORITY, workers=2)
