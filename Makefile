# Everything a contributor runs. `make test` and `make demo` set up a fresh machine:
# the virtualenv, the project and its development tools, the control-plane binaries.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: venv binaries generate lint format test demo bench bench-emulator clean

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

# Builds etcd, kube-apiserver and kubectl from source once per version (about 10 minutes
# on 2 cores), then reuses them from ~/.cache/sagemaker-operator.
binaries: venv
	$(BIN)/sagemaker-operator cluster build

# The CRD and the pydantic models come from botocore's SageMaker model (pinned in pyproject).
generate: venv
	$(BIN)/sagemaker-operator generate

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# pytest exits 5 when it collected no test: make treats that as the failure it is.
test: lint binaries
	$(BIN)/pytest

demo: venv binaries
	$(BIN)/sagemaker-operator demo

# The operator at 1, 100, 1000 and 2000 TrainingJobs (about 25 minutes): writes
# bench/results/<date>.{json,md,png}. BENCH_ARGS passes options (--sizes 1 100, --window 600).
bench: venv binaries
	$(BIN)/python -m bench.operator_scale $(BENCH_ARGS)

bench-emulator: venv
	$(BIN)/python -m bench.emulator_throughput

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist operator/*.egg-info
