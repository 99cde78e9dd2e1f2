# iron-cage entry points. `make demo` and `make test` are all a newcomer needs:
# each installs what it needs (Python venv, Rust build via maturin) by itself.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Build the extension optimised: tests exercise the same code the benchmarks measure.
MATURIN_FLAGS ?= --release
export PYO3_PYTHON := $(abspath $(PY))

.PHONY: help setup build demo test test-rust test-python bench bench-rust bench-python lint fmt clean

help:
	@echo "make demo    run the governed demo agent"
	@echo "make test    run every test suite (Rust and Python)"
	@echo "make bench   run the benchmarks (results: BENCHMARKS.md)"
	@echo "make lint    ruff, mypy --strict, stubtest, clippy -D warnings, cargo fmt --check"
	@echo "make setup   create $(VENV) and build the extension (done by the others as needed)"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.deps: requirements/dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

# Rebuilt whenever Rust sources, manifests or the price table change.
RUST_SOURCES := $(shell find crates -name '*.rs' -o -name '*.toml' -o -name '*.json' 2>/dev/null) Cargo.toml pyproject.toml
$(VENV)/.built: $(VENV)/.deps $(RUST_SOURCES)
	$(BIN)/maturin develop --quiet $(MATURIN_FLAGS)
	touch $@

setup: $(VENV)/.built

build: setup

demo: setup
	$(BIN)/iron-cage demo

test: test-rust test-python

test-rust: $(VENV)/.deps
	cargo test --workspace --exclude iron_cage_py --quiet

test-python: setup
	$(PY) -m pytest tests/python

bench: bench-rust bench-python

bench-rust:
	cargo bench -p iron_cage_benches --bench cost --quiet -- --noplot

bench-python: setup
	$(PY) benches/python/bench_cost.py

lint: setup
	$(BIN)/ruff check python tests/python benches/python
	$(BIN)/ruff format --check python tests/python benches/python
	$(BIN)/mypy
	$(PY) -m mypy.stubtest iron_cage._core --allowlist stubtest-allowlist.txt
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

fmt: | $(BIN)/activate
	cargo fmt --all
	$(BIN)/ruff format python tests/python benches/python
	$(BIN)/ruff check --fix python tests/python benches/python

clean:
	rm -rf $(VENV) target .pytest_cache .mypy_cache .ruff_cache .hypothesis
