# mediawatch: `make run` starts the stack on sample data, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup tools browser axe screenshots run test lint typecheck pytest compose-test engine-down bench schemas vendor-web clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# promtool and amtool (Debian's prometheus and prometheus-alertmanager packages) check the
# metrics exposition, the alerting rules, the scrape and the Alertmanager configuration;
# Debian's postgresql gives the archive tests a throwaway PostgreSQL server.
tools:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v amtool >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing; run 'sudo apt-get install$$missing' (tests needing them will say so)"; \
	  fi; \
	fi

# Debian's chromium and chromium-driver for the web workspace's browser tests (root installs
# them; Playwright drives the system browser, none is downloaded).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: chromium chromium-driver"; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	  else \
	    echo "missing: chromium; run 'sudo apt-get install chromium chromium-driver' (browser tests will say so)"; \
	  fi; \
	fi

# axe-core from npm for the workspace's accessibility test, at the version of its lock file.
AXE := tests/web/axe/node_modules/axe-core/axe.min.js
axe: $(AXE)

$(AXE): tests/web/axe/package.json tests/web/axe/package-lock.json
	npm ci --prefix tests/web/axe --no-audit --no-fund --loglevel=error
	@touch $@

# The README's screenshots: the workspace's real-stack browser test, its screenshots copied
# into docs/img (the same code that `make test` runs; a real broker, chromium).
screenshots: setup browser
	MEDIAWATCH_SCREENSHOTS_DIR=docs/img $(BIN)/python -m pytest tests/web/test_workspace_stack.py -p no:xdist -s -q

run: setup
	$(BIN)/mediawatch up

lint: setup
	$(BIN)/ruff check services schemas tests benchmarks
	$(BIN)/ruff format --check services schemas tests benchmarks

typecheck: setup
	$(BIN)/mypy

# Parallel workers (three: four starved the kill tests on two cores), each with its own Kafka
# broker; work-stealing keeps the long fault tests
# from queueing behind one another. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 3
pytest: setup tools browser axe
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

# The engine tests run after the rest, alone: image builds would starve the parallel workers.
test: lint typecheck pytest compose-test

# docker-compose.yml on the project's own container engine (root; installs docker.io,
# debootstrap and compose v2 when missing, builds the stand-in images; docs/deploy.md).
# -s shows the times and sizes the tests print.
compose-test: setup
	$(BIN)/python -m pytest tests/engine -m engine -s --durations=15

# Stops the engine's daemons if a run was interrupted (the test stops them itself).
engine-down: setup
	$(BIN)/python -m mediawatch.stack.engine down

# Scripts that print figures (never timed tests); BODIES is the FNC-1 bodies.csv.
BODIES ?= ../shared/data/news-bodies/bodies.csv
bench: setup
	$(BIN)/python benchmarks/bench_pipeline.py --bodies $(BODIES)
	$(BIN)/python benchmarks/bench_tagger.py --bodies $(BODIES)
	$(BIN)/python benchmarks/bench_fetcher.py

# The workspace's chart library, vendored from npm (MIT; committed, so the wheel needs no
# network): `make vendor-web` fetches the pinned version again and checks it against the
# committed checksums.
UPLOT_DIR := services/mediawatch/api/web/static/vendor/uplot
vendor-web:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent uplot@$$(cat $(CURDIR)/$(UPLOT_DIR)/VERSION) >/dev/null && \
	  tar xzf uplot-*.tgz && cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE $(CURDIR)/$(UPLOT_DIR)/ && \
	  cd $(CURDIR)/$(UPLOT_DIR) && sha256sum -c SHA256SUMS && rm -rf $$tmp

schemas: setup
	$(BIN)/mediawatch schemas export

clean:
	rm -rf $(VENV) .mediawatch .pytest_cache .mypy_cache .ruff_cache
