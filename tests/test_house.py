"""The walls of the house (docs/architecture.md), kept by reading every module's imports.

Each module of ``jobs/`` and ``dags/`` is parsed with ``ast`` (nothing is
executed), every import in it is resolved to a module of the project (imports
inside functions included), and each is checked against the floor plan:

- the ground floor (``jobs/*.py`` but the doors) imports nothing above it;
- a wing (a package of ``jobs/`` other than ``ops`` and ``tools``) never imports
  the doors (``jobs.cli``, ``jobs.pipeline``, ``dags/``), the lake-wide jobs or
  the tools, nor another wing unless :data:`WING_BUILDS_ON` says it builds on it;
- the lake-wide jobs (``jobs/ops/``) stand on the ground floor only;
- the DAGs reach the project only through ``jobs.pipeline``; the Airflow plugins
  (``plugins/``) stand on the ground floor;
- nothing imports ``dags/`` or ``plugins/``.

A crossing fails the test with the file and line that makes it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOORS = frozenset({"jobs.cli", "jobs.pipeline"})
# The modules the root of jobs/ may hold: the ground floor and the doors, nothing else.
ROOT_MODULES = frozenset(
    {
        "config",
        "spark",
        "lake",
        "quality",
        "vocab",
        "terms",
        "pseudonymise",
        "site",
        "cli",
        "pipeline",
    }
)
OUTSIDE_WINGS = frozenset({"ops", "tools"})
# wing -> the wings whose code it may import. Keep this short: a wing reads another
# wing's tables, not its code.
WING_BUILDS_ON: dict[str, frozenset[str]] = {
    "clearing": frozenset({"dip"}),
    # The exact money arithmetic (jobs/dip/exact.py): rounding once, to the fen.
    "procurement": frozenset({"dip"}),
    # The off-site evaluation scores the rule base's off-site rule (FR10) on the truth.
    "offsite": frozenset({"fraud"}),
}


@dataclass(frozen=True)
class Crossing:
    file: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.imported}: {self.rule}"


def module_name(root: Path, path: Path) -> str:
    """jobs/dip/points.py -> jobs.dip.points; dags/x.py -> dags.x."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(root: Path, name: str) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, project module) for every import in ``path``, ``from a import b`` resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, "relative import"))  # the house spells imports out
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.append((node.lineno, child if is_module(root, child) else node.module))
    if path.parent.name == "dags":  # Airflow puts dags/ on the path: `import _common`
        found = [(n, f"dags.{m}" if is_module(root, f"dags.{m}") else m) for n, m in found]
    return [
        (n, m)
        for n, m in found
        if m.split(".")[0] in ("jobs", "dags", "plugins", "relative import")
    ]


def kind(name: str, packages: frozenset[str]) -> tuple[str, str | None]:
    """The floor of a module: door, dag, plugin, ground, ops, tools or wing (with the wing's
    name); ``packages``: the packages of jobs/."""
    parts = name.split(".")
    if parts[0] == "dags":
        return "dag", None
    if parts[0] == "plugins":
        return "plugin", None
    if name in DOORS or any(name.startswith(d + ".") for d in DOORS):
        return "door", None
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in packages):
        return "ground", None
    if parts[1] in OUTSIDE_WINGS:
        return parts[1], None
    return "wing", parts[1]


def packages_of(root: Path) -> frozenset[str]:
    return frozenset(p.parent.name for p in (root / "jobs").glob("*/__init__.py"))


def rule_broken(importer: str, imported: str, packages: frozenset[str]) -> str | None:
    if imported == "relative import":
        return "a relative import: name the module in full, so the walls can be read"
    (mine, my_wing), (theirs, their_wing) = kind(importer, packages), kind(imported, packages)
    if theirs == "dag" and mine != "dag":
        return "nothing imports dags/"
    if theirs == "plugin":
        return "nothing imports plugins/"
    if mine == "plugin" and theirs != "ground":
        return "an Airflow plugin stands on the ground floor only"
    if mine == "ground" and theirs != "ground":
        return "the ground floor imports nothing above it"
    if mine == "wing":
        if theirs in ("door", "dag"):
            return "a wing never imports the doors (cli, pipeline, DAGs)"
        if theirs in OUTSIDE_WINGS:
            return f"a wing never imports jobs.{theirs}"
        allowed = WING_BUILDS_ON.get(my_wing, frozenset()) | {my_wing}
        if theirs == "wing" and their_wing not in allowed:
            return f"wing {my_wing} does not import wing {their_wing}: read its tables"
    if mine == "ops" and theirs not in ("ground", "ops"):
        return "a lake-wide job stands on the ground floor only"
    if mine == "dag" and theirs not in ("dag", "door"):
        return "a DAG reaches the project only through jobs.pipeline"
    if mine == "dag" and theirs == "door" and imported != "jobs.pipeline":
        return "a DAG reaches the project only through jobs.pipeline"
    return None


def crossings(root: Path) -> list[Crossing]:
    packages = packages_of(root)
    files = sorted(
        [
            *(root / "jobs").rglob("*.py"),
            *(root / "dags").glob("*.py"),
            *(root / "plugins").glob("*.py"),
        ]
    )
    out = []
    for path in files:
        importer = module_name(root, path)
        for line, imported in imports(root, path):
            rule = rule_broken(importer, imported, packages)
            if rule:
                out.append(Crossing(str(path.relative_to(root)), line, imported, rule))
    return out


def test_every_module_keeps_the_walls():
    found = crossings(REPO)
    assert not found, "walls crossed:\n" + "\n".join(map(str, found))


def test_the_root_of_jobs_holds_the_ground_floor_and_the_doors_only():
    modules = {p.stem for p in (REPO / "jobs").glob("*.py")} - {"__init__"}
    assert modules == ROOT_MODULES, "a new module at the root: a wing, ops or tools?"


def test_the_floor_plan_is_read_as_documented():
    packages = packages_of(REPO)
    assert kind("jobs.lake", packages) == ("ground", None)
    assert kind("jobs", packages) == ("ground", None)
    assert kind("jobs.pipeline", packages) == ("door", None)
    assert kind("jobs.dip.points", packages) == ("wing", "dip")
    assert kind("jobs.dip", packages) == ("wing", "dip")
    assert kind("jobs.ops.maintain", packages) == ("ops", None)
    assert kind("jobs.tools.bench.run", packages) == ("tools", None)
    assert kind("dags._common", packages) == ("dag", None)
    assert kind("plugins.dip_reports", packages) == ("plugin", None)
    assert packages - OUTSIDE_WINGS >= {"generate", "ingest", "dip", "clearing", "fraud"}


def _plant(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_planted_crossing_is_named_with_its_file_and_line(tmp_path):
    _plant(
        tmp_path,
        {
            "jobs/__init__.py": "",
            "jobs/lake.py": "import os\n",
            "jobs/terms.py": "",
            "jobs/cli.py": "from jobs import pipeline\n",
            "jobs/pipeline.py": "from jobs.fraud import score\n",
            "jobs/fraud/__init__.py": "",
            "jobs/fraud/score.py": "from jobs import lake, terms\n\n\ndef f():\n"
            "    from jobs.ingest.batch import stage\n    from jobs import cli\n",
            "jobs/ingest/__init__.py": "",
            "jobs/ingest/batch.py": "from jobs.lake import table_path\n",
            "jobs/generate/__init__.py": "",
            "jobs/generate/fraud.py": "import jobs.fraud.score\n",
            "jobs/dip/__init__.py": "",
            "jobs/dip/exact.py": "",
            "jobs/clearing/__init__.py": "",
            "jobs/clearing/allocate.py": "from jobs.dip.exact import x\n",
            "jobs/ops/__init__.py": "",
            "jobs/ops/maintain.py": "from jobs.tools import demo\n",
            "jobs/dip/report.py": "from jobs.tools import demo\nfrom jobs.ops import maintain\n"
            "from .exact import x\n",
            "jobs/spark.py": "from jobs import pipeline\nimport dags._common\n",
            "jobs/tools/__init__.py": "",
            "jobs/tools/demo.py": "from jobs import pipeline\nfrom jobs.generate import fraud\n",
            "jobs/vocab.py": "from jobs.dip import exact\n",
            "dags/_common.py": "",
            "dags/d.py": "from _common import x\nfrom jobs import pipeline\n"
            "from jobs.dip import exact\n",
            "plugins/p.py": "from jobs import config\nfrom jobs.fraud import score\n",
        },
    )
    found = {(c.file, c.line, c.imported) for c in crossings(tmp_path)}
    assert found == {
        ("jobs/fraud/score.py", 5, "jobs.ingest.batch"),  # fraud never imports ingest
        ("jobs/fraud/score.py", 6, "jobs.cli"),  # a wing never imports a door
        ("jobs/generate/fraud.py", 1, "jobs.fraud.score"),  # the generator imports no wing
        ("jobs/ops/maintain.py", 1, "jobs.tools.demo"),  # ops stand on the ground floor
        ("jobs/vocab.py", 1, "jobs.dip.exact"),  # the ground floor imports no wing
        ("dags/d.py", 3, "jobs.dip.exact"),  # DAGs go through the pipeline
        ("plugins/p.py", 2, "jobs.fraud.score"),  # a plugin stands on the ground floor
        ("jobs/dip/report.py", 1, "jobs.tools.demo"),  # a wing never imports tools
        ("jobs/dip/report.py", 2, "jobs.ops.maintain"),  # nor the lake-wide jobs
        ("jobs/dip/report.py", 3, "relative import"),  # every import spelled out
        ("jobs/spark.py", 1, "jobs.pipeline"),  # the ground floor imports no door
        ("jobs/spark.py", 2, "dags._common"),  # nothing imports dags/
    }
