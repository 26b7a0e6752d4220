##@ smtune — distributed training images for SageMaker, local multi-host runs, Hyperband tuning

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The SageMaker Python SDK v2 lives in a venv of its own (v2 and v3 cannot share one).
SDK2_VENV ?= .venv-sdk2
SDK2_BIN := $(SDK2_VENV)/bin
SDK3_VENV ?= .venv-sdk3
SDK3_BIN := $(SDK3_VENV)/bin
OUT ?= demo-out
PYTEST_ARGS ?=

CONTAINER_TOOL ?= docker
REGISTRY ?=
TAG ?= 0.1.0
PLATFORM ?= linux/amd64
IMAGES ?= xgboost
# A public base for users with a registry; `make base-image` falls back to building one from
# Debian's packages (OFFLINE_BASE) where no registry answers.
BASE_IMAGE ?= python:3.11-slim-bookworm
OFFLINE_BASE ?= smtune-base:bookworm
WHEELS := build/wheels

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
	# Horovod, built against this venv's torch (see docker/pytorch/build-horovod-wheel.sh).
	PYTHON=$(BIN)/python docker/pytorch/build-horovod-wheel.sh $(WHEELS)/horovod
	$(BIN)/pip install --quiet $(WHEELS)/horovod/horovod-*.whl
	# .pyc files now: this machine's imports may be told not to write them.
	$(BIN)/python -m compileall -q entrypoints containers tuning
	touch $@

.PHONY: venv
venv: $(BIN)/.installed ## Create .venv and install smtune with its dev tools.

$(SDK2_BIN)/.installed: pyproject.toml constraints/sdk2.txt
	$(PYTHON) -m venv $(SDK2_VENV)
	$(SDK2_BIN)/pip install --quiet --upgrade pip
	$(SDK2_BIN)/pip install --quiet --constraint constraints/sdk2.txt \
		-e '.[sdk2]' pytest pytest-timeout hypothesis
	touch $@

.PHONY: venv-sdk2
venv-sdk2: $(SDK2_BIN)/.installed ## Create .venv-sdk2: smtune with SageMaker Python SDK v2.

$(SDK3_BIN)/.installed: pyproject.toml constraints/sdk3.txt
	$(PYTHON) -m venv $(SDK3_VENV)
	$(SDK3_BIN)/pip install --quiet --upgrade pip
	$(SDK3_BIN)/pip install --quiet --constraint constraints/sdk3.txt \
		-e '.[sdk3]' pytest pytest-timeout hypothesis 'moto[sagemaker]>=5'
	touch $@

.PHONY: venv-sdk3
venv-sdk3: $(SDK3_BIN)/.installed ## Create .venv-sdk3: smtune with SageMaker Python SDK v3.

##@ Use

.PHONY: demo
demo: venv ## Train bank marketing on 1 and 3 local hosts; print hosts, wall time, AUC.
	$(BIN)/smtune demo --out $(OUT)

##@ Images

.PHONY: wheels
wheels: venv ## Download (or build) every image's pinned Python wheels into build/wheels.
	@$(BIN)/python -c 'import sys, platform; ok = sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64" and sys.platform == "linux"; sys.exit(0 if ok else "make wheels needs Linux x86_64 with Python 3.11, the platform of the images")'
	for image in $(IMAGES); do \
		$(BIN)/pip wheel --quiet --wheel-dir $(WHEELS)/$$image \
			--requirement docker/$$image/requirements.txt; \
	done

build/base-image:
	mkdir -p build
	if $(CONTAINER_TOOL) image inspect $(BASE_IMAGE) >/dev/null 2>&1 \
		|| $(CONTAINER_TOOL) pull --platform $(PLATFORM) $(BASE_IMAGE) >/dev/null 2>&1; then \
		echo $(BASE_IMAGE) > $@; \
	else \
		echo "$(BASE_IMAGE) cannot be pulled: building $(OFFLINE_BASE) from Debian packages"; \
		$(CONTAINER_TOOL) image inspect $(OFFLINE_BASE) >/dev/null 2>&1 \
			|| docker/base/debootstrap-base.sh $(OFFLINE_BASE) $(CONTAINER_TOOL); \
		echo $(OFFLINE_BASE) > $@; \
	fi

.PHONY: base-image
base-image: build/base-image ## Pull BASE_IMAGE, or build one offline with debootstrap.
	@echo "base image: $$(cat build/base-image)"

.PHONY: build
build: base-image wheels ## Build every image as smtune-<name>:TAG.
	for image in $(IMAGES); do \
		$(CONTAINER_TOOL) build --platform $(PLATFORM) \
			--build-arg BASE_IMAGE=$$(cat build/base-image) \
			--build-arg SMTUNE_VERSION=$(TAG) \
			--file docker/$$image/Dockerfile --tag smtune-$$image:$(TAG) . ; \
	done

.PHONY: push
push: venv ## Tag and push every image to REGISTRY (ECR: logs in and creates repositories).
	@test -n "$(REGISTRY)" || { echo "REGISTRY is not set: make push REGISTRY=host[:port][/path]"; exit 2; }
	$(BIN)/python -m containers.registry push --registry $(REGISTRY) --tag $(TAG) \
		--tool $(CONTAINER_TOOL) $(IMAGES)

##@ Development

.PHONY: test
test: venv venv-sdk2 venv-sdk3 ## Run the tests (those of SDK v2 and v3 in their own venvs).
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(SDK2_BIN)/python -m pytest -m sdk2 $(PYTEST_ARGS)
	$(SDK3_BIN)/python -m pytest -m sdk3 $(PYTEST_ARGS)

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
	rm -rf $(VENV) $(SDK2_VENV) $(SDK3_VENV) $(OUT) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
