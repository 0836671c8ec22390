# RadQA task runner: the README's commands.
VENV   := .venv
PY     := $(VENV)/bin/python
RADQA  := $(VENV)/bin/radqa
DATA   ?= data
PORT   ?= 8501
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench demo install system clean serve

# the system packages first: a bare Debian's python3 has no venv module without python3-venv
$(STAMP): pyproject.toml | system
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# System packages the tests and reports need (Chromium, fonts, poppler, LibreOffice); idempotent.
system:
	bash scripts/install-system-packages.sh

DEMO_MONTH ?= 2026-10
DEMO_ARGS  ?=# e.g. DEMO_ARGS="--studies 20000 --seed 3" for `make demo`

# The demo database, and its drift report for the last demo month (the Overview shows its alerts).
$(DATA)/radqa.duckdb: | $(STAMP) system
	$(RADQA) --data-dir $(DATA) demo
	$(RADQA) --data-dir $(DATA) report monthly --month $(DEMO_MONTH)

# `make demo` rebuilds the demo: `radqa demo` loads only into a store without data, so a store
# the demo built (DATA/demo/effects.json is there) is started over (`--replace`: pseudo.key,
# radqa.toml and alert_rules.toml stay). A data dir with other data is left alone and the demo
# says so.
demo: $(STAMP) system
	$(RADQA) --data-dir $(DATA) demo $(if $(wildcard $(DATA)/demo/effects.json),--replace) $(DEMO_ARGS)
	$(RADQA) --data-dir $(DATA) report monthly --month $(DEMO_MONTH)

run: $(STAMP) system $(DATA)/radqa.duckdb
	$(RADQA) --data-dir $(DATA) serve --host 127.0.0.1 --port $(PORT)

test: $(STAMP) system
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict ingest metrics
	$(VENV)/bin/mypy radqa

bench: $(STAMP) system
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) build *.egg-info
