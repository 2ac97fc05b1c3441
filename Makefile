# Sinergi developer commands. `make run` serves the demo, `make test` runs the suite.
# Both create .venv on first use and reinstall dependencies only when pyproject.toml changes.

SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
WORKER_CONCURRENCY ?= 2
PYTEST_ARGS ?=

.PHONY: run test bench worker lint fmt messages install

# ------------------------------------------------------------------------------------ environment

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Sinergi needs Python 3.11 or newer as '$(PYTHON)' (try: make PYTHON=python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# ------------------------------------------------------------------------------------------ daily

# The demo: SQLite under var/, tasks in-process, demo accounts from seed_demo (see README.md).
run: export DEBUG := 1
run: install
	@mkdir -p var
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) runserver 127.0.0.1:$(PORT)

# Uses PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, SQLite and in-process tasks otherwise.
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Prints one `name: value` line per figure; runs against a throwaway test database. bench_documents also times
# real Celery workers when Redis answers (REDIS_URL, or redis://127.0.0.1:6379/8); the load test (`make load`)
# needs that Redis too, and is meant for PostgreSQL (DATABASE_URL).
bench: install
	DEBUG=1 $(MANAGE) bench
	DEBUG=1 $(MANAGE) bench_documents
	DEBUG=1 $(MANAGE) bench_load

# The busiest day alone (3–4 minutes): locust against gunicorn, the database, Redis and one Celery worker.
.PHONY: load
load: install
	DEBUG=1 $(MANAGE) bench_load

# A Celery worker for the queued PDF jobs; start one per machine, one process per core.
worker: install
	@test -n "$$REDIS_URL" || { echo "make worker needs REDIS_URL (e.g. redis://127.0.0.1:6379/0)"; exit 1; }
	$(BIN)/celery -A config worker -Q documents,celery --concurrency=$(WORKER_CONCURRENCY) -l info

# ---------------------------------------------------------------------------------------- quality

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(MANAGE) makemigrations --check --dry-run

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Updates locale/id/LC_MESSAGES/django.po from the code and compiles it; both files are committed.
messages: install
	DEBUG=1 $(MANAGE) makemessages -l id --ignore=$(VENV) --ignore=var --ignore=tests
	DEBUG=1 $(MANAGE) compilemessages --ignore=$(VENV) --ignore=var
