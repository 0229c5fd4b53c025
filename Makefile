# The two commands the README promises: `make demo` and `make test`.
# Everything runs from a virtualenv in .venv, made on first use from pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages are installed as root, or through sudo for a user.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install system-deps image-deps image build demo test lint typecheck unit e2e bench soak failover fuzz crds docs sandbox-up sandbox-down clean

help:
	@echo "make demo   - a whole failback drill on the local sandbox"
	@echo "make test   - lint, type checks, unit tests, e2e tests on a real API server (the image's included)"
	@echo "make image  - the operator image from the Dockerfile, without a Docker engine (buildah)"
	@echo "make crds   - regenerate crds/ (and the chart's copy) from the pydantic models"
	@echo "make failover - the leader SIGKILLed 10 times mid-release, 10 mid-ramp: takeover p50 and max (~6 min)"
	@echo "make fuzz   - the property-based tests with 1,000,000 examples in all (make test runs 150 each)"
	@echo "make soak   - plans cycled for an hour: the operator's memory and connections stay flat (docs/soak.md)"
	@echo "make docs   - regenerate docs/api.md from the pydantic models"

# Debian's packages the suite needs beyond Python and Go: venv support, a real Prometheus (and
# promtool) for the prometheus check's e2e tests and the chart's alert rules, and Chromium for the
# report's browser test. Each only when missing.
system-deps:
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq python3-venv; }
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { \
	  echo "make: installing Debian's prometheus (the e2e tests start a real one)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; }
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "make: installing Debian's chromium (an e2e test opens a report in a real browser)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

# Debian's tools to build and run the image without a Docker engine: buildah (chroot isolation),
# podman with runc, mmdebstrap for a base made locally (no registry is needed). Each only when missing.
image-deps:
	@for tool in buildah podman runc mmdebstrap; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then echo "make: installing Debian's$$missing (make image)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends$$missing; fi

# The operator image (localhost/reentry:dev) and dist/reentry-image.tar; see image/build.sh.
image: image-deps
	image/build.sh

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Builds (first time only) or finds the pinned control-plane binaries; cached in ~/.cache/reentry.
build: $(STAMP)
	$(BIN)/reentry sandbox build

demo: build
	$(BIN)/reentry demo

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

e2e: system-deps build image
	$(BIN)/pytest tests/e2e -q

# One pytest run over unit then e2e tests, so its closing line counts every test.
# pytest exits 5 when it collects nothing; this project always has tests, so that is a failure.
test: system-deps lint typecheck build image
	@$(BIN)/pytest tests/unit tests/e2e -q --durations=5; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Not part of `make test` at this size (it runs 3 trials): the leader of two replicas SIGKILLed 10
# times mid-release and 10 times mid-ramp, printing each takeover and their p50 and max
# (docs/reliability.md; about 6 minutes).
failover: build
	REENTRY_FAILOVER_TRIALS=10 $(BIN)/pytest tests/e2e/test_leadership.py -q -s -k killed --timeout 1200

# The property-based tests (tests/unit/test_properties.py) at 1,000,000 examples in all, a fresh
# random seed each run, split by cost (a mutated plan through validate costs ten times arbitrary
# text) and run in parallel, without the suite's per-test timeout (about 30 minutes on 2 CPUs);
# `make test` runs them at 150 examples each, always the same ones.
fuzz: $(STAMP)
	@set -e; run() { REENTRY_FUZZ_EXAMPLES=$$2 REENTRY_FUZZ_SEED=random $(BIN)/pytest tests/unit/test_properties.py \
	  -q -p no:cacheprovider --timeout 0 --hypothesis-show-statistics -k $$1; }; \
	run any_text 700000 & text=$$!; run mutated_plan 100000 & plans=$$!; run round_after_round 200000 & rounds=$$!; \
	wait $$text; wait $$plans; wait $$rounds

# Not part of `make test`: measures against a private sandbox and rewrites docs/benchmarks.md,
# docs/benchmarks-traffic.md and docs/benchmarks-rest.md (~35 min; --only picks some).
bench: build
	PYTHONPATH=.:operator $(BIN)/python bench/run.py --timeout 3000 --out docs/benchmarks.md

# Not part of `make test`: plans created, Restored and deleted for an hour against a private sandbox;
# fails unless the operator's memory and connections stay flat (bench/soak.py, writes docs/soak.md).
soak: build
	PYTHONPATH=.:operator $(BIN)/python bench/soak.py --minutes 60 --out docs/soak.md

crds: $(STAMP)
	$(BIN)/python -m reentry.crd

# The API reference is generated from the models like the CRD; a unit test fails when it is stale.
docs: $(STAMP)
	$(BIN)/python -m reentry.apidoc docs/api.md

sandbox-up: build
	$(BIN)/reentry sandbox up

sandbox-down: $(STAMP)
	$(BIN)/reentry sandbox down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
