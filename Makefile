# ipmarket developer commands. `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
LOCK := requirements.lock
# What serving needs and nothing more (`make run`): the same pins as $(LOCK), without the dev extra.
RUNTIME_LOCK := requirements-runtime.lock
# The browser tests: axe-core from npm (tests/e2e/package-lock.json) and Debian's Chromium.
E2E := tests/e2e
E2E_STAMP := $(E2E)/node_modules/.installed
CHROMIUM := /usr/bin/chromium
# The npm packages whose files src/ipmarket/web/static/vendor/ carries, committed (make vendor).
VENDOR_NPM := vendor
# The contract: npm solc compiles it, npm hardhat runs the tests' local node (contracts/package-lock.json).
CONTRACTS := contracts
CONTRACTS_STAMP := $(CONTRACTS)/node_modules/.installed
CONTRACT_ARTIFACT := $(CONTRACTS)/IPAuthorizationChain.json
PACKAGE_ARTIFACT := src/ipmarket/chain/IPAuthorizationChain.json
STATIC_VENDOR := src/ipmarket/web/static/vendor
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k auth -x"
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist), each with a database of its own; 0 runs serially.
PYTEST_WORKERS ?= auto
# Extra benchmark arguments, e.g. make bench BENCH_ARGS="--keep --duration 30"
BENCH_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv install lock run migrate worker test test-fast browser-deps chain-deps contracts bench-chain screenshots vendor bench bench-pages bench-purchases \
	lint format clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The name==version pins of a requirements file, names normalised (Jinja2, jinja2), sorted.
pins = grep -oE '^[A-Za-z0-9_.-]+==[^ ;]+' $(1) | tr 'A-Z_' 'a-z-' | sort

# pip itself first, at the lock's version and hashes: the pip a new venv comes with (23.2 here)
# refuses a lock whose packages ask for an extra (pytest-cov's coverage[toml]) once a newer
# release of that package exists, though the lock pins it.
locked_pip = $(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: --no-deps \
	-r <(awk '/^pip==/{on=1} on{print; if (!/\\$$/) exit}' $(1))

# Reinstall only when the dependencies or their pins change. Every package (pip and the build
# backend too) comes from the lock and must match one of its hashes, as a wheel, so that nothing
# is built with build tools fetched unchecked; then ipmarket itself, built with the locked
# setuptools, without dependencies of its own choosing.
$(STAMP): $(LOCK) $(RUNTIME_LOCK) pyproject.toml constraints.txt | $(BIN)/python
	@stale="$$(comm -23 <($(call pins,constraints.txt)) <($(call pins,$(LOCK))))"; \
	if [ -n "$$stale" ]; then \
		echo "$(LOCK) does not pin what constraints.txt pins (run make lock):" $$stale; exit 1; \
	fi
	$(call locked_pip,$(LOCK))
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@ $(RUNTIME_STAMP)

# The same, for serving only: the runtime lock, whose every pin must be one of $(LOCK)'s. Once
# everything is installed ($(STAMP)), serving has what it needs too.
$(RUNTIME_STAMP): $(RUNTIME_LOCK) $(LOCK) pyproject.toml | $(BIN)/python
	@stray="$$(comm -23 <($(call pins,$(RUNTIME_LOCK))) <($(call pins,$(LOCK))))"; \
	if [ -n "$$stray" ]; then \
		echo "$(RUNTIME_LOCK) pins what $(LOCK) does not (run make lock):" $$stray; exit 1; \
	fi
	$(call locked_pip,$(RUNTIME_LOCK))
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: -r $(RUNTIME_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv install: $(STAMP) ## Create .venv and install ipmarket from the hashed lock

# Where there is no usable lock yet, uv (the resolver `make lock` uses) at its pinned version.
$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt uv

lock: | $(BIN)/uv ## Resolve pyproject.toml at the versions of constraints.txt into the locks, with hashes
	printf '%s\n' pip setuptools wheel | $(BIN)/uv pip compile --quiet --universal \
		--python-version 3.11 --generate-hashes --extra dev --constraints constraints.txt \
		--custom-compile-command "make lock" --output-file $(LOCK) pyproject.toml -
	printf '%s\n' pip setuptools wheel | $(BIN)/uv pip compile --quiet --universal \
		--python-version 3.11 --generate-hashes --constraints constraints.txt \
		--custom-compile-command "make lock" --output-file $(RUNTIME_LOCK) pyproject.toml -

run: $(RUNTIME_STAMP) ## Migrate, then serve on http://127.0.0.1:8000 (HOST=, PORT= to change); installs what serving needs only
	$(BIN)/ipmarket migrate
	$(BIN)/ipmarket serve --host $(HOST) --port $(PORT)

migrate: $(STAMP) ## Apply the database migrations
	$(BIN)/ipmarket migrate

worker: $(STAMP) ## Run an event worker (use with RABBITMQ_URL)
	$(BIN)/ipmarket worker

test: $(STAMP) browser-deps chain-deps ## The whole suite, slow tests too, in parallel, with coverage (what CI runs)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --durations=10 --cov --cov-report=term:skip-covered \
		$(PYTEST_ARGS)

test-fast: $(STAMP) browser-deps chain-deps ## The suite without the tests marked slow, in parallel, for development
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

# Debian's Chromium (Playwright's own browser download is not used), installed as root when
# missing; then axe-core at the version of tests/e2e/package-lock.json.
browser-deps: $(E2E_STAMP) ## Install what the browser tests need: Chromium (apt, as root) and axe-core (npm ci)
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "the browser tests need $(CHROMIUM): run 'apt-get install chromium' as root"; exit 1; \
		fi; \
		echo "installing Chromium (apt-get install chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

$(E2E_STAMP): $(E2E)/package.json $(E2E)/package-lock.json
	npm ci --prefix $(E2E) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# solc (the compiler, inside the npm package) and hardhat (the local node) at the versions of
# contracts/package-lock.json; the chain tests need both.
chain-deps: $(CONTRACTS_STAMP) ## Install what the chain tests need: npm solc and hardhat (npm ci)

$(CONTRACTS_STAMP): $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	npm ci --prefix $(CONTRACTS) --no-audit --no-fund --loglevel=error
	@touch $@

contracts: $(CONTRACTS_STAMP) ## Compile contracts/IPAuthorizationChain.sol into its committed artifacts
	node $(CONTRACTS)/compile.js $(CONTRACT_ARTIFACT) $(PACKAGE_ARTIFACT)

bench-chain: $(STAMP) ## Print the gas of each contract write (eth-tester)
	$(BIN)/python -m bench.chain_gas $(BENCH_ARGS)

screenshots: $(STAMP) browser-deps ## Shoot the main pages at desktop and phone sizes into docs/screenshots/
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -q -m screenshots \
		tests/e2e $(PYTEST_ARGS)

# Only to change a vendored version: edit vendor/package.json, `npm install --package-lock-only
# --legacy-peer-deps` there, then make vendor and commit the files it copied.
vendor: ## Copy the pinned npm files (vendor/package-lock.json) into src/ipmarket/web/static/vendor/
	npm ci --prefix $(VENDOR_NPM) --ignore-scripts --legacy-peer-deps --no-audit --no-fund --loglevel=error
	rm -rf $(STATIC_VENDOR)/swagger-ui $(STATIC_VENDOR)/redoc
	mkdir -p $(STATIC_VENDOR)/swagger-ui $(STATIC_VENDOR)/redoc
	cd $(VENDOR_NPM)/node_modules/swagger-ui-dist && cp swagger-ui-bundle.js \
		swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE \
		package.json $(CURDIR)/$(STATIC_VENDOR)/swagger-ui/
	cd $(VENDOR_NPM)/node_modules/redoc && cp bundles/redoc.standalone.js \
		bundles/redoc.standalone.js.LICENSE.txt LICENSE package.json \
		$(CURDIR)/$(STATIC_VENDOR)/redoc/

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

distclean: clean ## clean, and remove .venv (and the npm packages) too
	rm -rf $(VENV) $(E2E)/node_modules $(VENDOR_NPM)/node_modules $(CONTRACTS)/node_modules
