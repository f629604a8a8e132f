# Larza: `make demo` sets up and runs the whole service; `make test` runs the checks and tests.
PYTHON ?= python3
PYTEST_ARGS ?= -n 2
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
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

## test: lint, then the whole suite on two cores (SQLite; set LARZA_TEST_DATABASE_URL for PostgreSQL;
## PYTEST_ARGS="" runs it in one process)
test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
