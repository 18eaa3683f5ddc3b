# ipmarket developer commands. `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k auth -x"
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist), each with a database of its own; 0 runs serially.
PYTEST_WORKERS ?= auto
# Extra benchmark arguments, e.g. make bench BENCH_ARGS="--keep --duration 30"
BENCH_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv install lock run migrate worker test test-fast bench bench-pages bench-purchases lint format clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The name==version pins of a requirements file, names normalised (Jinja2, jinja2), sorted.
pins = grep -oE '^[A-Za-z0-9_.-]+==[^ ;]+' $(1) | tr 'A-Z_' 'a-z-' | sort

# Reinstall only when the dependencies or their pins change. Every package (pip and the build
# backend too) comes from the lock and must match one of its hashes, as a wheel, so that nothing
# is built with build tools fetched unchecked; then ipmarket itself, built with the locked
# setuptools, without dependencies of its own choosing.
$(STAMP): $(LOCK) pyproject.toml constraints.txt | $(BIN)/python
	@stale="$$(comm -23 <($(call pins,constraints.txt)) <($(call pins,$(LOCK))))"; \
	if [ -n "$$stale" ]; then \
		echo "$(LOCK) does not pin what constraints.txt pins (run make lock):" $$stale; exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv install: $(STAMP) ## Create .venv and install ipmarket from the hashed lock

# Where there is no usable lock yet, uv (the resolver `make lock` uses) at its pinned version.
$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt uv

lock: | $(BIN)/uv ## Resolve pyproject.toml at the versions of constraints.txt into requirements.lock, with hashes
	printf '%s\n' pip setuptools wheel | $(BIN)/uv pip compile --quiet --universal \
		--python-version 3.11 --generate-hashes --extra dev --constraints constraints.txt \
		--custom-compile-command "make lock" --output-file $(LOCK) pyproject.toml -

run: $(STAMP) ## Migrate, then serve on http://127.0.0.1:8000 (HOST=, PORT= to change)
	$(BIN)/ipmarket migrate
	$(BIN)/ipmarket serve --host $(HOST) --port $(PORT)

migrate: $(STAMP) ## Apply the database migrations
	$(BIN)/ipmarket migrate

worker: $(STAMP) ## Run an event worker (use with RABBITMQ_URL)
	$(BIN)/ipmarket worker

test: $(STAMP) ## The whole suite, slow tests too, in parallel, with coverage (what CI runs)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --durations=10 --cov --cov-report=term:skip-covered \
		$(PYTEST_ARGS)

test-fast: $(STAMP) ## The suite without the tests marked slow, in parallel, for development
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## Seed a catalogue in its own database and print HTTP latency figures (see bench/README.md)
	$(BIN)/python -m bench.catalogue $(BENCH_ARGS)

bench-pages: $(STAMP) ## The home, search, product and verification pages beside the API calls for the same data (p50/p99)
	$(BIN)/python -m bench.catalogue --scenarios $$($(BIN)/python -c 'from bench.load import PAGE_SCENARIOS; print(",".join(PAGE_SCENARIOS))') $(BENCH_ARGS)

bench-purchases: $(STAMP) ## Race buyers for limited stock over HTTP; print throughput and the oversell check
	$(BIN)/python -m bench.purchases $(BENCH_ARGS)

lint: $(STAMP) ## ruff, ruff format --check, mypy --strict, import contracts
	@status=0; \
	echo "--- ruff check"; $(BIN)/ruff check . || status=1; \
	echo "--- ruff format --check"; $(BIN)/ruff format --check . || status=1; \
	echo "--- mypy"; $(BIN)/mypy || status=1; \
	echo "--- lint-imports"; $(BIN)/lint-imports || status=1; \
	exit $$status

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix-only --quiet .
	$(BIN)/ruff format .

clean: ## Remove caches and build output (keeps .venv and the data in var/)
	rm -rf .pytest_cache .coverage .coverage.* .mypy_cache .ruff_cache .import_linter_cache .hypothesis build dist
	rm -rf src/*.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)
