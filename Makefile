# rayship: every target installs what it needs through `setup` (a venv in .venv, quick when already done).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.rayship-installed
WORKERS ?= 0
PYTEST := $(BIN)/python -m pytest

.PHONY: setup up down status demo test test-unit test-integration test-e2e lint bench render clean

# Prometheus (Debian's package) for the local alert rules: installed where it is missing and apt is available. The
# package's own service is disabled: `cluster up` starts Prometheus on its own config, port and data directory.
setup: $(STAMP)
	@command -v prometheus >/dev/null || ! command -v apt-get >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
	    >/dev/null && { systemctl disable --now prometheus >/dev/null 2>&1 || true; }; } \
	  || echo "could not install prometheus; cluster up runs without it"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

up: setup
	$(BIN)/python -m cluster up --workers $(WORKERS)

down: setup
	$(BIN)/python -m cluster down

status: setup
	$(BIN)/python -m cluster status

demo: setup
	bash scripts/demo.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when a tier collects nothing: an empty tier is not a failure.
define run_tier
	$(PYTEST) $(1) $(2) || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests collected in $(1)" || exit $$rc; }
endef

test: lint test-unit test-integration test-e2e

test-unit: setup
	$(call run_tier,tests/unit)

# The live tiers list their slowest tests, to keep `make test` (and CI) well under 30 minutes.
test-integration: setup
	$(call run_tier,tests/integration,--durations=12)

test-e2e: setup
	$(call run_tier,tests/e2e,--durations=3)

bench: setup
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.run_all

render: setup
	$(BIN)/python -m kuberay

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
