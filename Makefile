# Two commands on a fresh machine: `make run` and `make test` (README.md).
SHELL := /bin/bash
# a pipe fails when any command in it does (a failed pip install is not hidden by the grep after it)
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

BPS_LANDING_DIR ?= data/landing
STUDENTS ?= 56340
SCALES ?= 0.25 1 4
REPEAT ?= 1
# the bench's extract date: empty = a full school year (see bench/run.py)
AS_OF ?=

.PHONY: run test test-fast dev bench bench-privacy env clean generate constraints system-packages

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]' 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(BIN)/python -c "import bps_pipeline, dagster, dagster_dbt, great_expectations, duckdb"
	touch $(STAMP)

env: $(STAMP)

# Generate the sample district if the landing folder is empty, then run the whole pipeline.
run: $(STAMP)
	@if ! ls $(BPS_LANDING_DIR)/*/*.csv >/dev/null 2>&1; then \
		$(BIN)/bps-pipeline generate --out $(BPS_LANDING_DIR) --students $(STUDENTS); fi
	$(BIN)/bps-pipeline run

generate: $(STAMP)
	$(BIN)/bps-pipeline generate --out $(BPS_LANDING_DIR) --students $(STUDENTS)

# DuckDB 1.4 in a venv of its own: the suite opens the published file with it, as the engines
# embedded in dashboard tools do.
READER14 := .venv-duckdb14/.installed
$(READER14):
	$(PYTHON) -m venv .venv-duckdb14
	.venv-duckdb14/bin/pip install --quiet duckdb==1.4.3 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $(READER14)

# Debian's chromium and poppler-utils, for the report's tests (the HTML in a browser, the PDF as
# pages); installed from Debian's archive where missing (needs root, as in CI).
system-packages:
	@missing=""; command -v chromium >/dev/null || missing="chromium"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install -y$$missing" >&2; exit 1; fi; \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; }; \
	fi

# Both tiers (what CI runs); test-fast leaves out the slow tier, for edit loops.
test: $(STAMP) $(READER14) system-packages
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

# The Dagster UI on 127.0.0.1:3000, schedules and sensors on.
dev: $(STAMP)
	$(BIN)/bps-pipeline dev

bench: $(STAMP)
	$(BIN)/python -m bench --scales $(SCALES) --repeat $(REPEAT) $(if $(AS_OF),--as-of $(AS_OF))

# What a release hides and what attacks get back, on a 20,000-student district (bench/privacy.py).
bench-privacy: $(STAMP)
	$(BIN)/python -m bench.privacy --students 20000 --seed 3

# After a deliberate upgrade in pyproject.toml: install its pins without the old constraints
# (other packages move only where they must), then pin what the venv holds.
constraints:
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]' 2>&1 | { grep -v "^WARNING: Location" || true; }
	{ grep '^#' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^#'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf data dbt_project/target dbt_project/logs
