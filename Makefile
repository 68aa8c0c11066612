# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BENCH_STAMP := $(VENV)/.bench-installed

COMPAT_VENV ?= .venv-django42
COMPAT_STAMP := $(COMPAT_VENV)/.installed

.PHONY: demo test lint typecheck pytest pytest-django42 bench bench-smoke services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo/run_demo.py

$(COMPAT_STAMP): pyproject.toml
	test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COMPAT_VENV)/bin/python -m pip install --quiet -e ".[dev]" "Django>=4.2,<4.3"
	touch $(COMPAT_STAMP)

test: $(STAMP) services lint typecheck pytest pytest-django42 bench-smoke

services:
	@bash .ci/ensure-redis
	@bash .ci/ensure-chromium

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The oldest supported Django (4.2 LTS); the main run uses the newest 5.x. The browser tests (headless Chromium,
# about a minute) run on the main leg only: they test the page and its script, not Django's version.
pytest-django42: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/pytest -q -m "not browser" $(PYTEST_ARGS)

# The peers and charts of the benchmarks (django-storages, boto3, matplotlib) go into the main venv.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(BENCH_STAMP)

# Every benchmark at tiny sizes: it must finish and write valid JSON and a report (no timing thresholds).
bench-smoke: $(BENCH_STAMP) services
	@out=$$(mktemp -d) && \
	  $(BIN)/python -m perf --quick --json $$out/perf.json --report $$out/report && \
	  $(BIN)/python -c "import json, sys; json.load(open(sys.argv[1]))" $$out/perf.json && \
	  rm -rf $$out

# The full run (about half an hour); figures and report under perf/results/.
bench: $(BENCH_STAMP) services
	$(BIN)/python -m perf --json perf/results/perf.json --report perf/results/report

clean:
	rm -rf $(VENV) $(COMPAT_VENV) build *.egg-info
