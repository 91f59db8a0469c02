"""The bureau's reports as one site: the jobs write facts, one step renders the pages.

A job that reports writes a *report folder* ``<home>/reports/<report_id>/``: its
plots (PNG) and one ``report.json`` (:func:`write_report`) holding the kind, title,
year (and month where the wing works monthly), run id, status (draft, published,
final …), date, the Delta versions the job read, and the kind's data (money as
exact decimal strings). ``diplake reports build`` (:func:`build`) renders every
folder's pages with the function its kind registered (:func:`pages`) and that
wing's Jinja2 templates, then the home page by year and month, the data-quality
page, and a copy of the Great Expectations Data Docs, all in one layout with one
navigation and relative links only. Nothing here starts Spark: the build is the
last task of every DAG that writes a report, and takes a second.

How a wing adds its page (docs/architecture.md, "A wing's report page"): write
the facts with :func:`write_report`, add ``jobs/<wing>/templates/<kind>.html``
extending ``layout.html``, and register one function in ``jobs/<wing>/pages.py``::

    @site.pages("procurement")
    def procurement(report: site.Report) -> list[site.Page]:
        return [site.Page("index.html", "procurement.html", {"lights": report.data["lights"]})]

then list the module in :data:`jobs.pipeline.PAGE_MODULES`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

FACTS = "report.json"
HOME = "index.html"
QUALITY = "quality/index.html"
DATA_DOCS = "data-docs"
INDEX_JSON = "index.json"
TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (("Reports", HOME), ("Data quality", QUALITY))


@dataclass(frozen=True)
class Report:
    """One report folder's facts, as its job wrote them."""

    id: str
    kind: str
    title: str
    year: int
    month: int | None
    run_id: str
    status: str
    created: str
    reads: Mapping[str, int]
    data: Mapping[str, Any]
    folder: Path = field(compare=False)


@dataclass(frozen=True)
class Page:
    """A page of a report: where (relative to its folder), which template, what it shows."""

    path: str
    template: str
    context: Mapping[str, Any]
    title: str | None = None


PageFunction = Callable[[Report], list[Page]]
_PAGES: dict[str, PageFunction] = {}
_TEMPLATE_FOLDERS: list[Path] = [TEMPLATES]


def pages(kind: str) -> Callable[[PageFunction], PageFunction]:
    """Register the function that turns a ``kind`` of report into its pages.

    The templates folder beside the registering module (``jobs/<wing>/templates``)
    joins the search path, so a wing's templates live with its code.
    """

    def register(function: PageFunction) -> PageFunction:
        if _PAGES.get(kind, function) is not function:
            raise ValueError(f"report kind {kind!r} already has a page function")
        _PAGES[kind] = function
        module = sys.modules[function.__module__].__file__ or ""
        folder = Path(module).resolve().parent / "templates"
        if folder.is_dir() and folder not in _TEMPLATE_FOLDERS:
            _TEMPLATE_FOLDERS.append(folder)
        return function

    return register


def registered() -> tuple[str, ...]:
    return tuple(sorted(_PAGES))


# --- facts --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON-able in a report: {type(value).__name__}")


def _dump(facts: Mapping[str, Any]) -> str:
    """A report's facts as the text of report.json (one spelling for every writer)."""
    return json.dumps(facts, default=_plain, ensure_ascii=False, indent=1) + "\n"


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it (a rebuild changes nothing)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def write_report(
    folder: Path,
    *,
    kind: str,
    title: str,
    year: int,
    run_id: str,
    status: str,
    reads: Mapping[str, int],
    data: Mapping[str, Any],
    month: int | None = None,
    created: datetime | None = None,
) -> Path:
    """Write a report folder's ``report.json`` (its plots are the job's to write beside it)."""
    facts = {
        "kind": kind,
        "title": title,
        "year": int(year),
        "month": month,
        "run_id": run_id,
        "status": status,
        "created": (created or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "reads": dict(sorted(reads.items())),
        "data": data,
    }
    path = folder / FACTS
    _write_if_changed(path, _dump(facts))
    return path


def set_status(folder: Path, status: str) -> None:
    """A report's status moved on (a clearing draft published); its pages follow at the build."""
    path = folder / FACTS
    facts = json.loads(path.read_text(encoding="utf-8"))
    facts["status"] = status
    _write_if_changed(path, _dump(facts))


def read_reports(root: Path) -> list[Report]:
    """Every report folder under ``root``: newest year first, then month, then as made."""
    found = []
    for path in sorted(root.glob(f"*/{FACTS}")):
        facts = json.loads(path.read_text(encoding="utf-8"))
        found.append(Report(id=path.parent.name, folder=path.parent, **facts))
    return sorted(found, key=lambda r: (-r.year, -(r.month or 0), r.created, r.id))


# --- rendering ----------------------------------------------------------------------------


def money(value: Any) -> str:
    """An exact amount with thousands separators, as stored (never through a float)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)):,}"


def number(value: Any, places: int | None = None) -> str:
    if value is None or value == "":
        return ""
    if places is None:
        return f"{value:,}" if isinstance(value, int) else str(value)
    return f"{float(value):,.{places}f}"


def percent(value: Any, places: int = 1) -> str:
    return "" if value is None else f"{float(value):.{places}%}"


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in _TEMPLATE_FOLDERS]),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # a missing fact fails the build, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, number=number, percent=percent)
    return env


def _up(path: str) -> str:
    """The relative way from a page at ``path`` (relative to the site root) back to the root."""
    return "../" * path.count("/")


def _render(env, site_path: str, template: str, context: Mapping[str, Any]) -> str:
    root = _up(site_path)
    nav = [(label, root + href, href == site_path) for label, href in NAV]
    return env.get_template(template).render(root=root, nav=nav, **context)


def _render_report(env, report: Report, common: Mapping[str, Any]) -> list[tuple[str, str]]:
    function = _PAGES.get(report.kind)
    made = [Page(HOME, "unregistered.html", {})] if function is None else function(report)
    rendered = []
    for page in made:
        site_path = f"{report.id}/{page.path}"
        context = {**common, "report": report, "title": page.title or report.title, **page.context}
        rendered.append((site_path, _render(env, site_path, page.template, context)))
    return rendered


def _by_year_and_month(reports: Iterable[Report]) -> list[tuple[int, list[tuple[Any, list]]]]:
    years: dict[int, dict[Any, list[Report]]] = {}
    for r in reports:
        years.setdefault(r.year, {}).setdefault(r.month, []).append(r)
    return [
        (year, sorted(months.items(), key=lambda kv: -(kv[0] or 13)))
        for year, months in sorted(years.items(), reverse=True)
    ]


def copy_data_docs(source: Path, target: Path) -> int:
    """Mirror the Data Docs site into the reports; only files that changed are copied."""
    if not source.is_dir():
        return 0
    copied = 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        out = target / path.relative_to(source)
        same = out.is_file() and out.stat().st_size == path.stat().st_size
        if same and out.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)
        copied += 1
    return copied


def build(root: Path, data_docs: Path | None = None) -> dict:
    """Render every report under ``root``, the home and data-quality pages; check the links.

    Returns what it did: reports by kind, pages written (unchanged pages are not
    rewritten), Data Docs files copied, and the broken links and outside requests
    found (both must be empty; :func:`check_links`).
    """
    env = _environment()
    reports = read_reports(root)
    docs = copy_data_docs(data_docs, root / DATA_DOCS) if data_docs else 0
    has_docs = (root / DATA_DOCS / "index.html").is_file()
    written = 0
    for report in reports:
        for site_path, text in _render_report(env, report, {"has_docs": has_docs}):
            written += _write_if_changed(root / site_path, text)
    ingests = [r for r in reports if r.kind == "ingest"]
    written += _write_if_changed(
        root / QUALITY,
        _render(
            env,
            QUALITY,
            "quality.html",
            {"title": "Data quality", "ingests": ingests, "has_docs": has_docs},
        ),
    )
    home = {"title": "dip-lake reports", "years": _by_year_and_month(reports), "has_docs": has_docs}
    written += _write_if_changed(root / HOME, _render(env, HOME, "home.html", home))
    listing = [
        {
            k: getattr(r, k)
            for k in (
                "id",
                "kind",
                "title",
                "year",
                "month",
                "run_id",
                "status",
                "created",
                "reads",
            )
        }
        | {"href": f"{r.id}/index.html"}
        for r in reports
    ]
    _write_if_changed(root / INDEX_JSON, json.dumps(listing, ensure_ascii=False, indent=1) + "\n")
    broken, outside = check_links(root)
    kinds: dict[str, int] = {}
    for r in reports:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    return {
        "site": str(root / HOME),
        "reports": kinds,
        "pages_written": written,
        "data_docs_copied": docs,
        "broken_links": [f"{page}: {href}" for page, href in broken],
        "outside_requests": [f"{page}: {href}" for page, href in outside],
    }


# --- the link check -----------------------------------------------------------------------

# Attributes a browser fetches by itself (a page that names an outside address in one of
# these asks the outside network) and attributes a person follows.
FETCHED = {("img", "src"), ("script", "src"), ("link", "href"), ("iframe", "src"),
           ("source", "src"), ("embed", "src"), ("object", "data")}  # fmt: skip
FOLLOWED = {("a", "href"), ("area", "href"), ("form", "action")}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []  # (fetched|followed, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if (tag, name) in FETCHED:
                self.found.append(("fetched", value.strip()))
            elif (tag, name) in FOLLOWED:
                self.found.append(("followed", value.strip()))


def _is_outside(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme in ("http", "https")


def check_links(root: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every link of every page under ``root``: ``(broken, outside)``.

    *broken*: a relative link (fetched or followed) whose target is not a file of the
    site (a folder counts when it holds index.html); *outside*: a fetched resource
    on another host (a page that would ask the outside network for it). A followed
    link to an outside site is a person's choice and not a request the page makes.
    """
    broken, outside = [], []
    for page in sorted(root.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        where = page.relative_to(root).as_posix()
        for how, url in parser.found:
            parts = urlsplit(url)
            if _is_outside(url):
                if how == "fetched":
                    outside.append((where, url))
                continue
            if parts.scheme in ("mailto", "javascript", "data", "blob") or not parts.path:
                continue  # an anchor on the same page, an inline image, a script action
            if parts.path.startswith("/"):
                broken.append((where, url))  # the site is served under a prefix: relative only
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            inside = target == root.resolve() or root.resolve() in target.parents
            if not inside or not target.is_file():
                broken.append((where, url))
    return broken, outside
