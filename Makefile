# Set-up and checks for `multilevel`. Needs only python3 (with venv and pip) on the machine:
# every target that runs something first creates .venv and installs what it needs.
# Stamp files inside .venv record each install; they are redone when pyproject.toml changes
# (and all of them when .venv is removed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

VENV_STAMP    := $(VENV)/.stamp-venv
INSTALL_STAMP := $(VENV)/.stamp-install
DEV_STAMP     := $(VENV)/.stamp-dev

.DEFAULT_GOAL := help

.PHONY: help venv install dev demo test lint bench clean distclean

help:
	@echo "make demo   create .venv, install multilevel, fit the High School and Beyond demo"
	@echo "make test   create .venv, install with dev tools, run ruff, mypy and pytest"
	@echo "make lint   ruff and mypy only"
	@echo "make bench  run benchmarks/run.py"
	@echo "make clean  remove build outputs and caches (distclean: also .venv)"

venv: $(VENV_STAMP)

$(VENV_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	touch $@

install: $(INSTALL_STAMP)

$(INSTALL_STAMP): pyproject.toml $(VENV_STAMP)
	$(BIN)/pip install -e .
	touch $@

dev: $(DEV_STAMP)

# The dev extra includes everything `install` does, so it satisfies that stamp too.
$(DEV_STAMP): pyproject.toml $(VENV_STAMP)
	$(BIN)/pip install -e ".[dev]"
	touch $@ $(INSTALL_STAMP)

demo: $(INSTALL_STAMP)
	$(BIN)/multilevel demo

test: $(DEV_STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache benchmarks/results
	find . -path ./$(VENV) -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
