# metawatch — the README's front door. Needs only python3 (3.11) and pip; everything else comes from
# requirements.lock into .venv.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export METAWATCH_DATA_DIR ?= $(CURDIR)/data
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: install demo dev test bench bench-quick docs lock lint fmt instance clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "metawatch needs Python 3.11, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $@

# The live Dagster home, made from the tracked template, with the pools the concurrency rules need.
instance: install
	mkdir -p $(DAGSTER_HOME)
	cp dagster_home/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster instance concurrency set duckdb 1 >/dev/null

demo: instance
	$(BIN)/metawatch demo

# `make dev` talks to a fresh sandbox world, so it keeps its own data folder and instance.
dev: export METAWATCH_DATA_DIR := $(CURDIR)/data/dev
dev: export DAGSTER_HOME := $(CURDIR)/.dagster_home/dev
dev: instance
	$(BIN)/metawatch dev

# Most tests wait on sandboxes, daemons and dbt start-up: two workers overlap the waits. A test
# module stays on one worker, so its module fixtures are built once. Modules go out in collection
# order: xdist's default puts the modules with the most tests first, which left the one-test e2e
# modules of a minute or more for the end.
TEST_WORKERS ?= 2
test: install
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: install
	$(BIN)/metawatch bench

bench-quick: install
	$(BIN)/metawatch bench --quick

docs: instance
	$(BIN)/metawatch docs --serve

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) data
