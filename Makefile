# Sinergi developer commands. `make run` serves the demo with its background worker, `make test` runs the suite.
# Both install the missing Debian packages (scripts/system-packages), create .venv on first use and reinstall
# dependencies only when pyproject.toml changes.

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

.PHONY: run test bench worker lint fmt messages install system-packages-run system-packages-test

# ------------------------------------------------------------------------------------ environment

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Sinergi needs Python 3.11 or newer as '$(PYTHON)' (try: make PYTHON=python3.12)"; exit 1; }
	@# A venv that failed half-way (no ensurepip) has bin/python but no pip: remove it, or the next run skips this.
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# PYTHON: the script adds the venv package when it is Debian's own Python that makes .venv.
system-packages-run:
	@PYTHON=$(PYTHON) scripts/system-packages run

system-packages-test:
	@PYTHON=$(PYTHON) scripts/system-packages test

# ------------------------------------------------------------------------------------------ daily

# The demo: SQLite under var/, demo accounts from seed_demo (see README.md), the development server and a Celery
# worker (with beat) on the folder broker under var/, started and stopped together by honcho (Procfile.dev):
# Ctrl-C, closing the terminal (SIGHUP) or SIGTERM stops both. SITE_URL, printed in the certificates' QR codes,
# follows PORT unless set.
run: export DEBUG := 1
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: export WORKER_CONCURRENCY := $(WORKER_CONCURRENCY)
run: export PATH := $(abspath $(BIN)):$(PATH)
run: system-packages-run install
	@mkdir -p var
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	@# The environment is make's own: --env /dev/null keeps a production .env (for docker compose) out of the demo.
	@# honcho starts the processes in sessions of their own and does not handle SIGHUP: a closed terminal would
	@# end honcho alone and leave them running. So honcho ignores SIGHUP, and this shell turns HUP, INT and TERM
	@# into one SIGTERM to honcho, which stops both and exits; the status is then 128 + the signal's number.
	@# honcho's output goes through cat, and to nowhere once the terminal is gone: writing to a closed terminal
	@# would make honcho fail half-way through stopping them.
	@( trap '' HUP; exec $(BIN)/honcho --env /dev/null start --procfile Procfile.dev --port $(PORT) ) \
		> >(trap '' HUP INT TERM; cat; exec cat >/dev/null) 2>&1 & honcho=$$!; \
	stop() { signal=$$1; kill -TERM $$honcho 2>/dev/null; }; \
	trap 'stop 129' HUP; trap 'stop 130' INT; trap 'stop 143' TERM; \
	while wait $$honcho; status=$$?; kill -0 $$honcho 2>/dev/null; do :; done; \
	exit $${signal:-$$status}

# Uses PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, SQLite and in-process tasks otherwise.
test: system-packages-test install
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

# A Celery worker for the queued jobs (Redis with REDIS_URL, the folder broker under var/ otherwise); start one
# per machine, one process per core. Without SECRET_KEY it is the development worker: DEBUG on, as for make run.
worker: export DEBUG := $(if $(SECRET_KEY),$(DEBUG),1)
worker: system-packages-run install
	$(BIN)/celery -A config worker -Q documents,celery --concurrency=$(WORKER_CONCURRENCY) -l info

# ---------------------------------------------------------------------------------------- quality

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(MANAGE) makemigrations --check --dry-run
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Updates locale/id/LC_MESSAGES/django.po from the code and compiles it; both files are committed.
messages: install
	DEBUG=1 $(MANAGE) makemessages -l id --ignore=$(VENV) --ignore=var --ignore=tests
	DEBUG=1 $(MANAGE) compilemessages --ignore=$(VENV) --ignore=var
