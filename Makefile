# The two commands of the README: `make demo` runs the platform, `make test` runs every check.
# Both install what they need (Python venv and packages, local services) and can run again.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help python venv services test check lint typecheck pytest demo clean

help:
	@echo "make demo   - set everything up and run the platform with the demo region and simulated gateways"
	@echo "make test   - set everything up and run lint, type checks and the tests (what CI runs)"

# A fresh Debian 12 has python3 but not always venv/pip; install them when we may.
python:
	@python3 -c 'import venv, ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q python3 python3-venv python3-dev; \
	  else echo "need python3-venv: sudo apt-get install python3-venv python3-dev" >&2; exit 1; fi; }

$(STAMP): pyproject.toml | python
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

services:
	bash deploy/local/services.sh up

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv services
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

check: test

demo: venv services
	$(VENV)/bin/dusttwin demo

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache
