"""``diplake bench-report``: the scaling series of bench/results/*.json in one page.

    diplake bench-report [--results bench/results] [--out bench/REPORT.md]

For the runs of one machine and date range: each stage's wall time against the
records it handled, how time grows with data (the slope of log time against log
records between the smallest and the largest run: 1 is linear), and a plot.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from jobs.config import REPO_ROOT, Config
from jobs.tools.bench.run import pipeline_seconds


def load(folder: Path) -> list[dict]:
    """The newest run of each label (scale and factor), smallest first; older runs stay on
    disk as the record of what was measured before."""
    newest: dict[str, dict] = {}
    for path in sorted(folder.glob("*.json")):  # <date>-<label>: later dates sort later
        run = json.loads(path.read_text())
        if "label" not in run or "stages" not in run:  # another measurement (bench-increments)
            continue
        newest[run["label"]] = run
    return sorted(newest.values(), key=lambda r: r["stages"]["ingest"]["records"])


def _ratios(r: dict) -> tuple:
    """(DuckDB command s, commands ratio, Spark warm s, DuckDB compute s, compute ratio,
    commands / compute) of a run; the first runs' ``spark_duckdb_ratio`` was the last."""
    warm = r.get("warm") or {}
    spark_warm = None
    if "catalogue_second" in warm:
        spark_warm = round(warm["catalogue_second"] + warm["points_second"], 1)
    command = r.get("duckdb_command_seconds")
    old = command is None
    return (
        command,
        None if old else r["spark_duckdb_ratio"],
        spark_warm,
        r["duckdb_catalogue_points_seconds"],
        r.get("spark_duckdb_warm_ratio"),
        r["spark_duckdb_ratio"] if old else r.get("spark_commands_duckdb_compute_ratio"),
    )


def _floor(r: dict) -> tuple:
    """(seconds of the two floor processes, their ratio to the DuckDB command) of a run;
    dashes for a run that predates :mod:`jobs.tools.bench.floor`."""
    floors = r.get("spark_floor_seconds")
    if not floors:
        return (None, None)
    return (round(sum(floors), 1), r["spark_floor_duckdb_ratio"])


def _or_dash(value) -> str:
    return "—" if value is None else f"{value}"


def _having(runs: list[dict], stage: str) -> list[dict]:
    """The runs that timed ``stage`` (a stage added later is missing from older runs)."""
    return [r for r in runs if stage in r["stages"]]


def growth(runs: list[dict], stage: str) -> float | None:
    """d log(seconds) / d log(records) between the smallest and the largest run."""
    runs = _having(runs, stage)
    if len(runs) < 2:
        return None
    small, large = runs[0]["stages"][stage], runs[-1]["stages"][stage]
    if small["records"] <= 0 or large["records"] <= small["records"]:
        return None
    return math.log(large["seconds"] / small["seconds"]) / math.log(
        large["records"] / small["records"]
    )


def marginal(runs: list[dict], stage: str) -> float | None:
    """Seconds per million more records between the two largest runs (fixed costs removed)."""
    runs = _having(runs, stage)
    if len(runs) < 2:
        return None
    small, large = runs[-2]["stages"][stage], runs[-1]["stages"][stage]
    extra = large["records"] - small["records"]
    if extra <= 0:
        return None
    return (large["seconds"] - small["seconds"]) / extra * 1e6


def write(runs: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["label"] for r in runs]
    stages = list(runs[-1]["stages"])  # in the order the bench ran them
    lines = [
        "# Benchmarks: every stage at several scales",
        "",
        f"Machine: {runs[-1]['machine']['cpu']}, {runs[-1]['machine']['cores']} cores, "
        f"{runs[-1]['machine']['memory_gb']} GB. Each stage is its `diplake` command in its "
        "own process on a fresh lake (`make bench SCALE=city FACTOR=…`); one file per run in "
        "`bench/results/`. Growth: the slope of log(seconds) against log(records) from the "
        "smallest to the largest run (1 = linear, below 1 = fixed costs still matter); "
        "marginal: seconds per million more records between the two largest runs.",
        "",
        "Each column is the newest run of its scale (its date beside the label): runs of "
        "different dates ran different code, and growth between them mixes both.",
        "",
        "| stage | "
        + " | ".join(f"{r['label']} ({r.get('date', '?')}) s" for r in runs)
        + " | growth | marginal s/M records |",
        "| --- | " + " | ".join("---:" for _ in labels) + " | ---: | ---: |",
    ]
    for stage in stages:
        g, m = growth(runs, stage), marginal(runs, stage)
        cells = " | ".join(
            f"{r['stages'][stage]['seconds']:.1f}" if stage in r["stages"] else "—" for r in runs
        )
        lines.append(
            f"| {stage} | {cells} | {'' if g is None else f'{g:.2f}'} | "
            f"{'' if m is None else f'{m:.1f}'} |"
        )
    totals = " | ".join(f"**{r['total_seconds']:.0f}**" for r in runs)
    lines.append(f"| **total** | {totals} | | |")
    pipeline = " | ".join(f"**{pipeline_seconds(r['stages']):.0f}**" for r in runs)
    lines.append(f"| **pipeline** (ingest through fraud scoring) | {pipeline} | | |")
    records = " | ".join(f"{r['stages']['ingest']['records']:,}" for r in runs)
    lines += [
        f"| records landed | {records} | | |",
        "",
        "Catalogue + points. Commands: each a whole process (Spark: `diplake catalogue` and "
        "`diplake points`; DuckDB: `diplake bench-reference`). Compute: inside a process "
        "(Spark: a warm session's second round; DuckDB: its SQL). Floor: two Spark processes "
        "that only start the jobs' session, read one row of the lake and stop, against the "
        "DuckDB command (no job's own work can take the commands ratio below it). A dash: the "
        "run predates that figure.",
        "",
        "| run | Spark commands s | DuckDB command s | **commands ratio** | Spark warm s | "
        "DuckDB compute s | **compute ratio** | commands / compute | Spark floor s | "
        "**floor ratio** | same catalogue | same points |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in runs:
        lines.append(
            f"| {r['label']} | {r['spark_catalogue_points_seconds']} | "
            + " | ".join(_or_dash(v) for v in (*_ratios(r), *_floor(r)))
            + f" | {r['same_catalogue']} | {r['same_points']} |"
        )
    lines += _performance(runs)
    variants = [r for r in runs if r.get("variants")]
    if variants:
        lines += ["", "| variant | run | wall s |", "| --- | --- | ---: |"]
        for r in variants:
            for name, v in r["variants"].items():
                lines.append(f"| {name} | {r['label']} | {v['seconds']:.1f} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5))
    for stage in stages:
        xs = [r["stages"][stage]["records"] for r in _having(runs, stage)]
        ys = [r["stages"][stage]["seconds"] for r in _having(runs, stage)]
        ax.plot(xs, ys, marker="o", label=stage)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="records handled by the stage",
        ylabel="wall seconds",
        title="Time against data size (log-log; slope 1 = linear)",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    plot = out.with_name("scaling.png")
    fig.savefig(plot, dpi=110)
    plt.close(fig)
    lines += ["", f"![time against data size]({plot.name})", ""]
    out.write_text("\n".join(lines))
    return out


# Issue 30's figures, each a ratio within one run, with its target.
PERFORMANCE = (
    ("increment_ratio", "the next day's ingest / the full ingest", "at most 0.08"),
    ("fraud_score_points_ratio", "fraud scoring / points", "at most 1.5"),
    ("fraud_train_points_ratio", "fraud training / points", "at most 3"),
    ("ingest_core_speedup", "ingest at 0.3x: local[1] / local[2]", "at least 1.6"),
    ("pipeline_seconds", "ingest through fraud scoring, s", "at most 900"),
)


def _performance(runs: list[dict]) -> list[str]:
    """The day's increment, fraud against points, two cores, the pipeline, and the wings
    against points, for each run that measured them."""
    measured = [r for r in runs if r.get("increment_ratio") is not None]
    if not measured:
        return []
    lines = [
        "",
        "Every day, fraud, two cores (one run each; a dash: not measured in that run):",
        "",
        "| figure | target | " + " | ".join(r["label"] for r in measured) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in measured) + " |",
    ]
    for key, what, target in PERFORMANCE:
        cells = " | ".join(_or_dash(r.get(key)) for r in measured)
        lines.append(f"| {what} (`{key}`) | {target} | {cells} |")
    wings = sorted({w for r in measured for w in r.get("wings_points_ratio", {})})
    for wing in wings:
        cells = " | ".join(_or_dash(r.get("wings_points_ratio", {}).get(wing)) for r in measured)
        lines.append(f"| {wing} / points | — | {cells} |")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "REPORT.md")


def command(cfg: Config, args: argparse.Namespace) -> int:
    del cfg
    runs = load(args.results)
    if not runs:
        print(f"no benchmark results in {args.results}: run `make bench` first")
        return 1
    print(f"written {write(runs, args.out)}")
    return 0
