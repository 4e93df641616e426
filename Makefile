# The only commands a newcomer needs: make demo, make test, make ui, make bench.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Demo knobs (override: make demo EVENTS_PER_DAY=200000 DAYS=14)
START ?= 2026-11-01
DAYS ?= 7
EVENTS_PER_DAY ?= 20000
SEED ?= 7
# the demo shows two incidents: a client sending prices in cents (the clean layer must correct it), and a
# category drift on the extra days of step 9 (the retraining signal must fire on it, and not before)
INCIDENTS ?= --incident cents_prices@2026-11-05 --incident category_drift@2026-11-10
SIGNAL_DAYS ?= 3
# The demo's world ends on its last simulated day: the daily partitions end there too, for the demo and
# for `make ui`, so the UI does not count every day up to today as missing (only those two targets: tests and
# benchmarks make their own worlds). Unset, they run to today.
DEMO_END_DATE ?= $(shell $(PYTHON) -c "import datetime as d; print(d.date.fromisoformat('$(START)') + d.timedelta(days=$(DAYS) + $(SIGNAL_DAYS) - 1))")

export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: install lock demo lint test ui bench bench-monitoring clean

install: $(STAMP)

# The venv gets exactly the dependency tree in uv.lock (what CI tested), the project itself editable.
# Bytecode is compiled at install (dependencies and data_platform): where PYTHONDONTWRITEBYTECODE is set, as on
# this project's machines, Python would otherwise compile dagster and the definitions again in every process it
# starts (a run, a CLI command, the daemon's sensors): 3.1-3.4 CPU s instead of 1.55 for each (docs/benchmarks.md).
# After changing a pin in pyproject.toml: make lock (then commit uv.lock).
UV_VERSION := 0.13.8
$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --extra dev --extra lake --extra labelstudio --inexact --compile-bytecode --quiet
	$(BIN)/python -m compileall -q data_platform
	touch $(STAMP)

lock:
	test -x $(BIN)/uv || (test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)")
	$(BIN)/uv lock

demo: export DATA_PLATFORM_END_DATE = $(DEMO_END_DATE)
demo: install
	$(BIN)/data-platform demo --start $(START) --days $(DAYS) --events-per-day $(EVENTS_PER_DAY) --seed $(SEED) --signal-days $(SIGNAL_DAYS) $(INCIDENTS)

# ruff (lint + format check) on the Python, sqlfluff on the SQL; configured in pyproject.toml.
# Fix locally with: .venv/bin/ruff format . && .venv/bin/ruff check --fix . && .venv/bin/sqlfluff fix sql benchmarks
lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/sqlfluff lint sql benchmarks

# The suite runs on TEST_WORKERS processes (pytest-xdist; how modules are dealt out: pyproject.toml's addopts).
# Two by default (CI too): 18 min quiet, and it passed with a CPU-bound process beside it (24.6 min), where one
# process took 29.6 min quiet. The suite's deadlines (900 s a test, a peer's start-up, waits for runs) count the
# machine's fair share of its cores or the peer's CPU time (docs/testing.md). One process: TEST_WORKERS=0.
TEST_WORKERS ?= 2

test: install lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# the instance is initialised once before `dagster dev` starts the webserver and the daemon together
ui: export DATA_PLATFORM_END_DATE = $(DEMO_END_DATE)
ui: install
	$(BIN)/data-platform init-instance
	$(BIN)/dagster dev -w workspace.yaml --host 127.0.0.1 --port 3000

# End to end against the DuckDB floor and pandas (1M events; scaling series:
# make bench BENCH_ARGS="--events 1000000 --events 3000000 --events 10000000"), then landing to visible
# with a real daemon (median of 5 files)
bench: install
	$(BIN)/python benchmarks/bench_pipeline.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench_latency.py

bench-monitoring: install
	$(BIN)/python benchmarks/bench_monitoring.py $(BENCH_ARGS)

clean:
	rm -rf data dagster_home/history dagster_home/storage dagster_home/schedules dagster_home/logs
