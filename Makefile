##@ smtune — distributed training images for SageMaker, local multi-host runs, Hyperband tuning

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= demo-out
PYTEST_ARGS ?=

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Set-up

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# .pyc files now: this machine's imports may be told not to write them.
	$(BIN)/python -m compileall -q entrypoints containers tuning
	touch $@

.PHONY: venv
venv: $(BIN)/.installed ## Create .venv and install smtune with its dev tools.

##@ Use

.PHONY: demo
demo: venv ## Train bank marketing on 1 and 3 local hosts; print hosts, wall time, AUC.
	$(BIN)/smtune demo --out $(OUT)

##@ Development

.PHONY: test
test: venv ## Run the tests.
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## Check style, lint and types (ruff, mypy).
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: style
style: venv ## Fix what ruff can fix, and format.
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: bench
bench: venv ## Run the benchmarks (results go in bench/README.md by hand).
	$(BIN)/python bench/xgboost_overhead.py

.PHONY: clean
clean: ## Remove the venv, caches and demo output.
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
