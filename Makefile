# dip-lake: every target installs what it needs first and is safe to run twice.
#   make demo   the main job on embedded defaults (local Spark, ./lake)
#   make test   ruff, then the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
JARS_STAMP := .jars/.complete
WEB_STAMP := .web/.complete
CDS_ARCHIVE := .jars/driver.jsa
KEY := .secrets/hmac.key
# The demo home the suite and the notebooks read (never the developer's own ./lake).
TEST_DEMO := build/test-demo
JOB_SOURCES := $(shell find jobs -name '*.py' -o -name '*.yaml' -o -name '*.csv') $(wildcard expectations/*/*.json)
PYTEST_ARGS ?=

.PHONY: help install jars web key demo airflow bench browser test lint lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Exact versions come from requirements.lock (compiled from pyproject.toml by `make lock`).
# --compile-bytecode: uv writes no .pyc by default, and with PYTHONDONTWRITEBYTECODE set
# every job compiled its imports afresh (Great Expectations alone: 16 s, 6 s compiled).
$(PY_STAMP): pyproject.toml requirements.lock requirements-data.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode --no-deps -r requirements-data.txt
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	touch $@

# The Delta jars, resolved once by Maven at install time; jobs never touch the network.
$(JARS_STAMP): pom.xml
	rm -rf .jars
	mvn -q -B -f pom.xml dependency:copy-dependencies -DoutputDirectory=.jars
	touch $@

# The Data Docs' scripts, styles and fonts (package.json, exact versions in package-lock.json),
# installed once by npm; jobs/quality.py copies them into each site, so no page needs a CDN.
$(WEB_STAMP): package.json package-lock.json
	rm -rf .web && mkdir -p .web
	cp package.json package-lock.json .web/
	npm ci --prefix .web --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# The driver's class-data-sharing archive (jobs/tools/jvm_archive.py): the classes of one Delta
# round trip, mapped by every later driver JVM instead of loaded again. Rebuilt with the
# jars or the Python packages (they bring Spark's own jars).
$(CDS_ARCHIVE): $(PY_STAMP) $(JARS_STAMP)
	$(BIN)/python -m jobs.tools.jvm_archive

install: $(PY_STAMP) $(JARS_STAMP) $(CDS_ARCHIVE) $(WEB_STAMP) ## create .venv, install the project, fetch the Delta jars and the Data Docs' assets

jars: $(JARS_STAMP) ## fetch the Delta jars into .jars/ (Maven, from pom.xml)

web: $(WEB_STAMP) ## fetch the Data Docs' scripts, styles and fonts into .web/ (npm, from package-lock.json)

# A local pseudonymisation key for the demo only: git-ignored, owner-only. Production
# sets DIPLAKE_HMAC_KEY or DIPLAKE_HMAC_KEY_FILE from its secret store instead.
$(KEY):
	umask 077 && mkdir -p $(dir $(KEY)) && $(PYTHON) -c "import secrets; print(secrets.token_hex(32))" > $(KEY)

key: $(KEY) ## create a local demo HMAC key in .secrets/ (never committed)

demo: install key ## run the main job on embedded defaults
	$(BIN)/diplake demo

airflow: install key ## Airflow UI on http://127.0.0.1:8080 with the project's DAGs (run `make demo` first)
	$(BIN)/diplake airflow

SCALE ?= city
FACTOR ?= 1
bench: install ## time every stage: make bench [SCALE=city|small|demo] [FACTOR=0.3] [VARIANTS=1]
	$(BIN)/diplake bench --scale $(SCALE) --factor $(FACTOR) $(if $(VARIANTS),--variants)

lint: $(PY_STAMP) ## ruff
	$(BIN)/ruff check .

# Debian's Chromium for the browser test (Playwright drives it; no browser download).
browser: ## install Debian's chromium if it is missing (needs root)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# The suite's demo home: the demo city worked through every DAG (tests/demo_home.py).
# Thrown away whenever the code changes, so the tests always read the current code's.
$(TEST_DEMO).sources: $(JOB_SOURCES) $(wildcard dags/*.py) tests/demo_home.py
	rm -rf $(TEST_DEMO)
	mkdir -p $(dir $@) && touch $@

test: install lint browser $(TEST_DEMO).sources ## ruff, the demo chain as DAGs, pytest, notebooks (nbmake)
	$(BIN)/python -c "import sys; sys.path.insert(0, 'tests'); import demo_home as d; \
	  from pathlib import Path; h = Path('$(CURDIR)/$(TEST_DEMO)'); d.is_built(h) or d.build(h)"
	DIP_TEST_DEMO_HOME=$(CURDIR)/$(TEST_DEMO) $(BIN)/python -m pytest $(PYTEST_ARGS)
	DIPLAKE_HOME=$(CURDIR)/$(TEST_DEMO) $(BIN)/python -m pytest --nbmake notebooks -q

lock: $(BIN)/python ## recompile requirements.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade uv
	$(BIN)/uv pip compile --python $(BIN)/python --extra dev --no-header --quiet pyproject.toml -o requirements.lock

clean: ## remove the local lake, landing zone and MLflow store (keeps .venv, .jars and .web)
	rm -rf lake landing mlflow.db mlruns
