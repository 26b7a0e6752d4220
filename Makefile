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
IMAGES ?= xgboost dnn
# Each image's folder under docker/: its Dockerfile and pinned requirements.txt.
DOCKER_DIR_xgboost := docker/xgboost
DOCKER_DIR_dnn := docker/pytorch
# A public base for users with a registry; `make base-image` falls back to building one from
# Debian's packages (OFFLINE_BASE) where no registry answers.
BASE_IMAGE ?= python:3.11-slim-bookworm
OFFLINE_BASE ?= smtune-base:bookworm
WHEELS := build/wheels
# The DNN image's torch: cpu (the default), or cuda: torch 2.13.0's CUDA build and NVIDIA's
# runtime wheels (CUDA, cuDNN, NCCL; about 3 GB) on the same Debian base, tagged TAG-cuda. No
# CUDA base image or toolkit is needed: the wheels carry the libraries and the host's driver
# comes in with `docker run --gpus`. DNN_BASE_IMAGE overrides the base for either variant.
DNN_VARIANT ?= cpu
DNN_BASE_IMAGE ?=
ifeq ($(DNN_VARIANT),cpu)
# Asked for beside requirements.txt's torch==2.13.0: pip then fails rather than take the CUDA
# build (several GB) where no CPU wheel is in reach (point PIP_FIND_LINKS at one).
DNN_TORCH := torch==2.13.0+cpu
DNN_TAG := $(TAG)
DNN_WHEELS_NEED := torch 2.13.0's CPU build (torch==2.13.0+cpu)
else ifeq ($(DNN_VARIANT),cuda)
# ===: the exact version, without a local label. ==2.13.0 also matches 2.13.0+cpu, which pip
# prefers wherever it can find it; the CUDA build's runtime wheels are pinned beside it.
DNN_TORCH := torch===2.13.0 --requirement docker/pytorch/requirements-cuda.txt
DNN_TAG := $(TAG)-cuda
DNN_WHEELS_NEED := torch 2.13.0's CUDA build and NVIDIA's runtime wheels (about 3 GB)
# That wheelhouse stays out of the repository's build context (.dockerignore), which every
# image's build sends: this build gets its own, a tar of what its Dockerfile copies.
BUILD_PIPE_dnn = tar -c --dereference --exclude=__pycache__ --exclude='*.pyc' \
	smtune/__init__.py entrypoints docker/pytorch $(WHEELHOUSE_dnn) |
BUILD_CONTEXT_dnn := -
else
$(error DNN_VARIANT=$(DNN_VARIANT): must be cpu or cuda)
endif
# Horovod, built on the host against the CPU build, gloo only. Both variants carry it: the
# CUDA build has the same C++ API and ABI (the image's `import horovod.torch` checks it), and
# on GPUs `launcher=horovod` is refused, as Horovod with NCCL is not built here.
DNN_HOROVOD := $(WHEELS)/horovod
WHEELHOUSE_xgboost := $(WHEELS)/xgboost
WHEELHOUSE_dnn := $(WHEELS)/dnn$(if $(filter cuda,$(DNN_VARIANT)),-cuda)
WHEEL_ARGS_dnn := --find-links $(WHEELHOUSE_dnn) $(DNN_TORCH)
WHEELS_NEED_dnn := $(DNN_WHEELS_NEED)
BASE_IMAGE_dnn := $(DNN_BASE_IMAGE)
BUILD_ARGS_dnn := --build-arg TORCH_VARIANT=$(DNN_VARIANT) --build-arg WHEELHOUSE=$(WHEELHOUSE_dnn)
TAG_xgboost := $(TAG)
TAG_dnn := $(DNN_TAG)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Set-up

# Three steps, each made by the targets that need it: `make demo` needs only smtune and its
# data extra (a minute, no compiler); tests and lint need the dev tools and torch; Horovod is
# compiled (cmake, g++, Python's headers) only for its tests and the DNN image.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[data]'
	# .pyc files now: this machine's imports may be told not to write them.
	$(BIN)/python -m compileall -q entrypoints containers tuning
	touch $@

.PHONY: venv
venv: $(BIN)/.installed ## Create .venv with smtune (all `make demo` needs).

$(BIN)/.dev: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: venv-dev
venv-dev: $(BIN)/.dev ## Add the dev tools and torch to .venv (tests, lint).

$(BIN)/.horovod: $(BIN)/.dev docker/pytorch/build-horovod-wheel.sh
	@missing=""; command -v cmake >/dev/null || missing="$$missing cmake"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	$(BIN)/python -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("include"), "Python.h")))' \
		|| missing="$$missing python3.11-dev"; \
	test -z "$$missing" || { echo "make horovod: Horovod is compiled here and needs:$$missing (Debian: apt-get install$$missing)"; exit 2; }
	# Horovod, built against this venv's torch (see docker/pytorch/build-horovod-wheel.sh).
	PYTHON=$(BIN)/python docker/pytorch/build-horovod-wheel.sh $(WHEELS)/horovod
	$(BIN)/pip install --quiet $(WHEELS)/horovod/horovod-*.whl
	touch $@

.PHONY: horovod
horovod: $(BIN)/.horovod ## Build Horovod into .venv (cmake, g++, Python headers; 2-4 min).

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

.PHONY: wheels $(addprefix wheels-,$(IMAGES))
wheels: $(addprefix wheels-,$(IMAGES)) ## Fetch (or build) every image's pinned wheels into build/wheels.

$(addprefix wheels-,$(IMAGES)): wheels-%: venv
	@$(BIN)/python -c 'import sys, platform; ok = sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64" and sys.platform == "linux"; sys.exit(0 if ok else "make wheels needs Linux x86_64 with Python 3.11, the platform of the images")'
	$(BIN)/pip wheel --quiet --wheel-dir $(WHEELHOUSE_$*) \
		--requirement $(DOCKER_DIR_$*)/requirements.txt $(WHEEL_ARGS_$*) \
		|| { echo "make wheels-$*: pip could not fetch $(or $(WHEELS_NEED_$*),the pinned wheels)" \
			"into $(WHEELHOUSE_$*) from the package index or PIP_FIND_LINKS (see pip's error above)"; exit 2; }

# Horovod has no wheel on the index: build it (patched, against torch; skipped when built
# already) and put it in the DNN wheelhouse before pip resolves the rest there.
.PHONY: horovod-wheel
wheels-dnn: horovod-wheel
horovod-wheel: venv-dev
	PYTHON=$(BIN)/python docker/pytorch/build-horovod-wheel.sh $(DNN_HOROVOD)
	mkdir -p $(WHEELHOUSE_dnn)
	cp $(DNN_HOROVOD)/horovod-0.28.1-*.whl $(WHEELHOUSE_dnn)/

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

.PHONY: build $(addprefix build-,$(IMAGES))
build: $(addprefix build-,$(IMAGES)) ## Build every image as smtune-<name>:TAG (IMAGES=dnn: one; DNN_VARIANT=cuda: TAG-cuda).

$(addprefix build-,$(IMAGES)): build-%: base-image wheels-%
	$(BUILD_PIPE_$*) $(CONTAINER_TOOL) build --platform $(PLATFORM) \
		--build-arg BASE_IMAGE=$(or $(BASE_IMAGE_$*),$$(cat build/base-image)) \
		--build-arg SMTUNE_VERSION=$(TAG) $(BUILD_ARGS_$*) \
		--file $(DOCKER_DIR_$*)/Dockerfile --tag smtune-$*:$(TAG_$*) $(or $(BUILD_CONTEXT_$*),.)

.PHONY: push
push: venv ## Tag and push every image to REGISTRY (ECR: logs in and creates repositories).
	@test -n "$(REGISTRY)" || { echo "REGISTRY is not set: make push REGISTRY=host[:port][/path]"; exit 2; }
	$(BIN)/python -m smtune.containers.registry push --registry $(REGISTRY) --tag $(TAG) \
		--tool $(CONTAINER_TOOL) $(IMAGES)

##@ Development

.PHONY: test
test: venv-dev venv-sdk2 venv-sdk3 ## Run the tests (SDK v2 and v3 in their own venvs; Horovod's where built).
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(SDK2_BIN)/python -m pytest -m sdk2 $(PYTEST_ARGS)
	$(SDK3_BIN)/python -m pytest -m sdk3 $(PYTEST_ARGS)

.PHONY: lint
lint: venv-dev ## Check style, lint and types (ruff, mypy).
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: style
style: venv-dev ## Fix what ruff can fix, and format.
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: bench
bench: venv-dev ## Run the benchmarks (results go in bench/README.md by hand).
	$(BIN)/python bench/xgboost_overhead.py

.PHONY: clean
clean: ## Remove the venv, caches and demo output.
	rm -rf $(VENV) $(SDK2_VENV) $(SDK3_VENV) $(OUT) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
