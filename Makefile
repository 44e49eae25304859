# leadgate: make demo | make test | make lint | make bench
# Works from a fresh clone with only python3 and pip: .venv is created on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# front-end packages (npm, through package-lock.json) copied into the package
VENDOR := src/leadgate/web/static/vendor
ASSETS := $(VENDOR)/.built
# the browser SDKs the website-tracking tests load (tests/web/tracking_site), from npm
TRACKING_VENDOR := build/tracking-site/vendor
# parallel test workers (pytest-xdist): one per core by default
TEST_WORKERS ?= auto

.PHONY: demo test lint format typecheck bench assets clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(ASSETS): package.json package-lock.json
	@command -v npm >/dev/null || { \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
		else echo "npm is needed for the web app's assets: apt-get install nodejs npm"; exit 1; fi; }
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	mkdir -p $(TRACKING_VENDOR)
	cp node_modules/@segment/analytics-next/dist/umd/index.js $(TRACKING_VENDOR)/analytics-next.umd.js
	cp node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js $(TRACKING_VENDOR)/rudderstack.umd.js
	@touch $(ASSETS)

assets: $(ASSETS)

demo: $(STAMP) $(ASSETS)
	$(BIN)/leadgate demo

test: $(STAMP) $(ASSETS)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/import_events.py
	$(BIN)/python bench/rescore.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) $(TRACKING_VENDOR) .pytest_cache .mypy_cache .ruff_cache leadgate-demo.db* *.rejects.*
