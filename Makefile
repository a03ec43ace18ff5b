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

.PHONY: run test test-fast dev bench env clean generate constraints

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

# Both tiers (what CI runs); test-fast leaves out the slow tier, for edit loops.
test: $(STAMP)
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

# The Dagster UI on 127.0.0.1:3000, schedules and sensors on.
dev: $(STAMP)
	$(BIN)/bps-pipeline dev

bench: $(STAMP)
	$(BIN)/python -m bench --scales $(SCALES) --repeat $(REPEAT) $(if $(AS_OF),--as-of $(AS_OF))

# After a deliberate upgrade in pyproject.toml: install its pins without the old constraints
# (other packages move only where they must), then pin what the venv holds.
constraints:
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]' 2>&1 | { grep -v "^WARNING: Location" || true; }
	{ grep '^#' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^#'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf data dbt_project/target dbt_project/logs
