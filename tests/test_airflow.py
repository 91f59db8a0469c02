"""The DAGs run for real: `airflow dags test` of the DIP chain, and finance at the trigger form.

Both use a throwaway AIRFLOW_HOME with its own SQLite metadata, the project's
dags/ folder and the environment `diplake airflow` builds, so nothing here
touches a developer's Airflow. The browser test drives Debian's Chromium
(/usr/bin/chromium, no browser download) with Playwright, as a finance officer
would: log in, open the year-end clearing DAG, fill in the form, trigger.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import demo_home as demo
import pandas as pd
import pytest
from conftest import copy_home
from pyspark.sql import functions as F

from jobs import config, lake, pipeline, site
from jobs.tools.airflow_local import PASSWORDS_FILE, airflow_command
from jobs.tools.cluster import free_ports

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = config.REPO_ROOT / "docs" / "img" / "clearing_trigger_form.png"
REPORT_SCREENSHOT = config.REPO_ROOT / "docs" / "img" / "reports_in_airflow.png"
# Chromium as root on a machine with a closed network: no sandbox, no background calls.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_demo_chain_ran_as_dags(spark, demo_home):
    """Ingest -> catalogue -> points -> clearing by `airflow dags test`, on the demo city."""
    states = demo.run_states(demo_home / "airflow-home")
    runs_of: dict[str, list[str]] = {}
    for dag_id, _ in demo.CHAIN:
        if dag_id != demo.ANSWER:
            runs_of.setdefault(dag_id, []).append("success")
    assert states == runs_of
    cfg = demo.settings(demo_home)

    def table(layer: str, name: str):
        return lake.read_version(spark, lake.table_path(cfg, layer, name))

    landed = {str(p.relative_to(cfg.landing)) for p in cfg.landing.rglob("*.*")}
    landed = {p for p in landed if not p.startswith("_truth")}
    ledger = table("ops", "ingest_ledger").select("source_file").toPandas()
    rejected = table("ops", "file_rejections").select("source_file", "reason").toPandas()
    assert set(ledger.source_file) | set(rejected.source_file) == landed, (
        "every landed file went through the ingest DAG, into the ledger or rejected whole"
    )
    assert set(rejected.reason) == {
        "empty_file",
        "compressed_file",
        "binary_file",
        "undecodable_file",
    }
    assert (
        table("gold", "dip_catalogue").filter(F.col("catalogue_version") == demo.YEAR).count() > 0
    )
    cases = table("silver", "discharges").filter(F.col("discharge_year") == demo.YEAR).count()
    points = table("gold", "dip_case_points").filter(F.col("settlement_year") == demo.YEAR)
    assert points.count() == cases > 0
    runs = table("gold", "dip_clearing_runs").filter(F.col("settlement_year") == demo.YEAR)
    runs = runs.collect()
    budget = Decimal(demo.BUDGET).quantize(Decimal("0.01"))
    assert [(r.status, r.budget, r.assessment) for r in runs] == [("draft", budget, "computed")]
    hospitals = table("gold", "dip_clearing_hospital").filter(F.col("run_id") == runs[0].run_id)
    assert hospitals.agg(F.sum("gross_fund")).first()[0] == budget
    # The DIP year (SPEC 9) ran in its DAGs and reached the clearing: December's proposal, the
    # assessment from data (A for the hospitals the quality department did not score), the
    # review round's decisions (their points, not the cases' own).
    proposals = table("gold", "dip_prepayment_proposals").filter(F.col("year") == demo.YEAR)
    assert proposals.filter(F.col("month") == 12).count() > 0
    sources = {r.assessment_source for r in hospitals.select("assessment_source").collect()}
    assert {"feed", "computed"} <= sources
    assessed = table("gold", "dip_assessment").filter(F.col("year") == demo.YEAR)
    computed = hospitals.filter(F.col("assessment_source") == "computed").join(
        assessed.select("hospital_code", F.col("coefficient").alias("a")), "hospital_code"
    )
    assert computed.filter(F.col("assessment_coef") != F.col("a")).count() == 0
    outcomes = table("gold", "special_review_outcomes").filter(F.col("year") == demo.YEAR)
    assert outcomes.count() > 0
    review_delta = outcomes.agg(F.sum(F.col("review_points") - F.col("points"))).first()[0]
    assert hospitals.agg(F.sum("review_adjustment")).first()[0] == review_delta
    decided = table("silver", "special_review_decisions").count()
    assert decided > 0, "the experts' answers went through the second daily ingest"
    alerts = table("gold", "fraud_alerts").filter(F.col("period") == demo.YEAR)
    assert alerts.count() > 0
    # Off-site treatment (SPEC 12): December against its statement, one of each planted
    # statement difference in it; the visitors' stays in the indicators; FR10's alerts are
    # the persons the generator had treated elsewhere during a local stay.
    december = table("gold", "offsite_reconciliation").filter(F.col("month") == f"{demo.YEAR}-12")
    assert december.count() > 0
    kinds = {
        r.kind
        for r in table("gold", "offsite_differences")
        .filter(F.col("month") == f"{demo.YEAR}-12")
        .collect()
    }
    assert {"missing_in_statement", "missing_in_ours", "amount_differs", "wrong_month"} <= kinds
    indicators = table("gold", "dip_hospital_indicators").filter(F.col("year") == demo.YEAR)
    assert indicators.agg(F.sum("inbound_cases")).first()[0] > 0
    planted = pd.read_csv(cfg.landing / "_truth" / "offsite_planted.csv", dtype=str)
    same_day = planted[planted.kind == "same_day_local"]
    fr10 = alerts.filter(F.col("reasons").contains("FR10 ")).count()
    assert fr10 == len(same_day) > 0
    # Each reporting DAG ended by building the site: every report it wrote is listed.
    listing = json.loads((cfg.reports / site.INDEX_JSON).read_text(encoding="utf-8"))
    assert {(r["kind"], r["status"]) for r in listing} >= {
        ("ingest", "succeeded"),
        ("catalogue", "final"),
        ("case_points", "final"),
        ("clearing", "draft"),
        ("fraud_alerts", "final"),
        ("prepayment_proposal", "advice"),
        ("assessment", "final"),
        ("special_review", "final"),
        ("offsite_month", "computed"),
    }
    (clearing,) = [r for r in listing if r["kind"] == "clearing"]
    assert clearing["run_id"] == runs[0].run_id
    assert clearing["reads"] == json.loads(runs[0].input_versions)


class Standalone:
    """`diplake airflow` (airflow standalone) on free loopback ports, stopped on exit."""

    def __init__(self, home: Path, airflow_home: Path):
        self.home = home
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = "finance-" + os.urandom(6).hex()
        airflow_home.mkdir(parents=True)
        # The simple auth manager reads its users' passwords from this file.
        (airflow_home / PASSWORDS_FILE).write_text(json.dumps({"admin": self.password}))
        self.env = demo.environment(home, airflow_home, self.port)
        self.log = (airflow_home / "standalone.log").open("w")
        self.process = subprocess.Popen(
            [*airflow_command(), "standalone"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def api(self, path: str, token: str | None = None, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def get(self, path: str, token: str) -> str:
        """A page as text, with the bearer token."""
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read().decode("utf-8")

    def token(self) -> str:
        return self.api("/auth/token", body={"username": "admin", "password": self.password})[
            "access_token"
        ]

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "airflow standalone exited"
            try:
                self.api(f"/api/v2/dags/{dag_id}", self.token())
                return
            except OSError:  # not listening yet, or the DAG not parsed yet (404)
                time.sleep(2)
        raise AssertionError(f"{dag_id} not served within {timeout} s")

    def wait_for_run(self, dag_id: str, timeout: float = 900) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.api(f"/api/v2/dags/{dag_id}/dagRuns", self.token())["dag_runs"]
            if runs and runs[0]["state"] in ("success", "failed"):
                return runs[0]
            time.sleep(3)
        raise AssertionError(f"no finished run of {dag_id} within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="module")
def airflow_server(demo_home, tmp_path_factory):
    """`diplake airflow` on a copy of the demo home, the clearing DAG parsed; stopped after."""
    work = tmp_path_factory.mktemp("standalone")
    parts = ("landing", "lake", ".secrets", "reports")
    server = Standalone(copy_home(demo_home, work / "home", parts), work / "airflow-home")
    # The pages from this code's templates (the chain built them with the code it ran).
    pipeline.reports_build(demo.settings(server.home))
    try:
        server.wait_for_dag("dip_clearing_year_end")
        yield server
    finally:
        server.stop()


def statements_page(home: Path) -> tuple[str, Path]:
    """The URL path and the file of the demo clearing's statements index."""
    statements = sorted((home / "reports").glob("clearing-*/index.html"))[0]
    return "/reports/" + str(statements.relative_to(home / "reports")), statements


def test_reports_are_served_to_a_logged_in_user_only(airflow_server):
    server = airflow_server
    path, statements = statements_page(server.home)
    for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(server.url + path, headers=headers))
        assert refused.value.code in (401, 403), headers
    page = server.get(path, server.token())
    assert page == statements.read_text(encoding="utf-8")
    plugins = server.api("/api/v2/plugins", server.token())["plugins"]
    (mine,) = [p for p in plugins if p["name"] == "dip_reports"]
    assert [v["href"] for v in mine["external_views"]] == ["reports/"]


def log_in(page, server: Standalone) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)


def _links(page) -> list[str]:
    """Every link of the page, absolute, without its fragment."""
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    return [h.split("#")[0] for h in hrefs if h.startswith("http")]


def test_the_reports_site_in_airflow_follows_every_link_and_stays_offline(airflow_server, tmp_path):
    """Log in, open Reports from the UI's navigation, follow every link of the home page,
    of a clearing and of the fraud alerts; each page loads with its tables filled, and
    no request leaves the machine (the Data Docs included)."""
    assert CHROMIUM.exists(), "the browser test needs Debian's chromium (make test installs it)"
    from playwright.sync_api import sync_playwright

    server = airflow_server
    root = server.home / "reports"
    assert site.check_links(root) == ([], [])  # the whole built site, Data Docs included
    here = urlsplit(server.url).netloc
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.on(
            "request",
            lambda r: (
                None
                if urlsplit(r.url).scheme in ("data", "blob", "about")
                or urlsplit(r.url).netloc == here
                else outside.append(r.url)
            ),
        )
        page = context.new_page()
        log_in(page, server)
        page.get_by_role("link", name="Reports").first.click()
        frame = page.frame_locator("iframe").first
        frame.get_by_role("heading", name="dip-lake reports").wait_for(timeout=60_000)
        clearing = frame.locator("a[href^='clearing-']").first.get_attribute("href")
        fraud = frame.locator("a[href^='fraud-alerts-']").first.get_attribute("href")
        shot = tmp_path / REPORT_SCREENSHOT.name
        frame.locator("a[href^='clearing-']").first.click()
        frame.get_by_role("heading", name="By hospital level").wait_for(timeout=30_000)
        page.screenshot(path=str(shot))
        if os.environ.get("DIP_SAVE_SCREENSHOTS"):
            REPORT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, REPORT_SCREENSHOT)

        base = server.url + "/reports/"
        visited, broken = set(), []
        for start in ("index.html", clearing, fraud):
            opened = page.goto(urljoin(base, start))
            assert opened.status == 200, start
            for link in _links(page):
                if link in visited:
                    continue
                visited.add(link)
                assert urlsplit(link).netloc == here, f"{start} links outside: {link}"
                answer = context.request.get(link)  # the browser's session, any file type
                if not answer.ok:
                    broken.append(f"{link} ({answer.status})")
                    continue
                if answer.headers.get("content-type", "").startswith("text/html"):
                    page.goto(link)
                    filled = page.locator("td").count() + page.locator("img").count()
                    assert filled, f"{link}: no table and no plot"
        assert not broken, broken
        assert any("/hospitals/" in v for v in visited) and any("/alerts/" in v for v in visited)
        assert any("data-docs" in v for v in visited)
        # The Data Docs render their tables from the scripts the project installed.
        page.goto(base + "data-docs/index.html")
        page.wait_for_load_state("networkidle")
        assert page.locator("table tbody tr").count() > 0
        browser.close()
    assert outside == [], outside


def test_finance_triggers_the_year_end_clearing_from_the_form(spark, airflow_server, tmp_path):
    assert CHROMIUM.exists(), "the browser test needs Debian's chromium (make test installs it)"
    from playwright.sync_api import sync_playwright

    server = airflow_server
    cfg = demo.settings(server.home)
    runs_path = lake.table_path(cfg, "gold", "dip_clearing_runs")
    before = {r.run_id for r in lake.read_version(spark, runs_path).select("run_id").collect()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        log_in(page, server)
        page.goto(server.url + "/dags/dip_clearing_year_end")
        page.get_by_role("button", name="Trigger").first.click()
        form = page.get_by_role("dialog")
        form.get_by_text("Clearing", exact=True).click()  # the form's Params section
        form.locator("input[name=element_year]").fill(str(demo.YEAR))
        form.locator("input[name=element_budget]").fill("23456789.12")
        shot = tmp_path / SCREENSHOT.name
        page.screenshot(path=str(shot))
        if os.environ.get("DIP_SAVE_SCREENSHOTS"):
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, SCREENSHOT)
        form.get_by_role("button", name="Trigger").click()
        page.wait_for_url(lambda url: "/runs/" in url, timeout=60_000)
        # The session the browser holds opens the reports too (the plugin reads its cookie).
        opened = page.goto(server.url + statements_page(server.home)[0])
        assert opened.status == 200
        browser.close()
    run = server.wait_for_run("dip_clearing_year_end")
    assert run["state"] == "success", run
    assert run["conf"]["budget"] == "23456789.12" and run["conf"]["year"] == demo.YEAR
    rows = lake.read_version(spark, runs_path).collect()
    new = [r for r in rows if r.run_id not in before]
    assert [(r.settlement_year, r.status, r.budget) for r in new] == [
        (demo.YEAR, "draft", Decimal("23456789.12"))
    ]
