# make demo: a real job through Airflow on the embedded default. make test: the suite.
# Both create .venv and install what they need on a fresh machine. make docker-engine: a Docker
# engine and the connector images the docker tests run.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | md5sum | cut -c1-12)
DEMO_HOME := $(CURDIR)/.dativo/airflow
DEMO_ENV := AIRFLOW_HOME=$(DEMO_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING \
	DATIVO_HOME=$(CURDIR)

.PHONY: install test lint schema-validate docs demo bench clean docker-engine

# Bytecode is compiled at install (the editable package too): where PYTHONDONTWRITEBYTECODE is
# set, every process would otherwise compile what it imports, seconds per Airflow task.
$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade uv
	$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -c constraints.txt -e '.[dev]'
	$(BIN)/python -m compileall -q airflow_provider_dativo > /dev/null
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

# a Docker engine (started without a bridge network when none answers) and the project's connector
# images, rebuilt only when their inputs change; see scripts/docker_engine.sh
docker-engine:
	scripts/docker_engine.sh

# mypy's settings are in pyproject.toml ([tool.mypy]); its cache is .mypy_cache
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

schema-validate: install
	$(BIN)/dativo validate

docs: install
	$(BIN)/python -m airflow_provider_dativo.config.reference > docs/CONFIG_REFERENCE.md

demo: install
	$(BIN)/dativo validate
	@echo "== preparing a private Airflow home in $(DEMO_HOME)"
	$(DEMO_ENV) $(BIN)/airflow db migrate > /dev/null
	@echo "== airflow dags test dativo__acme__orders: validate -> extract -> load"
	$(DEMO_ENV) $(BIN)/airflow dags test dativo__acme__orders
	@echo "== the run as Airflow recorded it: each task's state and duration, the rows landed"
	$(DEMO_ENV) $(BIN)/python -m airflow_provider_dativo.operators.run_summary dativo__acme__orders
	@echo "== what landed in Iceberg"
	$(DEMO_ENV) $(BIN)/dativo show jobs/acme/orders.yaml

# each script prints its figures beside its floor; see the scripts' docstrings for options
bench: install
	$(BIN)/python bench/file_to_iceberg.py --rows 1000000 --rows 5000000
	$(BIN)/python bench/postgres_to_iceberg.py --rows 1000000 --rows 5000000
	$(BIN)/python bench/upsert_iceberg.py --rows 10000000
	$(BIN)/python bench/parse_dags.py --jobs 1000
	$(BIN)/python bench/airbyte_faker.py --users 100000

clean:
	rm -rf .dativo .pytest_cache
