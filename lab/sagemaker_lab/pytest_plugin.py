"""pytest fixtures for the local test platform.

Enable them in a ``conftest.py``::

    pytest_plugins = ["sagemaker_lab.pytest_plugin"]

``kube_cluster`` (session) is a real control plane started on loopback, or, with
``--kubeconfig PATH`` or ``SAGEMAKER_OPERATOR_TEST_KUBECONFIG=PATH``, an existing cluster
such as kind. ``namespace`` is a fresh namespace per test. The emulator's fixtures
(``emulator``, ``sagemaker``) come with ``sagemaker_emulator.pytest_plugin``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_lab.binaries import ensure_binaries
from sagemaker_lab.controlplane import KubeCluster, LocalControlPlane

KUBECONFIG_ENV = "SAGEMAKER_OPERATOR_TEST_KUBECONFIG"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sagemaker-operator")
    group.addoption(
        "--kubeconfig",
        default=os.environ.get(KUBECONFIG_ENV) or None,
        help="run cluster tests against the cluster of this kubeconfig (e.g. kind) instead of "
        f"starting a local control plane; also settable as {KUBECONFIG_ENV}",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: needs a Kubernetes API server")
    config.addinivalue_line(
        "markers", "node: the operator as users run it (its image, a pod on a node; root): "
        "`make test-node`",
    )  # fmt: skip
    config.addinivalue_line(
        "markers", "local_only: needs the local control plane itself, not an existing cluster"
    )
    config.addinivalue_line(
        "markers", "slow: a soak of a minute or more (outages, crashes, restarts, the demo): "
        "`make test-slow`",
    )  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--kubeconfig"):
        return
    skip = pytest.mark.skip(reason="needs the local control plane; --kubeconfig was given")
    for item in items:
        if "local_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kube_cluster(request: pytest.FixtureRequest) -> Iterator[KubeCluster]:
    """A Kubernetes API server for the whole test session."""
    kubeconfig = request.config.getoption("--kubeconfig")
    if kubeconfig:
        kubectl = shutil.which("kubectl")
        yield KubeCluster(
            Path(kubeconfig).expanduser().resolve(),
            Path(kubectl) if kubectl else ensure_binaries().kubectl,
        )
        return
    with LocalControlPlane() as control_plane:
        yield control_plane.cluster


@pytest.fixture
def namespace(kube_cluster: KubeCluster) -> Iterator[str]:
    """A new namespace for one test, deleted afterwards (without waiting)."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    kube_cluster.kubectl("create", "namespace", name)
    yield name
    kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
