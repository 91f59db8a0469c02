"""A real Spark standalone cluster on loopback, from pyspark's own ``bin/spark-class``.

Used by the cluster test and the benchmarks to show that the jobs run through
``spark-submit --master spark://…`` unchanged. It binds 127.0.0.1 only, and
stops every process it started by PID, even when the caller fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jobs.spark import spark_home

HOST = "127.0.0.1"


class ClusterError(RuntimeError):
    """The cluster did not come up; the message carries the tail of its logs."""


@dataclass
class StandaloneCluster:
    master_url: str
    web_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def alive_workers(self) -> int:
        with urllib.request.urlopen(self.web_url + "/json/", timeout=5) as response:
            state = json.load(response)
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports: every socket is held until all are chosen."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait(predicate, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError):  # not listening yet, or not yet the master's JSON
            pass
        time.sleep(0.5)
    tails = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in logs if p.exists())
    raise ClusterError(f"{what} not ready after {timeout:.0f}s\n{tails}")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def standalone_cluster(
    workdir: Path, workers: int = 1, cores: int = 1, memory: str = "1g", timeout: float = 120
) -> Iterator[StandaloneCluster]:
    """Start a master and ``workers`` workers on 127.0.0.1; stop them all on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_MASTER_HOST": HOST,
        "SPARK_DAEMON_MEMORY": "512m",
        "SPARK_WORKER_DIR": str(workdir / "work"),
        "SPARK_LOG_DIR": str(workdir / "logs"),
    }
    # All ports chosen at once, so a worker's UI can never be handed the master's.
    port, web_port, *worker_ports = free_ports(2 + workers)
    cluster = StandaloneCluster(f"spark://{HOST}:{port}", f"http://{HOST}:{web_port}")
    logs: list[Path] = []

    def launch(name: str, args: list[str]) -> None:
        log = workdir / f"{name}.log"
        logs.append(log)
        with log.open("w") as out:
            cluster.processes.append(
                subprocess.Popen(
                    [spark_class, *args],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, so stop() reaches the JVM
                )
            )

    try:
        launch(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                HOST,
                "--port",
                str(port),
                "--webui-port",
                str(web_port),
            ],
        )
        _wait(lambda: _port_open(port) and _port_open(web_port), timeout, "master", logs)
        for i in range(workers):
            launch(
                f"worker-{i}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    cluster.master_url,
                    "--host",
                    HOST,
                    "--cores",
                    str(cores),
                    "--memory",
                    memory,
                    "--webui-port",
                    str(worker_ports[i]),
                    "--work-dir",
                    str(workdir / "work"),
                ],
            )
        _wait(lambda: cluster.alive_workers() >= workers, timeout, f"{workers} worker(s)", logs)
        yield cluster
    finally:
        _stop(cluster.processes)
