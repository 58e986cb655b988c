# gridmap: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SCALE ?= 1
SEED ?= 7
PYTEST_ARGS ?=
# two pytest-xdist workers: one builds the shared demo city while the other runs the unit tests
TEST_WORKERS ?= 2

.PHONY: demo test install install-test system-deps postgis build-demo serve lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## demo: venv, install, build the Tongliao demo into var/gridmap.gpkg, serve on http://$(HOST):$(PORT)
demo: install
	$(BIN)/gridmap build-demo --seed $(SEED) --scale $(SCALE)
	$(BIN)/gridmap serve --host $(HOST) --port $(PORT)

build-demo: install
	$(BIN)/gridmap build-demo --seed $(SEED) --scale $(SCALE)

serve: install
	$(BIN)/gridmap serve --host $(HOST) --port $(PORT)

## system-deps: what the tests need from Debian (PostGIS, Chromium, CJK fonts, GDAL's ogrinfo), idempotent
system-deps:
	bash scripts/system_deps.sh

postgis:
	bash scripts/pg_setup.sh

## test: install, start PostGIS, run the whole suite (PostGIS tests are required, never skipped)
test: install-test system-deps postgis
	GRIDMAP_REQUIRE_POSTGIS=1 $(BIN)/pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## bench: every benchmark beside its peer (esda, libpysal, spopt, numba come from the bench extra)
bench: install-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf var/gridmap.gpkg* tests/artifacts .pytest_cache
