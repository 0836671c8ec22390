# RadQA task runner: the README's commands.
VENV   := .venv
PY     := $(VENV)/bin/python
RADQA  := $(VENV)/bin/radqa
DATA   ?= data
PORT   ?= 8501
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench demo install system clean serve

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# System packages the tests and reports need (Chromium, fonts, poppler, LibreOffice); idempotent.
system:
	bash scripts/install-system-packages.sh

DEMO_MONTH ?= 2026-10

# The demo database, and its drift report for the last demo month (the Overview shows its alerts).
$(DATA)/radqa.duckdb: | $(STAMP) system
	$(RADQA) --data-dir $(DATA) demo
	$(RADQA) --data-dir $(DATA) report monthly --month $(DEMO_MONTH)

demo: $(STAMP) system
	$(RADQA) --data-dir $(DATA) demo
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
