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
# On SQLite, two pytest-xdist workers, a test file each at a time (module fixtures stay
# whole): the suite waits on browsers, subprocesses and sockets as much as it computes, so two
# share two cores well (14 min instead of more than 25 in one process on CI's machine). On
# PostgreSQL one process: two would hold more connections than its default 100.
XDIST := $(if $(filter postgresql,$(PORTICO_TEST_DB)),,-n 2 --dist loadfile)
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest $(XDIST)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .data build *.egg-info
