# The few commands people need. `make run` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint format bench migrate clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v 0

## run: the portal with demo data on http://127.0.0.1:$(PORT), a Celery worker and beat; Ctrl-C stops all.
run: migrate
	$(BIN)/python manage.py seed_demo
	PORT=$(PORT) BIN=$(BIN) bash scripts/run.sh

## test: the whole suite (services-backed tests skip, saying why, where PostgreSQL/Redis are absent).
test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_profiling.py
	$(BIN)/python bench/bench_dataset_version_list.py
	$(BIN)/python bench/bench_lineage.py
	$(BIN)/python bench/bench_quality.py
	$(BIN)/python bench/bench_quality_suggest.py
	$(BIN)/python bench/bench_drift_features.py
	$(BIN)/python bench/bench_drift_classifier.py
	$(BIN)/python bench/bench_drift.py
	# Serving: PostgreSQL when DATABASE_URL names one (the figures in the README are).
	$(BIN)/python bench/bench_predict_latency.py
	$(BIN)/python bench/bench_prediction_ingest.py
	$(BIN)/python bench/bench_prediction_load.py
	$(BIN)/python bench/bench_prediction_dashboards.py

clean:
	rm -rf $(VENV) var
