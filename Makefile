# One entry point for people and CI: every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# sshd for the SFTP tests; Debian's chromium for the browser test (playwright drives it, never downloads one);
# PostgreSQL for the server-backend tests (each test session initdbs a private cluster, the system one stays off).
APT_PACKAGES := openssh-server openssh-client chromium postgresql

.PHONY: install os-packages test lint demo dev bench faults fuzz validate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The SFTP tests run a real OpenSSH sshd and the UI test a real chromium; install them when the machine
# lacks them (CI runs as root).
os-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing OS packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

test: install os-packages
	$(BIN)/ruff check qbo_sftp_assets qbo_sftp_assets_tests
	$(BIN)/mypy qbo_sftp_assets
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check qbo_sftp_assets qbo_sftp_assets_tests
	$(BIN)/ruff format --check qbo_sftp_assets qbo_sftp_assets_tests
	$(BIN)/mypy qbo_sftp_assets

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

demo: install
	$(BIN)/qbo-sftp demo

dev: install
	$(BIN)/qbo-sftp dev

# `make bench webhooks x12` runs only those modules: the words after `bench` are its arguments, not targets.
BENCH_NAMES := $(if $(filter bench,$(firstword $(MAKECMDGOALS))),$(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS)))
bench: install os-packages
	$(BIN)/python -m qbo_sftp_assets_tests.bench $(BENCH_NAMES)
ifneq ($(BENCH_NAMES),)
$(BENCH_NAMES):
	@:
endif

# Every fault scenario on the QBO sandbox and a real sshd, then one table; fails on any duplicate, lost file or leak.
faults: install os-packages
	$(BIN)/python -m qbo_sftp_assets_tests.faults

# The property tests with fresh random examples (`make test` replays a fixed seed); run it before a release.
fuzz: install
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -q -k "fuzz or round_trip or mutations or hypothesis"

clean:
	rm -rf $(VENV) .data .pytest_cache
