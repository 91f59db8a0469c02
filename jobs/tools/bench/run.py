"""``diplake bench``: every stage at a chosen scale, timed as the commands users run.

    diplake bench [--scale city|small|demo] [--factor 0.3] [--out bench/results]
                  [--work DIR] [--variants] [--stages ingest,catalogue,...]

Each stage is the ``diplake`` command a person or a DAG would run, in its own
process, one after the other on a fresh home: generate, ingest, catalogue,
points, the DIP year's monthly run (points so far, indicators, the month's
proposal: ``diplake dip month``), clearing, fraud training, fraud scoring, and
the catalogue again with the auxiliary catalogue (``--auxiliary``). For each: wall time, records
per second and the peak resident memory of its whole process tree (the Python
driver and the JVM it starts), sampled every 0.2 s. In the same run the DuckDB
reference (:mod:`jobs.tools.bench.reference`) computes the catalogue and the points
from the same silver tables; the report gives the Spark/DuckDB ratio and says
whether both give the same catalogue and the same points.

``--factor`` scales the preset's insured persons and discharges (the
institutions stay), for the scaling series. ``--variants`` also times the
catalogue and the points with ``local[1]``, and through ``spark-submit`` on a
two-worker standalone cluster on this machine. ``--stages`` runs only the named
stages (generate and ingest always), without the DuckDB comparison: a wing's
stages against the core's, in a shorter run; ``--landing`` takes a city generated
before (``--city-landing``) instead of generating it.

Writes ``<out>/<date>-<label>.json`` (``scale``, ``total_seconds``,
``pipeline_seconds``, ``spark_duckdb_ratio`` and ``stages`` at its top level) and
``<out>/<date>-<label>.md``; ``pipeline_seconds`` is the sum of the :data:`PIPELINE` stages
(ingest through fraud scoring).

After the full ingest the generator lands the next day of every daily feed
(``diplake generate --next-day``) and ``increment`` times its ingest into the lake
of years (``increment_ratio``, with seconds per source and step). A full city run
also ingests the city at 0.3x with ``local[2]`` and ``local[1]``
(``ingest_core_speedup``; ``--no-cores`` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psutil

from jobs.config import ENV_PREFIX, REPO_ROOT, Config
from jobs.tools.bench.increments import land_until

BENCH_KEY = "bench-only-key"  # the bench's own throwaway lake: not a secret
SPARK_STAGES = ("catalogue", "points")
# The bureau's year-end pipeline, ingest through fraud scoring (``pipeline_seconds``).
# Writing the synthetic landing files stands in for the hospitals sending theirs, the
# next day's increment is the daily job, and the wings are reported beside the core.
PIPELINE = (
    "ingest",
    "catalogue",
    "points",
    "clearing",
    "fraud_features",
    "fraud_train",
    "fraud_score",
)
WINGS = (
    "dip_month",
    "procurement_month",
    "procurement_retention",
    "offsite_month",
    "catalogue_auxiliary",
)
CORE_FACTOR = 0.3  # the scale of the one-core/two-core ingest comparison
PROGRESS = "stages-done.json"  # in the work folder: the stages timed so far (--resume)


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    records: int = 0
    records_per_second: float = 0.0
    command: str = ""
    note: str = ""


@dataclass
class Result:
    scale: str
    factor: float
    label: str
    date: str
    machine: dict
    stages: dict[str, dict] = field(default_factory=dict)
    total_seconds: float = 0.0
    pipeline_seconds: float = 0.0  # the PIPELINE stages: ingest through fraud scoring
    # Like for like, whole processes: the two Spark commands against the reference's command
    # (each starts, imports, reads the silver tables, computes and writes its results).
    spark_duckdb_ratio: float | None = None
    # Compute against compute: the two jobs in a warm Spark session against the reference's
    # SQL inside its process.
    spark_duckdb_warm_ratio: float | None = None
    # The two figures the first runs compared: the commands against the reference's compute.
    spark_commands_duckdb_compute_ratio: float | None = None
    # The floor of the commands ratio: two processes that only start Spark, read one row of
    # the lake and stop (jobs.tools.bench.floor), against the reference's command.
    spark_floor_duckdb_ratio: float | None = None
    spark_floor_seconds: list[float] = field(default_factory=list)
    warm: dict = field(default_factory=dict)
    spark_catalogue_points_seconds: float | None = None
    duckdb_catalogue_points_seconds: float | None = None  # compute, inside its process
    duckdb_command_seconds: float | None = None  # the whole bench-reference command
    same_catalogue: bool | None = None
    same_points: bool | None = None
    variants: dict[str, dict] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    # The DIP year's criteria (issue 26): the monthly run against the points stage (at most
    # 2), the catalogue with its auxiliary catalogue against the catalogue (at most 1.5).
    dip_month_points_ratio: float | None = None
    auxiliary_catalogue_ratio: float | None = None
    # The procurement wing (issue 27): its monthly run against the points stage (at most 1).
    procurement_month_points_ratio: float | None = None
    # Issue 30. The next day of every daily feed ingested into the full lake, against the
    # full ingest (at most 0.08), with its seconds per source and step.
    increment_ratio: float | None = None
    increment_seconds: dict = field(default_factory=dict)
    # Fraud scoring and training against the points stage (at most 1.5 and 3).
    fraud_score_points_ratio: float | None = None
    fraud_train_points_ratio: float | None = None
    # The ingest at CORE_FACTOR x the scale on one core against two (at least 1.6).
    ingest_core_speedup: float | None = None
    ingest_cores: dict = field(default_factory=dict)
    # Every wing's stage against the points stage.
    wings_points_ratio: dict = field(default_factory=dict)


def machine() -> dict:
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    import pyspark

    return {
        "cpu": platform.processor() or _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "java": java.splitlines()[0] if java else "",
        "spark": pyspark.__version__,
        "os": platform.platform(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def timed(name: str, argv: list[str], env: dict[str, str], log: Path) -> Stage:
    """Run ``argv``; wall time and the peak RSS of its process tree (sampled)."""
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            root = psutil.Process(process.pid)
            while not done.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                    peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree))
                except psutil.Error:
                    pass
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    seconds = time.monotonic() - started
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bench stage {name} failed (exit {code}); see {log}:\n{tail}")
    return Stage(name, round(seconds, 1), round(peak[0] / 2**20), command=" ".join(argv[1:]))


def _table(path: Path, columns: list[str] | None = None):
    from deltalake import DeltaTable

    return DeltaTable(str(path)).to_pandas(columns=columns)


def _records(home: Path, year: int) -> dict[str, int]:
    """Records each stage handled, read from the lake it left (delta-rs, no Spark)."""
    lake = home / "lake"
    ledger = _table(lake / "ops" / "ingest_ledger", ["records_read"])
    coef = _table(lake / "gold" / "dip_level_coefficients", ["catalogue_version", "base_cases"])
    points = _table(lake / "gold" / "dip_case_points", ["settlement_year"])
    cases = int((points.settlement_year == year).sum())
    discharges = _table(lake / "silver" / "discharges", ["discharge_year"])
    landed = int(ledger.records_read.sum())
    return {
        "generate": landed,
        "ingest": landed,
        "catalogue": int(coef.base_cases[coef.catalogue_version == year].max()),
        "points": cases,
        "dip_month": cases,
        "procurement_month": _rows(lake / "silver" / "procurement_orders"),
        "procurement_retention": _rows(lake / "silver" / "vbp_agreements"),
        "offsite_month": _rows(lake / "silver" / "offsite_settlements"),
        "catalogue_auxiliary": int(coef.base_cases[coef.catalogue_version == year].max()),
        "clearing": cases,
        "fraud_train": int(discharges.discharge_year.isin([year - 1, year]).sum()),
        "fraud_score": cases,
    }


def _rows(path: Path) -> int:
    """Rows of a table, 0 when the lake has none (a city generated before the wing)."""
    return len(_table(path, ["record_id"])) if (path / "_delta_log").is_dir() else 0


def _budget(home: Path, year: int) -> str:
    """The year's fund payments, to the yuan: a budget of the right size for any scale."""
    d = _table(home / "lake" / "silver" / "discharges", ["discharge_year", "fund_paid"])
    total = sum((Decimal(str(v)) for v in d.fund_paid[d.discharge_year == year]), Decimal(0))
    return str(total.quantize(Decimal(1)))


def run(args: argparse.Namespace, cfg: Config) -> Result:
    from jobs.generate.knobs import preset

    knobs = preset(args.scale)
    if args.factor != 1:
        knobs = knobs.replace(
            insured=int(knobs.insured * args.factor),
            discharges_per_year=int(knobs.discharges_per_year * args.factor),
        )
    year = knobs.settlement_year
    label = args.scale if args.factor == 1 else f"{args.scale}-{args.factor:g}x"
    work = (args.work or cfg.home / "bench-work" / label).resolve()
    done_file = work / PROGRESS
    done = json.loads(done_file.read_text()) if args.resume and done_file.is_file() else {}
    if work.exists() and not done:
        shutil.rmtree(work)
    home, landing, logs = work / "home", work / "landing", work / "logs"
    for folder in (home, logs):
        folder.mkdir(parents=True, exist_ok=bool(done))
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env |= {
        "DIPLAKE_HOME": str(home),
        "DIPLAKE_LANDING": str(landing),
        "DIPLAKE_HMAC_KEY": BENCH_KEY,
        "DIPLAKE_SPARK_MASTER": args.bench_master,
    }
    diplake = [sys.executable, "-m", "jobs.cli"]
    result = Result(
        scale=label,
        factor=args.factor,
        label=label,
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
        machine=machine(),
    )
    steps = [
        ("generate", ["generate", *_knob_args(args, knobs)]),
        ("ingest", ["ingest"]),
        # The day after: one further day of every daily feed, into the lake of years.
        ("generate_next_day", ["generate", "--next-day", *_knob_args(args, knobs)]),
        ("increment", ["ingest"]),
        ("catalogue", ["catalogue", "--year", str(year)]),
        ("points", ["points", "--year", str(year), "--no-report"]),
        ("dip_month", ["dip", "month", "--year", str(year), "--month", "12"]),
        ("procurement_month", ["procurement", "month", "--year", str(year), "--month", "12"]),
        ("procurement_retention", ["procurement", "retention", "--year", str(year)]),
        ("offsite_month", ["offsite", "month", "--year", str(year), "--month", "12"]),
        ("clearing", None),  # the budget is known once the lake is
        ("fraud_features", ["fraud", "features", "--year", str(year)]),
        ("fraud_train", ["fraud", "train", "--year", str(year)]),
        ("fraud_score", ["fraud", "score", "--year", str(year)]),
        # Last: it rewrites catalogue Y with its auxiliary catalogue (same types).
        ("catalogue_auxiliary", ["catalogue", "--year", str(year), "--auxiliary"]),
    ]
    if args.stages:
        wanted = {"generate", "ingest", *args.stages}
        if "increment" in wanted:
            wanted.add("generate_next_day")
        steps = [(name, argv) for name, argv in steps if name in wanted]
    if args.city_landing:  # a city generated before, by the same generator: not generated again
        steps = [(name, argv) for name, argv in steps if name != "generate"]
    if args.city_landing and not done:
        landing.mkdir(parents=True, exist_ok=True)
        land_until(args.city_landing, landing, None)  # hard links: the next day lands here only
        # the truth is copied, not linked: the next day appends its defects to it
        shutil.copytree(args.city_landing / "_truth", landing / "_truth")
    stages: dict[str, Stage] = {name: Stage(**stage) for name, stage in done.items()}
    for name, argv in steps:
        if name in stages:
            print(f"bench {label}: {name} {stages[name].seconds:.1f} s (before the resume)")
            continue
        if name == "clearing":
            argv = ["clearing", "run", "--year", str(year), "--budget", _budget(home, year)]
        print(f"bench {label}: {name} ...", flush=True)
        stages[name] = timed(name, [*diplake, *argv], env, logs / f"{name}.log")
        print(f"bench {label}: {name} {stages[name].seconds:.1f} s", flush=True)
        done_file.write_text(json.dumps({n: asdict(x) for n, x in stages.items()}, indent=2))
    for name, n in _records(home, year).items():
        if name in stages:
            stages[name].records = n
            stages[name].records_per_second = round(n / stages[name].seconds)
    result.dip_month_points_ratio = _ratio(stages, "dip_month", "points")
    result.auxiliary_catalogue_ratio = _ratio(stages, "catalogue_auxiliary", "catalogue")
    result.procurement_month_points_ratio = _ratio(stages, "procurement_month", "points")
    result.increment_ratio = _ratio(stages, "increment", "ingest")
    if "increment" in stages:
        result.increment_seconds = increment_seconds(home)
    result.fraud_score_points_ratio = _ratio(stages, "fraud_score", "points")
    result.fraud_train_points_ratio = _ratio(stages, "fraud_train", "points")
    result.wings_points_ratio = {
        name: _ratio(stages, name, "points") for name in WINGS if name in stages
    }
    cores = args.cores
    if cores is None:  # on for a whole city run: its criterion is measured in the same run
        cores = args.scale == "city" and args.factor == 1 and not args.stages
    if cores:
        result.ingest_cores = ingest_cores(args, knobs, env, diplake, work, logs)
        result.ingest_core_speedup = result.ingest_cores["speedup"]
    if args.stages:
        result.stages = {name: asdict(s) for name, s in stages.items()}
        result.total_seconds = round(sum(s.seconds for s in stages.values()), 1)
        result.pipeline_seconds = pipeline_seconds(result.stages)
        return result
    reference = [sys.executable, "-m", "jobs.tools.bench.compare", "--year", str(year)]
    print(f"bench {label}: DuckDB reference ...", flush=True)
    ref_stage = timed("duckdb", reference, env, logs / "duckdb.log")
    compared = json.loads((logs / "duckdb.log").read_text().strip().splitlines()[-1])
    result.stages = {name: asdict(s) for name, s in stages.items()}
    result.total_seconds = round(sum(s.seconds for s in stages.values()), 1)
    result.pipeline_seconds = pipeline_seconds(result.stages)
    spark = sum(stages[s].seconds for s in SPARK_STAGES)
    duck = compared["seconds"]["catalogue"] + compared["seconds"]["points"]
    print(f"bench {label}: DuckDB reference as a command ...", flush=True)
    command = [*diplake, "bench-reference", "--year", str(year), "--out", str(work / "reference")]
    duck_command = timed("duckdb-command", command, env, logs / "duckdb-command.log")
    result.spark_catalogue_points_seconds = round(spark, 1)
    result.duckdb_catalogue_points_seconds = round(duck, 1)
    result.duckdb_command_seconds = duck_command.seconds
    result.spark_duckdb_ratio = round(spark / duck_command.seconds, 2)
    result.spark_commands_duckdb_compute_ratio = round(spark / duck, 2)
    result.same_catalogue = compared["same_catalogue"]
    result.same_points = compared["same_points"]
    print(f"bench {label}: two Spark commands that do nothing but start and read ...", flush=True)
    floor = [sys.executable, "-m", "jobs.tools.bench.floor", "--year", str(year)]
    floors = [timed(f"floor-{n}", floor, env, logs / f"floor-{n}.log").seconds for n in (1, 2)]
    result.spark_floor_seconds = floors
    result.spark_floor_duckdb_ratio = floor_ratio(floors, duck_command.seconds)
    result.figures = {
        "duckdb_process_seconds": ref_stage.seconds,
        "duckdb_peak_rss_mb": ref_stage.peak_rss_mb,
        **compared["figures"],
    }
    print(f"bench {label}: catalogue and points in one warm session ...", flush=True)
    warm_argv = [sys.executable, "-m", "jobs.tools.bench.warm", "--year", str(year)]
    timed("warm", warm_argv, env, logs / "warm.log")
    warm = json.loads((logs / "warm.log").read_text().strip().splitlines()[-1])
    result.warm = warm
    warm_spark = warm["catalogue_second"] + warm["points_second"]
    result.spark_duckdb_warm_ratio = round(warm_spark / duck, 2)
    if args.variants:
        result.variants = variants(year, env, diplake, logs)
    return result


def _knob_args(args: argparse.Namespace, knobs) -> list[str]:
    """The generator's flags for the bench's city (the preset, scaled by ``--factor``)."""
    return [
        "--scale",
        args.scale,
        "--insured",
        str(knobs.insured),
        "--discharges-per-year",
        str(knobs.discharges_per_year),
    ]


def increment_seconds(home: Path) -> dict:
    """The newest ingest report's seconds per source and step (jobs/ingest/steps.py): the
    increment's, the last ingest the bench ran before it reads it."""
    reports = sorted(
        (home / "reports").glob("ingest-*/report.json"), key=lambda p: p.stat().st_mtime
    )
    if not reports:
        return {}
    data = json.loads(reports[-1].read_text())["data"]
    return {
        "run_date": data["run_date"],
        "files": data["totals"]["files"],
        "records_read": data["totals"]["records_read"],
        "sources": data.get("seconds", {}),
    }


def ingest_cores(
    args: argparse.Namespace,
    knobs,
    env: dict[str, str],
    diplake: list[str],
    work: Path,
    logs: Path,
) -> dict:
    """The ingest of the city at CORE_FACTOR x its people and stays, into two fresh lakes,
    with ``local[2]`` and then ``local[1]``: how much the second core buys."""
    small = knobs.replace(
        insured=int(knobs.insured * CORE_FACTOR),
        discharges_per_year=int(knobs.discharges_per_year * CORE_FACTOR),
    )
    landing = work / "cores" / "landing"
    base = env | {"DIPLAKE_LANDING": str(landing)}
    generate = ["generate", *_knob_args(args, small)]  # as --factor 0.3 would
    print(f"bench: the {CORE_FACTOR:g}x city for the cores' comparison ...", flush=True)
    timed("cores-generate", [*diplake, *generate], base, logs / "cores-generate.log")
    out = {"factor": CORE_FACTOR}
    for master in ("local[2]", "local[1]"):
        home = work / "cores" / master.replace("[", "").replace("]", "")
        mine = base | {"DIPLAKE_HOME": str(home), "DIPLAKE_SPARK_MASTER": master}
        print(f"bench: ingest {CORE_FACTOR:g}x with {master} ...", flush=True)
        stage = timed(f"ingest-{master}", [*diplake, "ingest"], mine, logs / f"cores-{master}.log")
        out[master] = stage.seconds
        print(f"bench: ingest {CORE_FACTOR:g}x with {master} {stage.seconds:.1f} s", flush=True)
    out["speedup"] = round(out["local[1]"] / out["local[2]"], 2)
    return out


def _ratio(stages: dict[str, Stage], name: str, base: str) -> float | None:
    if name not in stages or base not in stages:
        return None
    return round(stages[name].seconds / stages[base].seconds, 2)


def variants(year: int, env: dict[str, str], diplake: list[str], logs: Path) -> dict:
    """Catalogue and points on one core, and on a two-worker standalone cluster."""
    from jobs import config
    from jobs.spark import submit_command
    from jobs.tools.cluster import standalone_cluster

    out = {}
    one = env | {"DIPLAKE_SPARK_MASTER": "local[1]"}
    for name, argv in (
        ("catalogue", ["catalogue", "--year", str(year)]),
        ("points", ["points", "--year", str(year), "--no-report"]),
    ):
        stage = timed(f"{name}-local1", [*diplake, *argv], one, logs / f"{name}-local1.log")
        out[f"{name}_local[1]"] = asdict(stage)
    cfg = config.load(env=env)
    with standalone_cluster(logs / "cluster", workers=2, cores=1, memory="3g") as cluster:
        for name, argv in (
            ("catalogue", ["catalogue", "--year", str(year)]),
            ("points", ["points", "--year", str(year), "--no-report"]),
        ):
            command = submit_command(
                cfg,
                REPO_ROOT / "jobs" / "cli.py",
                [*argv, "--lake", str(cfg.lake), "--home", str(cfg.home)],
                master=cluster.master_url,
                extra_conf={"spark.executor.memory": "3g", "spark.driver.memory": "4g"},
            )
            stage = timed(f"{name}-cluster", command, env, logs / f"{name}-cluster.log")
            out[f"{name}_cluster_2_workers"] = asdict(stage)
    return out


def floor_ratio(floors: list[float], duckdb_command_seconds: float) -> float:
    """The floor processes together (one per Spark command) against the DuckDB command."""
    return round(sum(floors) / duckdb_command_seconds, 2)


def pipeline_seconds(stages: dict[str, dict]) -> float:
    """The bureau's year-end pipeline: the seconds of the :data:`PIPELINE` stages run."""
    return round(sum(s["seconds"] for n, s in stages.items() if n in PIPELINE), 1)


def markdown(result: Result) -> str:
    m = result.machine
    lines = [
        f"# Benchmark {result.label}, {result.date}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, "
        f"Spark {m['spark']}, {m['java']}. Every stage is the `diplake` command, in its own "
        "process (JVM start included), on a fresh lake.",
        "",
        "| stage | wall s | records | records/s | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, s in result.stages.items():
        lines.append(
            f"| {name} | {s['seconds']:.1f} | {s['records']:,} | {s['records_per_second']:,} | "
            f"{s['peak_rss_mb']:,.0f} |"
        )
    lines += [
        f"| **total** | **{result.total_seconds:.1f}** | | | |",
        f"| **pipeline** (ingest to scoring) | **{result.pipeline_seconds:.1f}** "
        f"({result.pipeline_seconds / 60:.1f} min) | | | |",
        "",
        "## The DIP year against the core",
        "",
        f"- the monthly run (`diplake dip month`: points of the year so far, indicators, the "
        f"month's proposal) against the points stage: **ratio {result.dip_month_points_ratio}** "
        f"(target at most 2)",
        f"- the catalogue with its auxiliary catalogue (`--auxiliary`) against the catalogue: "
        f"**ratio {result.auxiliary_catalogue_ratio}** (target at most 1.5)",
        f"- the procurement month (`diplake procurement month`: completion, price lights, "
        f"settlement) against the points stage: **ratio {result.procurement_month_points_ratio}**"
        f" (target at most 1)",
    ]
    lines += _performance_lines(result)
    if result.spark_duckdb_ratio is None:  # a run of chosen stages: no comparison
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "## Spark against a single-node reference (DuckDB)",
        "",
        f"- **commands against command** (each a whole process that starts, reads the silver "
        f"tables, computes and writes its results): Spark `catalogue` + `points` "
        f"{result.spark_catalogue_points_seconds} s, `diplake bench-reference` "
        f"{result.duckdb_command_seconds} s: **ratio {result.spark_duckdb_ratio}**",
        f"- **compute against compute**: the two jobs in one warm Spark session (second "
        f"round: JVM started, code generated) catalogue {result.warm.get('catalogue_second')} s, "
        f"points {result.warm.get('points_second')} s, against the reference's SQL inside its "
        f"process {result.duckdb_catalogue_points_seconds} s: **ratio "
        f"{result.spark_duckdb_warm_ratio}** (first round: "
        f"{result.warm.get('catalogue_first')} s and {result.warm.get('points_first')} s)",
        f"- the Spark commands against the reference's compute alone (the figure of the first "
        f"runs): ratio {result.spark_commands_duckdb_compute_ratio}",
        f"- **the floor**: two Spark processes that only start the jobs' session, read one row "
        f"of the lake and stop (`python -m jobs.tools.bench.floor`) took "
        f"{' + '.join(f'{s:.1f}' for s in result.spark_floor_seconds)} s, **ratio "
        f"{result.spark_floor_duckdb_ratio}** against the reference's command before any "
        f"catalogue or points work",
        f"- same catalogue: **{result.same_catalogue}**; same case points: "
        f"**{result.same_points}**",
    ]
    for key, value in result.figures.items():
        lines.append(f"- {key}: {value}")
    if result.variants:
        lines += ["", "## Variants", "", "| run | wall s | peak RSS MB |", "| --- | ---: | ---: |"]
        for name, s in result.variants.items():
            lines.append(f"| {name} | {s['seconds']:.1f} | {s['peak_rss_mb']:,.0f} |")
    return "\n".join(lines) + "\n"


def _performance_lines(result: Result) -> list[str]:
    """Issue 30's figures: the day's increment, fraud against points, the two cores, wings."""
    lines = ["", "## Every day, fraud, two cores and the wings", ""]
    lines.append(
        f"- the next day's ingest into the full lake against the full ingest: **increment_ratio "
        f"{result.increment_ratio}** (target at most 0.08)"
    )
    lines.append(
        f"- fraud scoring against points: **{result.fraud_score_points_ratio}** (at most 1.5); "
        f"fraud training against points: **{result.fraud_train_points_ratio}** (at most 3)"
    )
    if result.ingest_cores:
        c = result.ingest_cores
        lines.append(
            f"- the ingest at {c['factor']:g}x city: `local[1]` {c['local[1]']} s, `local[2]` "
            f"{c['local[2]']} s: **ingest_core_speedup {result.ingest_core_speedup}** (at "
            "least 1.6)"
        )
    if result.wings_points_ratio:
        wings = ", ".join(f"{k} {v}" for k, v in result.wings_points_ratio.items())
        lines.append(f"- the wings against points: {wings}")
    sources = result.increment_seconds.get("sources", {})
    if sources:
        from jobs.ingest.steps import STEPS

        inc = result.increment_seconds
        lines += [
            "",
            f"The increment (run date {inc['run_date']}, {inc['files']} files, "
            f"{inc['records_read']:,} records), seconds per source and step:",
            "",
            "| source | " + " | ".join(STEPS) + " | total |",
            "| --- | " + " | ".join("---:" for _ in STEPS) + " | ---: |",
        ]
        for name, sec in sources.items():
            if name == "run":
                continue
            cells = " | ".join(f"{sec.get(k, 0):.1f}" for k in STEPS)
            lines.append(f"| {name} | {cells} | {sec.get('total', 0):.1f} |")
        run = sources.get("run", {})
        lines.append(
            f"\nBefore any source: finding the new files (checksums) {run.get('discover')} s, "
            f"starting {run.get('start')} s."
        )
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="city", choices=("demo", "small", "city"))
    parser.add_argument(
        "--factor", type=float, default=1.0, help="scale insured and discharges (0.1, 0.3, 1)"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--work", type=Path, help="scratch folder (default <home>/bench-work)")
    parser.add_argument(
        "--bench-master", dest="bench_master", default="local[2]", help="Spark master of the stages"
    )
    parser.add_argument(
        "--variants", action="store_true", help="also local[1] and a 2-worker cluster"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run of this --work folder after the last stage it finished "
        "(a stage that failed is run again; the stages before keep their times)",
    )
    parser.add_argument(
        "--cores",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"also ingest the city at {CORE_FACTOR:g}x with local[1] and local[2] "
        "(ingest_core_speedup; default: on for a full city run)",
    )
    parser.add_argument(
        "--city-landing",
        dest="city_landing",
        type=Path,
        help="a landing zone `diplake generate --scale <scale>` wrote before: skip generating",
    )
    parser.add_argument(
        "--stages",
        type=lambda text: [s for s in text.split(",") if s],
        help="only these stages, comma-separated (generate and ingest always; no DuckDB "
        "comparison): e.g. catalogue,points,dip_month,catalogue_auxiliary",
    )


def output_paths(out: Path, date: str, label: str) -> tuple[Path, Path]:
    """``<out>/<date>-<label>.json`` and ``.md`` (not with_suffix: city-0.1x keeps its .1x)."""
    stem = f"{date}-{label}"
    return out / f"{stem}.json", out / f"{stem}.md"


def command(cfg: Config, args: argparse.Namespace) -> int:
    result = run(args, cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    as_json, as_md = output_paths(args.out, result.date, result.label)
    as_json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    as_md.write_text(markdown(result))
    print(markdown(result))
    print(f"written {as_json} and {as_md}")
    return 0
