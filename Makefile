# vaxcert: `make demo` runs the product, `make test` proves it. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# System packages the tests need; installed with apt-get when running as root (CI), idempotently.
SYSTEM_PACKAGES := softhsm2 chromium fonts-ipaexfont-gothic
# Card layer: pcscd + the vsmartcard vpcd driver for virtual cards; gcc and
# libpcsclite-dev build pyscard from its sdist (its swig build requirement comes from PyPI).
SYSTEM_PACKAGES += pcscd vsmartcard-vpcd libpcsclite-dev gcc
# The tests start their own Redis and PostgreSQL on free ports (tests/support/services.py) from
# these packages' binaries; a server already running on this machine is never used.
SYSTEM_PACKAGES += redis-server postgresql
# The production topology on loopback (launch/topology.py): Debian's nginx as the TLS edge;
# envsubst renders its template as the official nginx image does (tests/e2e/test_topology.py).
SYSTEM_PACKAGES += nginx gettext-base

# The kiosk's spoken prompts are recorded at build time (kiosk/prompts.py, `make prompts`):
# espeak-ng speaks, opus-tools encodes Ogg Opus, kakasi gives espeak-ng the kana of Japanese
# text. fonts-wqy-zenhei: Hangul and hanzi for the certificate's zh/ko legend and the screens.
VOICE_PACKAGES := espeak-ng opus-tools kakasi fonts-wqy-zenhei
SYSTEM_PACKAGES += $(VOICE_PACKAGES)

# What `make demo` adds so that every command of the README works: `vaxcert card serve|readers|check`
# need pyscard (the card extra, built with gcc against libpcsclite-dev) and pcscd with the vpcd
# driver; the signer's PKCS#11 custody needs softhsm2. Installed as root; otherwise named, and the
# demo runs without them.
CARD_BUILD_PACKAGES := libpcsclite-dev gcc
DEMO_PACKAGES := pcscd vsmartcard-vpcd $(CARD_BUILD_PACKAGES) softhsm2 $(VOICE_PACKAGES)

# IPAex Gothic for the certificate PDF without apt (platform.md): the TrueType file inside this
# PyPI package, installed without its matplotlib dependency (vaxcert/certificate/pdf.py finds it there).
FONT_PACKAGE := matplotlib-fontja==1.1.0
COMMA := ,

.PHONY: demo test lint typecheck pytest audit controls system-deps demo-deps certs clean bench prompts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

$(VENV)/.stamp-runtime: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps '$(FONT_PACKAGE)'
	touch $@

# system-deps first: the card extra builds pyscard against libpcsclite-dev.
$(VENV)/.stamp-dev: pyproject.toml setup.py | $(BIN)/python system-deps
	$(BIN)/pip install --quiet -e '.[dev,card]'
	$(BIN)/pip install --quiet --no-deps '$(FONT_PACKAGE)'
	touch $@ $(VENV)/.stamp-runtime

# $(call apt_install,PACKAGES,NOT_ROOT): as root, install whichever of PACKAGES is missing; as
# another user, run the shell command NOT_ROOT, which finds their names in $$missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    $(2); \
	  fi; \
	fi
endef

system-deps:
	$(call apt_install,$(SYSTEM_PACKAGES),echo "missing system packages:$$missing (run as root or: sudo apt-get install$$missing)"; exit 1)

# Like system-deps, but a user who cannot install is told what is missing and the demo still runs.
demo-deps:
	$(call apt_install,$(DEMO_PACKAGES),echo "missing system packages:$$missing: the demo runs$(COMMA) but \`vaxcert card\` and PKCS#11 custody need them (run as root or: sudo apt-get install$$missing)")

# The card extra once pyscard can be built; until then no stamp, so the next `make demo` tries again.
$(VENV)/.stamp-demo: pyproject.toml setup.py | $(VENV)/.stamp-runtime demo-deps
	@if dpkg -s $(CARD_BUILD_PACKAGES) >/dev/null 2>&1; then \
	  $(BIN)/pip install --quiet -e '.[card]' && touch $@ || echo "pyscard did not build: the demo runs without it"; \
	else \
	  echo "pyscard not installed (it builds with: $(CARD_BUILD_PACKAGES)): \`vaxcert card\` will say so"; \
	fi

# The recorded prompts (git-ignored, in kiosk/static/audio): only what is missing or stale is
# recorded again. Without the voice packages the demo runs silent and /healthz counts the gaps.
prompts: $(VENV)/.stamp-runtime
	@if command -v espeak-ng >/dev/null && command -v opusenc >/dev/null && command -v kakasi >/dev/null; then \
	  $(BIN)/vaxcert kiosk-prompts build; \
	else \
	  echo "no spoken prompts: install $(VOICE_PACKAGES)"; \
	fi

demo: $(VENV)/.stamp-demo prompts
	$(BIN)/vaxcert demo

certs: $(VENV)/.stamp-runtime
	$(BIN)/vaxcert --dev certs init

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --no-cache --check .

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

# Each test's outcome goes to .vaxcert/ (git-ignored): `vaxcert controls` reads the last run there.
LAST_TEST_RUN := .vaxcert/last-test-run.xml

pytest: $(VENV)/.stamp-dev system-deps prompts
	$(BIN)/pytest --junitxml=$(LAST_TEST_RUN)

# The privacy controls C01…C22, the tests that prove each, and their outcomes in the last run.
# Not part of `test`: it exits 1 while a control has no test yet (README, Tests).
controls: $(VENV)/.stamp-runtime
	$(BIN)/vaxcert controls

# Known vulnerabilities in what .venv holds, by pip-audit (tests/support/dependency_audit.py): a
# finding fails. A dependency it could not check is printed as NOT AUDITED and fails only with
# AUDIT_REQUIRE_SERVICE=1: CI here reaches the package registry but not its vulnerability data.
AUDIT_REQUIRE_SERVICE ?= 0

audit: $(VENV)/.stamp-dev
	$(BIN)/python -m tests.support.dependency_audit $(if $(filter 1,$(AUDIT_REQUIRE_SERVICE)),--require-service)

test: lint typecheck audit pytest

bench: $(VENV)/.stamp-dev
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python -P $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
