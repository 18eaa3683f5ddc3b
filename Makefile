# ipmarket developer commands. `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k auth -x"
PYTEST_ARGS ?=
# Extra benchmark arguments, e.g. make bench BENCH_ARGS="--keep --duration 30"
BENCH_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv install run migrate worker test bench bench-purchases lint format clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependencies or their pins change.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

venv install: $(STAMP) ## Create .venv and install ipmarket with its pinned dependencies

run: $(STAMP) ## Migrate, then serve on http://127.0.0.1:8000 (HOST=, PORT= to change)
	$(BIN)/ipmarket migrate
	$(BIN)/ipmarket serve --host $(HOST) --port $(PORT)

migrate: $(STAMP) ## Apply the database migrations
	$(BIN)/ipmarket migrate

worker: $(STAMP) ## Run an event worker (use with RABBITMQ_URL)
	$(BIN)/ipmarket worker

test: $(STAMP) ## Run the test suite against the local PostgreSQL, Redis and RabbitMQ
	$(BIN)/pytest -q --durations=10 $(PYTEST_ARGS)

bench: $(STAMP) ## Seed a catalogue in its own database and print HTTP latency figures (see bench/README.md)
	$(BIN)/python -m bench.catalogue $(BENCH_ARGS)

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
	rm -rf .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis build dist
	rm -rf src/*.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)
