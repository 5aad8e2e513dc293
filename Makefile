# newswire — one command per job. `make run` and `make test` work on a fresh machine
# with Python 3.11+ and make: they create .venv and install what they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin

.PHONY: help install install-test run demo test check lint format mypy unit integration e2e \
        schema compose-config eval eval-cv train eval-dedupe train-dedupe bench clean

help:
	@echo "make run | demo | test | check | format | schema | eval | eval-dedupe | bench | clean"

$(VENV)/.run-installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

install: $(VENV)/.run-installed
install-test: $(VENV)/.test-installed

run: install            ## run the service (embedded Redis unless NEWSWIRE_REDIS_URL is set)
	$(BIN)/newswire run

demo: install           ## offline demo: bundled feeds → events
	$(BIN)/newswire demo

test: install-test check  ## the whole suite: lint, types, unit, integration, e2e
	$(BIN)/pytest -n 2 --dist loadgroup -q

check: lint mypy

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

mypy: install-test
	$(BIN)/mypy

unit: install-test
	$(BIN)/pytest -q tests/unit

integration: install-test
	$(BIN)/pytest -q tests/integration

e2e: install-test
	$(BIN)/pytest -q tests/e2e

schema: install        ## regenerate schemas/article-event.v1.json
	$(PY) -m services.schema

compose-config: install-test
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

eval: install-test      ## topic classification on the DEV labels (fails below the floor)
	$(PY) scripts/eval_classify.py --floor 0.85

eval-cv: install-test   ## honest cross-validated scores of the shipped model
	$(PY) scripts/eval_classify.py --cv

train: install-test     ## retrain services/core/data/classifier-weights.json
	$(PY) scripts/train_classifier.py

eval-dedupe: install-test
	$(PY) scripts/eval_dedupe.py

train-dedupe: install-test  ## refit services/core/data/dedupe-pair-model.json (tuning pairs only)
	$(PY) scripts/train_dedupe_model.py

bench: install-test     ## stage costs, then throughput / latency side by side → bench/results/
	$(PY) scripts/bench_classify.py | tee bench/results/classify.txt
	$(PY) scripts/measure_dedupe_cost.py --n 5000 | tee bench/results/dedupe-cost.txt
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .newswire .pytest_cache .mypy_cache .ruff_cache
