# make demo: a real job through Airflow on the embedded default. make test: the suite.
# Both create .venv and install what they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | md5sum | cut -c1-12)
DEMO_HOME := $(CURDIR)/.dativo/airflow
DEMO_ENV := AIRFLOW_HOME=$(DEMO_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING \
	DATIVO_HOME=$(CURDIR)

.PHONY: install test lint schema-validate demo bench clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade uv
	$(BIN)/uv pip install --python $(BIN)/python -q -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check .

schema-validate: install
	$(BIN)/dativo validate

demo: install
	$(BIN)/dativo validate
	$(DEMO_ENV) $(BIN)/airflow db migrate > /dev/null
	$(DEMO_ENV) $(BIN)/airflow dags test dativo__acme__orders
	$(DEMO_ENV) $(BIN)/dativo show jobs/acme/orders.yaml

bench: install
	$(BIN)/python bench/file_to_iceberg.py --rows 1000000

clean:
	rm -rf .dativo .pytest_cache
