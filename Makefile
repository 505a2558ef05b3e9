# Two verbs do all set-up: `make run` and `make test`. Everything else is a helper of theirs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv migrate lint bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	mkdir -p var
	$(BIN)/parley db upgrade

run: migrate
	$(BIN)/parley serve

test: venv
	bash scripts/test-deps.sh
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q -n 3 --dist loadfile --durations=25 tests

lint: venv
	$(BIN)/ruff check src tests bench

screenshots: venv
	bash scripts/test-deps.sh
	$(BIN)/python scripts/screenshots.py

# Every benchmark in a bounded quick mode (~8 min), then one table: figure, target, measured, met?
bench: venv
	$(BIN)/python bench/summary.py

clean:
	rm -rf $(VENV) var
