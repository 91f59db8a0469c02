"""The ingest's clock: seconds per source and step, per thread (jobs/ingest/steps.py)."""

from __future__ import annotations

import threading
import time

import pytest

from jobs.ingest import steps


def test_steps_add_up_per_thread_and_unknown_steps_are_refused():
    got = {}

    def source(name: str, pause: float) -> None:
        steps.begin()
        with steps.step("read"):
            time.sleep(pause)
        with steps.step("read"):  # a step met twice adds up
            time.sleep(pause)
        with steps.step("merge"):
            time.sleep(pause / 2)
        got[name] = steps.end()

    threads = [
        threading.Thread(target=source, args=("slow", 0.2)),
        threading.Thread(target=source, args=("quick", 0.05)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slow, quick = got["slow"], got["quick"]
    assert slow["read"] >= 0.4 and slow["merge"] >= 0.1
    # the other thread's steps are not its own (shared, it would hold 0.5 s of reads and more)
    assert 0.1 <= quick["read"] < 0.4 and quick["merge"] < slow["read"]
    assert slow["gate"] == 0.0 and set(steps.STEPS) <= set(slow)
    assert slow["total"] >= slow["read"] + slow["merge"]
    steps.begin()
    with pytest.raises(ValueError, match="unknown ingest step"), steps.step("reading"):
        pass
