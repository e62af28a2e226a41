# flagstream developer entry points. A newcomer needs two:
#   make demo   a local broker, a worker and a sample firehose, printing flagged events
#   make test   the whole test suite (lint, types, unit, integration, end-to-end, ops checks)
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv kafka-up kafka-down demo lint test test-unit test-integration ops-tools ops-checks clean

help:
	@echo "make demo    run a local broker + worker + sample firehose and watch flagged events"
	@echo "make test    run the whole test suite (installs what it needs first)"
	@echo "make lint    ruff + mypy only;  make test-unit: tests that need no broker"

# the virtualenv, with every Python dependency pinned by requirements/constraints.txt
$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements/constraints.txt --build-constraint requirements/constraints.txt -e ".[dev,ops,bench,train]"
	@touch $(STAMP)

venv: $(STAMP)

kafka-up:
	deploy/local/kafka up

kafka-down:
	deploy/local/kafka down

demo: venv
	deploy/local/demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check streams tests bench models grafana
	$(BIN)/mypy streams models bench tests grafana

ops-tools:
	.ci/install-ops-tools

ops-checks: ops-tools venv
	.ci/ops-checks

test-unit: venv
	$(BIN)/pytest tests/unit tests/models -q

test-integration: venv kafka-up ops-tools
	$(BIN)/pytest tests -q -m "integration or e2e or prometheus"

test: venv ops-tools
	.ci/test-all

clean:
	deploy/local/kafka down || true
	rm -rf var .flagstream-data
