# The two commands: `make run` (install and start the embedded desk) and `make test`
# (install what the tests need and run every test, on SQLite and on PostgreSQL).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The PostgreSQL server the second test pass uses (pytest-django creates test_<name> on it).
VEILLE_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/veille

.PHONY: install install-test run test test-sqlite test-postgres lint messages bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py src/veille/ingest/_words.c
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "veille needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install-test: $(VENV)/.installed-test
	scripts/ensure-chromium.sh
	scripts/ensure-postgres.sh

run: install
	$(BIN)/veille run --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench

test: install-test lint test-sqlite test-postgres

test-sqlite: $(VENV)/.installed-test
	env -u VEILLE_DATABASE_URL $(BIN)/python -m pytest -q

# Tests that touch the database run a second time against PostgreSQL.
test-postgres: $(VENV)/.installed-test
	VEILLE_DATABASE_URL=$(VEILLE_TEST_POSTGRES_URL) $(BIN)/python -m pytest -q -m database

messages: $(VENV)/.installed
	cd src/veille && ../../$(BIN)/veille manage makemessages -l fr -l de -l it --no-obsolete && ../../$(BIN)/veille manage compilemessages

bench: $(VENV)/.installed
	$(BIN)/veille bench ingest --input ../shared/data/twcs/twcs_union.csv.gz --json

clean:
	rm -rf $(VENV) var .pytest_cache src/veille/ingest/_words.*.so
