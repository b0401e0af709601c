# vaxcert: `make demo` runs the product, `make test` proves it. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# System packages the tests need; installed with apt-get when running as root (CI), idempotently.
SYSTEM_PACKAGES := softhsm2 chromium fonts-ipaexfont-gothic
# Card layer (issue 3): pcscd + the vsmartcard vpcd driver for virtual cards; gcc and
# libpcsclite-dev build pyscard from its sdist (its swig build requirement comes from PyPI).
SYSTEM_PACKAGES += pcscd vsmartcard-vpcd libpcsclite-dev gcc
# The tests start their own Redis and PostgreSQL on free ports (tests/support/services.py) from
# these packages' binaries; a server already running on this machine is never used.
SYSTEM_PACKAGES += redis-server postgresql

# IPAex Gothic for the certificate PDF without apt (platform.md): the TrueType file inside this
# PyPI package, installed without its matplotlib dependency (vaxcert/certificate/pdf.py finds it there).
FONT_PACKAGE := matplotlib-fontja==1.1.0

.PHONY: demo test lint typecheck pytest system-deps certs clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.stamp-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps '$(FONT_PACKAGE)'
	touch $@

# system-deps first: the card extra builds pyscard against libpcsclite-dev.
$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python system-deps
	$(BIN)/pip install --quiet -e '.[dev,card]'
	$(BIN)/pip install --quiet --no-deps '$(FONT_PACKAGE)'
	touch $@ $(VENV)/.stamp-runtime

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing system packages:$$missing (run as root or: sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

demo: $(VENV)/.stamp-runtime
	$(BIN)/vaxcert demo

certs: $(VENV)/.stamp-runtime
	$(BIN)/vaxcert certs init

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --no-cache --check .

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

pytest: $(VENV)/.stamp-dev system-deps
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.stamp-dev
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python -P $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
