# rayship: every target installs what it needs through `setup` (a venv in .venv, quick when already done).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.rayship-installed
WORKERS ?= 0
PYTEST := $(BIN)/python -m pytest

.PHONY: setup up down status demo test test-unit test-integration test-e2e lint bench render protos clients clean

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
	$(BIN)/python -m pip install --quiet -e '.[dev,torch]'
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
test-integration: setup clients
	$(call run_tier,tests/integration,--durations=12)

# Real OIP clients for the protocol tests, in their own environment: tritonclient and the KServe SDK need
# protobuf < 7 and define the same protobuf messages as the gateway (tests/clients/oip_clients.py).
CLIENTS_VENV := .venv-clients
CLIENT_PACKAGES := 'tritonclient[http,grpc]==2.73.0' 'kserve==0.21.0'
clients: $(CLIENTS_VENV)/.installed
$(CLIENTS_VENV)/.installed: Makefile
	@test -x $(CLIENTS_VENV)/bin/python || $(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet $(CLIENT_PACKAGES)
	@touch $@

test-e2e: setup
	$(call run_tier,tests/e2e,--durations=3)

bench: setup
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.run_all

render: setup
	$(BIN)/python -m kuberay

# The OIP v2 gRPC stubs are checked in; this regenerates them with the pinned compiler (grpcio-tools in the dev
# extra; its gencode needs a protobuf runtime at least as new, pyproject's pin). A unit test checks they are current.
PROTO := deployments/gateway/oip_grpc/grpc_predict_v2.proto
protos: setup
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
