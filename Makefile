# The README's two commands: `make demo` and `make test`. CI runs `make test` (.ci/run).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck schema bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP) lint typecheck
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) schema/codegen.py --check
	$(PY) -m ruff check doshit tests bench examples schema
	$(PY) -m ruff format --check doshit tests bench examples schema

typecheck: $(STAMP)
	$(PY) -m mypy

schema:
	$(PYTHON) schema/codegen.py

bench: $(STAMP)
	$(PY) bench/bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info
