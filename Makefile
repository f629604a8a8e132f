# Larza: `make demo` sets up and runs the whole service; `make test` runs the checks and tests.
PYTHON ?= python3
PYTEST_ARGS ?= -n 2
VENV ?= .venv
BIN := $(VENV)/bin
# The tested, pinned versions (see constraints.txt); CONSTRAINTS= installs from pyproject's
# ranges instead (e.g. on a Python other than 3.11, or to try newer versions).
CONSTRAINTS ?= constraints.txt
PIP_INSTALL = $(BIN)/python -m pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# The dashboard's browser tests drive Debian's headless Chromium through its chromedriver.
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
APT_GET ?= apt-get
AS_ROOT ?= $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: demo test lint install dev browser constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

## demo: migrate an embedded SQLite database, load the TJ stations, run feed + worker + API
demo: install
	$(BIN)/larza demo

## lint: ruff, mypy (strict) and the import contracts between the four packages
lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## browser: Debian's chromium and chromium-driver for the dashboard's browser tests; installed
## with apt-get when they are missing and make runs as root, otherwise asked for in one line
browser:
	@if [ ! -x "$(CHROMIUM)" ] || [ ! -x "$(CHROMEDRIVER)" ]; then \
	  if [ "$(AS_ROOT)" = yes ] && command -v $(APT_GET) >/dev/null 2>&1; then \
	    echo "make: installing Debian's chromium and chromium-driver (the dashboard's browser tests)"; \
	    $(APT_GET) update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium chromium-driver >/dev/null; \
	  fi; \
	  if [ ! -x "$(CHROMIUM)" ] || [ ! -x "$(CHROMEDRIVER)" ]; then \
	    echo "make test needs Debian's chromium and chromium-driver ($(CHROMIUM), $(CHROMEDRIVER)) for the dashboard's browser tests: run 'sudo apt-get install chromium chromium-driver', or make test as root to have them installed" >&2; \
	    exit 1; \
	  fi; \
	fi

## test: the browser, lint, then the whole suite on two cores (SQLite; set
## LARZA_TEST_DATABASE_URL for PostgreSQL; PYTEST_ARGS="" runs it in one process)
test: browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

## constraints: pin what the .venv holds into constraints.txt, after `pip install --upgrade
## --upgrade-strategy eager -e '.[dev]'` and a passing `make test`
constraints: dev
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --all --exclude-editable --exclude pip; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
