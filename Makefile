# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BENCH_STAMP := $(VENV)/.bench-installed

# The test matrix: the main leg (newest Django 5.2 on $(PYTHON)), Django 4.2 LTS on the oldest Python we
# support, and the newest Django on the newest Python found (.ci/find-python fails loudly when there is none).
COMPAT_VENV ?= .venv-django42
COMPAT_STAMP := $(COMPAT_VENV)/.installed
OLDEST_PYTHONS ?= 3.11
NEWEST_VENV ?= .venv-newest
NEWEST_STAMP := $(NEWEST_VENV)/.installed
NEWEST_PYTHONS ?= 3.14 3.13
# Dev tools that do not support Django 4.2 (django-health-check 4 needs 5.2+): that leg goes without them.
COMPAT_LEAVE_OUT ?= django-health-check
# Tests marked `slow` (long waits, many forks) or `browser` (headless Chromium) run on the main leg only.
EXTRA_LEG_ARGS ?= -m "not slow and not browser"
TEST_JOBS ?= 6

.PHONY: demo test venvs lint typecheck pytest pytest-django42 pytest-newest bench bench-smoke services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" "Django>=5.2,<6"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo/run_demo.py

$(COMPAT_STAMP): pyproject.toml
	test -x $(COMPAT_VENV)/bin/python || { python=$$(bash .ci/find-python $(OLDEST_PYTHONS)) && "$$python" -m venv $(COMPAT_VENV); }
	$(COMPAT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COMPAT_VENV)/bin/python .ci/dev-requirements $(COMPAT_LEAVE_OUT) > $(COMPAT_VENV)/dev-requirements.txt
	$(COMPAT_VENV)/bin/python -m pip install --quiet -e . "Django>=4.2,<4.3" -r $(COMPAT_VENV)/dev-requirements.txt
	touch $(COMPAT_STAMP)

$(NEWEST_STAMP): pyproject.toml
	test -x $(NEWEST_VENV)/bin/python || { python=$$(bash .ci/find-python $(NEWEST_PYTHONS)) && "$$python" -m venv $(NEWEST_VENV); }
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NEWEST_VENV)/bin/python -m pip install --quiet -e ".[dev]" "Django>=6"
	touch $(NEWEST_STAMP)

# Every venv first (in parallel), then the checks, the three suites and the benchmark smoke test side by side
# (each suite starts its own SeaweedFS and redis-server on free ports); a failure of any fails `make test`, and
# each one's output is printed in one piece when it ends.
test: services
	$(MAKE) --no-print-directory -j3 venvs
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target lint typecheck pytest pytest-django42 pytest-newest bench-smoke

venvs: $(BENCH_STAMP) $(COMPAT_STAMP) $(NEWEST_STAMP)

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

# The oldest supported Django (4.2 LTS) on the oldest supported Python. The extra legs leave out the `slow` tests
# and the browser tests (headless Chromium: they test the page and its script, not Django's version).
pytest-django42: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/pytest -q $(EXTRA_LEG_ARGS) $(PYTEST_ARGS)

# The newest Django on the newest Python: what a new project installs today.
pytest-newest: $(NEWEST_STAMP)
	$(NEWEST_VENV)/bin/pytest -q $(EXTRA_LEG_ARGS) $(PYTEST_ARGS)

# The peers and charts of the benchmarks (django-storages, boto3, matplotlib) go into the main venv.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]" "Django>=5.2,<6"
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
	rm -rf $(VENV) $(COMPAT_VENV) $(NEWEST_VENV) build *.egg-info
