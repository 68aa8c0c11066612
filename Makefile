# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

COMPAT_VENV ?= .venv-django42
COMPAT_STAMP := $(COMPAT_VENV)/.installed

.PHONY: demo test lint typecheck pytest pytest-django42 bench services clean

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

test: $(STAMP) services lint typecheck pytest pytest-django42

services:
	@bash .ci/ensure-redis

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The oldest supported Django (4.2 LTS); the main run uses the newest 5.x.
pytest-django42: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m perf

clean:
	rm -rf $(VENV) $(COMPAT_VENV) build *.egg-info
