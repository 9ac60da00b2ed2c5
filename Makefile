# Everything a contributor runs. `make test` and `make demo` set up a fresh machine:
# the virtualenv, the project and its development tools, the control-plane binaries.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: lock venv binaries node-deps node-binaries image generate lint format test test-slow \
	test-node test-emulator demo demo-node bench bench-emulator release clean

# What the image and the local node need from Debian (installed as root when missing):
# podman builds and runs images; containerd, runc and the CNI plugins run pods; mmdebstrap
# makes the Python base image when no registry can be reached; kube-proxy programs iptables.
NODE_PACKAGES := podman containerd runc containernetworking-plugins mmdebstrap iptables conntrack

venv: $(INSTALLED)

# The three packages, editable: the operator (.), the emulator (emulator/) and the lab
# (lab/, which depends on both and brings the development tools).
$(INSTALLED): pyproject.toml emulator/pyproject.toml lab/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[controller,kubectl]' \
		-e 'emulator[test]' -e 'lab[dev]'
	touch $(INSTALLED)

# Builds etcd, kube-apiserver and kubectl from source once per version (about 10 minutes
# on 2 cores), then reuses them from ~/.cache/sagemaker-operator.
binaries: venv
	$(BIN)/sagemaker-lab cluster build

node-deps:
	@missing=$$(for package in $(NODE_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" \
			|| echo $$package; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# kubelet, kube-proxy, kube-scheduler, kube-controller-manager (same version and cache as
# kube-apiserver; about 7 minutes once), crictl and the pause program.
node-binaries: binaries
	$(BIN)/sagemaker-lab cluster build --node

# The operator's image, localhost/sagemaker-operator:dev, built with podman on a Python
# base made from Debian packages (once, about 1.5 minutes); prints its size.
image: venv node-deps
	$(BIN)/sagemaker-lab image

# One version's image, chart and plugin wheel; the image and the chart pushed to REGISTRY
# (`make release REGISTRY=ghcr.io/my-org`, VERSION defaults to pyproject.toml's and must match
# it, the chart's and CHANGELOG.md; PLAIN_HTTP=1 for a registry on loopback; BASE= a Python
# base image to build on instead of the Debian-made one). Log in first
# with `podman login` and `helm registry login`. Output in dist/release/.
release: venv node-deps
	@test -n "$(REGISTRY)" || { echo "make release: set REGISTRY (e.g. ghcr.io/my-org)" >&2; exit 2; }
	$(BIN)/sagemaker-lab release --registry "$(REGISTRY)" $(if $(VERSION),--version "$(VERSION)") $(if $(PLAIN_HTTP),--plain-http) $(if $(BASE),--base "$(BASE)")

# The CRD and the pydantic models come from botocore's SageMaker model (pinned in pyproject).
generate: venv
	$(BIN)/sagemaker-lab generate

# The image's pinned dependencies (constraints.txt), resolved afresh.
lock: venv
	$(BIN)/sagemaker-lab lock

# mypy runs twice: the operator, the lab and their tests; the emulator and its own tests
# (both have a package named `tests`).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd emulator && ../$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The emulator's own tests (on their own: they need neither the operator nor the lab), then
# the rest. pytest exits 5 when it collected no test: make treats that as the failure it is.
test: lint binaries test-emulator
	$(BIN)/pytest -m "not node and not slow"

test-emulator: venv
	cd emulator && ../$(BIN)/pytest

# The soaks: outages and heavy throttling, SIGKILLs at random moments, a restart with
# 200 resources, queues that cannot be read or receive nothing, the tests that wait out
# AWS's own timing (quota, IAM propagation, early events), the demo (about 8 minutes).
test-slow: venv binaries
	$(BIN)/pytest -m "slow and not node"

# The operator as users run it: the image built, a node started, the chart installed with
# Helm, pods deleted, the apiserver stopped, connections frozen (root; about 10 minutes).
test-node: venv node-deps node-binaries
	$(BIN)/pytest -m node

demo: venv binaries
	$(BIN)/sagemaker-lab demo

# The same examples with the operator as a Helm-installed pod on a local node.
demo-node: venv node-deps node-binaries
	$(BIN)/sagemaker-lab demo --node

# The operator at 1, 100, 1000 and 2000 TrainingJobs (about 25 minutes): writes
# bench/results/<date>.{json,md,png}. BENCH_ARGS passes options (--sizes 1 100, --window 600).
bench: venv binaries
	$(BIN)/python -m bench.status_writes --output bench/results/status-writes-$$(date +%F).json
	$(BIN)/python -m bench.operator_scale $(BENCH_ARGS)

bench-emulator: venv
	$(BIN)/python -m bench.emulator_throughput

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist operator/*.egg-info \
		emulator/*.egg-info emulator/build lab/*.egg-info lab/build
