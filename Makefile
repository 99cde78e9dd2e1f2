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

.PHONY: postgres chromium chaos bench-cp-scale dashboard test-dashboard screenshots bench-control-panel bench-router test-crewai framework-wheel test-llamaindex test-dspy test-frameworks help setup build demo test test-rust test-python install-check bench bench-rust bench-python fuzz lint fmt clean

help:
	@echo "make demo    run the governed demo agent"
	@echo "make test    run every test suite (Rust and Python)"
	@echo "make chaos   the chaos suite: replicas killed, PostgreSQL restarted, partitions (not in make test)"
	@echo "make bench   run the benchmarks (results: BENCHMARKS.md)"
	@echo "make lint    ruff, mypy --strict, stubtest, clippy -D warnings, cargo fmt --check"
	@echo "make setup   create $(VENV) and build the extension (done by the others as needed)"
	@echo "make install-check   pip install . into a fresh venv and import it"

$(BIN)/activate:
	@echo "==> creating the Python environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.deps: requirements/dev.txt | $(BIN)/activate
	@echo "==> installing the Python tools and SDKs (requirements/dev.txt; a few minutes the first time)"
	$(BIN)/pip install --quiet -r requirements/dev.txt
	# LiteLLM's bundled price map, for tests/python/test_prices_litellm.py only: its
	# dependencies would fight the SDK pins above, and nothing imports it.
	$(BIN)/pip install --quiet --no-deps litellm==1.106.2
	touch $@

# Rebuilt whenever Rust sources, manifests or the price table change.
RUST_SOURCES := $(shell find crates -name '*.rs' -o -name '*.toml' -o -name '*.json' 2>/dev/null) Cargo.toml pyproject.toml
# No --quiet: cargo's own progress shows while the Rust extension compiles.
$(VENV)/.built: $(VENV)/.deps $(RUST_SOURCES)
	@echo "==> building the Rust extension (maturin develop $(MATURIN_FLAGS); a few minutes the first time)"
	$(BIN)/maturin develop $(MATURIN_FLAGS)
	touch $@

# The Vue dashboard (dashboard/), built into the Control Panel's static files. Needs Node.js
# and npm (preinstalled on the project's machines; Debian package nodejs/npm otherwise).
STATIC_INDEX := python/iron_cage/control_panel/static/index.html
DASHBOARD_SOURCES := $(shell find dashboard/src dashboard/public -type f 2>/dev/null) dashboard/index.html dashboard/package.json dashboard/vite.config.ts dashboard/tsconfig.json
dashboard/node_modules/.installed: dashboard/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	@echo "==> installing the dashboard's packages (npm install)"
	cd dashboard && npm install --no-audit --no-fund --loglevel=error
	touch $@
$(STATIC_INDEX): dashboard/node_modules/.installed $(DASHBOARD_SOURCES)
	@echo "==> building the dashboard (vite)"
	cd dashboard && npm run --silent build
dashboard: $(STATIC_INDEX)

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; nothing is downloaded).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; else \
		echo "installing Chromium (Debian package chromium)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi

setup: $(VENV)/.built dashboard

# docs/images/dashboard-*.png for docs/dashboard.md, from a supervised demo run in Debian's
# Chromium; the colour emoji of the status icons need Debian's fonts-noto-color-emoji.
screenshots: setup chromium
	@if fc-list 2>/dev/null | grep -qi "color emoji"; then :; else \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji >/dev/null; \
	fi
	$(PY) tests/python/control_panel/screenshots.py docs/images

build: setup

# `iron-cage start examples/lead_gen/agent.py --budget 50` under an embedded Control Panel;
# in a terminal the Control Panel and dashboard stay up afterwards (Ctrl-C ends it).
demo: setup
	@echo "==> running the demo: iron-cage demo --supervised"
	$(BIN)/iron-cage demo --supervised $$([ -t 1 ] && echo --serve)

test: test-rust test-dashboard test-python test-crewai test-llamaindex test-dspy

# The dashboard's unit tests (Vitest: formatting, projection, severity, status, notifications).
test-dashboard: dashboard/node_modules/.installed
	cd dashboard && npm run --silent test

test-rust: $(VENV)/.deps
	cargo test --workspace --exclude iron_cage_py --quiet

# The Control Panel suites run against a real PostgreSQL server (started by the tests
# themselves in a temporary directory); this installs Debian's package when it is missing.
postgres:
	@if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then :; else \
		echo "installing PostgreSQL (Debian package postgresql)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	fi

# pytest exits 5 when it collects no tests; that is a broken suite, not a pass.
test-python: setup postgres chromium
	$(PY) -m pytest --durations=15 tests/python || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest collected no tests: failing" >&2; exit $$rc; }

# Real replicas, a real PostgreSQL and runtimes under faults (docs/reliability.md "Chaos suite");
# slow and disruptive by design, so not part of `make test`.
chaos: setup postgres
	$(PY) -m pytest -p no:cacheprovider -s tests/chaos --rootdir tests/chaos -c /dev/null -W error -o xfail_strict=true

# CrewAI pins openai<3 (on httpx), so its integration tests run in their own venv
# against a wheel of the same build.
CREW := .venv-crewai
$(CREW)/.deps: requirements/crewai.txt
	$(PYTHON) -m venv $(CREW)
	$(CREW)/bin/pip install --quiet --upgrade pip
	$(CREW)/bin/pip install --quiet -r requirements/crewai.txt
	touch $@

test-crewai: setup $(CREW)/.deps
	rm -rf $(CREW)/wheels
	$(BIN)/maturin build --release --quiet -o $(CREW)/wheels
	$(CREW)/bin/pip install --quiet --force-reinstall --no-deps $(CREW)/wheels/*.whl
	cd tests/crewai && $(abspath $(CREW))/bin/python -m pytest -c pytest.ini -q || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest collected no CrewAI tests: failing" >&2; exit $$rc; }

# Frameworks whose pins fight requirements/dev.txt (LlamaIndex's OpenAI LLM and DSPy's
# LiteLLM pin openai<3) get a venv each, cached outside the clone (reused between runs,
# like the Rust target cache) and keyed on their requirements file and the Python version;
# the wheel of this build is installed into each before its tests run.
FRAMEWORK_VENVS ?= $(HOME)/.cache/iron-cage/venvs
FRAMEWORK_WHEELS := $(VENV)/framework-wheels
PY_TAG := $(shell $(PYTHON) -c 'import sys; print("py%d%d" % sys.version_info[:2])' 2>/dev/null)
framework_venv = $(FRAMEWORK_VENVS)/$(1)-$(PY_TAG)-$(shell sha256sum requirements/$(1).txt 2>/dev/null | cut -c1-12)
LLAMAINDEX := $(call framework_venv,llamaindex)
DSPY := $(call framework_venv,dspy)

$(FRAMEWORK_VENVS)/%/.deps:
	rm -rf $(@D)
	$(PYTHON) -m venv $(@D)
	$(@D)/bin/pip install --quiet --upgrade pip
	$(@D)/bin/pip install --quiet -r requirements/$(firstword $(subst -, ,$*)).txt
	touch $@

framework-wheel: setup
	rm -rf $(FRAMEWORK_WHEELS)
	$(BIN)/maturin build --release --quiet -o $(FRAMEWORK_WHEELS)

# pytest exits 5 when it collects no tests; that is a broken suite, not a pass.
test-llamaindex: framework-wheel $(LLAMAINDEX)/.deps
	$(LLAMAINDEX)/bin/pip install --quiet --force-reinstall --no-deps $(FRAMEWORK_WHEELS)/*.whl
	cd tests/llamaindex && $(LLAMAINDEX)/bin/python -m pytest -c pytest.ini -q || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest collected no LlamaIndex tests: failing" >&2; exit $$rc; }

test-dspy: framework-wheel $(DSPY)/.deps
	$(DSPY)/bin/pip install --quiet --force-reinstall --no-deps $(FRAMEWORK_WHEELS)/*.whl
	cd tests/dspy && $(DSPY)/bin/python -m pytest -c pytest.ini -q || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest collected no DSPy tests: failing" >&2; exit $$rc; }

# Every agent-framework suite alone: the ones in the dev venv, their examples, and the venvs above.
test-frameworks: setup test-llamaindex test-dspy
	$(PY) -m pytest -q tests/python/test_frameworks_*.py tests/python/test_examples.py

# What a user gets from `pip install .`: a fresh venv, the wheel built by pip
# through maturin, a governed reservation from the installed package, and its
# Control Panel serving the dashboard (built first: the wheel ships it) and /ws.
install-check: dashboard
	rm -rf .venv-install
	$(PYTHON) -m venv .venv-install
	.venv-install/bin/pip install --quiet '.[control-panel]'
	cd / && $(abspath .venv-install)/bin/python -c "import iron_cage as ic; b = ic.Budget(1); b.reserve(0.5).commit(0.25); \
		assert b.spent_usd == 0.25, b; assert ic.count_tokens('gpt-4o', 'hello world') == 2; \
		print('pip install . OK:', ic.__version__, b)"
	$(abspath .venv-install)/bin/iron-cage version
	rm -f /tmp/iron-cage-install-check.db*
	cd / && $(abspath .venv-install)/bin/python -c "from iron_cage.control_panel import ControlPanel, Settings; \
		cp = ControlPanel(Settings(database_url='sqlite:////tmp/iron-cage-install-check.db')); \
		assert cp.bootstrap_admin(); print('control panel migrations packaged OK')"
	rm -f /tmp/iron-cage-install-check.db*
	cd / && $(abspath .venv-install)/bin/python $(abspath tests/python/install_check_ws.py)

bench: bench-rust bench-python bench-router bench-control-panel

bench-rust:
	cargo bench -p iron_cage_benches --bench cost --bench reliability --bench secrets --bench pii --bench egress --quiet -- --noplot

$(VENV)/.bench-deps: requirements/bench.txt $(VENV)/.deps
	$(BIN)/pip install --quiet -r requirements/bench.txt
	touch $@

bench-python: setup $(VENV)/.bench-deps
	$(PY) benches/python/bench_cost.py
	$(PY) benches/python/bench_breaker.py
	$(PY) benches/python/bench_secrets.py
	$(PY) benches/python/bench_pii.py
	$(PY) benches/python/bench_library.py
	$(PY) benches/python/bench_library_split.py
	$(PY) benches/python/bench_egress.py

# Handshake latency and report ingestion of the Control Panel, and live events to 100 dashboard
# viewers, on SQLite and PostgreSQL.
bench-control-panel: setup postgres chromium
	$(PY) benches/python/bench_control_panel.py
	$(PY) benches/python/bench_dashboard_ws.py

# 1,000 simulated runtimes speaking the lease protocol, on one replica and on three (PostgreSQL).
bench-cp-scale: setup postgres
	$(PY) benches/python/bench_cp_scale.py --runtimes 1000 --replicas 1
	$(PY) benches/python/bench_cp_scale.py --runtimes 1000 --replicas 3

# The router bench with the LiteLLM proxy as peer; LiteLLM gets its own venv
# (its pins would fight the dev venv's openai/httpx2).
.venv-litellm/.deps: requirements/litellm.txt
	$(PYTHON) -m venv .venv-litellm
	.venv-litellm/bin/pip install --quiet -r requirements/litellm.txt
	touch $@

bench-router: setup .venv-litellm/.deps
	$(PY) benches/python/bench_router.py .venv-litellm/bin/litellm

# Each cargo-fuzz target for FUZZ_SECONDS in turn, starting from its committed seeds
# (fuzz/seeds/<target>, read only) and growing fuzz/corpus/<target>; crashes land in
# fuzz/artifacts/<target>. All targets run even when one fails; the run fails after.
# Needs `cargo install cargo-fuzz`; stable rustc accepts its -Z flags with RUSTC_BOOTSTRAP.
# Not part of `make test`: the seeds alone are replayed there (crates/iron_fuzz).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= request_parse reply_skim sse_parse pii_scan
fuzz:
	cd fuzz && failed=""; for t in $(FUZZ_TARGETS); do \
		echo "==> fuzzing $$t for $(FUZZ_SECONDS) s"; mkdir -p corpus/$$t; \
		RUSTC_BOOTSTRAP=1 cargo fuzz run $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) || failed="$$failed $$t"; \
	done; if [ -n "$$failed" ]; then echo "fuzz targets failed:$$failed (see fuzz/artifacts/)" >&2; exit 1; fi

lint: setup dashboard/node_modules/.installed
	$(BIN)/ruff check python tests/python tests/chaos tests/crewai benches/python examples
	$(BIN)/ruff format --check python tests/python tests/chaos tests/crewai benches/python examples
	$(BIN)/mypy
	$(PY) -m mypy.stubtest iron_cage._core --allowlist stubtest-allowlist.txt
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	cd dashboard && npm run --silent lint

fmt: | $(BIN)/activate
	cargo fmt --all
	$(BIN)/ruff format python tests/python tests/chaos tests/crewai benches/python examples
	$(BIN)/ruff check --fix python tests/python tests/crewai benches/python examples

clean:
	rm -rf $(VENV) target .pytest_cache .mypy_cache .ruff_cache .hypothesis
