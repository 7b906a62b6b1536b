# Portico: `make run` starts the server, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/portico serve

# PORTICO_TEST_DB=postgresql runs the same suite against the PostgreSQL at 127.0.0.1:5432.
# Two pytest-xdist workers, a test file each at a time (module fixtures stay whole): the suite
# waits on browsers, subprocesses and sockets as much as it computes, so two share two cores
# well (SQLite: 14 min instead of more than 25 in one process on CI's machine).
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .data build *.egg-info
