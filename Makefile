# Every target creates and uses the local virtual environment in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test slow lint format bench clean
.PHONY: bench-dml

LINTED := $(wildcard src tests bench examples)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@ $(VENV)/.runtime

## demo: install paribus and run the end-to-end Lalonde analysis (writes out/demo/)
demo: $(VENV)/.runtime
	$(BIN)/paribus demo --out out/demo

## test: install paribus with its test extras and run the default suite
test: $(VENV)/.test
	$(BIN)/python -m pytest

## slow: the long simulation studies (coverage over many replications)
slow: $(VENV)/.test
	$(BIN)/python -m pytest -m slow -p no:cacheprovider

lint: $(VENV)/.test
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

format: $(VENV)/.test
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

## bench: peer libraries in their own environment (.venv-bench); run by hand, not in CI
.venv-bench/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q --upgrade pip
	.venv-bench/bin/python -m pip install -q -e ".[bench]"
	touch $@

bench: .venv-bench/.installed
	.venv-bench/bin/python bench/bench_matching_aipw.py

## bench-dml: DML PLR/IRM against DoubleML and EconML, and the bare-nuisance floor
bench-dml: .venv-bench/.installed
	.venv-bench/bin/python bench/bench_dml.py

clean:
	rm -rf $(VENV) .venv-bench out .pytest_cache .mypy_cache .ruff_cache
